"""What travels between laptops and the hub, and how it is written in JSON.

Every model with `SyncMixin` is synced. Its fields are its columns but the device-local ones
(`created_dt`, `updated_dt`) and the sync bookkeeping (`version`, `hlc`), which travel beside
the fields. Values are JSON: UUIDs as text, datetimes as ISO 8601 UTC, dates as ISO dates.

`partition_of` says which structure's laptops receive a row (None: every laptop, reference
data). Families, ateliers and equipment carry their structure; their children rows follow
their parent.

`SCHEMA_VERSION` is bumped by hand with every migration that changes a synced table; the hub
accepts pushes from its own version and the two before it (shared/sync.md, C10).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Uuid
from sqlalchemy.orm import Session

from workshops.auth.models import Epci, Structure, User
from workshops.core.models import Base, SyncMixin, UTCDateTime
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.families.models import (
    AnonymousHeadcount,
    Child,
    Family,
    FamilyResource,
    Guardian,
    Registration,
)
from workshops.resources.models import Resource, ResourceDescription
from workshops.scheduling.models import Venue, Workshop, WorkshopAnimator, WorkshopResource

PROTOCOL = 1
SCHEMA_VERSION = 2
MIN_SCHEMA_VERSION = SCHEMA_VERSION - 2
# Columns every synced table has that never travel as fields.
LOCAL_COLUMNS = frozenset({"id", "created_dt", "updated_dt", "version", "hlc"})
# Columns of one table that stay on the device: when an account last logged in here; a
# household's search key, derived from its people's names on each device (families.services
# refresh_search_keys), so that names of people erased elsewhere never travel inside it.
LOCAL_COLUMNS_OF = {"users": frozenset({"last_login_dt"}), "families": frozenset({"search_key"})}

_MODELS = (Epci, Structure, User, Resource, ResourceDescription, Venue, Workshop, WorkshopAnimator,
           WorkshopResource, Family, Guardian, Child, Registration, AnonymousHeadcount, FamilyResource,
           Equipment, Handover, EquipmentEvent)
# Synced models by table name, parents before children (the order pulls and pushes apply in).
MODELS: dict[str, type[SyncMixin]] = {
    table.name: model
    for table in Base.metadata.sorted_tables
    for model in _MODELS if model.__table__ is table
}
ORDER = {name: position for position, name in enumerate(MODELS)}


def model_of(table_name: str) -> type[SyncMixin]:
    """The synced model of a table; KeyError for any other table name."""
    return MODELS[table_name]


def fields_of(table_name: str) -> tuple[str, ...]:
    """The synced fields of a table, in column order (`deleted_dt` and `is_purged` included)."""
    return _FIELDS[table_name]


_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(column.key for column in model.__table__.columns
                if column.key not in LOCAL_COLUMNS | LOCAL_COLUMNS_OF.get(name, frozenset()))
    for name, model in MODELS.items()
}


def local_only(table_name: str) -> frozenset[str]:
    """Columns of the table that each device derives or keeps for itself: a value received for
    one of them (from an older version of the app) is ignored."""
    return LOCAL_COLUMNS_OF.get(table_name, frozenset())


def personal_fields(table_name: str) -> tuple[str, ...]:
    """Synced fields holding personal data, wiped by a purge (the model's `__personal__`)."""
    return tuple(field for field in all_personal_fields(table_name) if field in _FIELDS[table_name])


def all_personal_fields(table_name: str) -> tuple[str, ...]:
    """Every column holding personal data, the device-local ones included (a search key)."""
    return tuple(getattr(MODELS[table_name], "__personal__", ()))


def wiped_value(table_name: str, field: str) -> Any:
    """What a purged personal field holds: None when the column allows it, else ""."""
    column = MODELS[table_name].__table__.columns[field]
    return None if column.nullable else ""


# ---------- JSON ----------

def to_json(table_name: str, field: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(table_name: str, field: str, value: Any) -> Any:
    """The Python value of a JSON field value, by the column's type."""
    if value is None:
        return None
    column_type = MODELS[table_name].__table__.columns[field].type
    if isinstance(column_type, Uuid):
        return uuid.UUID(value)
    if isinstance(column_type, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    return value


def snapshot(row: SyncMixin) -> dict[str, Any]:
    """Every synced field of a row, as JSON values."""
    table_name = row.__table__.name
    return {field: to_json(table_name, field, getattr(row, field)) for field in fields_of(table_name)}


# ---------- Partitions ----------

# How to find a row's structure: its own column, or its parent's (table, foreign key).
_OWN_STRUCTURE = {"families": "structure_id", "workshops": "structure_id", "equipment": "structure_id",
                  "users": "structure_id"}
_THROUGH_PARENT = {
    "guardians": ("families", "family_id"), "children": ("families", "family_id"),
    "registrations": ("workshops", "workshop_id"), "anonymous_headcounts": ("workshops", "workshop_id"),
    "family_resources": ("workshops", "workshop_id"), "workshop_animators": ("workshops", "workshop_id"),
    "workshop_resources": ("workshops", "workshop_id"),
    "handovers": ("equipment", "equipment_id"), "equipment_events": ("equipment", "equipment_id"),
}


def structure_column(table_name: str) -> str | None:
    """The column holding the structure of a table's rows, when the table has one."""
    return _OWN_STRUCTURE.get(table_name)


def parent_of(table_name: str) -> tuple[str, str] | None:
    """(parent table, foreign key) for a table whose rows follow their parent's structure."""
    return _THROUGH_PARENT.get(table_name)


def children_of(table_name: str) -> list[tuple[str, str]]:
    """(child table, foreign key) of the tables whose rows follow this table's structure."""
    return [(child, key) for child, (parent, key) in _THROUGH_PARENT.items() if parent == table_name]


# A pulled change carrying only this field says the row left the laptop's structure.
MOVED_AWAY = "__moved_away__"


def partition_of(session: Session, table_name: str, fields: dict[str, Any]) -> uuid.UUID | None:
    """The structure whose laptops receive this row (JSON or Python field values), or None for
    reference data every laptop receives (EPCI, structures, venues, resources, users of no
    structure). A parent already in the session is read from it, without a query."""
    if table_name in _OWN_STRUCTURE:
        value = fields.get(_OWN_STRUCTURE[table_name])
        return uuid.UUID(str(value)) if value is not None else None
    if table_name in _THROUGH_PARENT:
        parent_table, key = _THROUGH_PARENT[table_name]
        parent_id = fields.get(key)
        if parent_id is None:
            return None
        parent = MODELS[parent_table]
        with session.no_autoflush:
            found = session.get(parent, uuid.UUID(str(parent_id)))
        return found.structure_id if found is not None else None
    return None


def is_reference(table_name: str) -> bool:
    """Tables every laptop receives whole."""
    return table_name not in _OWN_STRUCTURE and table_name not in _THROUGH_PARENT

