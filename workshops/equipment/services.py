"""Rules of the inventory and of each machine's life: add and correct machines, reserve,
hand over (gift) or lend, renew, return, void a mistake, restock, faulty, recycled.

Services flush, never commit; the caller commits once. Every change of status goes through
`_move`: a transition TRANSITIONS does not allow is refused (TransitionRefused, nothing
written), an allowed one appends one EquipmentEvent. Handover and event rows never change.

Decisions:
- One active handover per machine: hand_over reads the machine with a row lock (FOR UPDATE;
  on SQLite the write transaction begun before the first read serialises writers).
- A machine reserved for a family can only be handed to that family; cancel the
  reservation first. Reserving checks the family's stated need (desktop or laptop) unless
  the conseiller confirms another kind.
- Voiding a handover puts the machine back as it was just before (in stock, or reserved for
  the same family).
- A loan is due a year after the handover day by default; a renewal adds a year to the
  later of today and the current due date, unless a date is given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.errors import NotAllowed, Reason, ValidationFailed
from workshops.core.models import utcnow
from workshops.equipment import models, queries
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.terms import terms_for
from workshops.families.models import Family
from workshops.families.normalize import clean_text
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Workshop

MAX_RAM_GB = 1024
EARLIEST_REFURBISHED = date(2000, 1, 1)
LOAN_YEARS = 1


@dataclass(frozen=True)
class EquipmentData:
    """What describes a machine, as typed or imported (status is not part of it)."""

    asset_tag: str
    structure_id: uuid.UUID | None
    kind: str = "desktop"
    serial: str = ""
    brand: str = ""
    model: str = ""
    cpu: str = ""
    ram_gb: int | None = None
    storage: str = ""
    operating_system: str = ""
    accessories: str = ""
    origin: str = ""
    refurbisher: str = ""
    refurbished_on: date | None = None
    grade: str | None = None
    notes: str = ""


DESCRIPTION_FIELDS = tuple(f.name for f in fields(EquipmentData))


class TransitionRefused(ValidationFailed):
    """The machine's status does not allow this change; the message says why."""


def clean_tag(text: str) -> str:
    """An asset tag as stored and compared: no surrounding or inner spaces, capitals
    ("lr-2025-0001 " -> "LR-2025-0001"), as a barcode scanner types it."""
    return "".join((text or "").split()).upper()


def _stored(data: EquipmentData) -> dict:
    """The description as stored: the asset tag as clean_tag makes it, text without control
    characters (a spreadsheet cell's CR LF becomes LF, a NUL pasted by mistake is dropped)."""
    values = {name: getattr(data, name) for name in DESCRIPTION_FIELDS}
    values = {name: clean_text(value) if isinstance(value, str) else value for name, value in values.items()}
    return values | {"asset_tag": clean_tag(data.asset_tag)}


def find_by_tag(db: Session, tag: str) -> Equipment | None:
    """The live machine with this asset tag (compared as clean_tag makes it), any scope."""
    return db.scalar(select(Equipment).where(Equipment.asset_tag == clean_tag(tag),
                                             Equipment.deleted_dt.is_(None)))


def equipment_problems(db: Session, data: EquipmentData, existing: Equipment | None = None, *,
                       today: date | None = None) -> list[Reason]:
    """(field, message) for every problem of `data`; empty when it can be saved."""
    problems: list[Reason] = []
    tag = clean_tag(data.asset_tag)
    if not tag:
        problems.append(("asset_tag", str(_l("Enter the asset tag (the inventory number on the machine)."))))
    else:
        other = find_by_tag(db, tag)
        if other is not None and (existing is None or other.id != existing.id):
            problems.append(("asset_tag", str(_l("Another machine already has this asset tag."))))
    if data.structure_id is None:
        problems.append(("structure_id", str(_l("Choose the structure that holds this machine."))))
    if data.kind not in models.EQUIPMENT_KINDS:
        problems.append(("kind", str(_l("Choose the kind of machine."))))
    if data.grade is not None and data.grade not in models.GRADES:
        problems.append(("grade", str(_l("Choose a condition from the list."))))
    if data.ram_gb is not None and not 0 < data.ram_gb <= MAX_RAM_GB:
        problems.append(("ram_gb", str(_l("Enter the memory in GB, from 1 to %(max)s.", max=MAX_RAM_GB))))
    today = today or to_local(utcnow()).date()
    if data.refurbished_on is not None and not EARLIEST_REFURBISHED <= data.refurbished_on <= today:
        problems.append(("refurbished_on", str(_l(
            "The refurbishing date cannot be in the future or before 2000."))))
    return problems


def _check_scope(actor: User, structure_id: uuid.UUID | None) -> None:
    visible = visible_structure_ids(actor)
    if visible is not None and structure_id not in visible:
        raise NotAllowed()


def _event(db: Session, item: Equipment, kind: str, actor: User | None, *, to_status: str,
           from_status: str | None, when: datetime, family: Family | None = None,
           workshop: Workshop | None = None, handover: Handover | None = None, reason: str = "",
           place: str = "", due_on: date | None = None) -> EquipmentEvent:
    # Objects, not ids, for the machine and the handover: the flush then writes them first.
    event = EquipmentEvent(
        id=uuid.uuid4(), equipment=item, handover=handover, kind=kind, from_status=from_status,
        to_status=to_status, occurred_dt=when, actor_id=actor.id if actor else None,
        family_id=family.id if family else None, workshop_id=workshop.id if workshop else None,
        reason=(reason or "").strip(), place=(place or "").strip()[:160], due_on=due_on)
    db.add(event)
    return event


_REFUSALS = {
    "in_stock": _l("This machine is in stock."),
    "reserved": _l("This machine is reserved for a family."),
    "handed_over": _l("This machine was given to a family."),
    "on_loan": _l("This machine is on loan to a family."),
    "returned": _l("This machine was returned and waits to be checked."),
    "faulty": _l("This machine is marked faulty."),
    "recycled": _l("This machine was sent to recycling."),
}


def _check_transition(item: Equipment, to_status: str, allowed_from: tuple[str, ...] | None = None) -> None:
    """TransitionRefused unless TRANSITIONS (and `allowed_from`, when given) allow the move."""
    allowed = to_status in models.TRANSITIONS[item.status]
    if not allowed or (allowed_from is not None and item.status not in allowed_from):
        raise TransitionRefused([(None, str(_l("%(state)s This change is not possible.",
                                               state=_REFUSALS[item.status])))])


def _move(db: Session, item: Equipment, to_status: str, kind: str, actor: User, *, when: datetime,
          allowed_from: tuple[str, ...] | None = None, **details) -> EquipmentEvent:
    """Change the status if TRANSITIONS allows it, with its event; else TransitionRefused."""
    _check_transition(item, to_status, allowed_from)
    from_status, item.status = item.status, to_status
    return _event(db, item, kind, actor, to_status=to_status, from_status=from_status, when=when, **details)


def _locked(db: Session, item: Equipment) -> Equipment:
    """The machine read again with a row lock, so two handovers of it cannot both pass."""
    return db.execute(select(Equipment).where(Equipment.id == item.id).with_for_update()
                      .execution_options(populate_existing=True)).scalar_one()


# ---------- Inventory ----------

def add_equipment(db: Session, data: EquipmentData, actor: User, *, kind: str = "added",
                  now: datetime | None = None, reason: str = "") -> Equipment:
    """A new machine in stock, with its first event ("added" by hand or "imported")."""
    _check_scope(actor, data.structure_id)
    problems = equipment_problems(db, data)
    if problems:
        raise ValidationFailed(problems)
    item = Equipment(id=uuid.uuid4(), status="in_stock", **_stored(data))
    db.add(item)
    _event(db, item, kind, actor, to_status="in_stock", from_status=None, when=now or utcnow(), reason=reason)
    db.flush()
    return item


def update_equipment(db: Session, item: Equipment, data: EquipmentData, actor: User) -> list[str]:
    """Correct a machine's description; returns the fields changed (an "edited" event
    names them, none written when nothing changed). The status never changes here."""
    _check_scope(actor, item.structure_id)
    _check_scope(actor, data.structure_id)
    problems = equipment_problems(db, data, item)
    if problems:
        raise ValidationFailed(problems)
    changed = []
    for name, value in _stored(data).items():
        if getattr(item, name) != value:
            setattr(item, name, value)
            changed.append(name)
    if changed:
        _event(db, item, "edited", actor, to_status=item.status, from_status=item.status,
               when=utcnow(), reason=", ".join(changed))
        db.flush()
    return changed


# ---------- Reservation ----------

def reserve(db: Session, item: Equipment, family: Family, actor: User, *,
            workshop: Workshop | None = None, allow_other_kind: bool = False,
            now: datetime | None = None) -> EquipmentEvent:
    """Set the machine aside for a family (optionally for an atelier). Refused when the
    family asked for another kind of computer, unless `allow_other_kind`."""
    _check_scope(actor, item.structure_id)
    _check_scope(actor, family.structure_id)
    item = _locked(db, item)
    if family.computer_wanted and family.computer_wanted != item.kind and not allow_other_kind:
        raise ValidationFailed([(None, str(_l(
            "This family asked for another kind of computer. Choose a matching machine, "
            "or confirm this one.")))])
    event = _move(db, item, "reserved", "reserved", actor, when=now or utcnow(), family=family,
                  workshop=workshop)
    item.reserved_family_id = family.id
    item.reserved_workshop_id = workshop.id if workshop else None
    db.flush()
    return event


def cancel_reservation(db: Session, item: Equipment, actor: User, *, reason: str = "",
                       now: datetime | None = None) -> EquipmentEvent:
    """Put a reserved machine back in stock."""
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    family = item.reserved_family
    event = _move(db, item, "in_stock", "unreserved", actor, when=now or utcnow(), family=family,
                  reason=reason, allowed_from=("reserved",))
    item.reserved_family_id = item.reserved_workshop_id = None
    db.flush()
    return event


# ---------- Handover, loans, returns ----------

def default_due_date(day: date, years: int = LOAN_YEARS) -> date:
    """The same day `years` later (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def hand_over(db: Session, item: Equipment, family: Family, actor: User, *, mode: str,
              workshop: Workshop | None = None, due_on: date | None = None, language: str = "fr",
              notes: str = "", now: datetime | None = None) -> Handover:
    """Give (mode "gift") or lend (mode "loan") the machine to the family, with the terms in
    `language` stored with their version and SHA-256. Refused, with nothing written, when
    the machine is not in stock or reserved for this family, or when a loan's due date is
    not after the handover day."""
    if mode not in models.HANDOVER_MODES:
        raise ValidationFailed([("mode", str(_l("Choose gift or loan.")))])
    _check_scope(actor, item.structure_id)
    _check_scope(actor, family.structure_id)
    item = _locked(db, item)
    if item.status == "reserved" and not queries.is_reserved_for(db, item, family):
        raise TransitionRefused([(None, str(_l(
            "This machine is reserved for another family. Cancel that reservation first, "
            "or choose another machine.")))])
    to_status = "on_loan" if mode == "loan" else "handed_over"
    _check_transition(item, to_status)  # before anything is added to the session
    when = now or utcnow()
    day = to_local(when).date()
    if mode == "loan":
        due_on = due_on or default_due_date(day)
        if due_on <= day:
            raise ValidationFailed([("due_on", str(_l("The return date must be after today.")))])
    else:
        due_on = None
    terms = terms_for(mode, language)
    handover = Handover(
        id=uuid.uuid4(), equipment=item, family_id=family.id,
        workshop_id=workshop.id if workshop else None, mode=mode, handed_dt=when, due_on=due_on,
        terms_version=terms.version, terms_language=terms.language, terms_text=terms.text,
        terms_sha256=terms.sha256, actor_id=actor.id, notes=(notes or "").strip())
    db.add(handover)
    _move(db, item, to_status, "lent" if mode == "loan" else "handed_over", actor, when=when,
          family=family, workshop=workshop, handover=handover, due_on=due_on)
    item.current_handover_id, item.loan_due_on = handover.id, due_on
    item.reserved_family_id = item.reserved_workshop_id = None
    db.flush()
    return handover


def _active(db: Session, item: Equipment) -> Handover:
    if item.status not in models.WITH_FAMILY or item.current_handover_id is None:
        raise TransitionRefused([(None, str(_l("%(state)s It is not with a family.",
                                               state=_REFUSALS[item.status])))])
    return db.get(Handover, item.current_handover_id)


def void_handover(db: Session, handover: Handover, actor: User, reason: str, *,
                  now: datetime | None = None) -> EquipmentEvent:
    """Cancel a handover recorded by mistake: a "voided" event with the reason; the machine
    goes back to the status it had just before. Only the machine's active handover."""
    if not (reason or "").strip():
        raise ValidationFailed([("reason", str(_l("Say why this handover is cancelled.")))])
    item = _locked(db, handover.equipment)
    _check_scope(actor, item.structure_id)
    if item.current_handover_id != handover.id:
        raise TransitionRefused([(None, str(_l(
            "This handover is no longer the machine's current one: it was already returned or cancelled.")))])
    before = db.scalar(select(EquipmentEvent).where(EquipmentEvent.handover_id == handover.id,
                                                    EquipmentEvent.kind.in_(("handed_over", "lent"))))
    back_to = before.from_status if before is not None and before.from_status == "reserved" else "in_stock"
    from_status, item.status = item.status, back_to
    event = _event(db, item, "voided", actor, to_status=back_to, from_status=from_status,
                   when=now or utcnow(), family=handover.family, workshop=handover.workshop,
                   handover=handover, reason=reason)
    item.current_handover_id, item.loan_due_on = None, None
    if back_to == "reserved":
        item.reserved_family_id, item.reserved_workshop_id = handover.family_id, handover.workshop_id
    db.flush()
    return event


def record_return(db: Session, item: Equipment, actor: User, *, reason: str = "", place: str = "",
                  workshop: Workshop | None = None, now: datetime | None = None) -> EquipmentEvent:
    """The family brought the machine back (end of a loan, or a gift returned)."""
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    handover = _active(db, item)
    event = _move(db, item, "returned", "returned", actor, when=now or utcnow(), family=handover.family,
                  workshop=workshop, handover=handover, reason=reason, place=place)
    item.current_handover_id, item.loan_due_on = None, None
    db.flush()
    return event


def renew_loan(db: Session, item: Equipment, actor: User, *, due_on: date | None = None,
               now: datetime | None = None) -> EquipmentEvent:
    """Extend a loan: to `due_on`, or a year after the later of today and the due date."""
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    handover = _active(db, item)
    if item.status != "on_loan":
        raise TransitionRefused([(None, str(_l("Only a loan can be renewed.")))])
    when = now or utcnow()
    today = to_local(when).date()
    new_due = due_on or default_due_date(max(today, item.loan_due_on or today))
    if new_due <= max(today, item.loan_due_on or today):
        raise ValidationFailed([("due_on", str(_l(
            "The new return date must be after the current one and after today.")))])
    event = _event(db, item, "renewed", actor, to_status=item.status, from_status=item.status, when=when,
                   family=handover.family, handover=handover, due_on=new_due)
    item.loan_due_on = new_due
    db.flush()
    return event


# ---------- Checks after a return ----------

def restock(db: Session, item: Equipment, actor: User, *, reason: str = "",
            now: datetime | None = None) -> EquipmentEvent:
    """Back in stock, after a return was checked or a repair (a reservation is cancelled
    with cancel_reservation instead)."""
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    event = _move(db, item, "in_stock", "restocked", actor, when=now or utcnow(), reason=reason,
                  allowed_from=("returned", "faulty"))
    db.flush()
    return event


def mark_faulty(db: Session, item: Equipment, actor: User, reason: str, *,
                now: datetime | None = None) -> EquipmentEvent:
    """Found faulty (in stock, reserved, or returned): say what is wrong."""
    if not (reason or "").strip():
        raise ValidationFailed([("reason", str(_l("Say what is wrong with the machine.")))])
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    event = _move(db, item, "faulty", "faulty", actor, when=now or utcnow(), reason=reason,
                  family=item.reserved_family)
    item.reserved_family_id = item.reserved_workshop_id = None
    db.flush()
    return event


def recycle(db: Session, item: Equipment, actor: User, *, reason: str = "",
            now: datetime | None = None) -> EquipmentEvent:
    """Sent to recycling: the end of the machine's life here."""
    _check_scope(actor, item.structure_id)
    item = _locked(db, item)
    event = _move(db, item, "recycled", "recycled", actor, when=now or utcnow(), reason=reason)
    db.flush()
    return event

