"""Applying a pull page from the hub on a laptop (sync-anchors C7).

One page is applied in the caller's transaction together with the new pull cursor, so a pull
cut at any point restarts at the last committed page and applying a page again changes nothing.

- Each change is the full snapshot of a row at a hub version; rows come in `seq` order, which
  puts parents before their children (the SQLite foreign-key check waits for the commit).
- Fields changed here and not yet frozen (`SyncPending`) keep their local value, and the row
  keeps its `version` (the base of those edits) so the hub sees the overlap at the next push.
- A purge always wins: the wiped values are applied and the row's pending edits are dropped.
- Tables and fields this version does not know go to `SyncExtra`, never sent back.
- A hub record refused here by a unique value (an asset tag or a name also used by a record made
  on this laptop) is kept in view as a RejectedChange; the rest of the page is applied.
- The device clock merges the highest stamp received, so a later local edit sorts after it.

The writes are flagged `sync_applying`: not tracked as local edits, and their stamps kept.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workshops.core import clock
from workshops.core.models import get_device_state, utcnow
from workshops.sync import erasure_ledger, purge_services, registry
from workshops.sync.device_services import sync_state
from workshops.sync.models import RejectedChange, SyncExtra, SyncPending
from workshops.sync.outbox_services import IN_CHUNK, rows_by_id
from workshops.sync.tracking_services import APPLYING

_MISSING = object()


def apply_page(db: Session, page: dict) -> int:
    """Apply one pull page and save its cursor and epoch; returns the number of changes."""
    previous = db.info.get(APPLYING)
    db.info[APPLYING] = True
    try:
        if db.connection().dialect.name == "sqlite":
            db.execute(text("PRAGMA defer_foreign_keys = ON"))
        changes = page.get("changes") or []
        try:
            with db.begin_nested(), db.no_autoflush:
                _apply_changes(db, changes)
                db.flush()
        except IntegrityError:
            _apply_one_by_one(db, changes)
        purge_services.after_changes(db, changes)
        with db.no_autoflush:
            _receive_stamps(db, changes)
            state = sync_state(db)
            state.pull_cursor = int(page["next_since"])
            if page.get("hub_epoch"):
                state.hub_epoch = uuid.UUID(str(page["hub_epoch"]))
        db.flush()
    finally:
        if previous is None:
            db.info.pop(APPLYING, None)
        else:
            db.info[APPLYING] = previous
    # A household erased here that the page brought back is erased again, as a local edit (R36).
    erasure_ledger.reapply_here(db)
    return len(changes)


def _apply_changes(db: Session, changes: list[dict]) -> None:
    ids: dict[str, list[uuid.UUID]] = {}
    for change in changes:
        if change["table"] in registry.MODELS:
            ids.setdefault(change["table"], []).append(uuid.UUID(str(change["id"])))
    rows = {table_name: rows_by_id(db, table_name, table_ids) for table_name, table_ids in ids.items()}
    pending = {table_name: _pending_by_id(db, table_name, table_ids) for table_name, table_ids in ids.items()}
    for change in changes:
        table_name = change["table"]
        record_id = uuid.UUID(str(change["id"]))
        if table_name not in registry.MODELS:
            _keep_extra(db, table_name, record_id, dict(change.get("fields") or {}))
            continue
        table_rows = rows[table_name]
        row = table_rows.get(record_id)
        if row is None:
            row = registry.model_of(table_name)(id=record_id)
            db.add(row)
            table_rows[record_id] = row
        _apply_row(db, table_name, row, change, pending[table_name])


def _apply_one_by_one(db: Session, changes: list[dict]) -> None:
    """A page a unique value refused (the hub has a record with the same asset tag or name as one
    made here and refused by the hub): apply the rest, and keep each refused hub record in view
    as a RejectedChange ("local_duplicate") instead of stopping every later pull."""
    for change in changes:
        try:
            with db.begin_nested(), db.no_autoflush:
                _apply_changes(db, [change])
                db.flush()
        except IntegrityError:
            db.add(RejectedChange(batch_seq=0, table_name=change["table"],
                                  record_id=uuid.UUID(str(change["id"])), reason="local_duplicate",
                                  fields=dict(change.get("fields") or {})))


def _pending_by_id(db: Session, table_name: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, SyncPending]:
    found: dict[uuid.UUID, SyncPending] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start:start + IN_CHUNK]
        query = select(SyncPending).where(SyncPending.table_name == table_name,
                                          SyncPending.record_id.in_(chunk))
        found.update((item.record_id, item) for item in db.scalars(query))
    return found


def _apply_row(db: Session, table_name: str, row: Any, change: dict,
               pending: dict[uuid.UUID, SyncPending]) -> None:
    fields: dict[str, Any] = dict(change.get("fields") or {})
    if fields.get(registry.MOVED_AWAY):
        _moved_away(db, table_name, row, pending)
        return
    known = registry.fields_of(table_name)
    local = pending.get(row.id)
    dirty: set[str] = set()
    if local is not None:
        if fields.get("is_purged") is True:
            db.delete(local)
            del pending[row.id]
        else:
            dirty = set(local.fields)
    for field in known:
        if field in dirty:
            continue
        value = fields.get(field, _MISSING)
        if value is _MISSING:
            continue
        value = registry.from_json(table_name, field, value)
        if getattr(row, field) != value:
            setattr(row, field, value)
    if not dirty:
        if row.version != change["version"]:
            row.version = change["version"]
        if row.hlc != change["hlc"]:
            row.hlc = change["hlc"]
    local = registry.local_only(table_name)
    unknown = {field: value for field, value in fields.items() if field not in known and field not in local}
    if unknown:
        _keep_extra(db, table_name, row.id, unknown)


def _moved_away(db: Session, table_name: str, row: Any, pending: dict[uuid.UUID, SyncPending]) -> None:
    """The row now belongs to another structure: this laptop keeps only a tombstone without its
    personal data (rows pointing at it stay valid), and forgets its unsent edits of it. If it
    comes back, its next snapshot restores it."""
    if row in db.new:
        db.expunge(row)  # never held here: nothing to keep
        return
    local = pending.pop(row.id, None)
    if local is not None:
        db.delete(local)
    purge_services.wipe_personal(row)
    row.deleted_dt = row.deleted_dt or utcnow()


def _keep_extra(db: Session, table_name: str, record_id: uuid.UUID, fields: dict) -> None:
    extra = db.get(SyncExtra, (table_name, record_id))
    if extra is None:
        db.add(SyncExtra(table_name=table_name, record_id=record_id, fields=fields))
    elif {**extra.fields, **fields} != extra.fields:
        extra.fields = {**extra.fields, **fields}


def _receive_stamps(db: Session, changes: list[dict]) -> None:
    """Merge the highest stamp received into the device clock (stamps sort as text)."""
    stamps = [change["hlc"] for change in changes if change.get("hlc")]
    if not stamps:
        return
    try:
        remote = clock.Stamp.decode(max(stamps))
    except ValueError:
        return
    device = get_device_state(db)
    merged = clock.receive(device.last_stamp(), remote, device.device_id.hex)
    device.hlc_physical, device.hlc_counter = merged.physical, merged.counter
