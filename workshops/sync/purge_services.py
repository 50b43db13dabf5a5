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
from sqlalchemy.orm import Session, selectinload

from workshops.core.models import SyncMixin, utcnow
from workshops.families.models import Child, Family, Guardian
from workshops.families.services import search_key_of
from workshops.sync import registry

PEOPLE = (Guardian, Child)


def wipe_personal(row: SyncMixin) -> None:
    """Empty every column of the row holding personal data (device-local ones included)."""
    table_name = row.__table__.name
    for field in registry.all_personal_fields(table_name):
        value = registry.wiped_value(table_name, field)
        if getattr(row, field) != value:
            setattr(row, field, value)


def purge_row(row: SyncMixin) -> None:
    """Wipe a row's personal fields and mark it purged (and deleted)."""
    wipe_personal(row)
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


def after_changes(db: Session, changes: list) -> None:
    """After a push batch is applied on the hub, or a pull page on a laptop: purge the people of
    purged households, then derive again the search keys of the households touched (a search
    key never travels: it is made on each device from the people it holds)."""
    families = families_of(changes)
    purge_people_of_purged_families(db, families)
    people_families = set()
    for model in PEOPLE:
        ids = [change_id(change) for change in changes
               if isinstance(change, dict) and change.get("table") == model.__tablename__]
        ids = [row_id for row_id in ids if row_id is not None]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            people_families |= set(db.scalars(select(model.family_id).where(model.id.in_(chunk))))
    refresh_search_keys(db, families | people_families)


def change_id(change: dict) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(change.get("id")))
    except (TypeError, ValueError):
        return None


def families_of(changes: list) -> set[uuid.UUID]:
    """The households a batch or page names: its families, and the families its people belong to
    (ids as the changes give them)."""
    found = set()
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("fields"), dict):
            continue
        try:
            if change.get("table") == "families":
                found |= {uuid.UUID(str(change["id"]))}
            elif change.get("table") in ("guardians", "children") and change["fields"].get("family_id"):
                found |= {uuid.UUID(str(change["fields"]["family_id"]))}
        except (TypeError, ValueError):
            continue
    return found


def refresh_search_keys(db: Session, family_ids: set[uuid.UUID]) -> None:
    """Derive again the search keys of these households from the people they hold now (after a
    sync brought or erased some): search keys are made on each device, never received."""
    ids = [family_id for family_id in family_ids if family_id is not None]
    for start in range(0, len(ids), 500):
        for family in db.scalars(select(Family).where(Family.id.in_(ids[start:start + 500]))
                                 .options(selectinload(Family.guardians), selectinload(Family.children))):
            key = "" if family.is_purged else search_key_of(family)
            if family.search_key != key:
                family.search_key = key
    db.flush()
