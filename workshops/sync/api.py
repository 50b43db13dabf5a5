"""The hub's sync API for laptops (JSON only): enrol, hello, push, pull, roll.

Laptops are not logged-in users: every view is public for the session login
(`security.public`) and CSRF-exempt, and authenticates the device itself with its token,
`Authorization: Device <token>`. Only a hub serves it; a laptop answers 404. Answers are JSON,
errors too: `{"error": code, "message": English text for logs}` (see the wire format).

Request size: the app refuses bodies above MAX_CONTENT_LENGTH (4 MiB); the laptop keeps its
batches well under it, and a bigger body gets a 413 JSON answer here.
"""

from __future__ import annotations

import json
import logging
import time
import zlib

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from workshops import extensions
from workshops.auth import limits
from workshops.core import clock, security
from workshops.core.errors import ValidationFailed
from workshops.extensions import db
from workshops.sync import device_services, ingest_services, pull_queries, registry
from workshops.sync.merge_rules import INT64_MAX, INT64_MIN
from workshops.sync.models import Device
from workshops.sync.tracking_services import hub_state

log = logging.getLogger(__name__)

MAX_UNZIPPED = 32 * 1024 * 1024

bp = Blueprint("sync_api", __name__, url_prefix="/api/sync")
extensions.csrf.exempt(bp)


def _error(status: int, code: str, message: str, **extra):
    return jsonify({"error": code, "message": message, **extra}), status


def _answer(status: int, body: dict):
    return jsonify(body), status


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    db.session.rollback()
    return _error(413, "too_large", "The request is larger than the hub accepts: send smaller batches.")


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    db.session.rollback()
    return _error(error.code or 500, "http_error", error.name)


@bp.errorhandler(Exception)
def unexpected(error: Exception):
    # Type only: messages (SQL parameters, values) may carry personal data.
    db.session.rollback()
    log.error("sync api: unhandled %s", type(error).__name__)
    return _error(500, "hub_error", "The hub failed to handle the request; try again later.")


def _json_body() -> dict | None:
    """The JSON object sent (gzip accepted, up to MAX_UNZIPPED once unpacked), or None."""
    data = request.get_data()
    if request.content_encoding == "gzip":
        unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = unpacker.decompress(data, MAX_UNZIPPED)
        except zlib.error:
            return None
        if unpacker.unconsumed_tail:
            raise RequestEntityTooLarge()
    try:
        body = json.loads(data)
        # A lone surrogate ("\ud800") parses but can be neither hashed nor stored as UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None
    return body if isinstance(body, dict) else None


def _device() -> tuple[Device | None, tuple | None]:
    """The calling device, or the error answer (401 no or unknown token, 403 revoked)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    device = device_services.authenticate(db.session, token.strip()) if scheme == "Device" else None
    if device is None:
        return None, _error(401, "unknown_device", "Unknown device token: enrol this laptop with the hub.")
    if device.revoked_dt is not None:
        return None, _error(403, "revoked",
                            "This laptop was revoked on the hub: enrol it again as a new device.")
    return device, None


def _version_text(value) -> str | None:
    """The app version a laptop reports, as short printable text (None when it gives none)."""
    text = "".join(char for char in str(value or "") if char.isprintable())[:40]
    return text or None


def _int_or_none(value) -> int | None:
    """A whole number a database column can hold, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


@bp.post("/enrol")
@security.public
def enrol():
    # Wrong pairing codes count with wrong passwords, per address (auth.limits): guessing a
    # code stops long before its 10 minutes are up.
    app = current_app._get_current_object()
    if limits.limiter(app).is_over(limits.client_address(), time.time()):
        return _error(429, "too_many_attempts", "Too many wrong codes from this address: wait a few minutes.")
    body = _json_body()
    if body is None or not isinstance(body.get("code"), str) or not isinstance(body.get("verify_key"), str):
        return _error(400, "bad_request", "An enrolment needs a code and a verify key.")
    try:
        enrolment = device_services.enrol(db.session, body["code"], body["verify_key"],
                                          app_version=_version_text(body.get("app_version")),
                                          schema_version=_int_or_none(body.get("schema_version")))
    except ValidationFailed:
        db.session.rollback()
        limits.count_failure(app)
        return _error(400, "bad_code", "This pairing code is unknown, used or expired: ask for a new one.")
    answer = device_services.enrolment_answer(enrolment, hub_time_ms=clock.wall_ms())
    answer["device_time_ms"] = body.get("device_time_ms")
    db.session.commit()
    return _answer(200, answer)


@bp.post("/hello")
@security.public
def hello():
    device, refused = _device()
    if refused:
        return refused
    body = _json_body() or {}
    now_ms = clock.wall_ms()
    device_services.record_contact(
        db.session, device, app_version=_version_text(body.get("app_version")),
        schema_version=_int_or_none(body.get("schema_version")),
        device_time_ms=_int_or_none(body.get("device_time_ms")), hub_time_ms=now_ms,
        cursor=_int_or_none(body.get("cursor")))
    state = hub_state(db.session)
    answer = {"hub_id": str(state.hub_id), "hub_epoch": str(state.epoch), "hub_time_ms": now_ms,
              "protocol": registry.PROTOCOL, "schema_version": registry.SCHEMA_VERSION,
              "min_schema_version": registry.MIN_SCHEMA_VERSION, "last_batch_seq": device.last_batch_seq,
              "device_id": str(device.id), "structure_id": str(device.structure_id)}
    db.session.commit()
    return _answer(200, answer)


@bp.post("/push")
@security.public
def push():
    device, refused = _device()
    if refused:
        return refused
    body = _json_body()
    if body is None:
        return _error(400, "bad_request", "The push body is not a JSON object.")
    status, answer = ingest_services.ingest(db.session, device, body)
    db.session.commit()
    return _answer(status, answer)


@bp.get("/pull")
@security.public
def pull():
    device, refused = _device()
    if refused:
        return refused
    try:
        since = int(request.args.get("since", "0"))
        limit = int(request.args.get("limit", str(pull_queries.MAX_LIMIT)))
    except ValueError:
        return _error(400, "bad_request", "since and limit must be whole numbers.")
    if not 0 <= since <= INT64_MAX or limit < 1:
        return _error(400, "bad_request", "since must be 0 or more and limit 1 or more.")
    return _answer(200, pull_queries.page(db.session, device, since, limit))


@bp.post("/roll")
@security.public
def roll():
    device, refused = _device()
    if refused:
        return refused
    token = device_services.roll_token(db.session, device)
    db.session.commit()
    log.info("sync device %s rolled its token", device.id)
    return _answer(200, {"token": token})
