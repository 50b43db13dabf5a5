"""The hub's merge rules for one incoming change (sync-anchors C6): pure functions, no database.

A change names a row, the hub version its edits were based on, and the new value and HLC stamp
of each changed field. Against the hub's row (its values and, per field, the version and stamp
of the last change, FieldMeta) each field is:

- applied when the hub has not changed it since the laptop's base;
- left alone when the hub already holds the same value;
- applied without conflict when the hub's last writer of that field is the pushing device
  itself and the incoming stamp is later (its own earlier edit, not pulled back yet);
- otherwise a hard conflict: the later stamp wins and is in the row, a Conflict row keeps the
  other value.

A deleted row is never brought back by a change based on a version older than the deletion
(each differing field becomes a conflict kept by the hub), a purged row drops every value, and
an incoming purge always wins. Stamps more than CLOCK_SKEW_MS ahead of the hub's clock are
clamped to the hub's clock (the device is flagged by the caller).

`parse` checks and converts one change as it arrived in JSON (known table and fields, values
of the column's type, valid stamps) and gives the stable reason of a refusal.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Integer, String, Uuid

from workshops.core import clock
from workshops.core.models import UTCDateTime
from workshops.sync import registry

CLOCK_SKEW_MS = 5 * 60 * 1000

APPLIED, MERGED, UNCHANGED, CONFLICT, PURGED, REJECTED = (
    "applied", "merged", "unchanged", "conflict", "purged", "rejected")
OUTCOMES = (APPLIED, MERGED, UNCHANGED, CONFLICT, PURGED, REJECTED)
# The answer's `counts` key of each outcome.
COUNT_KEYS = {APPLIED: "applied", MERGED: "merged", UNCHANGED: "unchanged", CONFLICT: "conflicts",
              PURGED: "purged", REJECTED: "rejected"}


@dataclass(frozen=True)
class HubRow:
    """The hub's side of one row: field values (Python), version, FieldMeta {field: [version,
    hlc]}. `values` is None when the hub has no such row."""

    values: dict[str, Any] | None
    version: int = 0
    meta: dict[str, list] = field(default_factory=dict)


@dataclass(frozen=True)
class ConflictNote:
    field: str
    kept_value: Any
    other_value: Any
    kept_hlc: str
    other_hlc: str


@dataclass
class Decision:
    """What to do with one change: `writes` {field: (value, hlc)} go into the row."""

    outcome: str
    writes: dict[str, tuple[Any, str]] = field(default_factory=dict)
    conflicts: list[ConflictNote] = field(default_factory=list)
    reason: str | None = None


def clamp(hlc: str, now_ms: int) -> tuple[str, int | None]:
    """The stamp to compare and store, and the device's clock offset (hub minus device, ms)
    when the stamp was more than CLOCK_SKEW_MS ahead of the hub (else None). Raises ValueError
    for a malformed stamp."""
    stamp = clock.Stamp.decode(hlc)
    if stamp.physical > now_ms + CLOCK_SKEW_MS:
        return clock.Stamp(now_ms, 0, stamp.device).encode(), now_ms - stamp.physical
    return stamp.encode(), None


def writer_of(hlc: str | None) -> str | None:
    """The device part of a stamp (None when there is no valid stamp)."""
    if not hlc:
        return None
    try:
        return clock.Stamp.decode(hlc).device
    except ValueError:
        return None


def is_deleted_since(hub: HubRow, base_version: int) -> bool:
    """The hub deleted the row after the version the change was based on (a tombstone)."""
    if hub.values is None or hub.values.get("deleted_dt") is None:
        return False
    version = hub.meta.get("deleted_dt", [0, ""])[0]
    return version > base_version


def decide_field(hub: HubRow, name: str, value: Any, hlc: str, base_version: int,
                 device: str) -> tuple[bool, ConflictNote | None]:
    """(apply?, conflict) for one field of a change to an existing row."""
    current = hub.values[name]
    if current == value:
        return False, None
    meta_version, meta_hlc = hub.meta.get(name, [0, ""])
    if meta_version <= base_version:
        return True, None
    if writer_of(meta_hlc) == device:
        # The device's own later batch wins; `>=` because two batches of a device whose clock
        # runs fast are clamped to the same stamp when ingested together (a USB bundle).
        return hlc >= meta_hlc, None
    if hlc > meta_hlc:
        return True, ConflictNote(name, value, current, hlc, meta_hlc)
    return False, ConflictNote(name, current, value, meta_hlc, hlc)


def account_allowed(hub_values: dict[str, Any] | None, values: dict[str, Any], structure_id) -> bool:
    """A laptop may create or edit only conseiller accounts of its own structure: never an
    administrator's or manager's, never one of another structure (the hub's own accounts stay
    the hub's)."""
    merged = {**(hub_values or {}), **values}
    if hub_values is not None and (hub_values.get("role") != "conseiller"
                                   or hub_values.get("structure_id") != structure_id):
        return False
    return merged.get("role") == "conseiller" and merged.get("structure_id") == structure_id


def decide(table: str, hub: HubRow, base_version: int, fields: dict[str, Any], hlcs: dict[str, str],
           device: str) -> Decision:
    """The decision for one change (values in Python form, stamps already clamped).

    `device` is the pushing device as its stamps name it (the device id's hex)."""
    purging = fields.get("is_purged") is True
    if hub.values is None:
        writes = {name: (value, hlcs[name]) for name, value in fields.items()}
        if purging:
            writes.update(_wipes(table, hlcs["is_purged"]))
        return Decision(APPLIED, writes)
    if hub.values.get("is_purged"):
        return Decision(PURGED)
    if purging:
        return _purge(table, hub, base_version, fields, hlcs, device)
    if is_deleted_since(hub, base_version):
        conflicts = [ConflictNote(name, hub.values[name], value, hub.meta.get(name, [0, ""])[1] or "",
                                  hlcs[name])
                     for name, value in fields.items()
                     if value != hub.values[name] and not _both_deleted(name, value, hub)]
        return Decision(CONFLICT if conflicts else UNCHANGED, conflicts=conflicts)
    decision = Decision(UNCHANGED)
    for name, value in fields.items():
        apply, conflict = decide_field(hub, name, value, hlcs[name], base_version, device)
        if apply:
            decision.writes[name] = (value, hlcs[name])
        if conflict is not None:
            decision.conflicts.append(conflict)
    if decision.conflicts:
        decision.outcome = CONFLICT
    elif decision.writes:
        decision.outcome = APPLIED if base_version >= hub.version else MERGED
    return decision


def _both_deleted(name: str, value: Any, hub: HubRow) -> bool:
    """Deleted on both sides (at other times): not a conflict worth a manager's time."""
    return name == "deleted_dt" and value is not None and hub.values[name] is not None


def _wipes(table: str, hlc: str) -> dict[str, tuple[Any, str]]:
    writes = {name: (registry.wiped_value(table, name), hlc) for name in registry.personal_fields(table)}
    writes["is_purged"] = (True, hlc)
    return writes


def _purge(table: str, hub: HubRow, base_version: int, fields: dict[str, Any], hlcs: dict[str, str],
           device: str) -> Decision:
    """An erasure wins over everything: personal fields wiped, the flag set; the change's other
    (non-personal) fields follow the usual rules."""
    personal = set(registry.personal_fields(table))
    others = {name: value for name, value in fields.items() if name not in personal and name != "is_purged"}
    decision = decide(table, hub, base_version, others, hlcs, device)
    wipes = {name: write for name, write in _wipes(table, hlcs["is_purged"]).items()
             if hub.values.get(name) != write[0]}
    decision.writes.update(wipes)
    if decision.outcome == UNCHANGED and decision.writes:
        decision.outcome = APPLIED if base_version >= hub.version else MERGED
    return decision


def has_same_values(hub: HubRow, fields: dict[str, Any]) -> bool:
    """Every incoming value equals the hub's (a reference row every laptop seeds alike)."""
    return hub.values is not None and all(hub.values.get(name) == value for name, value in fields.items())


def creator_of(hub: HubRow) -> str | None:
    """The device that created the hub's row: the writer of its earliest FieldMeta stamp."""
    if not hub.meta:
        return None
    version, hlc = min(hub.meta.values(), key=lambda entry: (entry[0], entry[1] or ""))
    return writer_of(hlc)


# ---------- Checking what arrived ----------

# The range of a database integer (BIGINT): a larger number is refused, not a crash.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Parsed:
    """One change, checked and converted: Python values, clamped stamps."""

    __slots__ = ("index", "table", "id", "base_version", "values", "hlcs", "reason")

    def __init__(self, index: int, raw: Any):
        self.index, self.reason = index, None
        table = raw.get("table") if isinstance(raw, dict) else None
        self.table = table if isinstance(table, str) else None
        self.id, self.base_version, self.values, self.hlcs = None, 0, {}, {}


def parse(index: int, raw: Any, now_ms: int, stamps: dict | None = None) -> tuple[Parsed, int | None]:
    """Check and convert one change as it arrived. `stamps` caches clamped stamps within a
    batch (the fields of one change mostly share one stamp)."""
    change, skew = Parsed(index, raw), None
    stamps = {} if stamps is None else stamps
    if not isinstance(change.table, str) or change.table not in registry.MODELS:
        change.reason = "unknown_table"
        return change, None
    try:
        change.id = uuid.UUID(str(raw.get("id")))
    except ValueError:
        change.reason = "bad_value"
        return change, None
    fields, hlcs, base = raw.get("fields"), raw.get("hlc"), raw.get("base_version", 0)
    if not isinstance(fields, dict) or not isinstance(hlcs, dict) or not isinstance(base, int) or base < 0:
        change.reason = "bad_value"
        return change, None
    change.base_version = base
    known, local = _CHECKS[change.table], registry.local_only(change.table)
    for name, value in fields.items():
        if name in local:
            continue
        if name not in known:
            change.reason = "unknown_field"
            return change, None
        try:
            change.values[name] = _convert(change.table, name, value, known[name])
            hlc = hlcs[name]
            if hlc not in stamps:
                stamps[hlc] = clamp(str(hlc), now_ms)
            stamp, offset = stamps[hlc]
        except (KeyError, ValueError, TypeError, AttributeError):
            change.reason = "bad_value"
            return change, None
        change.hlcs[name] = stamp
        if offset is not None and (skew is None or offset < skew):
            skew = offset
    return change, skew


def _check_of(column) -> tuple[Any, int | None, bool]:
    kind = column.type
    for types, python in (((Boolean,), bool), ((Integer,), int), ((String,), str), ((JSON,), object),
                          ((Uuid,), uuid.UUID), ((UTCDateTime,), datetime), ((Date,), date)):
        if isinstance(kind, types):
            return python, getattr(kind, "length", None), column.nullable
    return object, None, column.nullable


_CONVERTED = (uuid.UUID, datetime, date)
_CHECKS = {table: {name: _check_of(model.__table__.columns[name]) for name in registry.fields_of(table)}
           for table, model in registry.MODELS.items()}


def _convert(table: str, name: str, value: Any, check: tuple[Any, int | None, bool]) -> Any:
    python, length, nullable = check
    if value is None:
        if not nullable:
            raise ValueError(name)
        return None
    # Text, numbers, booleans and JSON arrive as they are stored.
    converted = registry.from_json(table, name, value) if python in _CONVERTED else value
    if python is int and (isinstance(converted, bool) or not isinstance(converted, int)
                          or not INT64_MIN <= converted <= INT64_MAX):
        raise ValueError(name)
    if python in (bool, str) and not isinstance(converted, python):
        raise ValueError(name)
    if python is str and "\x00" in converted:  # PostgreSQL stores no NUL in text
        raise ValueError(name)
    if python is str and length is not None and len(converted) > length:
        raise ValueError(name)
    if python is datetime and converted.tzinfo is None:
        raise ValueError(name)
    return converted


# ---------- The batch ----------

def canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def batch_sha(body: dict) -> str:
    """SHA-256 of a push body's canonical text (the laptop computes the same)."""
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def malformed(body: Any) -> str | None:
    """What is wrong with a push body's shape, or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for key in ("protocol", "schema_version", "batch_seq"):
        if not isinstance(body.get(key), int) or isinstance(body.get(key), bool):
            return f"{key} is missing or not a number"
        if not INT64_MIN <= body[key] <= INT64_MAX:
            return f"{key} is out of range"
    if body["batch_seq"] < 1:
        return "batch_seq starts at 1"
    for key in ("device_id", "batch_id"):
        try:
            uuid.UUID(str(body.get(key)))
        except ValueError:
            return f"{key} is not a UUID"
    if not isinstance(body.get("changes"), list):
        return "changes is not a list"
    return None


def refuse_version(body: dict) -> tuple | None:
    """(status, code, message, extra) when the batch's versions are not the hub's, else None."""
    if body["protocol"] > registry.PROTOCOL or body["schema_version"] > registry.SCHEMA_VERSION:
        return (409, "hub_too_old", "The hub runs an older version than this laptop: update the hub first.",
                {"schema_version": registry.SCHEMA_VERSION})
    if body["protocol"] < registry.PROTOCOL or body["schema_version"] < registry.MIN_SCHEMA_VERSION:
        return (426, "client_too_old", "This laptop's version is too old for the hub: update it.",
                {"min_schema_version": registry.MIN_SCHEMA_VERSION})
    return None
