"""Anonymising one household everywhere this device holds it: the code every erasure runs
(a request, the retention job, the ledger re-applied after a restore or a pull).

What goes: every personal field of the household, of the households merged into it, of its
guardians and children (all purged), its consents and notice, the free text of its handovers
and of its machines' events (wiped, marked purged, kept as rows so the machine history keeps its
counts), the values of its rows still waiting in frozen outbox batches, rejected changes and
unknown fields kept here. What stays: registrations, anonymous headcounts, resources shown (ids,
statuses and counts only), and what the anonymous indicators need (a guardian's language and
relation, a child's collège and level, the household's origin and the computer it asked for).
The changes are ordinary tracked edits: the next sync carries the purge to the hub, which wipes
its own history of those rows. Nothing here commits.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.equipment.models import EquipmentEvent, Handover
from workshops.families import merge_queries
from workshops.families.consent_services import NO_CONSENT, set_consents
from workshops.families.models import Child, Family, FamilyResource, Guardian, Registration
from workshops.sync import outbox_services, registry
from workshops.sync.models import OutboxBatch, RejectedChange, SyncExtra
from workshops.sync.purge_services import purge_row, wipe_personal


@dataclass
class ErasureCount:
    """What an erasure changed (rows anonymised) and kept (rows left as counts)."""

    families: int = 0
    guardians: int = 0
    children: int = 0
    handovers: int = 0
    equipment_events: int = 0
    registrations_kept: int = 0
    family_resources_kept: int = 0
    outbox_batches_scrubbed: int = 0
    # The households anonymised: the family and those merged into it (not a count: kept out
    # of the journal's details).
    family_ids: list[uuid.UUID] = field(default_factory=list)

    def as_details(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if isinstance(value, int)}


def household_of(db: Session, family: Family) -> list[Family]:
    """The family and every household merged into it, directly or through a chain of merges
    (aliases keep their own old fields)."""
    alias_ids = merge_queries.household_ids(db, family.id)[1:]
    aliases = list(db.scalars(select(Family).where(Family.id.in_(alias_ids)))) if alias_ids else []
    return [family, *aliases]


def anonymise_family(db: Session, family: Family, now: datetime) -> ErasureCount:
    """Anonymise the household and what points to it (see the module); returns the counts."""
    count = ErasureCount()
    families = household_of(db, family)
    ids = [row.id for row in families]
    erased: dict[str, set[uuid.UUID]] = {}
    for row in families:
        _purge(row, now)
        _withdraw_consents(row)
        count.families += 1
    for model, attribute in ((Guardian, "guardians"), (Child, "children")):
        for row in db.scalars(select(model).where(model.family_id.in_(ids))):
            _purge(row, now)
            setattr(count, attribute, getattr(count, attribute) + 1)
            erased.setdefault(model.__tablename__, set()).add(row.id)
    for model, attribute in ((Handover, "handovers"), (EquipmentEvent, "equipment_events")):
        for row in db.scalars(select(model).where(model.family_id.in_(ids))):
            wipe_personal(row)
            row.is_purged = True  # the hub wipes its older snapshots of a purged row
            setattr(count, attribute, getattr(count, attribute) + 1)
            erased.setdefault(model.__tablename__, set()).add(row.id)
    erased["families"] = set(ids)
    count.family_ids = ids
    count.registrations_kept = _count(db, Registration, ids)
    count.family_resources_kept = _count(db, FamilyResource, ids)
    db.flush()
    count.outbox_batches_scrubbed = scrub_local_copies(db, erased)
    return count


def _purge(row: Any, now: datetime) -> None:
    if row.deleted_dt is None:
        row.deleted_dt = now
    purge_row(row)


def _withdraw_consents(family: Family) -> None:
    """An erased household agrees to nothing any more, and holds no notice of its own."""
    set_consents(family, NO_CONSENT)
    family.notice_version = family.notice_date = None


def _count(db: Session, model: Any, family_ids: list[uuid.UUID]) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(model)
            .where(model.family_id.in_(family_ids), model.deleted_dt.is_(None))
        )
        or 0
    )


def scrub_local_copies(db: Session, erased: dict[str, set[uuid.UUID]]) -> int:
    """Wipe the personal values of these rows (table → ids) wherever the sync keeps a copy on
    this device: frozen batches not yet acknowledged (their body is rewritten with the wiped
    values under the same batch number and id), rejected changes, unknown fields. Returns how
    many batches were rewritten."""
    scrubbed = 0
    for batch in outbox_services.unacked(db):
        if batch.body and _scrub_batch(batch, erased):
            scrubbed += 1
    for rejected in db.scalars(select(RejectedChange)):
        if rejected.record_id in erased.get(rejected.table_name, ()):
            rejected.fields = _wiped(rejected.table_name, rejected.fields)
    for table_name, ids in erased.items():
        for record_id in ids:
            extra = db.get(SyncExtra, (table_name, record_id))
            if extra is not None and extra.fields:
                extra.fields = {}
    db.flush()
    return scrubbed


def _scrub_batch(batch: OutboxBatch, erased: dict[str, set[uuid.UUID]]) -> bool:
    body = json.loads(batch.body)
    changed = False
    for change in body.get("changes") or []:
        if _record_id(change) in erased.get(change.get("table"), ()):
            wiped = _wiped(change["table"], change.get("fields") or {})
            if wiped != change.get("fields"):
                change["fields"] = wiped
                changed = True
    if changed:
        body["redacted"] = True  # the hub answers "duplicate" if it applied the original
        text = outbox_services.canonical(body)
        batch.body, batch.sha256 = text, outbox_services.digest(text)
    return changed


def _record_id(change: dict) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(change.get("id")))
    except ValueError:
        return None


def _wiped(table_name: str, fields: dict) -> dict:
    """The fields with every personal one given its wiped value (JSON)."""
    if table_name not in registry.MODELS:
        return {}
    personal = set(registry.all_personal_fields(table_name))
    return {
        name: (registry.wiped_value(table_name, name) if name in personal else value)
        for name, value in fields.items()
    }
