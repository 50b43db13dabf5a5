"""Devices: enrolment of a laptop with the hub, tokens, roll and revoke (sync-anchors C9).

On the hub an admin creates a device for a structure and gets a one-time pairing code, valid
PAIRING_MINUTES, shown as text and QR code. The laptop sends the code with its Ed25519 public
key and receives a device token; the hub keeps only the token's SHA-256. Rolling gives a new
token and refuses the old one at once; revoking refuses the device for good. Pairing and
revoking are recorded in the audit journal. Nothing here commits: the caller (a view, a
command) does.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.auth.models import User
from workshops.core.errors import ValidationFailed
from workshops.core.models import get_device_state, utcnow
from workshops.sync import keys, registry
from workshops.sync.models import Device, HubState, PairingCode, SyncState
from workshops.sync.tracking_services import hub_state

PAIRING_MINUTES = 10
# Pairing codes avoid letters and digits read alike (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


REVOKED = _l("This laptop was revoked: create a new device on the hub.")
ALREADY_CONNECTED = _l("This laptop is already connected. To reinstall it, revoke it and create a new "
                       "device.")
BAD_CODE = _l("This pairing code is unknown, used or expired: ask the hub's administrator for a new one.")


def digest(secret: str) -> str:
    """SHA-256 (hex) of a token or pairing code: they are random and long, so a fast hash is
    enough (passwords, which are not, use argon2)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_code(code: str) -> str:
    """A pairing code as typed ("abcd efgh", "ABCD-EFGH") in its stored form ("ABCDEFGH")."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


# ---------- Hub ----------

def create_device(db: Session, name: str, structure_id: uuid.UUID, actor: User | None) -> tuple[Device, str]:
    """A new device for a structure and its first pairing code (as shown: "ABCD-EFGH")."""
    name = name.strip()
    if not name:
        raise ValidationFailed([("name", str(_l("Give the laptop a name.")))])
    device = Device(id=uuid.uuid4(), name=name, structure_id=structure_id,
                    created_by_id=actor.id if actor is not None else None)
    db.add(device)
    db.flush()
    return device, new_pairing_code(db, device)


def new_pairing_code(db: Session, device: Device, now: datetime | None = None) -> str:
    """A fresh one-time code for a device not yet connected; earlier unused codes stop working.
    A connected laptop that is reinstalled gets a NEW device: its batch numbers start again, and
    device ids are never reused."""
    if device.revoked_dt is not None:
        raise ValidationFailed([(None, str(REVOKED))])
    if device.enrolled_dt is not None:
        raise ValidationFailed([(None, str(ALREADY_CONNECTED))])
    now = now or utcnow()
    for old in db.scalars(select(PairingCode).where(PairingCode.device_id == device.id,
                                                    PairingCode.used_dt.is_(None))):
        old.used_dt = now
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    db.add(PairingCode(code_hash=digest(code), device_id=device.id,
                       expires_dt=now + timedelta(minutes=PAIRING_MINUTES)))
    db.flush()
    return format_code(code)


@dataclass(frozen=True)
class Enrolment:
    device: Device
    token: str
    hub: HubState


def enrol(db: Session, code: str, verify_key: str, app_version: str | None = None,
          schema_version: int | None = None, now: datetime | None = None) -> Enrolment:
    """Exchange a pairing code for a device token. Raises ValidationFailed (field "code") when
    the code is unknown, used or expired, or its device revoked."""
    now = now or utcnow()
    pairing = db.get(PairingCode, digest(normalise_code(code)))
    if pairing is None or pairing.used_dt is not None or pairing.expires_dt <= now:
        raise ValidationFailed([("code", str(BAD_CODE))])
    device = db.get(Device, pairing.device_id)
    if device is None or device.revoked_dt is not None:
        raise ValidationFailed([("code", str(BAD_CODE))])
    pairing.used_dt = now
    token = secrets.token_urlsafe(32)
    device.token_hash = digest(token)
    device.verify_key = verify_key
    device.enrolled_dt = now
    device.last_seen_dt = now
    device.app_version, device.schema_version = app_version, schema_version
    db.flush()
    record(db, "sync_device_paired", object_type="device", object_ref=str(device.id), now=now)
    return Enrolment(device=device, token=token, hub=hub_state(db))


def authenticate(db: Session, token: str | None) -> Device | None:
    """The device holding this token (revoked ones included: the caller says why it refuses),
    or None."""
    if not token:
        return None
    return db.scalar(select(Device).where(Device.token_hash == digest(token)))


def roll_token(db: Session, device: Device) -> str:
    """A new token for the device; the old one is refused from now on."""
    if device.revoked_dt is not None:
        raise ValidationFailed([(None, str(REVOKED))])
    token = secrets.token_urlsafe(32)
    device.token_hash = digest(token)
    db.flush()
    return token


def revoke(db: Session, device: Device, now: datetime | None = None, *, actor: User | None = None) -> None:
    """Refuse the device for good (a lost laptop): its token, codes and bundles. The first
    revocation is recorded in the audit journal (with `actor`, the account that revoked)."""
    now = now or utcnow()
    if device.revoked_dt is None:
        record(db, "sync_device_revoked", actor_id=actor.id if actor is not None else None,
               object_type="device", object_ref=str(device.id), now=now)
    device.revoked_dt = device.revoked_dt or now
    for pairing in db.scalars(select(PairingCode).where(PairingCode.device_id == device.id,
                                                        PairingCode.used_dt.is_(None))):
        pairing.used_dt = now
    db.flush()


def record_contact(db: Session, device: Device, *, app_version: str | None, schema_version: int | None,
                   device_time_ms: int | None, hub_time_ms: int, cursor: int | None) -> None:
    """What the laptop said when it called: versions, clock and pull cursor."""
    device.last_seen_dt = utcnow()
    device.app_version, device.schema_version = app_version, schema_version
    if device_time_ms is not None:
        device.clock_offset_ms = hub_time_ms - device_time_ms
    if cursor is not None:
        device.reported_cursor = cursor


def new_epoch(db: Session) -> uuid.UUID:
    """After the hub's database was restored from a backup: laptops reset their cursor and
    send again what the hub may have lost."""
    state = hub_state(db)
    state.epoch = uuid.uuid4()
    db.flush()
    return state.epoch


def hub_public_keys(state: HubState) -> dict[str, str]:
    return {"hub_box_key": keys.box_public(state.box_key),
            "hub_verify_key": keys.verify_key(state.signing_key)}


# ---------- Laptop ----------

def sync_state(db: Session) -> SyncState:
    """The laptop's link to its hub (made empty on first use)."""
    with db.no_autoflush:
        state = db.get(SyncState, 1)
    if state is None:
        state = SyncState(id=1, pull_cursor=0)
        db.add(state)
    return state


def is_safe_hub_url(url: str) -> bool:
    """Whether the laptop may send its device token to this address: HTTPS, or plain HTTP to
    this very machine only (a hub tried locally). Anything else would carry the token in clear."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def save_connection(db: Session, hub_url: str, answer: dict, signing_key: str) -> SyncState:
    """Keep what the hub answered to the enrolment (see api.enrol): token, device id, structure,
    hub id and epoch, the hub's public keys. The device clock takes the hub's device id so that
    stamps name the device the hub knows. The pull starts from the beginning."""
    state = sync_state(db)
    state.hub_url = hub_url.rstrip("/")
    state.device_id = uuid.UUID(answer["device_id"])
    state.device_name = answer.get("device_name")
    state.token = answer["token"]
    state.structure_id = uuid.UUID(answer["structure_id"])
    state.hub_id = uuid.UUID(answer["hub_id"])
    state.hub_epoch = uuid.UUID(answer["hub_epoch"])
    state.hub_box_key = answer["hub_box_key"]
    state.hub_verify_key = answer["hub_verify_key"]
    state.signing_key = signing_key
    state.pull_cursor = 0
    get_device_state(db).device_id = state.device_id
    if "hub_time_ms" in answer and "device_time_ms" in answer:
        state.clock_offset_ms = answer["hub_time_ms"] - answer["device_time_ms"]
    db.flush()
    return state


def enrolment_answer(enrolment: Enrolment, hub_time_ms: int) -> dict:
    """The JSON the hub sends back to a laptop that enrolled."""
    device, state = enrolment.device, enrolment.hub
    return {"device_id": str(device.id), "device_name": device.name, "token": enrolment.token,
            "structure_id": str(device.structure_id), "hub_id": str(state.hub_id),
            "hub_epoch": str(state.epoch), "hub_time_ms": hub_time_ms,
            "protocol": registry.PROTOCOL, "schema_version": registry.SCHEMA_VERSION,
            **hub_public_keys(state)}
