"""Reads about an atelier's families: the roster in the printed sheet's order, the live
counters, the check-in search, the headcount grid and what was shown to each family.

Rows are plain data (no ORM object), so printing can use them as they are.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.models import derived_id
from workshops.families import normalize
from workshops.families.models import (
    AnonymousHeadcount,
    Child,
    Family,
    FamilyResource,
    Guardian,
    Registration,
)
from workshops.families.queries import live_children, live_guardians
from workshops.scheduling.models import Workshop

# Statuses that take a place at the atelier (the rule: registration_services' docstring).
PLACE_STATUSES = ("registered", "attended")
MIN_SEARCH_LENGTH = 2
MIN_PHONE_DIGITS = 4


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
    # Plain column rows, not ORM objects: the page shows every family at each refresh.
    live = (Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None))
    on_list = select(Registration.family_id).where(*live)
    guardians: dict[uuid.UUID, list] = {}
    for guardian in db.execute(select(Guardian.family_id, Guardian.first_name, Guardian.last_name,
                                      Guardian.phone, Guardian.language).where(
            Guardian.family_id.in_(on_list), Guardian.deleted_dt.is_(None)).order_by(Guardian.position)):
        guardians.setdefault(guardian.family_id, []).append(guardian)
    children: dict[uuid.UUID, list[ChildLine]] = {}
    for child in db.execute(select(Child.family_id, Child.first_name, Child.level).where(
            Child.family_id.in_(on_list), Child.deleted_dt.is_(None)).order_by(Child.first_name)):
        children.setdefault(child.family_id, []).append(ChildLine(child.first_name, child.level))
    registrations = db.execute(select(
        Registration.id, Registration.family_id, Registration.status, Registration.adults_present,
        Registration.children_present, Registration.checked_in_dt, Registration.is_signed_on_paper,
        Registration.is_walk_in).where(*live)).all()

    def first_of(registration) -> tuple:
        return (guardians.get(registration.family_id) or [None])[0]

    def sort_key(registration) -> tuple:
        first = first_of(registration)
        names = (normalize.fold(first.last_name), normalize.fold(first.first_name)) if first else ("", "")
        return (registration.is_walk_in, *names, str(registration.family_id))

    rows = []
    for number, registration in enumerate(sorted(registrations, key=sort_key), start=1):
        first = first_of(registration)
        rows.append(RosterRow(
            number=number, registration_id=registration.id, family_id=registration.family_id,
            last_name=first.last_name if first else "", first_name=first.first_name if first else "",
            other_guardians=tuple(" ".join(part for part in (g.first_name, g.last_name) if part)
                                  for g in guardians.get(registration.family_id, [])[1:]),
            phone=normalize.display_phone(first.phone) if first else "",
            language=first.language if first else "fr",
            children=tuple(children.get(registration.family_id, ())), status=registration.status,
            adults_present=registration.adults_present, children_present=registration.children_present,
            checked_in_dt=registration.checked_in_dt, is_signed_on_paper=registration.is_signed_on_paper,
            is_walk_in=registration.is_walk_in))
    return rows


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
    hits = _listed_hits(db, workshop, folded, digits)
    if len(hits) < limit:
        hits += _other_hits(db, workshop, user, text, folded, limit - len(hits))
    return hits[:limit]


def _listed_hits(db: Session, workshop: Workshop, folded: str, digits: str) -> list[SearchHit]:
    """The atelier's live registrations whose family matches, by first guardian's name.

    Looser than families.queries.search_families: "ndiaye" finds "N’Diaye" and
    "jeanbaptiste" "Jean-Baptiste" (people at the door do not type apostrophes or
    hyphens), and any part of a phone number matches."""
    conditions = []
    words = [word for word in (_compact(word) for word in folded.split(" ")) if word]
    if words:
        key = func.replace(func.replace(func.replace(Family.search_key, "'", ""), "-", ""), ".", "")
        conditions.append(and_(*(key.like(f"%{_escape(word)}%", escape="\\") for word in words)))
    if len(digits) >= MIN_PHONE_DIGITS:
        conditions.append(Family.id.in_(select(Guardian.family_id).where(
            Guardian.deleted_dt.is_(None), Guardian.phone != "",
            Guardian.phone.like(f"%{digits.lstrip('0')}%"))))
    if not conditions:
        return []
    registrations = db.scalars(
        select(Registration).join(Family, Registration.family_id == Family.id).where(
            Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None),
            Family.merged_into_id.is_(None), Family.deleted_dt.is_(None), or_(*conditions))
        .options(selectinload(Registration.family).selectinload(Family.guardians),
                 selectinload(Registration.family).selectinload(Family.children)))
    ordered = sorted(registrations, key=lambda r: (*_name_key(r.family), str(r.family_id)))
    return [_hit(r.family, r) for r in ordered]


def _other_hits(db: Session, workshop: Workshop, user: User, text: str, folded: str,
                room: int) -> list[SearchHit]:
    """Up to `room` live families of the atelier's structure, not on its list, matching as
    in families.queries.search_families, by search key; none if the user may not see
    that structure."""
    visible = visible_structure_ids(user)
    if room <= 0 or (visible is not None and workshop.structure_id not in visible):
        return []
    conditions = [and_(*(Family.search_key.like(f"%{_escape(word)}%", escape="\\")
                         for word in folded.split(" ") if word))]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= MIN_PHONE_DIGITS:
        full = normalize.normalize_phone(text, lenient=True).e164
        wanted = Guardian.phone == full if full else Guardian.phone.like(f"%{digits.lstrip('0')}%")
        conditions.append(Family.id.in_(select(Guardian.family_id).where(
            wanted, Guardian.deleted_dt.is_(None))))
    listed = select(Registration.family_id).where(
        Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None))
    families = db.scalars(
        select(Family).where(
            Family.structure_id == workshop.structure_id, Family.merged_into_id.is_(None),
            Family.deleted_dt.is_(None), Family.id.not_in(listed), or_(*conditions))
        .order_by(Family.search_key, Family.id).limit(room)
        .options(selectinload(Family.guardians), selectinload(Family.children)))
    return [_hit(family, None) for family in families]


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


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
