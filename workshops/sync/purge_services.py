"""A household erased (purged) takes its people with it, wherever the purge comes from.

A purge sets `is_purged` and wipes the personal fields of a row (the models' `__personal__`).
When a family is purged, its guardians and children are purged in the same transaction: on the
hub after every batch (a laptop that erased a family may not have had a guardian another laptop
added; a laptop that had not yet heard of the erasure may push a new guardian of it), so no
personal data of an erased household stays or travels. On the hub these are ordinary edits:
the flush listener gives them their next version and logs them, wiping the older snapshots.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.core.models import SyncMixin, utcnow
from workshops.families.models import Child, Family, Guardian
from workshops.sync import registry

PEOPLE = (Guardian, Child)


def purge_row(row: SyncMixin) -> None:
    """Wipe a row's personal fields and mark it purged (and deleted)."""
    table_name = row.__table__.name
    for field in registry.personal_fields(table_name):
        value = registry.wiped_value(table_name, field)
        if getattr(row, field) != value:
            setattr(row, field, value)
    row.is_purged = True
    row.deleted_dt = row.deleted_dt or utcnow()


def purge_people_of_purged_families(db: Session, family_ids: Iterable[uuid.UUID]) -> int:
    """Purge the guardians and children not yet purged of those of `family_ids` that are purged;
    returns how many rows were purged."""
    ids = list({family_id for family_id in family_ids if family_id is not None})
    if not ids:
        return 0
    purged = select(Family.id).where(Family.id.in_(ids), Family.is_purged.is_(True))
    count = 0
    for model in PEOPLE:
        for row in db.scalars(select(model).where(model.family_id.in_(purged), model.is_purged.is_(False))):
            purge_row(row)
            count += 1
    db.flush()
    return count


def families_of_batch(changes: list) -> set[uuid.UUID]:
    """The families a push batch purges or adds people to (ids as the batch gives them)."""
    found = set()
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("fields"), dict):
            continue
        try:
            if change.get("table") == "families" and change["fields"].get("is_purged") is True:
                found |= {uuid.UUID(str(change["id"]))}
            elif change.get("table") in ("guardians", "children") and change["fields"].get("family_id"):
                found |= {uuid.UUID(str(change["fields"]["family_id"]))}
        except (TypeError, ValueError):
            continue
    return found
