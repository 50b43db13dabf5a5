"""The indicators of the managers' dashboard, aggregated in the database (read only).

Every figure is about the ateliers held in the period: not cancelled, not deleted, ended
before `now`, started between the Paris dates `date_from` and `date_to` included, and within
the filters (EPCI of the venue, organising structure, venue, collège the venue belongs to,
conseiller animating it). A conseiller only ever sees their own structure.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Select, and_, exists, false, func, select, union
from sqlalchemy.orm import Session

from workshops.auth.models import Epci, Structure, User
from workshops.auth.queries import visible_structure_ids
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.queries import StockSummary, stock_summary
from workshops.families.models import AnonymousHeadcount, FamilyResource, Registration
from workshops.resources.models import Resource
from workshops.scheduling.localtime import days_bounds, to_local
from workshops.scheduling.models import Venue, Workshop, WorkshopAnimator, WorkshopResource

PRESENT = "attended"


@dataclass(frozen=True)
class Filters:
    """What the figures are narrowed to; None = any. Dates are Paris dates, both included."""

    date_from: date
    date_to: date
    epci_id: uuid.UUID | None = None
    structure_id: uuid.UUID | None = None
    venue_id: uuid.UUID | None = None
    college_id: uuid.UUID | None = None
    conseiller_id: uuid.UUID | None = None

    def for_user(self, user: User) -> Filters:
        """The same filters, held to the user's structure when they are a conseiller."""
        visible = visible_structure_ids(user)
        if visible is None:
            return self
        return replace(self, structure_id=next(iter(visible), None) or uuid.UUID(int=0))

    @property
    def has_place_filter(self) -> bool:
        return any((self.epci_id, self.venue_id, self.college_id))


@dataclass(frozen=True)
class Handed:
    """Machines given and lent in the period, by kind, grade and origin (Counter by mode)."""

    totals: Counter
    by_kind: dict[str, Counter] = field(default_factory=dict)
    by_grade: dict[str, Counter] = field(default_factory=dict)
    by_origin: dict[str, Counter] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceLine:
    name: str
    ateliers: int  # ateliers where it was presented
    families: int  # families it was shown to
    accounts: int  # families who opened an account with the conseiller


@dataclass(frozen=True)
class Indicators:
    """Everything the dashboard and the indicators export show."""

    ateliers_by_kind: dict[str, int]
    families_reached: int
    attendances: int  # family × atelier present
    adults_named: int
    children_named: int
    anonymous: dict[tuple[str, str], int]  # (age bracket, social status) -> people
    structures_by_kind: dict[str, int]
    handed: Handed
    stock: StockSummary
    resources: list[ResourceLine]

    @property
    def ateliers(self) -> int:
        return sum(self.ateliers_by_kind.values())

    @property
    def anonymous_total(self) -> int:
        return sum(self.anonymous.values())

    @property
    def people(self) -> int:
        return self.adults_named + self.children_named + self.anonymous_total

    @property
    def structures(self) -> int:
        return sum(self.structures_by_kind.values())

    def anonymous_by(self, index: int) -> Counter:
        """Anonymous people by age bracket (index 0) or social status (index 1)."""
        totals = Counter()
        for key, count in self.anonymous.items():
            totals[key[index]] += count
        return totals


def workshop_conditions(filters: Filters, now: datetime, *, held: bool = True) -> list:
    """WHERE clauses on Workshop joined to Venue: the period, the filters and, when `held`,
    only the ateliers that took place (ended before `now`, not cancelled)."""
    start, end = days_bounds(filters.date_from, filters.date_to)
    conditions = [Workshop.deleted_dt.is_(None), Workshop.start_dt >= start, Workshop.start_dt < end]
    if held:
        conditions += [Workshop.status != "cancelled", Workshop.end_dt <= now]
    for column, value in ((Venue.epci_id, filters.epci_id), (Workshop.structure_id, filters.structure_id),
                          (Workshop.venue_id, filters.venue_id), (Venue.structure_id, filters.college_id)):
        if value is not None:
            conditions.append(column == value)
    if filters.conseiller_id is not None:
        conditions.append(exists().where(WorkshopAnimator.workshop_id == Workshop.id,
                                         WorkshopAnimator.user_id == filters.conseiller_id,
                                         WorkshopAnimator.deleted_dt.is_(None)))
    return conditions


def held_ids(filters: Filters, now: datetime) -> Select:
    """The ids of the ateliers held in the period within the filters (a subquery)."""
    return (select(Workshop.id).join(Venue, Venue.id == Workshop.venue_id)
            .where(*workshop_conditions(filters, now)))


def _present(filters: Filters, now: datetime):
    return and_(Registration.workshop_id.in_(held_ids(filters, now)), Registration.status == PRESENT,
                Registration.deleted_dt.is_(None))


def count_ateliers_by_kind(db: Session, filters: Filters, now: datetime) -> dict[str, int]:
    """Ateliers held, by kind."""
    rows = db.execute(select(Workshop.kind, func.count()).join(Venue, Venue.id == Workshop.venue_id)
                      .where(*workshop_conditions(filters, now)).group_by(Workshop.kind))
    return dict(rows.all())


def list_held_months(db: Session, filters: Filters, now: datetime) -> list[tuple[date, int]]:
    """Ateliers held per Paris month over the whole period, months without any included.

    Reads one timestamp per atelier (a few thousand at most) and groups them here: the
    database's own date functions differ between SQLite and PostgreSQL and know no Paris time.
    """
    starts = db.scalars(select(Workshop.start_dt).join(Venue, Venue.id == Workshop.venue_id)
                        .where(*workshop_conditions(filters, now)))
    counts = Counter(to_local(start).date().replace(day=1) for start in starts)
    months, month = [], filters.date_from.replace(day=1)
    while month <= filters.date_to:
        months.append((month, counts[month]))
        month = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    return months


def count_presence(db: Session, filters: Filters, now: datetime) -> tuple[int, int, int, int]:
    """(distinct families present, attendances, adults present, children present)."""
    row = db.execute(select(func.count(func.distinct(Registration.family_id)), func.count(),
                            func.coalesce(func.sum(Registration.adults_present), 0),
                            func.coalesce(func.sum(Registration.children_present), 0))
                     .where(_present(filters, now))).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def list_families_by_epci(db: Session, filters: Filters, now: datetime) -> list[tuple[str, int]]:
    """Distinct families present per EPCI of the venue, most first."""
    reached = func.count(func.distinct(Registration.family_id))
    rows = db.execute(select(Epci.name, reached)
                      .join(Workshop, Workshop.id == Registration.workshop_id)
                      .join(Venue, Venue.id == Workshop.venue_id).join(Epci, Epci.id == Venue.epci_id)
                      .where(_present(filters, now)).group_by(Epci.name).order_by(reached.desc(), Epci.name))
    return [(name, int(count)) for name, count in rows]


def count_anonymous(db: Session, filters: Filters, now: datetime) -> dict[tuple[str, str], int]:
    """People counted without a name, by (age bracket, social status)."""
    rows = db.execute(select(AnonymousHeadcount.age_bracket, AnonymousHeadcount.social_status,
                             func.sum(AnonymousHeadcount.count))
                      .where(AnonymousHeadcount.workshop_id.in_(held_ids(filters, now)),
                             AnonymousHeadcount.deleted_dt.is_(None), AnonymousHeadcount.count > 0)
                      .group_by(AnonymousHeadcount.age_bracket, AnonymousHeadcount.social_status))
    return {(bracket, status): int(count) for bracket, status, count in rows}


def count_structures_by_kind(db: Session, filters: Filters, now: datetime) -> dict[str, int]:
    """Structures involved (organising an atelier held, or owning its venue), by kind."""
    scope = and_(*workshop_conditions(filters, now))
    organising = (select(Workshop.structure_id.label("id"))
                  .join(Venue, Venue.id == Workshop.venue_id).where(scope))
    hosting = (select(Venue.structure_id.label("id")).join(Workshop, Workshop.venue_id == Venue.id)
               .where(scope, Venue.structure_id.is_not(None)))
    involved = union(organising, hosting).subquery()
    rows = db.execute(select(Structure.kind, func.count()).where(Structure.id.in_(select(involved.c.id)))
                      .group_by(Structure.kind))
    return dict(rows.all())


def handovers_conditions(filters: Filters, now: datetime) -> list:
    """WHERE clauses on Handover joined to Equipment: handed in the period, never voided,
    within the filters (place filters through the atelier it was handed at)."""
    start, end = days_bounds(filters.date_from, filters.date_to)
    voided = exists().where(EquipmentEvent.handover_id == Handover.id, EquipmentEvent.kind == "voided")
    conditions = [Handover.deleted_dt.is_(None), Handover.handed_dt >= start, Handover.handed_dt < end,
                  ~voided]
    if filters.structure_id is not None:
        conditions.append(Equipment.structure_id == filters.structure_id)
    if filters.has_place_filter:
        anywhere = replace(filters, structure_id=None, conseiller_id=None)
        ateliers = (select(Workshop.id).join(Venue, Venue.id == Workshop.venue_id)
                    .where(*workshop_conditions(anywhere, now, held=False)))
        conditions.append(Handover.workshop_id.in_(ateliers))
    if filters.conseiller_id is not None:
        conditions.append(Handover.actor_id == filters.conseiller_id)
    return conditions


def count_handed(db: Session, filters: Filters, now: datetime) -> Handed:
    """Machines given and lent in the period by kind, grade and origin."""
    rows = db.execute(select(Equipment.kind, func.coalesce(Equipment.grade, ""), Equipment.origin,
                             Handover.mode, func.count())
                      .join(Equipment, Equipment.id == Handover.equipment_id)
                      .where(*handovers_conditions(filters, now))
                      .group_by(Equipment.kind, Equipment.grade, Equipment.origin, Handover.mode))
    handed = Handed(Counter(), {}, {}, {})
    for kind, grade, origin, mode, number in rows:
        handed.totals[mode] += number
        for groups, key in ((handed.by_kind, kind), (handed.by_grade, grade), (handed.by_origin, origin)):
            groups.setdefault(key, Counter())[mode] += number
    return handed


def list_resources(db: Session, filters: Filters, now: datetime) -> list[ResourceLine]:
    """Per resource: ateliers where it was presented, families it was shown to, accounts opened."""
    ids = held_ids(filters, now)
    presented = dict(db.execute(
        select(WorkshopResource.resource_id, func.count())
        .where(WorkshopResource.workshop_id.in_(ids), WorkshopResource.is_presented.is_(True),
               WorkshopResource.deleted_dt.is_(None)).group_by(WorkshopResource.resource_id)).all())
    shown = {row[0]: row[1:] for row in db.execute(
        select(FamilyResource.resource_id,
               func.count(func.distinct(FamilyResource.family_id)).filter(FamilyResource.is_shown.is_(True)),
               func.count(func.distinct(FamilyResource.family_id))
               .filter(FamilyResource.has_opened_account.is_(True)))
        .where(FamilyResource.workshop_id.in_(ids), FamilyResource.deleted_dt.is_(None))
        .group_by(FamilyResource.resource_id))}
    wanted = set(presented) | set(shown)
    names = dict(db.execute(select(Resource.id, Resource.name).where(Resource.id.in_(wanted))).all()) \
        if wanted else {}
    lines = [ResourceLine(names.get(rid, "?"), presented.get(rid, 0), *shown.get(rid, (0, 0)))
             for rid in wanted]
    return sorted(lines, key=lambda line: (-line.ateliers, -line.families, line.name))


def get_indicators(db: Session, user: User, filters: Filters, now: datetime, today: date) -> Indicators:
    """Every indicator of the dashboard for the user's scope (stock: today, the user's scope)."""
    filters = filters.for_user(user)
    families, attendances, adults, children = count_presence(db, filters, now)
    return Indicators(
        ateliers_by_kind=count_ateliers_by_kind(db, filters, now), families_reached=families,
        attendances=attendances, adults_named=adults, children_named=children,
        anonymous=count_anonymous(db, filters, now),
        structures_by_kind=count_structures_by_kind(db, filters, now),
        handed=count_handed(db, filters, now), stock=stock_summary(db, user, today),
        resources=list_resources(db, filters, now))


def list_filter_choices(db: Session, user: User) -> dict[str, list[tuple[uuid.UUID, str]]]:
    """The EPCI, structures, venues, collèges and conseillers the filters offer."""
    visible = visible_structure_ids(user)
    structures = select(Structure.id, Structure.name).where(Structure.deleted_dt.is_(None))
    users = select(User.id, User.display_name).where(User.deleted_dt.is_(None), User.role == "conseiller")
    if visible is not None:
        structures = structures.where(Structure.id.in_(visible) if visible else false())
        users = users.where(User.structure_id.in_(visible) if visible else false())
    return {
        "epci": db.execute(select(Epci.id, Epci.name).where(Epci.deleted_dt.is_(None))
                           .order_by(Epci.name)).all(),
        "structure": db.execute(structures.order_by(Structure.name)).all(),
        "venue": db.execute(select(Venue.id, Venue.name).where(Venue.deleted_dt.is_(None))
                            .order_by(Venue.name)).all(),
        "college": db.execute(select(Structure.id, Structure.name).where(
            Structure.deleted_dt.is_(None), Structure.kind == "college").order_by(Structure.name)).all(),
        "conseiller": db.execute(users.order_by(User.display_name)).all(),
    }
