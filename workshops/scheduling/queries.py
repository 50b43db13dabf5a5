"""Reads about venues."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from workshops.scheduling.models import Venue


def list_venues(db: Session, *, kind: str | None = None, epci_id: uuid.UUID | None = None,
                active_only: bool = False) -> list[Venue]:
    """Venues by commune then name, with their EPCI and structure, optionally of
    one kind, one EPCI, or only the active ones. Raises nothing."""
    query = (select(Venue).where(Venue.deleted_dt.is_(None))
             .options(joinedload(Venue.epci), joinedload(Venue.structure))
             .order_by(func.lower(Venue.commune), func.lower(Venue.name), Venue.name))
    if kind:
        query = query.where(Venue.kind == kind)
    if epci_id is not None:
        query = query.where(Venue.epci_id == epci_id)
    if active_only:
        query = query.where(Venue.is_active.is_(True))
    return list(db.scalars(query))


def get_venue(db: Session, venue_id: uuid.UUID) -> Venue | None:
    """A venue by id, or None when unknown or deleted. Raises nothing."""
    venue = db.get(Venue, venue_id)
    return venue if venue is not None and venue.deleted_dt is None else None


def find_venue(db: Session, name: str, commune: str) -> Venue | None:
    """The venue with this name in this commune, whatever the case, or None. Raises nothing."""
    name, commune = " ".join(name.split()), " ".join(commune.split())
    # Exact comparison first: SQLite's lower() leaves accented capitals (É) alone.
    return db.scalar(select(Venue).where(
        or_(Venue.name == name, func.lower(Venue.name) == name.lower()),
        or_(Venue.commune == commune, func.lower(Venue.commune) == commune.lower())).limit(1))
