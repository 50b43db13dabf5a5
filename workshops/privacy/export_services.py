"""Everything held about one household, for its right of access and portability (R34).

Driven by the inventory: every table with a `family_key` is read, whole rows (every column),
for the household and the households merged into it, plus the journal entries naming it. JSON
(one list of rows per table) or CSV (one row per value: table, row id, column, value; UTF-8 with
BOM, `;`, formula-neutralised, so French Excel opens it safely).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.audit.models import AuditEntry
from workshops.audit.services import record
from workshops.core.models import Base
from workshops.families.models import Family
from workshops.privacy.inventory import DATA_INVENTORY, family_tables
from workshops.reports import exports
from workshops.sync.anonymise_services import household_of

FORMATS = ("json", "csv")


def _value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def family_data(db: Session, family: Family) -> dict[str, list[dict[str, Any]]]:
    """Every row about the household, by table (columns as the inventory lists them)."""
    ids = [row.id for row in household_of(db, family)]
    data: dict[str, list[dict[str, Any]]] = {}
    for name, entry in family_tables().items():
        table = Base.metadata.tables[name]
        key = table.columns[entry.family_key]
        rows = db.execute(select(table).where(key.in_(ids)).order_by(*table.primary_key.columns)).mappings()
        data[name] = [{column: _value(row[column]) for column in entry.columns} for row in rows]
    journal = DATA_INVENTORY["audit_entries"].columns
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.object_ref.in_([str(i) for i in ids])).order_by(AuditEntry.id)
    )
    data["audit_entries"] = [
        {column: _value(getattr(entry, column)) for column in journal} for entry in entries
    ]
    return data


def to_json(data: dict[str, list[dict[str, Any]]]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def to_csv(data: dict[str, list[dict[str, Any]]]) -> bytes:
    """One line per value (table, row id, column, value), written like the reports' CSV."""
    lines = [[table, row.get("id", ""), column,
              json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value]
             for table, rows in data.items() for row in rows for column, value in row.items()]
    return exports.to_csv(exports.Table("family", ["table", "row", "column", "value"], lines))


def export_family(
    db: Session, family: Family, actor_id: uuid.UUID | None, fmt: str = "json", now: datetime | None = None
) -> bytes:
    """The household's data in `fmt` (json or csv), with one "family_export" journal entry.
    Raises ValueError for another format. The caller commits (the journal entry)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    data = family_data(db, family)
    record(
        db,
        "family_export",
        actor_id=actor_id,
        object_type="family",
        object_ref=str(family.id),
        details={"format": fmt, "rows": sum(len(rows) for rows in data.values())},
        now=now,
    )
    return to_json(data) if fmt == "json" else to_csv(data)
