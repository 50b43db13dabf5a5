"""Rules of registrations and of the door: register, check in (with undo), walk-ins; and the
checks shared with attendance_services (sheet re-entry, headcount, resources shown).

Services flush, never commit; the caller (view or command) commits once.

Decisions:
- A place is taken by a `registered` or `attended` family. `invited` families do not
  take one (a collège list invites far more families than there are places), nor do
  `absent` and `excused`. Registering over capacity is refused unless asked for.
- Nobody at the door is turned away by the software: checking in and walk-ins never
  check the capacity; the counters show when the atelier is over it.
- A closed atelier still takes corrections (a paper sheet found later); a cancelled one
  takes no registration, check-in or headcount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.errors import Conflict, NotAllowed, Reason, ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.families import normalize
from workshops.families.models import REGISTRATION_STATUSES, Family, Registration
from workshops.families.notices import CURRENT_NOTICE
from workshops.families.queries import DuplicateCandidate
from workshops.families.registration_queries import PLACE_STATUSES, get_family_registration, places_taken
from workshops.families.services import FamilyData, GuardianData, create_family, find_duplicates
from workshops.scheduling.models import Workshop

# The version of the privacy notice read or handed to families (families/notices.py).
NOTICE_VERSION = CURRENT_NOTICE
# Statuses a registration can go back to when a check-in is undone.
UNDO_STATUSES = ("invited", "registered", "absent", "excused")
MAX_PEOPLE = 20
EVENT_ZONE = ZoneInfo("Europe/Paris")


class CapacityReached(ValidationFailed):
    """Registering would go over the atelier's capacity; `capacity` says how many places."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        # Raised while a request or command runs: translated now, in its language.
        super().__init__([(None, ngettext(
            "The atelier is full (%(num)d place). Confirm to register this family over capacity.",
            "The atelier is full (%(num)d places). Confirm to register this family over capacity.",
            capacity))])


class PossibleDuplicates(Conflict):
    """Families typed as new look like known ones: `by_row` maps the index of each typed
    row (0 for a single walk-in) to its candidates. Nothing was written."""

    def __init__(self, by_row: Mapping[int, list[DuplicateCandidate]]):
        self.by_row = dict(by_row)
        super().__init__("possible duplicates")

    @property
    def candidates(self) -> list[DuplicateCandidate]:
        """The candidates of the first row (the only one of a walk-in)."""
        return next(iter(self.by_row.values()), [])


@dataclass(frozen=True)
class CheckIn:
    """The outcome of a check-in. `previous_status` is what undo goes back to: None when
    the family was not on the list, "attended" when it was already checked in."""

    registration: Registration
    previous_status: str | None

    @property
    def was_present(self) -> bool:
        return self.previous_status == "attended"


# ---------- Registrations ----------

def register_family(db: Session, workshop: Workshop, family: Family, actor: User, *,
                    status: str = "registered", allow_overbooking: bool = False) -> Registration:
    """Register the family to the atelier; idempotent: a family already on the list keeps
    its row (an invited family becomes registered when asked).

    Raises NotAllowed when the actor cannot see both, ValidationFailed for a cancelled
    atelier, a merged or removed family or an unknown status, CapacityReached when full
    and over-booking was not asked for.
    """
    check_scope(actor, workshop, family)
    check_open(workshop)
    _check_family(family)
    _check_status(status, REGISTRATION_STATUSES)
    registration = get_family_registration(db, workshop, family.id)
    if registration is not None:
        if registration.status == "invited" and status == "registered":
            _check_capacity(db, workshop, allow_overbooking)
            registration.status = status
            db.flush()
        return registration
    if status == "registered":
        _check_capacity(db, workshop, allow_overbooking)
    registration = fresh_registration(db, workshop, family)
    registration.status = status
    db.flush()
    return registration


def set_status(db: Session, registration: Registration, status: str, actor: User, *,
               allow_overbooking: bool = False) -> Registration:
    """Change a registration's status. Leaving `attended` clears the check-in time and
    head counts; `attended` without counts means one adult.

    Raises NotAllowed outside the actor's scope, ValidationFailed for a cancelled atelier,
    a removed registration or an unknown status, CapacityReached when `registered` would
    go over capacity without over-booking asked for.
    """
    workshop = registration.workshop
    check_scope(actor, workshop, registration.family)
    check_open(workshop)
    _check_status(status, REGISTRATION_STATUSES)
    if registration.deleted_dt is not None:
        raise ValidationFailed([(None, _l("This family is no longer on the list of the atelier."))])
    if status == registration.status:
        return registration
    if status == "registered" and registration.status not in PLACE_STATUSES:
        _check_capacity(db, workshop, allow_overbooking)
    apply_status(registration, status)
    db.flush()
    return registration


def apply_status(registration: Registration, status: str) -> None:
    """Set the status; leaving `attended` clears time and counts, `attended` counts one adult."""
    registration.status = status
    if status != "attended":
        registration.checked_in_dt = None
        registration.adults_present = registration.children_present = 0
    elif registration.adults_present + registration.children_present == 0:
        registration.adults_present = 1


# ---------- Check-in at the door ----------

def check_in(db: Session, workshop: Workshop, family: Family, actor: User, *,
             adults: int | None = None, children: int | None = None,
             at: datetime | None = None) -> Registration:
    """Mark the family present (see check_in_family); returns its registration."""
    return check_in_family(db, workshop, family, actor, adults=adults, children=children,
                           at=at).registration


def check_in_family(db: Session, workshop: Workshop, family: Family, actor: User, *,
                    adults: int | None = None, children: int | None = None,
                    at: datetime | None = None, is_walk_in: bool = False) -> CheckIn:
    """Mark the family present at the atelier at `at` (default now, the time at the event).

    A family not on the list is added (as a walk-in). A family already present keeps its
    first arrival time and is never counted twice; given counts replace its counts. A new
    check-in without counts means one adult and no child. Never refused for capacity.
    Raises NotAllowed outside the actor's scope, ValidationFailed for a cancelled atelier,
    a merged or removed family or impossible counts, ValueError for a naive `at`.
    """
    check_scope(actor, workshop, family)
    check_open(workshop)
    _check_family(family)
    _check_people(1 if adults is None else adults, 0 if children is None else children)
    registration = get_family_registration(db, workshop, family.id)
    previous = registration.status if registration is not None else None
    if registration is None:
        registration = fresh_registration(db, workshop, family)
        registration.is_walk_in = True
    registration.is_walk_in = registration.is_walk_in or is_walk_in
    if previous != "attended":
        registration.status = "attended"
        registration.checked_in_dt = event_time(at)
        registration.adults_present = 1 if adults is None else adults
        registration.children_present = 0 if children is None else children
    else:
        registration.adults_present = registration.adults_present if adults is None else adults
        registration.children_present = registration.children_present if children is None else children
    db.flush()
    return CheckIn(registration, previous)


def undo_check_in(db: Session, registration: Registration, actor: User, *,
                  previous_status: str | None = "registered") -> Registration:
    """Take back a check-in made by mistake: the registration returns to `previous_status`
    without time or counts; with None (the family was not on the list) it is removed
    (tombstoned, so the removal travels). Undoing twice changes nothing.

    Raises NotAllowed outside the actor's scope, ValidationFailed for a cancelled atelier
    or a status that cannot be gone back to.
    """
    check_scope(actor, registration.workshop, registration.family)
    check_open(registration.workshop)
    if previous_status is not None:
        _check_status(previous_status, UNDO_STATUSES)
    if registration.deleted_dt is not None or registration.status != "attended":
        return registration
    apply_status(registration, previous_status or "registered")
    if previous_status is None:
        registration.is_walk_in = False
        registration.deleted_dt = utcnow()
    db.flush()
    return registration


def add_walk_in(db: Session, workshop: Workshop, actor: User, *, last_name: str, first_name: str,
                phone: str, notice_given: bool, has_follow_up_consent: bool = False,
                adults: int = 1, children: int = 0, force: bool = False,
                at: datetime | None = None) -> Registration:
    """Create the family of someone who came without registration and check it in.

    The privacy notice must have been given: its version (NOTICE_VERSION) and today's
    date are recorded; origin "walk_in", structure of the atelier. Unless `force`,
    raises PossibleDuplicates (nothing written) when known families look the same, so
    the user picks one of them (check_in) or confirms a new family.
    Raises ValidationFailed on missing names, a wrong phone, no notice, impossible counts
    or a cancelled atelier; NotAllowed outside the actor's scope.
    """
    check_scope(actor, workshop)
    check_open(workshop)
    moment = event_time(at)
    reasons = walk_in_problems(last_name, first_name, phone, notice_given, "")
    reasons += people_problems(adults, children, "")
    if reasons:
        raise ValidationFailed(reasons)
    data = walk_in_family(workshop, last_name, first_name, phone, has_follow_up_consent, moment)
    if not force:
        candidates = find_duplicates(db, data, actor)
        if candidates:
            raise PossibleDuplicates({0: candidates})
    family = create_family(db, data, actor, way="walk_in")
    return check_in_family(db, workshop, family, actor, adults=adults, children=children,
                           at=moment, is_walk_in=True).registration


def walk_in_family(workshop: Workshop, last_name: str, first_name: str, phone: str,
                    has_follow_up_consent: bool, moment: datetime) -> FamilyData:
    """The household of a walk-in: one guardian, the notice given today, the atelier's structure."""
    guardian = GuardianData(first_name=first_name, last_name=last_name,
                            phone=normalize.normalize_phone(phone).e164 or "")
    return FamilyData(guardians=(guardian,), origin="walk_in", notice_version=NOTICE_VERSION,
                      notice_date=_event_date(moment), has_follow_up_consent=has_follow_up_consent,
                      structure_id=workshop.structure_id)


def walk_in_problems(last_name: str, first_name: str, phone: str, notice_given: bool,
                      prefix: str) -> list[Reason]:
    """Reasons to refuse a walk-in as typed (fields named `prefix` + field)."""
    reasons: list[Reason] = []
    for field, text in (("last_name", last_name), ("first_name", first_name)):
        problem = normalize.name_problem(normalize.clean_name(text or ""))
        if problem:
            reasons.append((prefix + field, problem))
    if not normalize.clean_name(last_name or ""):
        reasons.append((prefix + "last_name", _l("Enter the last name.")))
    problem = normalize.normalize_phone(phone).problem
    if problem:
        reasons.append((prefix + "phone", problem))
    if not notice_given:
        reasons.append((prefix + "notice_given", _l(
            "Give the privacy notice to the family first, then tick the box.")))
    return reasons


# ---------- Checks shared with attendance_services ----------

def can_see(actor: User, *objects: Workshop | Family) -> bool:
    """True when every atelier or family given belongs to the actor's structures."""
    visible = visible_structure_ids(actor)
    return visible is None or all(obj.structure_id in visible for obj in objects)


def check_scope(actor: User, *objects: Workshop | Family) -> None:
    """Raises NotAllowed unless the actor sees every atelier or family given."""
    if not can_see(actor, *objects):
        raise NotAllowed("atelier or family outside the actor's structures")


def check_open(workshop: Workshop) -> None:
    """Raises ValidationFailed for a cancelled or removed atelier."""
    if workshop.status == "cancelled" or workshop.deleted_dt is not None:
        raise ValidationFailed([(None, _l(
            "This atelier was cancelled: nobody can be registered or checked in."))])


def _check_family(family: Family) -> None:
    if family.merged_into_id is not None or family.deleted_dt is not None:
        raise ValidationFailed([(None, _l(
            "This family was merged into another one or removed: search for it again."))])


def _check_status(status: str, allowed: Sequence[str]) -> None:
    if status not in allowed:
        raise ValidationFailed([("status", _l("Choose a status from the list."))])


def _check_people(adults: int, children: int) -> None:
    reasons = people_problems(adults, children, "")
    if reasons:
        raise ValidationFailed(reasons)


def people_problems(adults: int, children: int, prefix: str) -> list[Reason]:
    """Reasons to refuse head counts: each 0 to MAX_PEOPLE, at least one person."""
    reasons: list[Reason] = []
    for field, value in (("adults", adults), ("children", children)):
        if not isinstance(value, int) or not 0 <= value <= MAX_PEOPLE:
            reasons.append((prefix + field, _l("Enter a number from 0 to %(max)s.", max=MAX_PEOPLE)))
    if not reasons and adults + children == 0:
        reasons.append((prefix + "adults", _l("Count at least one person.")))
    return reasons


def _check_capacity(db: Session, workshop: Workshop, allow_overbooking: bool) -> None:
    if workshop.capacity is None or allow_overbooking:
        return
    if places_taken(db, workshop) >= workshop.capacity:
        raise CapacityReached(workshop.capacity)


def fresh_registration(db: Session, workshop: Workshop, family: Family) -> Registration:
    """A new row under the derived id, or the tombstoned one brought back, blank."""
    row_id = derived_id("registration", workshop.id, family.id)
    row = db.get(Registration, row_id)
    if row is None:
        row = Registration(id=row_id, workshop=workshop, family=family)
        db.add(row)
    row.deleted_dt, row.status, row.checked_in_dt = None, "registered", None
    row.adults_present = row.children_present = 0
    row.is_signed_on_paper = row.is_walk_in = False
    return row


def event_time(at: datetime | None) -> datetime:
    """The time of the event: `at`, else now (aware UTC); ValueError for a naive `at`."""
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise ValueError("naive datetime given as the time of the event")
    return at


def _event_date(moment: datetime) -> date:
    """The calendar day at the event (Europe/Paris), as people write it on paper."""
    return moment.astimezone(EVENT_ZONE).date()
