"""Households made of several records: a household merged into another stays as a record
pointing at it (merged_into_id), perhaps through a chain (A into B on one laptop, B into C on
another). These reads find the records of one household, and the household a record ended up in."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.families.models import Family
from workshops.families.queries import can_see, get_family_for


def families_merged_into(db: Session, family_id: uuid.UUID) -> list[Family]:
    """Households earlier merged into this one (aliases to re-point on a new merge)."""
    return list(db.scalars(select(Family).where(Family.merged_into_id == family_id)))


def household_ids(db: Session, family_id: uuid.UUID) -> list[uuid.UUID]:
    """The household and every household merged into it, directly or through others (a chain
    A -> B -> C comes from merges made on two devices before they synced): `family_id` first.
    Stops on a cycle of merges."""
    ids = [family_id]
    seen = {family_id}
    frontier = [family_id]
    while frontier:
        found = db.scalars(select(Family.id).where(Family.merged_into_id.in_(frontier))).all()
        frontier = [alias_id for alias_id in found if alias_id not in seen]
        seen.update(frontier)
        ids.extend(frontier)
    return ids


def kept_households(db: Session, family_ids) -> set[uuid.UUID]:
    """The households that `family_ids` end up merged into (a household not merged is its own).
    Loads only the records on their chains, a level per query."""
    starts = set(family_ids)
    parent: dict[uuid.UUID, uuid.UUID | None] = {}
    frontier = set(starts)
    while frontier:
        rows = db.execute(select(Family.id, Family.merged_into_id).where(Family.id.in_(frontier))).all()
        parent.update((row.id, row.merged_into_id) for row in rows)
        frontier = {row.merged_into_id for row in rows if row.merged_into_id is not None} - parent.keys()
    return set(_roots(parent, starts).values())


def root_households(db: Session) -> dict[uuid.UUID, uuid.UUID]:
    """Every household mapped to the household it ends up merged into (itself when not merged)."""
    parent = {row.id: row.merged_into_id for row in db.execute(select(Family.id, Family.merged_into_id))}
    return _roots(parent, parent)


def kept_household(db: Session, family: Family) -> Family:
    """The household a record ends up merged into; the record itself when it was not merged, or
    when its chain has no end here (see `_roots`)."""
    if family.merged_into_id is None:
        return family
    root = kept_households(db, [family.id])
    return db.get(Family, root.pop()) if root else family


def _roots(parent: dict[uuid.UUID, uuid.UUID | None], starts) -> dict[uuid.UUID, uuid.UUID]:
    """Each of `starts` mapped to the end of its chain of merges in `parent` (record ->
    merged_into_id), following chains (A into B on one laptop, B into C on another). A record in
    a cycle of merges, or pointing at a record not in `parent`, has no end and is left out."""
    roots: dict[uuid.UUID, uuid.UUID] = {}
    for start in starts:
        path: list[uuid.UUID] = []  # a chain of merges is a few households long
        current: uuid.UUID | None = start
        root: uuid.UUID | None = None
        while current is not None:
            if current in roots:
                root = roots[current]
                break
            if current in path or current not in parent:
                break
            path.append(current)
            if parent[current] is None:
                root = current
                break
            current = parent[current]
        if root is not None:
            roots.update(dict.fromkeys(path, root))
    return {start: roots[start] for start in starts if start in roots}


def kept_household_for(db: Session, user: User, family_id: uuid.UUID) -> Family | None:
    """For a record merged into another, the live household it ended up in, if the user may
    see both; None otherwise. Lets an old link (a loan, a machine's history) reach the family."""
    merged = db.get(Family, family_id)
    if merged is None or merged.merged_into_id is None or not can_see(user, merged):
        return None
    return get_family_for(db, user, kept_household(db, merged).id)
