"""The rows of the exports (read only): one per atelier, per atelier's attendance, per
handover. Counts only: no family is named (there is no consent to be named yet)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from workshops.auth.models import Epci, Structure
from workshops.core.taxonomy import AGE_BRACKETS
from workshops.equipment.models import Equipment, Handover
from workshops.families.models import AnonymousHeadcount, Registration
from workshops.reports.queries import PRESENT, Filters, handovers_conditions, workshop_conditions
from workshops.scheduling.models import Venue, Workshop


@dataclass(frozen=True)
class AtelierRow:
    start_dt: datetime
    end_dt: datetime
    title: str
    kind: str
    status: str
    venue: str
    commune: str
    epci: str
    structure: str
    thematiques: list[str]
    level: str | None
    registered: int
    families_present: int
    absent: int
    excused: int
    adults: int
    children: int
    anonymous: int
    anonymous_by_bracket: tuple[int, ...]  # in the order of core.taxonomy.AGE_BRACKETS

    @property
    def people(self) -> int:
        return self.adults + self.children + self.anonymous

    @property
    def minutes(self) -> int:
        return int((self.end_dt - self.start_dt).total_seconds() // 60)


@dataclass(frozen=True)
class HandoverRow:
    handed_dt: datetime
    asset_tag: str
    kind: str
    grade: str | None
    origin: str
    mode: str
    due_on: date | None
    atelier: str | None
    structure: str


def _registrations() -> Select:
    def number(status: str):
        return func.count().filter(Registration.status == status)
    return (select(Registration.workshop_id.label("workshop_id"), func.count().label("registered"),
                   number(PRESENT).label("present"), number("absent").label("absent"),
                   number("excused").label("excused"),
                   func.sum(Registration.adults_present).label("adults"),
                   func.sum(Registration.children_present).label("children"))
            .where(Registration.deleted_dt.is_(None)).group_by(Registration.workshop_id))


def _headcounts() -> Select:
    count = AnonymousHeadcount.count
    by_bracket = [func.sum(case((AnonymousHeadcount.age_bracket == code, count), else_=0)).label(code)
                  for code in AGE_BRACKETS]
    return (select(AnonymousHeadcount.workshop_id.label("workshop_id"),
                   func.sum(AnonymousHeadcount.count).label("total"), *by_bracket)
            .where(AnonymousHeadcount.deleted_dt.is_(None)).group_by(AnonymousHeadcount.workshop_id))


def list_atelier_rows(db: Session, filters: Filters, now: datetime, *,
                      held: bool = False) -> list[AtelierRow]:
    """Ateliers of the period within the filters (all statuses, or only those held), by start,
    with their attendance counts aggregated in the database."""
    regs, heads = _registrations().subquery(), _headcounts().subquery()
    zero = func.coalesce
    query = (select(Workshop.start_dt, Workshop.end_dt, Workshop.title, Workshop.kind, Workshop.status,
                    Venue.name, Venue.commune, Epci.name, Structure.name, Workshop.thematiques,
                    Workshop.level,
                    zero(regs.c.registered, 0), zero(regs.c.present, 0), zero(regs.c.absent, 0),
                    zero(regs.c.excused, 0), zero(regs.c.adults, 0), zero(regs.c.children, 0),
                    zero(heads.c.total, 0), *(zero(heads.c[code], 0) for code in AGE_BRACKETS))
             .join(Venue, Venue.id == Workshop.venue_id).join(Epci, Epci.id == Venue.epci_id)
             .join(Structure, Structure.id == Workshop.structure_id)
             .outerjoin(regs, regs.c.workshop_id == Workshop.id)
             .outerjoin(heads, heads.c.workshop_id == Workshop.id)
             .where(*workshop_conditions(filters, now, held=held))
             .order_by(Workshop.start_dt, Workshop.title))
    return [AtelierRow(*row[:11], *(int(n) for n in row[11:18]), tuple(int(n) for n in row[18:]))
            for row in db.execute(query)]


def list_handover_rows(db: Session, filters: Filters, now: datetime) -> list[HandoverRow]:
    """Machines given or lent in the period (voided handovers left out), by date."""
    query = (select(Handover.handed_dt, Equipment.asset_tag, Equipment.kind, Equipment.grade,
                    Equipment.origin, Handover.mode, Handover.due_on, Workshop.title, Structure.name)
             .join(Equipment, Equipment.id == Handover.equipment_id)
             .join(Structure, Structure.id == Equipment.structure_id)
             .outerjoin(Workshop, Workshop.id == Handover.workshop_id)
             .where(*handovers_conditions(filters, now))
             .order_by(Handover.handed_dt, Equipment.asset_tag))
    return [HandoverRow(*row) for row in db.execute(query)]
