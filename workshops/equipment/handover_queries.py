"""Reads about handovers: an atelier's families to hand over to and its handovers, one
handover with its events, the loans (overdue first), and the scope checks of these pages.

Rows are plain data (no ORM object), so printing can use them as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.models import utcnow
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.services import find_by_tag
from workshops.families.merge_queries import kept_household
from workshops.families.models import Family
from workshops.families.queries import live_guardians
from workshops.families.registration_queries import sheet_order_roster
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Workshop

# The events that end a handover.
ENDING_EVENTS = ("voided", "returned")
# Registration statuses of the families offered at the atelier (present first).
OFFERED_STATUSES = ("attended", "registered")


@dataclass(frozen=True)
class AtelierFamily:
    """A family offered in the atelier's picker."""

    family_id: uuid.UUID
    name: str
    is_present: bool
    computer_wanted: str | None
    language: str


@dataclass(frozen=True)
class HandoverRow:
    """One handover as the lists show it. `state`: active, returned or voided."""

    handover_id: uuid.UUID
    equipment_id: uuid.UUID
    asset_tag: str
    kind: str
    brand: str
    model: str
    family_id: uuid.UUID
    family_name: str
    mode: str
    handed_dt: datetime
    due_on: date | None
    state: str


@dataclass(frozen=True)
class LoanRow:
    """A machine on loan now, with its active handover and due date."""

    equipment_id: uuid.UUID
    handover_id: uuid.UUID | None
    asset_tag: str
    kind: str
    brand: str
    model: str
    family_id: uuid.UUID | None
    family_name: str
    handed_dt: datetime | None
    due_on: date | None
    is_overdue: bool


@dataclass(frozen=True)
class PanelCounts:
    """Machines handed over at an atelier and not voided, by mode."""

    given: int
    lent: int


def paris_today(now: datetime | None = None) -> date:
    """Today's date in Paris (loans are due on Paris days). Raises nothing."""
    return to_local(now or utcnow()).date()


def _visible(user: User, structure_id: uuid.UUID | None) -> bool:
    visible = visible_structure_ids(user)
    return visible is None or structure_id in visible


def family_name(family: Family | None) -> str:
    """"First Last" of the first live guardian, or "" (no guardian left). Raises nothing."""
    guardians = live_guardians(family) if family is not None else []
    return " ".join(p for p in (guardians[0].first_name, guardians[0].last_name) if p) if guardians else ""


def family_language(family: Family) -> str:
    """The language of the family's first live guardian (French when none). Raises nothing."""
    guardians = live_guardians(family)
    return (guardians[0].language or "fr") if guardians else "fr"


def list_atelier_families(db: Session, workshop: Workshop) -> list[AtelierFamily]:
    """The atelier's families registered or present, present first, then in the sheet's
    order, with the computer they asked for. Raises nothing."""
    rows = [row for row in sheet_order_roster(db, workshop) if row.status in OFFERED_STATUSES]
    wanted = dict(db.execute(select(Family.id, Family.computer_wanted).where(
        Family.id.in_([row.family_id for row in rows]))).all()) if rows else {}
    rows.sort(key=lambda row: not row.is_present)
    return [AtelierFamily(family_id=row.family_id, name=f"{row.last_name} {row.first_name}".strip(),
                          is_present=row.is_present, computer_wanted=wanted.get(row.family_id),
                          language=row.language or "fr") for row in rows]


def get_equipment_for(db: Session, user: User, equipment_id: uuid.UUID | None) -> Equipment | None:
    """The live machine if the user may see its structure; else None (a 404). Raises nothing."""
    item = db.get(Equipment, equipment_id) if equipment_id is not None else None
    if item is None or item.deleted_dt is not None or not _visible(user, item.structure_id):
        return None
    return item


def find_tag_for(db: Session, user: User, tag: str) -> Equipment | None:
    """The machine with this asset tag (spaces and case ignored) if the user may see it;
    None when unknown or another structure's. Raises nothing."""
    item = find_by_tag(db, tag) if (tag or "").strip() else None
    return item if item is not None and _visible(user, item.structure_id) else None


def get_handover_for(db: Session, user: User, handover_id: uuid.UUID | None) -> Handover | None:
    """The handover with its machine, family and atelier, if the user may see the machine's
    structure; None otherwise (a 404). Raises nothing."""
    if handover_id is None:
        return None
    handover = db.scalar(select(Handover).where(Handover.id == handover_id, Handover.deleted_dt.is_(None))
                         .options(joinedload(Handover.equipment), joinedload(Handover.workshop),
                                  joinedload(Handover.family).selectinload(Family.guardians)))
    if handover is None or not _visible(user, handover.equipment.structure_id):
        return None
    return handover


def handover_events(db: Session, handover: Handover) -> list[EquipmentEvent]:
    """The events of this handover (given or lent, renewals, return, void), oldest first.
    Raises nothing."""
    return list(db.scalars(select(EquipmentEvent).where(
        EquipmentEvent.handover_id == handover.id, EquipmentEvent.deleted_dt.is_(None))
        .order_by(EquipmentEvent.occurred_dt, EquipmentEvent.created_dt)
        .options(joinedload(EquipmentEvent.actor))))


def handover_state(db: Session, handover: Handover) -> str:
    """active (the machine's current handover), voided or returned. Raises nothing."""
    if handover.equipment.current_handover_id == handover.id:
        return "active"
    ended = db.scalar(select(EquipmentEvent.kind).where(
        EquipmentEvent.handover_id == handover.id, EquipmentEvent.kind.in_(ENDING_EVENTS))
        .order_by(EquipmentEvent.occurred_dt.desc()).limit(1))
    return ended or "returned"


def _ended(db: Session, handover_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not handover_ids:
        return {}
    rows = db.execute(select(EquipmentEvent.handover_id, EquipmentEvent.kind).where(
        EquipmentEvent.handover_id.in_(handover_ids), EquipmentEvent.kind.in_(ENDING_EVENTS),
        EquipmentEvent.deleted_dt.is_(None)).order_by(EquipmentEvent.occurred_dt))
    return {row.handover_id: row.kind for row in rows}


def list_workshop_handovers(db: Session, workshop: Workshop) -> list[HandoverRow]:
    """The machines handed over at this atelier, latest first, each with its state now.
    Raises nothing."""
    handovers = list(db.scalars(select(Handover).where(
        Handover.workshop_id == workshop.id, Handover.deleted_dt.is_(None))
        .order_by(Handover.handed_dt.desc())
        .options(joinedload(Handover.equipment), joinedload(Handover.family).selectinload(Family.guardians))))
    ended = _ended(db, [h.id for h in handovers])
    rows = []
    for handover in handovers:
        item, household = handover.equipment, kept_household(db, handover.family)
        active = item.current_handover_id == handover.id
        rows.append(HandoverRow(
            handover_id=handover.id, equipment_id=item.id, asset_tag=item.asset_tag, kind=item.kind,
            brand=item.brand, model=item.model, family_id=household.id,
            family_name=family_name(household), mode=handover.mode, handed_dt=handover.handed_dt,
            due_on=item.loan_due_on if active else handover.due_on,
            state="active" if active else ended.get(handover.id, "returned")))
    return rows


def panel_counts(db: Session, workshop: Workshop) -> PanelCounts:
    """Machines given and lent at this atelier, leaving out voided handovers. Raises nothing."""
    voided = select(EquipmentEvent.handover_id).where(EquipmentEvent.kind == "voided",
                                                      EquipmentEvent.handover_id.is_not(None))
    rows = dict(db.execute(select(Handover.mode, func.count()).where(
        Handover.workshop_id == workshop.id, Handover.deleted_dt.is_(None),
        Handover.id.not_in(voided)).group_by(Handover.mode)).all())
    return PanelCounts(given=rows.get("gift", 0), lent=rows.get("loan", 0))


def list_loans(db: Session, user: User, today: date | None = None) -> list[LoanRow]:
    """Machines on loan now that the user may see: overdue first (due before today in
    Paris), then by due date. Raises nothing."""
    today = today or paris_today()
    query = select(Equipment).where(Equipment.status == "on_loan", Equipment.deleted_dt.is_(None))
    visible = visible_structure_ids(user)
    if visible is not None:
        query = query.where(Equipment.structure_id.in_(visible))
    items = list(db.scalars(query))
    handovers = {h.id: h for h in db.scalars(select(Handover).where(
        Handover.id.in_([i.current_handover_id for i in items if i.current_handover_id]))
        .options(selectinload(Handover.family).selectinload(Family.guardians)))} if items else {}
    rows = []
    for item in items:
        handover = handovers.get(item.current_handover_id)
        household = kept_household(db, handover.family) if handover else None
        rows.append(LoanRow(
            equipment_id=item.id, handover_id=handover.id if handover else None, asset_tag=item.asset_tag,
            kind=item.kind, brand=item.brand, model=item.model,
            family_id=household.id if household else None, family_name=family_name(household),
            handed_dt=handover.handed_dt if handover else None, due_on=item.loan_due_on,
            is_overdue=item.loan_due_on is not None and item.loan_due_on < today))
    return sorted(rows, key=lambda row: (not row.is_overdue, row.due_on or date.max, row.asset_tag))

