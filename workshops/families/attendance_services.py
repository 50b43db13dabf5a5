"""Records of an atelier besides the door: re-entry of a paper sheet, anonymous headcount
by national age bracket and social status, and what was shown to each family.

Services flush, never commit; the caller (view or command) commits once. The rules
shared with check-in (scope, cancelled ateliers, counts) live in registration_services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.core.errors import Reason, ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.families.models import AnonymousHeadcount, Family, FamilyResource, Registration
from workshops.families.registration_queries import get_family_registration
from workshops.families.registration_services import (
    PossibleDuplicates,
    apply_status,
    can_see,
    check_open,
    check_scope,
    fresh_registration,
    people_problems,
    walk_in_family,
    walk_in_problems,
)
from workshops.families.services import FamilyData, create_family, find_duplicates
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop
from workshops.scheduling.workshop_services import mark_presented

# What a paper sheet can say about a family.
SHEET_STATUSES = ("attended", "absent", "excused")
MAX_HEADCOUNT = 999


@dataclass(frozen=True)
class SheetMark:
    """A row of the paper sheet for a family on the list."""

    registration_id: uuid.UUID
    status: str
    adults: int = 1
    children: int = 0
    is_signed_on_paper: bool = False


@dataclass(frozen=True)
class SheetWalkIn:
    """A blank row of the paper sheet filled by hand. `family_id` is a known family
    picked among the duplicate suggestions; `is_new` confirms a new family."""

    last_name: str
    first_name: str
    phone: str = ""
    notice_given: bool = False
    adults: int = 1
    children: int = 0
    is_signed_on_paper: bool = False
    family_id: uuid.UUID | None = None
    is_new: bool = False


# ---------- Anonymous headcount ----------

def set_headcount(db: Session, workshop: Workshop, age_bracket: str, social_status: str,
                  count: int, actor: User) -> AnonymousHeadcount | None:
    """Set how many people of this national age bracket and social status came without
    giving a name (one row per pair; no row is made for a zero).

    Raises NotAllowed outside the actor's scope, ValidationFailed for a cancelled atelier,
    an unknown code or a count below 0 or above 999.
    """
    return set_headcounts(db, workshop, {(age_bracket, social_status): count}, actor).get(
        (age_bracket, social_status))


def set_headcounts(db: Session, workshop: Workshop, counts: Mapping[tuple[str, str], int],
                   actor: User) -> dict[tuple[str, str], AnonymousHeadcount]:
    """Set several cells of the headcount grid at once, all or none (see set_headcount)."""
    check_scope(actor, workshop)
    check_open(workshop)
    reasons = [reason for key, count in counts.items() for reason in _headcount_problems(key, count)]
    if reasons:
        raise ValidationFailed(reasons)
    rows = {}
    for (bracket, status), count in counts.items():
        row = _headcount_row(db, workshop, bracket, status, create=count > 0)
        if row is not None:
            row.count, row.deleted_dt = count, None
            rows[(bracket, status)] = row
    db.flush()
    return rows


def adjust_headcount(db: Session, workshop: Workshop, delta: int, actor: User, *,
                     age_bracket: str = "non_communique",
                     social_status: str = "non_communique") -> int:
    """Add `delta` (may be negative, never below 0) to one cell; by default people who
    give nothing at all. Returns the new count. Raises as set_headcount."""
    row = _headcount_row(db, workshop, age_bracket, social_status, create=False)
    current = row.count if row is not None and row.deleted_dt is None else 0
    count = min(max(current + delta, 0), MAX_HEADCOUNT)
    set_headcount(db, workshop, age_bracket, social_status, count, actor)
    return count


def _headcount_problems(key: tuple[str, str], count: int) -> list[Reason]:
    bracket, status = key
    field = f"c-{bracket}-{status}"
    if bracket not in AGE_BRACKETS or status not in SOCIAL_STATUSES:
        return [(field, _l("Choose an age bracket and a status from the national lists."))]
    if not isinstance(count, int) or not 0 <= count <= MAX_HEADCOUNT:
        return [(field, _l("Enter a number from 0 to %(max)s.", max=MAX_HEADCOUNT))]
    return []


def _headcount_row(db: Session, workshop: Workshop, bracket: str, status: str, *,
                   create: bool) -> AnonymousHeadcount | None:
    row_id = derived_id("headcount", workshop.id, bracket, status)
    row = db.get(AnonymousHeadcount, row_id)
    if row is None and create:
        row = AnonymousHeadcount(id=row_id, workshop_id=workshop.id, age_bracket=bracket,
                                 social_status=status, count=0)
        db.add(row)
    return row


# ---------- What was shown to each family ----------

def record_family_resources(db: Session, workshop: Workshop, family: Family,
                            shown_ids: Iterable[uuid.UUID], opened_ids: Iterable[uuid.UUID],
                            actor: User) -> list[FamilyResource]:
    """Record which catalogue resources were shown to the family at the atelier, and for
    which an account was opened together (an opened account counts as shown). Resources
    no longer ticked are tombstoned. A resource shown to a family was presented at the
    atelier: it is added to the atelier's presented resources (never removed from them).

    Raises NotAllowed outside the actor's scope, ValidationFailed when the family is not on
    the atelier's list or a resource is not in the catalogue.
    """
    check_scope(actor, workshop, family)
    opened = set(opened_ids)
    shown = set(shown_ids) | opened
    if get_family_registration(db, workshop, family.id) is None:
        raise ValidationFailed([(None, _l("This family is not on the list of the atelier."))])
    for resource_id in shown:
        resource = db.get(Resource, resource_id)
        if resource is None or resource.deleted_dt is not None:
            raise ValidationFailed([("shown", _l("Choose resources from the catalogue."))])
    kept = [_shown_row(db, workshop, family, resource_id, resource_id in opened)
            for resource_id in sorted(shown)]
    for row in db.scalars(select(FamilyResource).where(
            FamilyResource.workshop_id == workshop.id, FamilyResource.family_id == family.id,
            FamilyResource.deleted_dt.is_(None), FamilyResource.resource_id.not_in(shown))):
        row.is_shown, row.has_opened_account, row.deleted_dt = False, False, utcnow()
    presented = {row.resource_id for row in workshop.resources
                 if row.is_presented and row.deleted_dt is None}
    if not shown <= presented:
        mark_presented(db, workshop, presented | shown, actor)
    db.flush()
    return kept


def _shown_row(db: Session, workshop: Workshop, family: Family, resource_id: uuid.UUID,
               opened: bool) -> FamilyResource:
    row_id = derived_id("family_resource", workshop.id, family.id, resource_id)
    row = db.get(FamilyResource, row_id)
    if row is None:
        row = FamilyResource(id=row_id, workshop_id=workshop.id, family_id=family.id,
                             resource_id=resource_id)
        db.add(row)
    row.is_shown, row.has_opened_account, row.deleted_dt = True, opened, None
    return row


# ---------- Re-entry of a paper sheet ----------

def reenter_sheet(db: Session, workshop: Workshop, rows: Sequence[SheetMark | SheetWalkIn],
                  actor: User) -> list[Registration]:
    """Record a paper attendance sheet in one go: marks for families on the list, then
    the walk-ins written by hand (time of arrival unknown: no check-in time). All rows
    are checked before anything is written.

    Raises ValidationFailed with fields "marks-<i>-<field>" or "walk_ins-<i>-<field>" (i:
    position among the marks or among the walk-ins), PossibleDuplicates (keyed by
    walk-in position, nothing written) for new families that look known and were not
    confirmed, NotAllowed outside the actor's scope.
    """
    check_scope(actor, workshop)
    check_open(workshop)
    marks = [row for row in rows if isinstance(row, SheetMark)]
    walk_ins = [row for row in rows if isinstance(row, SheetWalkIn)]
    targets = _sheet_targets(db, workshop, marks)
    reasons = _mark_problems(marks, targets) + _sheet_walk_in_problems(db, walk_ins, actor)
    if reasons:
        raise ValidationFailed(reasons)
    # The notice was given at the atelier, on its day (never a day still to come).
    moment = min(workshop.start_dt, utcnow())
    datas = [walk_in_family(workshop, row.last_name, row.first_name, row.phone, False, moment)
             for row in walk_ins]
    duplicates = {index: found for index, (row, data) in enumerate(zip(walk_ins, datas, strict=True))
                  if row.family_id is None and not row.is_new
                  and (found := find_duplicates(db, data, actor))}
    if duplicates:
        raise PossibleDuplicates(duplicates)
    written = [_write_mark(mark, targets[mark.registration_id]) for mark in marks]
    written += [_write_sheet_walk_in(db, workshop, row, data, actor)
                for row, data in zip(walk_ins, datas, strict=True)]
    db.flush()
    return written


def _sheet_targets(db: Session, workshop: Workshop,
                   marks: list[SheetMark]) -> dict[uuid.UUID, Registration]:
    ids = {mark.registration_id for mark in marks}
    if not ids:
        return {}
    return {row.id: row for row in db.scalars(select(Registration).where(
        Registration.id.in_(ids), Registration.workshop_id == workshop.id,
        Registration.deleted_dt.is_(None)))}


def _mark_problems(marks: list[SheetMark], targets: dict[uuid.UUID, Registration]) -> list[Reason]:
    reasons: list[Reason] = []
    for index, mark in enumerate(marks):
        prefix = f"marks-{index}-"
        if mark.registration_id not in targets:
            reasons.append((prefix + "status", _l("This family is no longer on the list of the atelier.")))
        if mark.status not in SHEET_STATUSES:
            reasons.append((prefix + "status", _l("Choose present, absent or excused.")))
        elif mark.status == "attended":
            reasons += people_problems(mark.adults, mark.children, prefix)
    return reasons


def _sheet_walk_in_problems(db: Session, walk_ins: list[SheetWalkIn], actor: User) -> list[Reason]:
    reasons: list[Reason] = []
    for index, row in enumerate(walk_ins):
        prefix = f"walk_ins-{index}-"
        if row.family_id is not None:
            family = db.get(Family, row.family_id)
            if family is None or not can_see(actor, family) or family.deleted_dt is not None:
                reasons.append((prefix + "last_name", _l("Choose a family from the suggestions.")))
        else:
            reasons += walk_in_problems(row.last_name, row.first_name, row.phone,
                                         row.notice_given, prefix)
        reasons += people_problems(row.adults, row.children, prefix)
    return reasons


def _write_mark(mark: SheetMark, registration: Registration) -> Registration:
    was_present = registration.status == "attended"
    apply_status(registration, mark.status)
    if mark.status == "attended":
        registration.adults_present, registration.children_present = mark.adults, mark.children
        if not was_present:
            registration.checked_in_dt = None  # seen on paper: the time is not known
    registration.is_signed_on_paper = mark.is_signed_on_paper
    return registration


def _write_sheet_walk_in(db: Session, workshop: Workshop, row: SheetWalkIn, data: FamilyData,
                         actor: User) -> Registration:
    family = db.get(Family, row.family_id) if row.family_id else create_family(db, data, actor, way="walk_in")
    registration = get_family_registration(db, workshop, family.id)
    if registration is None:
        registration = fresh_registration(db, workshop, family)
        registration.is_walk_in = True
    if registration.status != "attended":
        apply_status(registration, "attended")
        registration.checked_in_dt = None
    registration.adults_present, registration.children_present = row.adults, row.children
    registration.is_signed_on_paper = row.is_signed_on_paper
    return registration
