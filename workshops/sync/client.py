"""One sync run of a laptop with its hub (sync-anchors C5, C7, C9, C11): the edge that commits.

hello (clock offset; a new hub epoch resets the pull cursor) → freeze pending changes into
batches → push every unacknowledged batch in order (a `gap` answer resends from the seq the
hub expects) → pull pages until none is left, each applied and committed with its cursor →
again while edits made meanwhile are pending (a few rounds at most).

No laptop transaction stays open while waiting for the hub: each step reads or writes in its
own short write transaction, then calls the hub. The state row records the attempt, the
success (only when everything went through) or the failure with a stable code, the counts and
the clock offset. The sync never shows "synced" after a failure. The audit journal gets one
"sync_push" and one "sync_pull" entry (counts) per run that went through or moved data.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.core import clock
from workshops.core.db import begin_write
from workshops.core.models import utcnow
from workshops.sync import apply_services, outbox_services, registry
from workshops.sync.device_services import sync_state
from workshops.sync.models import OutboxBatch
from workshops.sync.transport import CertificateRefused, Transport, TransportError

logger = logging.getLogger(__name__)

MAX_ROUNDS = 3
PULL_LIMIT = 500
# Errors after which the run stops (the hub's codes), besides "network".
STOPPING = ("device_rewound", "revoked", "unknown_device", "hub_too_old", "client_too_old", "bad_request")

Progress = Callable[[str, int, int], None]
# A failure code as the journal takes it (the hub's codes are such; anything else is "other").
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass
class SyncResult:
    ok: bool
    error: str | None = None
    sent: int = 0
    received: int = 0
    conflicts: int = 0
    rejected: int = 0
    pages: int = 0
    clock_offset_ms: int | None = None


class SyncStopped(Exception):
    """The hub answered an error the run cannot get past; `code` is its stable code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _EpochChanged(Exception):
    """The hub's epoch changed during the run: start the round again."""


def _answer_error(status: int, answer: dict) -> SyncStopped:
    return SyncStopped(str(answer.get("error") or f"http_{status}")[:64])


def _write(db: Session) -> None:
    """End whatever this session had open and begin a write transaction."""
    db.commit()
    begin_write(db)


def run(db: Session, transport: Transport, progress: Progress | None = None, *,
        actor_id: uuid.UUID | None = None) -> SyncResult:
    """Push what this laptop holds, pull what the hub has; returns what happened. `actor_id`
    (the account that asked for the run) goes to the audit journal."""
    result = SyncResult(ok=False)
    _write(db)
    state = sync_state(db)
    state.last_attempt_dt = utcnow()
    connected = state.device_id is not None
    db.commit()
    try:
        if not connected:
            raise SyncStopped("not_connected")
        _run(db, transport, progress, result)
        result.ok = True
    except CertificateRefused:
        result.error = "certificate"
    except TransportError:
        result.error = "network"
    except SyncStopped as stopped:
        result.error = stopped.code
    except Exception:
        # A crash of the run (a bug, a full disk...): recorded as a failure, then raised.
        db.rollback()
        _record(db, result, "internal", actor_id)
        raise
    db.rollback()
    _record(db, result, result.error, actor_id)
    return result


def _record(db: Session, result: SyncResult, error: str | None, actor_id: uuid.UUID | None) -> None:
    _write(db)
    state = sync_state(db)
    now = utcnow()
    if error is None:
        state.last_success_dt = now
        state.last_error = None
    else:
        state.last_failure_dt = now
        state.last_error = error
    counts = asdict(result)
    state.last_result = {key: counts[key] for key in ("sent", "received", "conflicts", "rejected", "pages")}
    if result.clock_offset_ms is not None:
        state.clock_offset_ms = result.clock_offset_ms
    _journal(db, result, error, actor_id, now)
    db.commit()


def _journal(db: Session, result: SyncResult, error: str | None, actor_id: uuid.UUID | None,
             now: datetime) -> None:
    """One "sync_push" and one "sync_pull" entry per run that went through or moved data
    (counts and the failure code); a failed run that moved nothing (offline, say) leaves
    the journal alone: the sync state keeps its last error."""
    if error is not None and not (result.sent or result.received):
        return
    outcome = {"result": "ok" if error is None else error if _CODE.fullmatch(error) else "other"}
    record(db, "sync_push", actor_id=actor_id, object_type="hub", now=now, details={
        **outcome, "sent": result.sent, "conflicts": result.conflicts, "rejected": result.rejected})
    record(db, "sync_pull", actor_id=actor_id, object_type="hub", now=now, details={
        **outcome, "received": result.received, "pages": result.pages})


def _run(db: Session, transport: Transport, progress: Progress | None, result: SyncResult) -> None:
    for _round in range(MAX_ROUNDS + 1):
        try:
            _hello(db, transport, result)
            _push(db, transport, progress, result)
            _pull(db, transport, progress, result)
        except _EpochChanged:
            continue
        _write(db)
        left = outbox_services.pending_count(db)
        db.commit()
        if not left or _round >= MAX_ROUNDS - 1:
            return
    raise SyncStopped("epoch_changed")


def _hello(db: Session, transport: Transport, result: SyncResult) -> None:
    _write(db)
    state = sync_state(db)
    last_local = db.scalar(select(OutboxBatch.batch_seq).order_by(OutboxBatch.batch_seq.desc()).limit(1)) or 0
    payload = {"app_version": app_version(), "schema_version": registry.SCHEMA_VERSION,
               "device_time_ms": clock.wall_ms(), "cursor": state.pull_cursor,
               "acked_seq": _acked_seq(db)}
    db.commit()
    sent_ms = payload["device_time_ms"]
    status, answer = transport.post("/api/sync/hello", payload)
    received_ms = clock.wall_ms()
    if status != 200:
        raise _answer_error(status, answer)
    if "hub_time_ms" in answer:
        result.clock_offset_ms = int(answer["hub_time_ms"]) - (sent_ms + received_ms) // 2
    _write(db)
    state = sync_state(db)
    epoch = uuid.UUID(str(answer["hub_epoch"]))
    if state.hub_epoch != epoch:
        logger.info("sync: new hub epoch, pulling again from the start")
        state.hub_epoch = epoch
        state.pull_cursor = 0
    if result.clock_offset_ms is not None:
        state.clock_offset_ms = result.clock_offset_ms
    db.commit()
    hub_last = answer.get("last_batch_seq")
    if isinstance(hub_last, int) and hub_last > last_local:
        # The hub holds batches this database never made: a restored or copied laptop.
        raise SyncStopped("device_rewound")
    if isinstance(hub_last, int) and hub_last < payload["acked_seq"]:
        # The hub was restored from a backup older than batches it had acknowledged: their
        # changes are sent again before anything is pulled over them.
        _write(db)
        outbox_services.resend_from(db, hub_last + 1)
        db.commit()


def app_version() -> str:
    try:
        return metadata.version("workshops")
    except metadata.PackageNotFoundError:
        return "unknown"


def _acked_seq(db: Session) -> int:
    return db.scalar(select(OutboxBatch.batch_seq).where(OutboxBatch.status == "acked")
                     .order_by(OutboxBatch.batch_seq.desc()).limit(1)) or 0


def _freeze_all(db: Session) -> None:
    _write(db)
    while outbox_services.freeze_batch(db) is not None:
        db.commit()
        begin_write(db)
    db.commit()


def _unacked_seqs(db: Session) -> list[int]:
    _write(db)
    seqs = [batch.batch_seq for batch in outbox_services.unacked(db)]
    db.commit()
    return seqs


def _push(db: Session, transport: Transport, progress: Progress | None, result: SyncResult) -> None:
    _freeze_all(db)
    seqs = _unacked_seqs(db)
    done = 0
    budget = 3 * len(seqs) + 10_000
    position = 0
    while position < len(seqs):
        budget -= 1
        if budget < 0:
            raise SyncStopped("gap")
        seq = seqs[position]
        _write(db)
        batch = db.get(OutboxBatch, seq)
        waiting = batch is not None and batch.status != "acked" and batch.body
        body = json.loads(batch.body) if waiting else None
        db.commit()
        if body is None:
            position += 1
            continue
        status, answer = transport.post("/api/sync/push", body)
        if status == 200 and answer.get("status") in ("applied", "duplicate"):
            _write(db)
            batch = db.get(OutboxBatch, seq)
            outbox_services.record_answer(db, batch, answer)
            db.commit()
            counts = answer.get("counts") or {}
            result.sent += len(body["changes"])
            result.conflicts += int(counts.get("conflicts") or 0)
            result.rejected += int(counts.get("rejected") or 0)
            done += 1
            position += 1
            if progress is not None:
                progress("push", done, len(seqs))
            continue
        if status == 409 and answer.get("error") == "gap" and isinstance(answer.get("expected_seq"), int):
            expected = answer["expected_seq"]
            if expected in seqs[:position]:
                position = seqs.index(expected)
            elif expected < seq:
                # The hub was restored and lost batches it had acknowledged: send their changes again.
                _write(db)
                outbox_services.resend_from(db, expected)
                db.commit()
                _freeze_all(db)
                seqs, position = _unacked_seqs(db), 0
            else:
                raise SyncStopped("gap")
            continue
        raise _answer_error(status, answer)


def _pull(db: Session, transport: Transport, progress: Progress | None, result: SyncResult) -> None:
    _write(db)
    state = sync_state(db)
    start = cursor = state.pull_cursor
    epoch = state.hub_epoch
    db.commit()
    while True:
        status, page = transport.get("/api/sync/pull", {"since": cursor, "limit": PULL_LIMIT})
        if status != 200:
            raise _answer_error(status, page)
        if page.get("hub_epoch") and uuid.UUID(str(page["hub_epoch"])) != epoch:
            raise _EpochChanged()
        _write(db)
        result.received += apply_services.apply_page(db, page)
        db.commit()
        result.pages += 1
        cursor = int(page["next_since"])
        if progress is not None:
            total = max(int(page.get("last_seq") or cursor) - start, cursor - start)
            progress("pull", cursor - start, total)
        if not page.get("more"):
            return
