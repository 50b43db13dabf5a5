"""Reads about the inventory: one machine in scope, the list with filters and counters, the
stock summary by kind, grade and origin, a machine's history, machines and families to pair
for a reservation, and what a family received."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.equipment.models import WITH_FAMILY, Equipment, EquipmentEvent, Handover
from workshops.families.merge_queries import household_ids, kept_households
from workshops.families.models import Family

PAGE_SIZE = 25
# How many machines or families a reservation choice offers at most.
CHOICE_LIMIT = 200
# The status filter also takes this value: loans past their due date.
OVERDUE = "overdue"


@dataclass(frozen=True)
class EquipmentFilters:
    """What the inventory list is narrowed to ("" = any)."""

    status: str = ""
    kind: str = ""
    grade: str = ""
    origin: str = ""


@dataclass(frozen=True)
class EquipmentPage:
    """One page of the inventory list."""

    items: list[Equipment]
    page: int
    total: int
    page_size: int = PAGE_SIZE

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


@dataclass(frozen=True)
class StockSummary:
    """Counts per status (and "overdue"), overall and by kind, grade and origin."""

    totals: Counter
    by_kind: dict[str, Counter] = field(default_factory=dict)
    by_grade: dict[str, Counter] = field(default_factory=dict)
    by_origin: dict[str, Counter] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """A handover to a family and where it stands: "given", "on_loan", "returned" or
    "voided"; `due_on` is a running loan's current due date, `ended_dt` when it ended."""

    handover: Handover
    state: str
    due_on: date | None = None
    ended_dt: datetime | None = None
    is_overdue: bool = False


def _scoped(user: User) -> Select:
    query = select(Equipment).where(Equipment.deleted_dt.is_(None))
    visible = visible_structure_ids(user)
    if visible is None:
        return query
    if not visible:
        return query.where(false())
    return query.where(Equipment.structure_id.in_(visible))


def get_equipment_for(db: Session, user: User, equipment_id: uuid.UUID | None) -> Equipment | None:
    """The machine if it is live and the user may see it; None otherwise (a 404)."""
    if equipment_id is None:
        return None
    return db.scalars(_scoped(user).where(Equipment.id == equipment_id)).first()


def _is_overdue(today: date):
    return and_(Equipment.status == "on_loan", Equipment.loan_due_on < today)


def _filtered(query: Select, filters: EquipmentFilters, today: date, *, with_status: bool = True) -> Select:
    if with_status and filters.status == OVERDUE:
        query = query.where(_is_overdue(today))
    elif with_status and filters.status:
        query = query.where(Equipment.status == filters.status)
    for name in ("kind", "grade", "origin"):
        value = getattr(filters, name)
        if value:
            query = query.where(getattr(Equipment, name) == value)
    return query


def list_equipment(db: Session, user: User, filters: EquipmentFilters, today: date,
                   page: int = 1, *, page_size: int = PAGE_SIZE) -> EquipmentPage:
    """Machines of the user's scope matching the filters, by asset tag, one page at a time."""
    page = max(page, 1)
    query = _filtered(_scoped(user), filters, today)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(Equipment.asset_tag).offset((page - 1) * page_size)
                      .limit(page_size).options(selectinload(Equipment.reserved_family)
                                                .selectinload(Family.guardians)))
    return EquipmentPage(list(rows), page, total, page_size)


def count_by_status(db: Session, user: User, filters: EquipmentFilters, today: date) -> Counter:
    """How many machines of the scope are in each status, within the kind, grade and origin
    filters (not the status one), with "overdue" and "total"."""
    query = _filtered(_scoped(user), filters, today, with_status=False).subquery()
    rows = db.execute(select(query.c.status, func.count()).group_by(query.c.status))
    counts = Counter({row[0]: row[1] for row in rows})
    counts["total"] = sum(counts.values())
    overdue = _filtered(_scoped(user), filters, today, with_status=False).where(_is_overdue(today))
    counts[OVERDUE] = db.scalar(select(func.count()).select_from(overdue.subquery())) or 0
    return counts


def list_origins(db: Session, user: User) -> list[str]:
    """The origins (collèges, donors) of the scope's machines, for the filter."""
    query = _scoped(user).where(Equipment.origin != "").subquery()
    return list(db.scalars(select(query.c.origin).distinct().order_by(query.c.origin)))


def _grouped(db: Session, user: User, column: str, today: date) -> dict[str, Counter]:
    scoped = _scoped(user).subquery()
    value = func.coalesce(getattr(scoped.c, column), "")
    overdue = case((and_(scoped.c.status == "on_loan", scoped.c.loan_due_on < today), 1), else_=0)
    rows = db.execute(select(value, scoped.c.status, func.count(), func.sum(overdue))
                      .group_by(value, scoped.c.status).order_by(value))
    grouped: dict[str, Counter] = {}
    for key, status, number, late in rows:
        counts = grouped.setdefault(key, Counter())
        counts[status] += number
        counts[OVERDUE] += late or 0
        counts["total"] += number
    return grouped


def stock_summary(db: Session, user: User, today: date) -> StockSummary:
    """What the stock page shows: counts per status and overdue loans, overall and by
    kind, grade and origin (collège or donor)."""
    by_kind = _grouped(db, user, "kind", today)
    totals = Counter()
    for counts in by_kind.values():
        totals.update(counts)
    return StockSummary(totals, by_kind, _grouped(db, user, "grade", today),
                        _grouped(db, user, "origin", today))


def list_history(db: Session, item: Equipment) -> list[EquipmentEvent]:
    """The machine's events, latest first, with who, which family and which atelier."""
    query = (select(EquipmentEvent).where(EquipmentEvent.equipment_id == item.id)
             .order_by(EquipmentEvent.occurred_dt.desc(), EquipmentEvent.created_dt.desc())
             .options(selectinload(EquipmentEvent.actor), selectinload(EquipmentEvent.workshop),
                      selectinload(EquipmentEvent.family).selectinload(Family.guardians)))
    return list(db.scalars(query))


def _has_machine(family_id_column, through_merges: set[uuid.UUID]):
    """The family has a machine reserved for it or with it now, or is one of
    `through_merges` (see `_households_with_machine_through_merges`)."""
    reserved = exists().where(Equipment.reserved_family_id == family_id_column,
                              Equipment.deleted_dt.is_(None))
    holding = exists().where(Handover.family_id == family_id_column,
                             Handover.id == Equipment.current_handover_id, Equipment.status.in_(WITH_FAMILY))
    return reserved | holding | family_id_column.in_(through_merges)


def _households_with_machine_through_merges(db: Session) -> set[uuid.UUID]:
    """Households with a machine reserved for, or with, a record merged into them (the machines
    stay on the merged record), following chains of merges."""
    reserved = select(Equipment.reserved_family_id).where(Equipment.deleted_dt.is_(None))
    holding = (select(Handover.family_id).join(Equipment, Equipment.current_handover_id == Handover.id)
               .where(Equipment.status.in_(WITH_FAMILY)))
    merged = db.scalars(select(Family.id).where(Family.merged_into_id.is_not(None),
                                                or_(Family.id.in_(reserved), Family.id.in_(holding))))
    return kept_households(db, merged)


def list_families_to_reserve(db: Session, user: User, item: Equipment) -> list[Family]:
    """Live families of the machine's structure (and the user's scope) who asked for a
    computer and have none reserved or with them; those who asked for this kind first."""
    visible = visible_structure_ids(user)
    if visible is not None and item.structure_id not in visible:
        return []
    query = (select(Family).where(Family.structure_id == item.structure_id, Family.deleted_dt.is_(None),
                                  Family.merged_into_id.is_(None), Family.computer_wanted.is_not(None),
                                  ~_has_machine(Family.id, _households_with_machine_through_merges(db)))
             .order_by(case((Family.computer_wanted == item.kind, 0), else_=1), Family.search_key)
             .limit(CHOICE_LIMIT).options(selectinload(Family.guardians)))
    return list(db.scalars(query))


def list_machines_for(db: Session, user: User, family: Family, limit: int = 10) -> list[Equipment]:
    """Machines in stock of the family's structure (and the user's scope) of the kind the
    family asked for, best condition first; none when the family asked for none."""
    if not family.computer_wanted:
        return []
    grade_rank = case({"very_good": 0, "good": 1, "fair": 2, "poor": 3}, value=Equipment.grade, else_=4)
    query = (_scoped(user).where(Equipment.structure_id == family.structure_id,
                                 Equipment.status == "in_stock", Equipment.kind == family.computer_wanted)
             .order_by(grade_rank, Equipment.asset_tag).limit(limit))
    return list(db.scalars(query))


def is_reserved_for(db: Session, item: Equipment, family: Family) -> bool:
    """The machine is reserved for the family, or for a household merged into it."""
    return item.reserved_family_id in household_ids(db, family.id)


def list_reserved_for(db: Session, family_id: uuid.UUID) -> list[Equipment]:
    """Machines reserved for the family now (or for a household merged into it)."""
    return list(db.scalars(select(Equipment).where(
        Equipment.reserved_family_id.in_(household_ids(db, family_id)), Equipment.status == "reserved",
        Equipment.deleted_dt.is_(None)).order_by(Equipment.asset_tag)))


def list_received(db: Session, family_id: uuid.UUID, today: date) -> list[Received]:
    """What the family received (or a household merged into it: handovers are never
    rewritten), latest first, each with where it stands now."""
    handovers = list(db.scalars(select(Handover).where(Handover.family_id.in_(household_ids(db, family_id)))
                                .order_by(Handover.handed_dt.desc())
                                .options(selectinload(Handover.equipment), selectinload(Handover.workshop))))
    ends = {}
    if handovers:
        rows = db.scalars(select(EquipmentEvent).where(
            EquipmentEvent.handover_id.in_([h.id for h in handovers]),
            EquipmentEvent.kind.in_(("returned", "voided"))))
        ends = {event.handover_id: event for event in rows}
    return [_received(handover, ends.get(handover.id), today) for handover in handovers]


def _received(handover: Handover, end: EquipmentEvent | None, today: date) -> Received:
    if end is not None:
        return Received(handover, end.kind, ended_dt=end.occurred_dt)
    if handover.mode == "loan":
        item = handover.equipment
        due = item.loan_due_on if item.current_handover_id == handover.id else handover.due_on
        return Received(handover, "on_loan", due_on=due, is_overdue=bool(due and due < today))
    return Received(handover, "given")
