"""The hub applies a laptop's push batch (sync-anchors C5, C6): once, whole, in the caller's
transaction, whatever the number of times it is sent.

`ingest` locks the device row (a second copy of the same batch, sent at the same time, waits
and then gets the stored answer), checks versions and the batch number, then applies every
change by the merge rules (merge_rules.py) and records the batch and its answer in the same
transaction. Nothing here commits: the caller does, whatever the answer (a `gap` writes only
the device's last contact).

Speed: rows and FieldMeta of a whole batch are loaded with one IN query per table; new rows,
their ChangeLog entries, FieldMeta and conflicts are written with one executemany per table
(a first sync is nearly all new rows), changed rows through the ORM after the new ones (a
household may be merged into one made offline), all without savepoints. Only when a unique or
foreign-key constraint refuses the batch (two laptops creating the same asset tag under
different ids, say) is it applied again with one savepoint per change, a change pointed at by
another of its table first, and a refused change tried once more after the others: only the
changes that still fail are rejected.

The caller begins a write transaction (core.db.begin_write) before reading anything on SQLite;
ingest begins one itself when no transaction has begun yet.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from workshops.core import clock
from workshops.core.db import begin_write
from workshops.core.models import utcnow
from workshops.sync import merge_rules, purge_services
from workshops.sync.ingest_rows_services import Work, changes_in_order, rejected
from workshops.sync.merge_rules import Parsed, parse
from workshops.sync.models import AppliedBatch, Device
from workshops.sync.tracking_services import APPLYING, DEVICE, lock_counter

log = logging.getLogger(__name__)

def error(status: int, code: str, message: str, **extra: Any) -> tuple[int, dict]:
    return status, {"error": code, "message": message, **extra}


def ingest(db: Session, device: Device, body: dict, now_ms: int | None = None) -> tuple[int, dict]:
    """Apply one push batch; returns (HTTP status, answer JSON). Does not commit."""
    now_ms = clock.wall_ms() if now_ms is None else now_ms
    problem = merge_rules.malformed(body)
    if problem:
        return error(400, "bad_request", f"Malformed push batch: {problem}.")
    if isinstance(db, scoped_session):
        db = db()
    if not db.in_transaction():
        begin_write(db)
    device = db.get(Device, device.id, with_for_update=True, populate_existing=True)
    if device is None:
        return error(401, "unknown_device", "Unknown device: enrol this laptop with the hub.")
    if device.revoked_dt is not None:
        return error(403, "revoked", "This laptop was revoked on the hub: enrol it again as a new device.")
    device.last_seen_dt = utcnow()
    refused = merge_rules.refuse_version(body)
    if refused:
        status, code, message, extra = refused
        return error(status, code, message, **extra)
    if uuid.UUID(str(body["device_id"])) != device.id:
        return error(400, "bad_request", "The batch names another device than the token's.")
    seq, batch_id, sha = body["batch_seq"], uuid.UUID(str(body["batch_id"])), merge_rules.batch_sha(body)
    known = db.get(AppliedBatch, (device.id, seq))
    if known is not None:
        # A batch sent again, or its copy redacted by an erasure on the laptop (same id, the
        # erased people's values wiped: the purge that follows wipes them here too).
        if known.batch_id == batch_id and (known.sha256 == sha or body.get("redacted") is True):
            return 200, {**known.answer, "status": "duplicate"}
        return _rewound(device, seq)
    if seq <= device.last_batch_seq:
        return _rewound(device, seq)
    if seq > device.last_batch_seq + 1:
        return error(409, "gap", f"Batch {seq} arrived before batch {device.last_batch_seq + 1}.",
                     expected_seq=device.last_batch_seq + 1)
    if db.scalar(select(AppliedBatch.batch_seq).where(AppliedBatch.batch_id == batch_id)) is not None:
        return _rewound(device, seq)
    # One ingest at a time on the whole hub: reads and writes of rows never interleave with
    # another batch's (no lost update between two laptops), and seq order is commit order.
    lock_counter(db)
    results, skew = apply_changes(db, device, body["changes"], now_ms)
    purge_services.after_changes(db, body["changes"])
    counts = dict.fromkeys(merge_rules.COUNT_KEYS.values(), 0)
    for result in results:
        counts[merge_rules.COUNT_KEYS[result["outcome"]]] += 1
    answer = {"status": "applied", "batch_seq": seq, "batch_id": str(batch_id), "results": results,
              "counts": counts, "hub_time_ms": now_ms}
    if skew is not None:
        device.clock_offset_ms = skew
    db.add(AppliedBatch(device_id=device.id, batch_seq=seq, batch_id=batch_id, sha256=sha, answer=answer))
    device.last_batch_seq = seq
    db.flush()
    log.info("sync batch %s of device %s: %s", seq, device.id, counts)
    return 200, answer


def _rewound(device: Device, seq: int) -> tuple[int, dict]:
    log.warning("sync device %s sent another batch %s than the one applied", device.id, seq)
    return error(409, "device_rewound", "The hub already applied another batch under this number: this "
                 "laptop's database was restored or copied. Enrol it again as a new device.",
                 last_batch_seq=device.last_batch_seq)


# ---------- Applying ----------

def apply_changes(db: Session, device: Device, raw_changes: list,
                  now_ms: int) -> tuple[list[dict], int | None]:
    """Apply the changes of one batch; returns (results in the batch's order, clock offset of
    the device when some stamp came from its future)."""
    parsed, skew, stamps = [], None, {}
    for index, raw in enumerate(raw_changes):
        change, offset = parse(index, raw, now_ms, stamps)
        parsed.append(change)
        if offset is not None and (skew is None or offset < skew):
            skew = offset
    ordered = changes_in_order(parsed)
    info = db.info
    saved = {key: info.get(key) for key in (APPLYING, DEVICE)}
    info[APPLYING], info[DEVICE] = True, device.id
    try:
        results = _apply_fast(db, device, ordered)
        if results is None:
            results = _apply_one_by_one(db, device, ordered)
    finally:
        for key, value in saved.items():
            info[key] = value
    return [results[change.index] for change in parsed], skew


def _apply_fast(db: Session, device: Device, ordered: list[Parsed]) -> dict[int, dict] | None:
    """The whole batch at once; None when a constraint refused it (nothing written)."""
    try:
        with db.begin_nested():
            with db.no_autoflush:
                work = Work(db, device, ordered)
                results = {change.index: work.apply(change) for change in ordered}
            work.write()
    except IntegrityError:
        log.info("sync batch of device %s hit a constraint: applying change by change", device.id)
        return None
    return results


def _apply_one_by_one(db: Session, device: Device, ordered: list[Parsed]) -> dict[int, dict]:
    """Each change in its own savepoint. A change a constraint refused is tried once more after
    the others: a later change of the batch may free what it needs (a machine's asset tag given
    to a new machine while the old one is re-labelled)."""
    with db.no_autoflush:
        work = Work(db, device, ordered)
    results, refused = {}, []
    for change in ordered:
        results[change.index], constrained = _apply_one(db, work, change)
        if constrained:
            refused.append(change)
    for change in refused:
        results[change.index], _ = _apply_one(db, work, change)
    return results


def _apply_one(db: Session, work: Work, change: Parsed) -> tuple[dict, bool]:
    """The change's result, and whether a constraint refused it."""
    undo = work.undo_point(change)
    try:
        with db.begin_nested():
            with db.no_autoflush:
                result = work.apply(change)
            work.write()
    except IntegrityError as failure:
        work.undo(undo)
        return rejected(change, _reason_of(failure)), True
    return result, False


def _reason_of(failure: IntegrityError) -> str:
    text = str(failure.orig).lower()
    if "unique" in text or "duplicate key" in text:
        return "duplicate_value"
    if "foreign key" in text:
        return "missing_parent"
    return "bad_value"
