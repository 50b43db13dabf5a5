"""The rows one push batch writes on the hub (ingest_services.py decides the order and the
transaction): existing rows, their FieldMeta and their parents' structures loaded once per
batch; new rows, FieldMeta and conflicts written with one executemany per table."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from workshops.core.models import utcnow
from workshops.sync import merge_rules, registry
from workshops.sync.merge_rules import REJECTED, Decision, HubRow, Parsed
from workshops.sync.models import Conflict, Device, FieldMeta
from workshops.sync.tracking_services import write_log

CHUNK = 900  # ids per IN query (SQLite allows far more; this keeps statements small)


def rejected(change: Parsed, reason: str) -> dict:
    return {"table": change.table, "id": str(change.id) if change.id else None, "outcome": REJECTED,
            "version": None, "reason": reason}


def _chunks(ids: list) -> list[list]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _default(column) -> Any:
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        return None
    return default.arg if default.is_scalar else default.arg(None)


_COLUMNS = {table: tuple(model.__table__.columns) for table, model in registry.MODELS.items()}
_META_UPDATE = (update(FieldMeta.__table__)
                .where(FieldMeta.table_name == bindparam("b_table"), FieldMeta.record_id == bindparam("b_id"))
                .values(meta=bindparam("b_meta")))


class Work:
    """The rows, FieldMeta and parents' structures one batch touches, loaded once.

    Existing rows are changed through the ORM (the flush listener logs them). New rows, all
    FieldMeta and Conflict rows are written with one executemany per table, and the ChangeLog
    entries of new rows are written here, as the listener would (a first sync is mostly new
    rows: this is where the speed is)."""

    def __init__(self, db: Session, device: Device, changes: list[Parsed]):
        self.db, self.structure_id, self.device = db, device.structure_id, device.id.hex
        self.device_id = device.id
        self.rows: dict[tuple[str, uuid.UUID], Any] = {}
        self.new: dict[tuple[str, uuid.UUID], dict] = {}  # rows to insert, all their columns
        self.metas: dict[tuple[str, uuid.UUID], dict] = {}
        self.parents: dict[tuple[str, uuid.UUID], uuid.UUID | None] = {}
        self.conflicts: list[dict] = []
        self.pending_new: list[tuple[str, uuid.UUID]] = []
        self.pending_meta: dict[tuple[str, uuid.UUID], bool] = {}  # key -> is a new FieldMeta row
        by_table: dict[str, set] = {}
        parent_ids: dict[str, set] = {}
        for change in changes:
            if change.reason is None:
                by_table.setdefault(change.table, set()).add(change.id)
                link = registry.parent_of(change.table)
                if link and change.values.get(link[1]) is not None:
                    parent_ids.setdefault(link[0], set()).add(change.values[link[1]])
        for table, ids in by_table.items():
            model, link = registry.MODELS[table], registry.parent_of(table)
            for chunk in _chunks(list(ids)):
                for row in db.scalars(select(model).where(model.id.in_(chunk))):
                    self.rows[(table, row.id)] = row
                    if link and getattr(row, link[1]) is not None:
                        parent_ids.setdefault(link[0], set()).add(getattr(row, link[1]))
                for record_id, meta in db.execute(select(FieldMeta.record_id, FieldMeta.meta).where(
                        FieldMeta.table_name == table, FieldMeta.record_id.in_(chunk))):
                    self.metas[(table, record_id)] = meta
        for table, ids in parent_ids.items():
            model = registry.MODELS[table]
            for chunk in _chunks(list(ids)):
                for row_id, structure_id in db.execute(select(model.id, model.structure_id)
                                                       .where(model.id.in_(chunk))):
                    self.parents[(table, row_id)] = structure_id

    def hub_row(self, change: Parsed) -> HubRow:
        key = (change.table, change.id)
        row = self.new.get(key) or self.rows.get(key)
        if row is None:
            return HubRow(None)
        get = row.get if isinstance(row, dict) else partial(getattr, row)
        values = {name: get(name) for name in registry.fields_of(change.table)}
        return HubRow(values, get("version") or 0, dict(self.metas.get(key) or {}))

    def structure(self, table: str, values: dict) -> uuid.UUID | None:
        """The structure of a row of a partitioned table (KeyError: its parent is unknown)."""
        own = registry.structure_column(table)
        if own:
            return values.get(own)
        parent_table, key = registry.parent_of(table)
        parent_id = values.get(key)
        if parent_id is None:
            return None
        parent = self.new.get((parent_table, parent_id)) or self.rows.get((parent_table, parent_id))
        if parent is not None:
            return parent["structure_id"] if isinstance(parent, dict) else parent.structure_id
        return self.parents[(parent_table, parent_id)]

    def allowed(self, table: str, hub: HubRow, values: dict) -> bool:
        """May this device write this row? Its structure's rows, and reference rows it made."""
        if not registry.is_reference(table):
            new = self.structure(table, {**(hub.values or {}), **values})
            if new not in (None, self.structure_id):
                return False
            old = self.structure(table, hub.values) if hub.values is not None else new
            if old == self.structure_id and new == self.structure_id:
                return True
            if old is not None:
                return False
        return hub.values is None or merge_rules.creator_of(hub) == self.device

    def apply(self, change: Parsed) -> dict:
        if change.reason is not None:
            return rejected(change, change.reason)
        hub = self.hub_row(change)
        try:
            allowed = self.allowed(change.table, hub, change.values)
        except KeyError:
            return rejected(change, "missing_parent")
        if allowed and change.table == "users":
            allowed = merge_rules.account_allowed(hub.values, change.values, self.structure_id)
        if not allowed:
            if merge_rules.has_same_values(hub, change.values):
                return self._result(change, merge_rules.UNCHANGED, hub.version)
            reason = ("account_not_allowed" if change.table == "users" else
                      "reference_data" if registry.is_reference(change.table) else "other_structure")
            return rejected(change, reason)
        decision = merge_rules.decide(change.table, hub, change.base_version, change.values, change.hlcs,
                                      self.device)
        version = self._write(change, hub, decision)
        for note in decision.conflicts:
            self.conflicts.append({
                "table_name": change.table, "record_id": change.id, "field": note.field,
                "kept_value": registry.to_json(change.table, note.field, note.kept_value),
                "other_value": registry.to_json(change.table, note.field, note.other_value),
                "kept_hlc": note.kept_hlc, "other_hlc": note.other_hlc, "device_id": self.device_id,
                "status": "open", "created_dt": utcnow(), "id": uuid.uuid4()})
        return self._result(change, decision.outcome, version)

    def _result(self, change: Parsed, outcome: str, version: int) -> dict:
        return {"table": change.table, "id": str(change.id), "outcome": outcome, "version": version,
                "reason": None}

    def _write(self, change: Parsed, hub: HubRow, decision: Decision) -> int:
        if not decision.writes:
            return hub.version
        key = (change.table, change.id)
        version = hub.version + 1
        values = {name: value for name, (value, _) in decision.writes.items()}
        stamp = max(hlc for _, hlc in decision.writes.values())
        row = self.new.get(key) or self.rows.get(key)
        if row is None:
            row = {column.key: values[column.key] if column.key in values else _default(column)
                   for column in _COLUMNS[change.table]}
            self.new[key] = row
            self.pending_new.append(key)
        if isinstance(row, dict):
            row.update(values, id=change.id, version=version, hlc=max(row.get("hlc") or "", stamp))
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.version, row.hlc = version, max(row.hlc or "", stamp)
        self.pending_meta.setdefault(key, key not in self.metas)
        self.metas[key] = {**self.metas.get(key, {}),
                           **{name: [version, hlc] for name, (_, hlc) in decision.writes.items()}}
        return version

    def undo_point(self, change: Parsed) -> tuple:
        key = (change.table, change.id)
        return key, key in self.new, self.metas.get(key)

    def undo(self, point: tuple) -> None:
        """After a change's savepoint was rolled back: forget what it did in memory."""
        key, was_new, meta = point
        if not was_new:
            self.new.pop(key, None)
        if meta is None:
            self.metas.pop(key, None)
        else:
            self.metas[key] = meta
        self.conflicts, self.pending_new, self.pending_meta = [], [], {}

    def write(self) -> None:
        """Write what was decided since the last call: new rows (and their ChangeLog entries),
        FieldMeta, conflicts, then flush the ORM changes of existing rows."""
        db, new_keys, metas, notes = self.db, self.pending_new, self.pending_meta, self.conflicts
        self.pending_new, self.pending_meta, self.conflicts = [], {}, []
        by_table: dict[str, list[dict]] = {}
        for key in sorted(new_keys, key=lambda key: registry.ORDER[key[0]]):
            by_table.setdefault(key[0], []).append(self.new[key])
        # No autoflush before the inserts: an existing row may point at a new one (a household
        # merged into one made offline), so the ORM changes are flushed after them.
        with db.no_autoflush:
            for table, rows in by_table.items():
                db.execute(insert(registry.MODELS[table].__table__), _referenced_first(table, rows))
            if new_keys:
                self._log(new_keys)
            fresh = [{"table_name": t, "record_id": i, "meta": self.metas[(t, i)]}
                     for (t, i), is_new in metas.items() if is_new]
            if fresh:
                db.execute(insert(FieldMeta.__table__), fresh)
            changed = [{"b_table": t, "b_id": i, "b_meta": self.metas[(t, i)]}
                       for (t, i), is_new in metas.items() if not is_new]
            if changed:
                db.execute(_META_UPDATE, changed)
            self._add_conflicts(notes)
        db.flush()

    def _log(self, keys: list[tuple[str, uuid.UUID]]) -> None:
        entries = []
        for table, record_id in keys:
            row = self.new[(table, record_id)]
            payload = {name: registry.to_json(table, name, row[name]) for name in registry.fields_of(table)}
            structure = None if registry.is_reference(table) else self.structure(table, row)
            entries.append({"table_name": table, "record_id": record_id, "payload": payload,
                            "version": row["version"], "hlc": row["hlc"], "structure_id": structure})
        write_log(self.db, entries)

    def _add_conflicts(self, notes: list[dict]) -> None:
        """Add the conflicts noted, but those already recorded (the same change received again
        under another batch)."""
        if not notes:
            return
        existing = set()
        for chunk in _chunks(list({note["record_id"] for note in notes})):
            existing |= set(self.db.execute(
                select(Conflict.table_name, Conflict.record_id, Conflict.field, Conflict.other_hlc)
                .where(Conflict.record_id.in_(chunk))).all())
        fresh = {}
        for note in notes:
            key = (note["table_name"], note["record_id"], note["field"], note["other_hlc"])
            if key not in existing:
                fresh[key] = note
        if fresh:
            self.db.execute(insert(Conflict.__table__), list(fresh.values()))


def _self_references(table: str) -> list[str]:
    """Columns of a table pointing at the same table (a household merged into another)."""
    columns = registry.MODELS[table].__table__.columns
    return [column.key for column in columns
            if any(key.column.table is column.table for key in column.foreign_keys)]


def _referenced_first(table: str, rows: list[dict]) -> list[dict]:
    """New rows in an order where a row another new row points at is inserted before it."""
    return _targets_first(rows, _self_references(table), lambda row: row["id"],
                          lambda row, column: row.get(column))


def changes_in_order(changes: list[Parsed]) -> list[Parsed]:
    """Changes in table order (parents first) and, within a table, a change another change
    points at first (a household merged into one made in the same batch), so that applying them
    one by one never meets a foreign key to a row still to come."""
    by_table: dict[str, list[Parsed]] = {}
    for change in sorted(changes, key=lambda change: registry.ORDER.get(change.table, -1)):
        by_table.setdefault(change.table, []).append(change)
    return [ordered for table, group in by_table.items()
            for ordered in _targets_first(group, _self_references(table) if table in registry.MODELS else [],
                                          lambda change: change.id,
                                          lambda change, column: change.values.get(column))]


def _targets_first(items: list, columns: list[str], id_of, value_of) -> list:
    """`items` in an order where an item another item points at (through `columns`) comes first;
    otherwise the order given. A cycle is left as it is, for the database to refuse."""
    if not columns:
        return items
    ordered, placed, waiting = [], set(), list(items)
    ids = {id_of(item) for item in items} - {None}
    while waiting:
        ready = [item for item in waiting
                 if all(value_of(item, column) not in ids or value_of(item, column) in placed
                        for column in columns)]
        if not ready:
            ordered += waiting
            break
        ordered += ready
        placed |= {id_of(item) for item in ready}
        done = {id(item) for item in ready}  # by identity: two changes may share a row id, or have none
        waiting = [item for item in waiting if id(item) not in done]
    return ordered
