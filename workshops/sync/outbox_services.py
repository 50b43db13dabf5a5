"""The laptop's outbox: pending changes frozen into numbered push batches (sync-anchors C3, C5).

`freeze_batch` turns `SyncPending` rows into one `OutboxBatch` whose body is the exact JSON
text sent to the hub (canonical form, see `canonical`), with its SHA-256. Once frozen, a
batch's bytes never change: an edit made afterwards is tracked again by the flush listener and
goes into a new batch. A batch is delivered only when the hub's answer says so
(`record_answer`): then its body is emptied (no personal data kept longer than needed) and
every change the hub refused for good becomes a `RejectedChange` a person can see.
Nothing here commits: the caller (sync/client.py, the USB bundle) does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workshops.core import clock
from workshops.core.models import get_device_state, utcnow
from workshops.sync import registry
from workshops.sync.device_services import sync_state
from workshops.sync.models import OutboxBatch, RejectedChange, SyncPending

logger = logging.getLogger(__name__)

# Bounds of one batch: the hub applies a batch in one transaction.
MAX_CHANGES = 1000
MAX_BYTES = 2 << 20
# SQLite's bound on variables per statement is 32766; stay far below.
IN_CHUNK = 500


def canonical(body: dict) -> str:
    """The one text form of a batch body: what is stored, sent and hashed."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rows_by_id(db: Session, table_name: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The rows of a synced table with these ids, one IN query per chunk."""
    model = registry.model_of(table_name)
    found: dict[uuid.UUID, Any] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start:start + IN_CHUNK]
        found.update((row.id, row) for row in db.scalars(select(model).where(model.id.in_(chunk))))
    return found


def _pending_in_order(db: Session) -> list[SyncPending]:
    """The oldest MAX_CHANGES pending rows, parents' tables first."""
    order = case(registry.ORDER, value=SyncPending.table_name, else_=len(registry.ORDER))
    query = select(SyncPending).order_by(order, SyncPending.record_id).limit(MAX_CHANGES)
    with db.no_autoflush:
        return list(db.scalars(query))


def _change(pending: SyncPending, row: Any) -> dict:
    table_name = pending.table_name
    known = set(registry.fields_of(table_name))
    fields = [field for field in pending.fields if field in known]
    return {"table": table_name, "id": str(pending.record_id), "base_version": pending.base_version,
            "fields": {field: registry.to_json(table_name, field, getattr(row, field)) for field in fields},
            "hlc": {field: pending.fields[field] for field in fields}}


def freeze_batch(db: Session) -> OutboxBatch | None:
    """Freeze pending changes (at most MAX_CHANGES, about MAX_BYTES) into the next batch, or
    None when nothing is pending or the laptop is not connected to a hub. Call again until
    it returns None to freeze everything."""
    state = sync_state(db)
    if state.device_id is None:
        return None
    db.flush()
    pending = _pending_in_order(db)
    if not pending:
        return None
    by_table: dict[str, list[uuid.UUID]] = {}
    for item in pending:
        by_table.setdefault(item.table_name, []).append(item.record_id)
    rows = {table_name: rows_by_id(db, table_name, ids) for table_name, ids in by_table.items()
            if table_name in registry.MODELS}
    changes: list[dict] = []
    frozen: list[SyncPending] = []
    vanished = 0
    size = 0
    for item in pending:
        row = rows.get(item.table_name, {}).get(item.record_id)
        if row is None:
            # A row removed from the database (not tombstoned): there is nothing left to send.
            vanished += 1
            frozen.append(item)
            continue
        change = _change(item, row)
        change_size = len(canonical(change).encode("utf-8"))
        if changes and size + change_size > MAX_BYTES:
            break
        changes.append(change)
        frozen.append(item)
        size += change_size
    if vanished:
        logger.warning("sync outbox: %d pending changes of rows no longer present", vanished)
    for item in frozen:
        db.delete(item)
    if not changes:
        db.flush()
        return freeze_batch(db)
    batch = _store(db, state.device_id, changes)
    db.flush()
    return batch


def _store(db: Session, device_id: uuid.UUID, changes: list[dict]) -> OutboxBatch:
    last_seq = db.scalar(select(func.max(OutboxBatch.batch_seq))) or 0
    device = get_device_state(db)
    stamp = clock.tick(device.last_stamp(), device.device_id.hex)
    device.hlc_physical, device.hlc_counter = stamp.physical, stamp.counter
    batch_id = uuid.uuid4()
    body = {"protocol": registry.PROTOCOL, "schema_version": registry.SCHEMA_VERSION,
            "device_id": str(device_id), "batch_seq": last_seq + 1, "batch_id": str(batch_id),
            "created_hlc": stamp.encode(), "changes": changes}
    text = canonical(body)
    batch = OutboxBatch(batch_seq=last_seq + 1, batch_id=batch_id, sha256=digest(text), body=text,
                        changes=len(changes), status="pending", created_dt=utcnow())
    db.add(batch)
    return batch


def unacked(db: Session) -> list[OutboxBatch]:
    """Batches the hub has not acknowledged yet, oldest first."""
    return list(db.scalars(select(OutboxBatch).where(OutboxBatch.status != "acked")
                           .order_by(OutboxBatch.batch_seq)))


def pending_count(db: Session) -> int:
    """Changed rows not yet frozen into a batch."""
    return db.scalar(select(func.count()).select_from(SyncPending)) or 0


def _rebase(db: Session, applied: list[tuple[dict, int]]) -> None:
    """Edits made after these changes were frozen were based on the same hub version. When the
    hub fast-forwarded a change (outcome "applied"), its new version holds nothing this laptop
    has not seen: those edits are based on it now (no conflict with the laptop's own change).
    The pending rows are read with one IN query per table."""
    by_table: dict[str, list[uuid.UUID]] = {}
    for change, _version in applied:
        by_table.setdefault(change["table"], []).append(uuid.UUID(change["id"]))
    pending: dict[tuple[str, uuid.UUID], SyncPending] = {}
    with db.no_autoflush:
        for table_name, ids in by_table.items():
            for start in range(0, len(ids), IN_CHUNK):
                pending.update(((item.table_name, item.record_id), item) for item in db.scalars(
                    select(SyncPending).where(SyncPending.table_name == table_name,
                                              SyncPending.record_id.in_(ids[start:start + IN_CHUNK]))))
    for change, version in applied:
        item = pending.get((change["table"], uuid.UUID(change["id"])))
        if item is not None and item.base_version == change["base_version"] and version > item.base_version:
            item.base_version = version


def record_answer(db: Session, batch: OutboxBatch, answer: dict) -> None:
    """The hub applied (or had already applied) this batch: mark it acknowledged, forget its
    body, keep the counts, and keep every change refused for good as a RejectedChange."""
    if batch.status == "acked":
        return
    changes: dict[tuple[str, str], dict] = {}
    if batch.body:
        for change in json.loads(batch.body)["changes"]:
            changes[(change["table"], change["id"])] = change
    applied = [(changes[(result.get("table"), result.get("id"))], result["version"])
               for result in answer.get("results") or []
               if result.get("outcome") == "applied" and isinstance(result.get("version"), int)
               and (result.get("table"), result.get("id")) in changes]
    _rebase(db, applied)
    for result in answer.get("results") or []:
        if result.get("outcome") != "rejected":
            continue
        change = changes.get((result.get("table"), result.get("id")), {})
        db.add(RejectedChange(batch_seq=batch.batch_seq, table_name=str(result.get("table"))[:64],
                              record_id=uuid.UUID(str(result.get("id"))),
                              reason=str(result.get("reason") or "rejected")[:64],
                              fields=change.get("fields", {}), created_dt=utcnow()))
    batch.status = "acked"
    batch.acked_dt = utcnow()
    batch.body = None
    # The counts, and which fields of which rows the batch carried (no values): if the hub is
    # restored from a backup older than this batch, they are sent again (resend_from).
    batch.result = {**dict(answer.get("counts") or {}),
                    "keys": [[table, record_id, sorted(change.get("fields") or {})]
                             for (table, record_id), change in changes.items()]}
    db.flush()


def resend_from(db: Session, seq: int) -> int:
    """The hub expects batch `seq` again: it was restored from a backup and lost this laptop's
    batches from `seq` on, acknowledged or not. Their changes become pending again, read from the
    rows as they are now (nothing the laptop did is lost), and the batches are dropped so new
    ones are numbered from `seq`. Returns how many rows are pending again."""
    keys: dict[tuple[str, uuid.UUID], set[str]] = {}
    for batch in db.scalars(select(OutboxBatch).where(OutboxBatch.batch_seq >= seq)):
        if batch.body:
            carried = [[change["table"], change["id"], list(change["fields"])]
                       for change in json.loads(batch.body)["changes"]]
        else:
            carried = (batch.result or {}).get("keys") or []
        for table, record_id, fields in carried:
            if table in registry.MODELS:
                keys.setdefault((table, uuid.UUID(str(record_id))), set()).update(fields)
        db.delete(batch)
    for (table, record_id), fields in keys.items():
        row = db.get(registry.model_of(table), record_id)
        if row is None:
            continue
        pending = db.get(SyncPending, (table, record_id))
        if pending is None:
            pending = SyncPending(table_name=table, record_id=record_id, fields={},
                                  base_version=row.version or 0, first_hlc=row.hlc)
            db.add(pending)
        pending.fields = {**dict.fromkeys(fields, row.hlc), **pending.fields}
    db.flush()
    return len(keys)
