"""Rules of ateliers: times in Paris stored in UTC, national codes, scope, the
planned -> held | cancelled life of an atelier, duplicates and series.

Services flush, never commit; the caller (view or command) commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.errors import NotAllowed, Reason, ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.core.taxonomy import LEVELS, THEMATIQUES
from workshops.resources.models import Resource
from workshops.scheduling.localtime import to_local, to_utc
from workshops.scheduling.models import (
    WORKSHOP_KINDS,
    Venue,
    Workshop,
    WorkshopAnimator,
    WorkshopResource,
)
from workshops.scheduling.queries import can_manage

# Languages a session can be held in (the one list of them): those of the family
# documents and those most spoken by the families met. Labels come from Babel.
SESSION_LANGUAGES = ("fr", "en", "ar", "uk", "tr", "pt", "es", "ru", "ro")

# Thématiques given to an atelier when none is chosen (shared/taxonomy.md, mapping note).
KIND_THEMATIQUES = {
    "e_parentalite": ("parentalite",),
    "remise_equipement": ("prendre_en_main_du_materiel",),
    "mixte": ("parentalite", "prendre_en_main_du_materiel"),
    "autre": (),
}

MAX_DURATION = timedelta(hours=12)
MAX_AHEAD = timedelta(days=366)
MAX_CAPACITY = 500
MAX_TITLE_LENGTH = 200
MAX_NOTES_LENGTH = 2000
MAX_REASON_LENGTH = 200
MAX_SERIES_COUNT = 52
SERIES_INTERVALS = (7, 14, 28)


@dataclass(frozen=True)
class WorkshopData:
    """What a form gives to create or change an atelier: a Paris date and wall-clock times."""

    title: str
    day: date | None
    start_time: time | None
    end_time: time | None
    venue_id: uuid.UUID | None
    structure_id: uuid.UUID | None
    kind: str = "e_parentalite"
    capacity: int | None = None
    thematiques: tuple[str, ...] = ()
    level: str | None = None
    languages: tuple[str, ...] = ("fr",)
    animator_ids: tuple[uuid.UUID, ...] = ()
    resource_ids: tuple[uuid.UUID, ...] = ()
    notes: str = ""


def workshop_data_of(workshop: Workshop) -> WorkshopData:
    """The data of an existing atelier, in Paris time, as its form shows it."""
    start, end = to_local(workshop.start_dt), to_local(workshop.end_dt)
    return WorkshopData(
        title=workshop.title, day=start.date(), start_time=start.time(), end_time=end.time(),
        venue_id=workshop.venue_id, structure_id=workshop.structure_id, kind=workshop.kind,
        capacity=workshop.capacity, thematiques=tuple(workshop.thematiques or ()),
        level=workshop.level, languages=tuple(workshop.languages or ()),
        animator_ids=tuple(row.user_id for row in workshop.animators if row.deleted_dt is None),
        resource_ids=tuple(row.resource_id for row in workshop.resources
                           if row.deleted_dt is None and row.is_planned),
        notes=workshop.notes)


def _check_scope(actor: User, structure_id: uuid.UUID | None) -> None:
    if structure_id is not None and not can_manage(actor, structure_id):
        raise NotAllowed("the atelier belongs to another structure")


def _check_not_cancelled(workshop: Workshop) -> None:
    if workshop.status == "cancelled":
        raise ValidationFailed([(None, _l(
            "This atelier is cancelled: reopen it before changing anything."))])


def save_workshop(db: Session, data: WorkshopData, actor: User,
                  workshop: Workshop | None = None) -> Workshop:
    """Create an atelier (planned), or change `workshop`.

    Raises NotAllowed when a conseiller acts on another structure's atelier, and
    ValidationFailed on a cancelled atelier, a missing or too long title, a
    missing date or time, a time that does not exist that day, an end not after
    the start, more than 12 hours, a start more than a year ahead, a capacity
    under 1 or too large, an unknown kind, level, thématique or language, no
    language, an unknown venue, structure or resource, or an animator who is
    not an active account. Without thématiques, the kind's usual ones are taken.
    """
    if workshop is not None:
        _check_scope(actor, workshop.structure_id)
        _check_not_cancelled(workshop)
    _check_scope(actor, data.structure_id)
    start_dt, end_dt, reasons = _times(data)
    reasons += _text_problems(data) + _code_problems(data) + _link_problems(db, data)
    reasons += _animator_problems(db, data.animator_ids, workshop)
    reasons += _resource_problems(db, data.resource_ids, "resource_ids")
    if reasons:
        raise ValidationFailed(reasons)
    if workshop is None:
        # The id is needed now: the animators' and resources' ids derive from it.
        workshop = Workshop(id=uuid.uuid4(), status="planned")
    db.add(workshop)
    workshop.title, workshop.kind = " ".join(data.title.split()), data.kind
    workshop.start_dt, workshop.end_dt = start_dt, end_dt
    workshop.venue_id, workshop.structure_id = data.venue_id, data.structure_id
    workshop.capacity, workshop.level = data.capacity, data.level or None
    workshop.thematiques = list(dict.fromkeys(data.thematiques or KIND_THEMATIQUES[data.kind]))
    workshop.languages = list(dict.fromkeys(data.languages))
    workshop.notes = data.notes.strip()
    _set_animators(db, workshop, data.animator_ids)
    _set_resource_flags(db, workshop, data.resource_ids, "is_planned")
    db.flush()
    return workshop


def _times(data: WorkshopData) -> tuple[datetime | None, datetime | None, list[Reason]]:
    """The UTC start and end of the atelier, and what is wrong with them."""
    reasons: list[Reason] = []
    if data.day is None:
        reasons.append(("day", _l("Enter the date of the atelier.")))
    if data.start_time is None:
        reasons.append(("start_time", _l("Enter the time the atelier starts.")))
    if data.end_time is None:
        reasons.append(("end_time", _l("Enter the time the atelier ends.")))
    if reasons:
        return None, None, reasons
    start_dt, end_dt = to_utc(data.day, data.start_time), to_utc(data.day, data.end_time)
    gap = _l("This time does not exist that day: the clocks go forward. Choose another time.")
    if start_dt is None:
        reasons.append(("start_time", gap))
    if end_dt is None:
        reasons.append(("end_time", gap))
    if reasons:
        return None, None, reasons
    if end_dt <= start_dt:
        reasons.append(("end_time", _l("The atelier must end after it starts.")))
    elif end_dt - start_dt > MAX_DURATION:
        reasons.append(("end_time", _l("An atelier lasts at most %(hours)s hours.", hours=12)))
    if start_dt > utcnow() + MAX_AHEAD:
        reasons.append(("day", _l("An atelier can be planned at most one year ahead.")))
    return start_dt, end_dt, reasons


def _text_problems(data: WorkshopData) -> list[Reason]:
    reasons: list[Reason] = []
    title = " ".join(data.title.split())
    if not title:
        reasons.append(("title", _l("Enter a title: the families read it on their invitation.")))
    elif len(title) > MAX_TITLE_LENGTH:
        reasons.append(("title", _l("Keep the title under %(max)s characters.", max=MAX_TITLE_LENGTH)))
    if len(data.notes.strip()) > MAX_NOTES_LENGTH:
        reasons.append(("notes", _l("Keep the notes under %(max)s characters.", max=MAX_NOTES_LENGTH)))
    if data.capacity is not None and not 1 <= data.capacity <= MAX_CAPACITY:
        reasons.append(("capacity", _l("Enter a capacity between 1 and %(max)s, or leave it empty.",
                                       max=MAX_CAPACITY)))
    return reasons


def _code_problems(data: WorkshopData) -> list[Reason]:
    reasons: list[Reason] = []
    if data.kind not in WORKSHOP_KINDS:
        reasons.append(("kind", _l("Choose a kind from the list.")))
    if data.level and data.level not in LEVELS:
        reasons.append(("level", _l("Choose a level from the list.")))
    if not set(data.thematiques) <= set(THEMATIQUES):
        reasons.append(("thematiques", _l("Choose the thématiques from the list.")))
    if not data.languages:
        reasons.append(("languages", _l("Choose at least one language of the session.")))
    elif not set(data.languages) <= set(SESSION_LANGUAGES):
        reasons.append(("languages", _l("Choose the languages from the list.")))
    return reasons


def _link_problems(db: Session, data: WorkshopData) -> list[Reason]:
    reasons: list[Reason] = []
    venue = db.get(Venue, data.venue_id) if data.venue_id is not None else None
    if venue is None or venue.deleted_dt is not None:
        reasons.append(("venue_id", _l("Choose the venue from the list.")))
    structure = db.get(Structure, data.structure_id) if data.structure_id is not None else None
    if structure is None or structure.deleted_dt is not None:
        reasons.append(("structure_id", _l("Choose the organising structure from the list.")))
    return reasons


def _animator_problems(db: Session, animator_ids: Iterable[uuid.UUID],
                       workshop: Workshop | None) -> list[Reason]:
    """Every animator must be an account; a new one must be active (one already on
    the atelier may stay after leaving, so old ateliers can still be corrected)."""
    ids = set(animator_ids)
    current = {row.user_id for row in workshop.animators if row.deleted_dt is None} if workshop else set()
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    if any(uid not in users or users[uid].deleted_dt is not None
           or (uid not in current and not users[uid].is_active) for uid in ids):
        return [("animator_ids", _l("Choose the animators among the active accounts."))]
    return []


def _resource_problems(db: Session, resource_ids: Iterable[uuid.UUID], field: str) -> list[Reason]:
    ids = set(resource_ids)
    found = set(db.scalars(select(Resource.id).where(
        Resource.id.in_(ids), Resource.deleted_dt.is_(None)))) if ids else set()
    if found != ids:
        return [(field, _l("Choose the resources from the catalogue."))]
    return []


def _set_animators(db: Session, workshop: Workshop, user_ids: Iterable[uuid.UUID]) -> None:
    """Make the animators exactly `user_ids`; a removed one keeps a tombstone row
    (deleted_dt) so the removal travels, and comes back on the same derived id."""
    wanted = set(user_ids)
    rows = {row.user_id: row for row in workshop.animators}
    for user_id, row in rows.items():
        if user_id not in wanted and row.deleted_dt is None:
            row.deleted_dt = utcnow()
    for user_id in wanted:
        row = rows.get(user_id)
        if row is None:
            row = WorkshopAnimator(id=derived_id("workshop_animator", workshop.id, user_id),
                                   user_id=user_id)
            workshop.animators.append(row)
            db.add(row)
        row.deleted_dt = None


def _set_resource_flags(db: Session, workshop: Workshop, resource_ids: Iterable[uuid.UUID],
                        flag: str) -> None:
    """Set `flag` (is_planned or is_presented) on exactly `resource_ids`; a row
    neither planned nor presented is tombstoned, and revived on the same id."""
    wanted = set(resource_ids)
    rows = {row.resource_id: row for row in workshop.resources}
    for resource_id in wanted - set(rows):
        row = WorkshopResource(id=derived_id("workshop_resource", workshop.id, resource_id),
                               resource_id=resource_id, is_planned=False, is_presented=False)
        workshop.resources.append(row)
        db.add(row)
        rows[resource_id] = row
    for resource_id, row in rows.items():
        if getattr(row, flag) != (resource_id in wanted):
            setattr(row, flag, resource_id in wanted)
        is_used = row.is_planned or row.is_presented
        if is_used and row.deleted_dt is not None:
            row.deleted_dt = None
        elif not is_used and row.deleted_dt is None:
            row.deleted_dt = utcnow()


def set_planned_resources(db: Session, workshop: Workshop, resource_ids: Iterable[uuid.UUID],
                          actor: User) -> Workshop:
    """Make the resources planned for the atelier exactly `resource_ids`.

    Raises NotAllowed outside the actor's structure, ValidationFailed on a
    cancelled atelier or an unknown resource.
    """
    return _set_resources(db, workshop, list(resource_ids), actor, "is_planned")


def mark_presented(db: Session, workshop: Workshop, resource_ids: Iterable[uuid.UUID],
                   actor: User) -> Workshop:
    """Record which resources were presented at the atelier (exactly `resource_ids`,
    planned or not). Raises NotAllowed outside the actor's structure,
    ValidationFailed on a cancelled atelier or an unknown resource."""
    return _set_resources(db, workshop, list(resource_ids), actor, "is_presented")


def _set_resources(db: Session, workshop: Workshop, resource_ids: list[uuid.UUID], actor: User,
                   flag: str) -> Workshop:
    _check_scope(actor, workshop.structure_id)
    _check_not_cancelled(workshop)
    reasons = _resource_problems(db, resource_ids, "resource_ids")
    if reasons:
        raise ValidationFailed(reasons)
    _set_resource_flags(db, workshop, resource_ids, flag)
    db.flush()
    return workshop


def duplicate_workshop(db: Session, workshop: Workshop, new_start_local_date: date,
                       actor: User) -> Workshop:
    """A new planned atelier on another day, at the same Paris times, with the same
    title, venue, structure, kind, capacity, codes, languages, animators (those
    still active) and planned resources; neither notes nor what was presented.

    Raises what save_workshop raises (NotAllowed, ValidationFailed).
    """
    data = workshop_data_of(workshop)
    active = set(db.scalars(select(User.id).where(User.id.in_(data.animator_ids),
                                                  User.is_active.is_(True))))
    animator_ids = tuple(uid for uid in data.animator_ids if uid in active)
    return save_workshop(db, replace(data, day=new_start_local_date, notes="",
                                     animator_ids=animator_ids), actor)


def create_series(db: Session, data: WorkshopData, actor: User, every_days: int = 7,
                  count: int = 4) -> list[Workshop]:
    """`count` ateliers from `data.day`, one every `every_days` days at the same Paris
    times (right across a clock change), sharing one series_id.

    Raises ValidationFailed when count is not 2 to 52, the interval is not one of
    SERIES_INTERVALS, the last atelier would start more than a year ahead, or on
    anything save_workshop refuses; NotAllowed as save_workshop.
    """
    reasons: list[Reason] = []
    if not 2 <= count <= MAX_SERIES_COUNT:
        reasons.append(("count", _l("A series has between 2 and %(max)s ateliers.",
                                    max=MAX_SERIES_COUNT)))
    if every_days not in SERIES_INTERVALS:
        reasons.append(("every_days", _l("Choose how often from the list.")))
    if not reasons and data.day is not None and data.start_time is not None:
        last = to_utc(data.day + timedelta(days=every_days * (count - 1)), data.start_time)
        if last is not None and last > utcnow() + MAX_AHEAD:
            reasons.append(("count", _l(
                "The last atelier of the series would be more than one year ahead: "
                "make the series shorter.")))
    if reasons:
        raise ValidationFailed(reasons)
    series_id = uuid.uuid4()
    workshops = []
    for index in range(count):
        day = data.day + timedelta(days=every_days * index)
        workshop = save_workshop(db, replace(data, day=day), actor)
        workshop.series_id = series_id
        workshops.append(workshop)
    db.flush()
    return workshops


def cancel_workshop(db: Session, workshop: Workshop, reason: str, actor: User) -> Workshop:
    """Cancel a planned atelier, saying why. Raises NotAllowed outside the actor's
    structure, ValidationFailed when it is already cancelled or held, or without
    a reason (or one too long)."""
    _check_scope(actor, workshop.structure_id)
    reason = " ".join(reason.split())
    if workshop.status == "cancelled":
        raise ValidationFailed([(None, _l("This atelier is already cancelled."))])
    if workshop.status == "held":
        raise ValidationFailed([(None, _l(
            "This atelier took place and is closed: reopen it first if it was in fact cancelled."))])
    if not reason:
        raise ValidationFailed([("reason", _l("Say why the atelier is cancelled."))])
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed([("reason", _l("Keep the reason under %(max)s characters.",
                                              max=MAX_REASON_LENGTH))])
    workshop.status, workshop.cancelled_reason = "cancelled", reason
    db.flush()
    return workshop


def close_workshop(db: Session, workshop: Workshop, actor: User) -> Workshop:
    """Close an atelier that took place (status held, closed now). Raises NotAllowed
    outside the actor's structure, ValidationFailed when it is cancelled, already
    closed or has not started yet."""
    _check_scope(actor, workshop.structure_id)
    _check_not_cancelled(workshop)
    if workshop.status == "held":
        raise ValidationFailed([(None, _l("This atelier is already closed."))])
    now = utcnow()
    if workshop.start_dt > now:
        raise ValidationFailed([(None, _l(
            "This atelier has not started yet: close it once it has taken place."))])
    workshop.status, workshop.closed_dt = "held", now
    db.flush()
    return workshop


def reopen_workshop(db: Session, workshop: Workshop, actor: User) -> Workshop:
    """Put a cancelled or closed atelier back to planned (a mistake, a change of
    plan). Raises NotAllowed outside the actor's structure, ValidationFailed
    when it is planned already."""
    _check_scope(actor, workshop.structure_id)
    if workshop.status == "planned":
        raise ValidationFailed([(None, _l("This atelier is already open."))])
    workshop.status, workshop.closed_dt, workshop.cancelled_reason = "planned", None, ""
    db.flush()
    return workshop
