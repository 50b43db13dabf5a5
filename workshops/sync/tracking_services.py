"""Change tracking, in the same transaction as the change (shared/sync.md; sync-anchors C3, C6).

Two flush listeners, one per role:

- On a laptop, every new or changed synced row adds its changed fields to `SyncPending`, each
  with the HLC stamp of the change (core/models.py stamps the row just before, in the same
  flush), and the hub version the row was based on. The outbox freezes them into batches.
- On the hub, every new or changed synced row gets its next `version`, its `FieldMeta` (which
  version and which stamp last changed each field) and, after the flush, a `ChangeLog` entry
  holding the full snapshot, numbered from the `HubState` counter. The counter row is updated
  by the writing transaction and so stays locked until it commits: seq order is commit order.

Rows the sync itself writes (ingest on the hub, pulls on a laptop) set
`session.info["sync_applying"]`: a laptop does not track them, and on the hub the ingest has
already set their version and FieldMeta (it still gets their ChangeLog entries here, tagged
with `session.info["sync_device_id"]`).
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import MANYTOONE, Session

from workshops.core.models import BulkWriteRefused, SyncMixin, utcnow
from workshops.sync import keys, registry
from workshops.sync.models import ChangeLog, Conflict, FieldMeta, HubState, SyncPending

APPLYING = "sync_applying"
DEVICE = "sync_device_id"
NOT_TRACKED = "sync_not_tracked"
_CHANGED = "sync_changed_rows"
_MOVED = "sync_moved_rows"


def role() -> str:
    return current_app.config["ROLE"] if has_app_context() else "laptop"


def changed_fields(row: SyncMixin, is_new: bool) -> list[str]:
    """The synced fields of a row that this flush writes (all of them for a new row). A
    many-to-one relationship changed by object (`child.family = other`) counts for its foreign
    key column: the flush fills that column in only after this listener has run."""
    fields = registry.fields_of(row.__table__.name)
    if is_new:
        return list(fields)
    state = inspect(row)
    changed = {field for field in fields if state.attrs[field].history.has_changes()}
    for relationship in state.mapper.relationships:
        if relationship.direction is MANYTOONE and state.attrs[relationship.key].history.has_changes():
            changed |= {column.key for column in relationship.local_columns if column.key in fields}
    return [field for field in fields if field in changed]


def _synced_changes(session: Session) -> list[tuple[SyncMixin, bool]]:
    rows = [(row, True) for row in session.new if isinstance(row, SyncMixin)]
    rows += [(row, False) for row in session.dirty
             if isinstance(row, SyncMixin) and session.is_modified(row, include_collections=False)]
    return rows


@event.listens_for(Session, "before_flush")
def _track(session: Session, flush_context, instances) -> None:
    deleted = [row for row in session.deleted if isinstance(row, SyncMixin)]
    if deleted:
        raise BulkWriteRefused(f"a {deleted[0].__table__.name} row was deleted outright: synced rows are "
                               "tombstoned (deleted_dt), so laptops and the hub learn of the deletion")
    rows = _synced_changes(session)
    if not rows:
        return
    if role() == "hub":
        _version_on_hub(session, rows)
    elif not session.info.get(APPLYING) and not session.info.get(NOT_TRACKED):
        _pending_on_laptop(session, rows)


@contextmanager
def not_tracked(session: Session):
    """On a laptop, writes inside this block are not changes to send (the reference data every
    laptop and the hub load alike: the hub's copy is the one that counts). Flushes before
    leaving. On the hub it changes nothing: every change there is logged."""
    previous = session.info.get(NOT_TRACKED)
    session.info[NOT_TRACKED] = True
    try:
        yield
        session.flush()
    finally:
        session.info[NOT_TRACKED] = previous


# ---------- Laptop ----------

def _pending_on_laptop(session: Session, rows: list[tuple[SyncMixin, bool]]) -> None:
    for row, is_new in rows:
        fields = changed_fields(row, is_new)
        if not fields:
            continue
        if row.id is None:
            row.id = uuid.uuid4()
        table_name = row.__table__.name
        pending = None
        if not is_new:
            with session.no_autoflush:
                pending = session.get(SyncPending, (table_name, row.id))
        if pending is None:
            pending = SyncPending(table_name=table_name, record_id=row.id, fields={},
                                  base_version=row.version or 0, first_hlc=row.hlc)
            session.add(pending)
        pending.fields = {**pending.fields, **dict.fromkeys(fields, row.hlc)}


# ---------- Hub ----------

def _version_on_hub(session: Session, rows: list[tuple[SyncMixin, bool]]) -> None:
    applying = session.info.get(APPLYING)
    if not applying:
        # An ingest locks the counter before the rows it changes; a hub edit does the same, so
        # the two queue instead of deadlocking (PostgreSQL).
        lock_counter(session)
    changed = session.info.setdefault(_CHANGED, {})
    for row, is_new in rows:
        if row.id is None:
            row.id = uuid.uuid4()
        table_name = row.__table__.name
        if not applying:
            fields = changed_fields(row, is_new)
            if not fields:
                continue
            row.version = (row.version or 0) + 1
            with session.no_autoflush:
                meta = session.get(FieldMeta, (table_name, row.id))
            if meta is None:
                meta = FieldMeta(table_name=table_name, record_id=row.id, meta={})
                session.add(meta)
            meta.meta = {**meta.meta, **{field: [row.version, row.hlc] for field in fields}}
        changed[(table_name, row.id)] = row
        column = registry.structure_column(table_name)
        if not is_new and column and table_name != "users":
            old = inspect(row).attrs[column].history.deleted
            if old and old[0] is not None and old[0] != getattr(row, column):
                session.info.setdefault(_MOVED, []).append((row, old[0]))


@event.listens_for(Session, "after_flush")
def _log_on_hub(session: Session, flush_context) -> None:
    changed: dict = session.info.pop(_CHANGED, None)
    if not changed:
        return
    entries = []
    for row in changed.values():
        table_name = row.__table__.name
        payload = registry.snapshot(row)
        entries.append({"table_name": table_name, "record_id": row.id, "version": row.version,
                        "hlc": row.hlc, "payload": payload,
                        "structure_id": registry.partition_of(session, table_name, payload)})
    for row, old_structure in session.info.pop(_MOVED, []):
        entries += moved_entries(session, row, old_structure)
    write_log(session, entries)


def moved_entries(session: Session, row: SyncMixin, old_structure: uuid.UUID) -> list[dict[str, Any]]:
    """A row moved to another structure (a family followed by another France Services): its
    children are logged again for the new structure's laptops, and the old structure's laptops
    are told the row and its children left them (they wipe their copy)."""
    table_name = row.__table__.name
    new_structure = getattr(row, registry.structure_column(table_name))
    moved = [(table_name, row)]
    for child_table, key in registry.children_of(table_name):
        model = registry.model_of(child_table)
        with session.no_autoflush:
            moved += [(child_table, child) for child in session.scalars(select(model).where(
                getattr(model, key) == row.id))]
    entries = []
    for moved_table, moved_row in moved:
        base = {"table_name": moved_table, "record_id": moved_row.id, "version": moved_row.version,
                "hlc": moved_row.hlc}
        entries.append({**base, "payload": {registry.MOVED_AWAY: True}, "structure_id": old_structure})
        if moved_row is not row:
            entries.append({**base, "payload": registry.snapshot(moved_row), "structure_id": new_structure})
    return entries


def write_log(session: Session, entries: list[dict[str, Any]]) -> None:
    """Number and write ChangeLog entries ({table_name, record_id, version, hlc, payload,
    structure_id}), parents first, tagged with the device whose batch is applied, if any. A
    purged row's earlier snapshots are wiped."""
    entries = sorted(entries, key=lambda entry: registry.ORDER[entry["table_name"]])
    last = next_seqs(session, len(entries))
    device_id, now = session.info.get(DEVICE), utcnow()
    for seq, entry in enumerate(entries, start=last - len(entries) + 1):
        entry.update(seq=seq, device_id=device_id, committed_dt=now)
    session.connection().execute(insert(ChangeLog), entries)
    for entry in entries:
        if entry["payload"].get("is_purged") and registry.personal_fields(entry["table_name"]):
            wipe_logged_history(session, entry["table_name"], entry["record_id"], before_seq=entry["seq"])


def hub_state(session: Session) -> HubState:
    """The hub's state row, made on first use (with the keys of USB bundles)."""
    with session.no_autoflush:
        state = session.get(HubState, 1)
    if state is None:
        session.connection().execute(insert(HubState).values(id=1, hub_id=uuid.uuid4(), epoch=uuid.uuid4(),
                                                             last_seq=0, **keys.new_hub_keys()))
        state = session.get(HubState, 1)
    return state


def lock_counter(session: Session) -> None:
    """Lock the change_log counter row (made if missing) until this transaction ends."""
    connection = session.connection()
    if connection.scalar(select(HubState.id).where(HubState.id == 1).with_for_update()) is None:
        hub_state(session)


def next_seqs(session: Session, count: int) -> int:
    """Reserve `count` change_log numbers; returns the last one. The counter row stays locked
    until this transaction ends, so numbers are handed out in commit order."""
    lock_counter(session)
    connection = session.connection()
    connection.execute(update(HubState).where(HubState.id == 1).values(last_seq=HubState.last_seq + count))
    return connection.scalar(select(HubState.last_seq).where(HubState.id == 1))


def wipe_logged_history(session: Session, table_name: str, record_id: uuid.UUID, before_seq: int) -> None:
    """A purged row's earlier change_log snapshots and its conflicts lose their personal
    fields, so a laptop pulling from an old cursor never receives them."""
    personal = registry.personal_fields(table_name)
    connection = session.connection()
    found = connection.execute(select(ChangeLog.seq, ChangeLog.payload).where(
        ChangeLog.table_name == table_name, ChangeLog.record_id == record_id, ChangeLog.seq < before_seq))
    for seq, payload in found.all():
        wiped: dict[str, Any] = {**payload, **{f: registry.wiped_value(table_name, f) for f in personal}}
        connection.execute(update(ChangeLog).where(ChangeLog.seq == seq).values(payload=wiped))
    connection.execute(update(Conflict).where(
        Conflict.table_name == table_name, Conflict.record_id == record_id, Conflict.field.in_(personal))
        .values(kept_value=None, other_value=None))


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction) -> None:
    """Rows of a flush that failed are not logged by the next one."""
    session.info.pop(_CHANGED, None)
    session.info.pop(_MOVED, None)
