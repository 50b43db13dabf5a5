"""Reads about venues and ateliers; ateliers are always read through the user's scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.models import utcnow
from workshops.resources.models import Resource
from workshops.scheduling.localtime import days_bounds, to_local
from workshops.scheduling.models import Venue, Workshop, WorkshopAnimator, WorkshopResource


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


def venue_names(db: Session) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of every venue, in list_venues' order: the choices of a filter. Raises nothing."""
    return [(row.id, row.name) for row in db.execute(
        select(Venue.id, Venue.name).where(Venue.deleted_dt.is_(None))
        .order_by(func.lower(Venue.commune), func.lower(Venue.name), Venue.name))]


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


# ---------------------------------------------------------------- ateliers


def can_manage(user: User, structure_id: uuid.UUID | None) -> bool:
    """True when `user` may see, create or change the ateliers of this structure:
    managers and admins any, a conseiller their own structure's only."""
    visible = visible_structure_ids(user)
    return visible is None or structure_id in visible


def _in_scope(query: Select, user: User) -> Select:
    query = query.where(Workshop.deleted_dt.is_(None))
    visible = visible_structure_ids(user)
    return query if visible is None else query.where(Workshop.structure_id.in_(visible))


def _filtered(user: User, *, kind: str | None, venue_id: uuid.UUID | None,
              structure_id: uuid.UUID | None, start: datetime | None,
              end: datetime | None) -> Select:
    query = _in_scope(select(Workshop), user)
    if kind:
        query = query.where(Workshop.kind == kind)
    if venue_id is not None:
        query = query.where(Workshop.venue_id == venue_id)
    if structure_id is not None:
        query = query.where(Workshop.structure_id == structure_id)
    if start is not None:
        query = query.where(Workshop.start_dt >= start)
    if end is not None:
        query = query.where(Workshop.start_dt < end)
    return query


def list_workshops(db: Session, user: User, *, kind: str | None = None,
                   venue_id: uuid.UUID | None = None, structure_id: uuid.UUID | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   upcoming: bool | None = True, limit: int | None = None,
                   offset: int = 0) -> list[Workshop]:
    """The ateliers the user may see, with their venue and structure, optionally of
    one kind, venue or structure, starting in [start, end) (aware datetimes).

    upcoming=True: not ended yet, soonest first; False: ended, latest first;
    None: all, soonest first. `limit` and `offset` page through them. Raises nothing.
    """
    query = _filtered(user, kind=kind, venue_id=venue_id, structure_id=structure_id,
                      start=start, end=end)
    now = utcnow()
    if upcoming is False:
        query = query.where(Workshop.end_dt < now).order_by(Workshop.start_dt.desc(), Workshop.title)
    else:
        if upcoming:
            query = query.where(Workshop.end_dt >= now)
        query = query.order_by(Workshop.start_dt, Workshop.title)
    query = query.options(joinedload(Workshop.venue), joinedload(Workshop.structure))
    return list(db.scalars(query.limit(limit).offset(offset or None)))


def count_workshops(db: Session, user: User, *, kind: str | None = None,
                    venue_id: uuid.UUID | None = None, structure_id: uuid.UUID | None = None,
                    start: datetime | None = None, end: datetime | None = None) -> tuple[int, int]:
    """How many upcoming and past ateliers list_workshops would give. Raises nothing."""
    query = _filtered(user, kind=kind, venue_id=venue_id, structure_id=structure_id,
                      start=start, end=end)
    now = utcnow()
    row = db.execute(query.with_only_columns(
        func.count().filter(Workshop.end_dt >= now), func.count().filter(Workshop.end_dt < now),
        maintain_column_froms=True)).one()
    return row[0] or 0, row[1] or 0


def get_workshop_for(db: Session, user: User, workshop_id: uuid.UUID, *,
                     with_team: bool = True) -> Workshop | None:
    """The atelier with its venue and structure, and (with_team) its animators and
    resources, or None when unknown, deleted or outside the user's scope (shown as "not
    found"). Pages that seldom need the team (check-in) load it lazily. Raises nothing."""
    query = _in_scope(select(Workshop), user).where(Workshop.id == workshop_id).options(
        joinedload(Workshop.venue), joinedload(Workshop.structure))
    if with_team:
        query = query.options(
            selectinload(Workshop.animators).joinedload(WorkshopAnimator.user),
            selectinload(Workshop.resources).joinedload(WorkshopResource.resource))
    return db.scalar(query)


def week(db: Session, user: User, monday_date: date) -> list[tuple[date, list[Workshop]]]:
    """The seven Paris days from `monday_date`, each with the ateliers the user may
    see that start that day, by time. Raises nothing."""
    days = [monday_date + timedelta(days=offset) for offset in range(7)]
    start, end = days_bounds(days[0], days[-1])
    by_day: dict[date, list[Workshop]] = {day: [] for day in days}
    for workshop in list_workshops(db, user, start=start, end=end, upcoming=None):
        by_day[to_local(workshop.start_dt).date()].append(workshop)
    return list(by_day.items())


def animators_of(workshop: Workshop) -> list[User]:
    """The accounts animating the atelier (removed ones left out), by name."""
    return sorted((row.user for row in workshop.animators if row.deleted_dt is None),
                  key=lambda user: user.display_name.casefold())


def resources_of(workshop: Workshop, *, presented: bool = False) -> list[Resource]:
    """The resources planned for the atelier, or those presented, by name."""
    rows: Iterable[WorkshopResource] = (row for row in workshop.resources if row.deleted_dt is None)
    return sorted((row.resource for row in rows if (row.is_presented if presented else row.is_planned)),
                  key=lambda resource: resource.name.casefold())


def list_animator_candidates(db: Session, workshop: Workshop | None = None) -> list[User]:
    """Active accounts by name, plus the current animators of `workshop` even if
    they left since. Raises nothing."""
    users = list(db.scalars(select(User).where(User.is_active.is_(True), User.deleted_dt.is_(None))
                            .order_by(User.display_name)))
    extra = [user for user in (animators_of(workshop) if workshop else []) if user not in users]
    return users + extra
