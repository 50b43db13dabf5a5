"""Reads about an atelier's families: the roster in the printed sheet's order, the live
counters, the check-in search, the headcount grid and what was shown to each family.

Rows are plain data (no ORM object), so printing can use them as they are.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from workshops.auth.models import User
from workshops.core.models import derived_id
from workshops.families import normalize
from workshops.families.models import (
    AnonymousHeadcount,
    Family,
    FamilyResource,
    Guardian,
    Registration,
)
from workshops.families.queries import live_children, live_guardians, search_families
from workshops.scheduling.models import Workshop

# Statuses that take a place at the atelier (the rule: registration_services' docstring).
PLACE_STATUSES = ("registered", "attended")
MIN_SEARCH_LENGTH = 2
MIN_PHONE_DIGITS = 4
# How many households the general search may return before the atelier's own are set apart.
SEARCH_WINDOW = 40


@dataclass(frozen=True)
class ChildLine:
    """A collégien as the sheet shows it."""

    first_name: str
    level: str | None


@dataclass(frozen=True)
class RosterRow:
    """One family on the atelier's list, numbered as on the printed sheet."""

    number: int
    registration_id: uuid.UUID
    family_id: uuid.UUID
    last_name: str
    first_name: str
    other_guardians: tuple[str, ...]
    phone: str
    language: str
    children: tuple[ChildLine, ...]
    status: str
    adults_present: int
    children_present: int
    checked_in_dt: datetime | None
    is_signed_on_paper: bool
    is_walk_in: bool

    @property
    def is_present(self) -> bool:
        return self.status == "attended"


@dataclass(frozen=True)
class Counters:
    """Live figures of an atelier. `registered` counts the families holding a place
    (registered or present); `invited` those invited who have not answered."""

    families_present: int
    adults_present: int
    children_present: int
    anonymous_total: int
    registered: int
    capacity: int | None
    invited: int = 0

    @property
    def people_present(self) -> int:
        return self.adults_present + self.children_present + self.anonymous_total

    @property
    def places_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.registered, 0)

    @property
    def is_over_capacity(self) -> bool:
        return self.capacity is not None and self.registered > self.capacity


@dataclass(frozen=True)
class SearchHit:
    """A family found at the door, with its status at this atelier (None: not on the list)."""

    family_id: uuid.UUID
    last_name: str
    first_name: str
    other_guardians: tuple[str, ...]
    children: tuple[ChildLine, ...]
    commune: str
    status: str | None
    registration_id: uuid.UUID | None

    @property
    def is_present(self) -> bool:
        return self.status == "attended"


def sheet_order_roster(db: Session, workshop: Workshop) -> list[RosterRow]:
    """The atelier's families in THE order of the printed attendance sheet, numbered 1..n.

    Families registered beforehand come first, by first guardian's last name then first
    name (folded: no case, no accents); families that came without registration follow
    in the same order, so adding walk-ins never renumbers the rows already printed.
    Removed registrations are left out; every status is listed. Raises nothing.
    """
    registrations = _live_registrations(db, workshop.id)
    rows = sorted(registrations, key=lambda r: (r.is_walk_in, *_name_key(r.family), str(r.family_id)))
    return [_roster_row(number, registration) for number, registration in enumerate(rows, start=1)]


def counters(db: Session, workshop: Workshop) -> Counters:
    """Families, adults and children present, people counted without a name, families
    holding a place and invited, and the capacity. Raises nothing."""
    present = Registration.status == "attended"
    row = db.execute(select(
        func.count(case((present, 1))),
        func.coalesce(func.sum(case((present, Registration.adults_present), else_=0)), 0),
        func.coalesce(func.sum(case((present, Registration.children_present), else_=0)), 0),
        func.count(case((Registration.status.in_(PLACE_STATUSES), 1))),
        func.count(case((Registration.status == "invited", 1))),
    ).where(Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None))).one()
    anonymous = db.scalar(select(func.coalesce(func.sum(AnonymousHeadcount.count), 0)).where(
        AnonymousHeadcount.workshop_id == workshop.id, AnonymousHeadcount.deleted_dt.is_(None)))
    return Counters(families_present=row[0], adults_present=int(row[1]), children_present=int(row[2]),
                    anonymous_total=int(anonymous or 0), registered=row[3], capacity=workshop.capacity,
                    invited=row[4])


def checkin_search(db: Session, workshop: Workshop, user: User, text: str,
                   limit: int = 8) -> list[SearchHit]:
    """Families matching `text` (every word in a name, accents and case ignored, or part
    of a phone number): those on the atelier's list first, then the other families of the
    atelier's structure the user may see. Fewer than 2 letters (or 4 digits) finds
    nothing. Raises nothing."""
    folded = normalize.fold(text or "")
    digits = re.sub(r"\D", "", text or "")
    if len(folded.replace(" ", "")) < MIN_SEARCH_LENGTH and len(digits) < MIN_PHONE_DIGITS:
        return []
    listed = {r.family_id: r for r in _live_registrations(db, workshop.id)}
    hits = [_hit(r.family, r) for r in listed.values() if _matches(r.family, folded, digits)]
    hits.sort(key=lambda hit: (normalize.fold(hit.last_name), normalize.fold(hit.first_name)))
    for family in search_families(db, user, text, limit=SEARCH_WINDOW):
        if len(hits) >= limit:
            break
        if family.id not in listed and family.structure_id == workshop.structure_id:
            hits.append(_hit(family, None))
    return hits[:limit]


def places_taken(db: Session, workshop: Workshop) -> int:
    """How many families hold a place (registered or present). Raises nothing."""
    return db.scalar(select(func.count()).select_from(Registration).where(
        Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None),
        Registration.status.in_(PLACE_STATUSES))) or 0


def get_registration(db: Session, workshop: Workshop, registration_id: uuid.UUID | None, *,
                     include_removed: bool = False) -> Registration | None:
    """A registration of this atelier, or None (unknown, another atelier's, or removed
    unless `include_removed`). Raises nothing."""
    row = db.get(Registration, registration_id) if registration_id is not None else None
    if row is None or row.workshop_id != workshop.id:
        return None
    return row if include_removed or row.deleted_dt is None else None


def get_family_registration(db: Session, workshop: Workshop, family_id: uuid.UUID) -> Registration | None:
    """The family's live registration to this atelier, or None. Raises nothing."""
    return get_registration(db, workshop, derived_id("registration", workshop.id, family_id))


def headcount_grid(db: Session, workshop: Workshop) -> dict[tuple[str, str], int]:
    """People counted without a name, by (national age bracket, social status); cells
    with nobody are left out. Raises nothing."""
    rows = db.scalars(select(AnonymousHeadcount).where(
        AnonymousHeadcount.workshop_id == workshop.id, AnonymousHeadcount.deleted_dt.is_(None)))
    return {(row.age_bracket, row.social_status): row.count for row in rows if row.count}


def family_resources(db: Session, workshop: Workshop) -> dict[uuid.UUID, dict[uuid.UUID, bool]]:
    """What was shown at the atelier, by family: {family id: {resource id: account opened}}.
    Raises nothing."""
    shown: dict[uuid.UUID, dict[uuid.UUID, bool]] = {}
    for row in db.scalars(select(FamilyResource).where(
            FamilyResource.workshop_id == workshop.id, FamilyResource.deleted_dt.is_(None),
            FamilyResource.is_shown.is_(True))):
        shown.setdefault(row.family_id, {})[row.resource_id] = row.has_opened_account
    return shown


def _live_registrations(db: Session, workshop_id: uuid.UUID) -> list[Registration]:
    return list(db.scalars(select(Registration).where(
        Registration.workshop_id == workshop_id, Registration.deleted_dt.is_(None)).options(
        selectinload(Registration.family).selectinload(Family.guardians),
        selectinload(Registration.family).selectinload(Family.children))))


def _first_guardian(family: Family) -> Guardian | None:
    guardians = live_guardians(family)
    return guardians[0] if guardians else None


def _name_key(family: Family) -> tuple[str, str]:
    first = _first_guardian(family)
    return (normalize.fold(first.last_name), normalize.fold(first.first_name)) if first else ("", "")


def _other_guardians(family: Family) -> tuple[str, ...]:
    return tuple(" ".join(part for part in (g.first_name, g.last_name) if part)
                 for g in live_guardians(family)[1:])


def _children(family: Family) -> tuple[ChildLine, ...]:
    return tuple(ChildLine(child.first_name, child.level) for child in live_children(family))


def _roster_row(number: int, registration: Registration) -> RosterRow:
    family = registration.family
    first = _first_guardian(family)
    return RosterRow(
        number=number, registration_id=registration.id, family_id=family.id,
        last_name=first.last_name if first else "", first_name=first.first_name if first else "",
        other_guardians=_other_guardians(family),
        phone=normalize.display_phone(first.phone) if first else "",
        language=first.language if first else "fr", children=_children(family),
        status=registration.status, adults_present=registration.adults_present,
        children_present=registration.children_present, checked_in_dt=registration.checked_in_dt,
        is_signed_on_paper=registration.is_signed_on_paper, is_walk_in=registration.is_walk_in)


def _hit(family: Family, registration: Registration | None) -> SearchHit:
    first = _first_guardian(family)
    return SearchHit(
        family_id=family.id, last_name=first.last_name if first else "",
        first_name=first.first_name if first else "", other_guardians=_other_guardians(family),
        children=_children(family), commune=family.commune,
        status=registration.status if registration else None,
        registration_id=registration.id if registration else None)


def _compact(folded: str) -> str:
    return re.sub(r"['\-.]", "", folded)


def _matches(family: Family, folded: str, digits: str) -> bool:
    """The rule of families.queries.search_families, applied to the atelier's few families."""
    if family.merged_into_id is not None or family.deleted_dt is not None:
        return False
    # "ndiaye" finds "N’Diaye" and "jeanbaptiste" "Jean-Baptiste": people at the door do not
    # type apostrophes or hyphens.
    key = _compact(family.search_key)
    words = [_compact(word) for word in folded.split(" ")]
    if any(words) and all(word in key for word in words if word):
        return True
    if len(digits) < MIN_PHONE_DIGITS:
        return False
    wanted = digits.lstrip("0")
    return any(g.phone and wanted in g.phone for g in live_guardians(family))
