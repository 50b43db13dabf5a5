"""Refurbished machines: the inventory, the life of each machine as append-only events, and
the handovers to families (gift or loan) with the exact terms they were given.

The `Equipment` row holds the current state (status, reservation, the active handover and
its due date) so lists and counters read one table; `EquipmentEvent` and `Handover` rows
are never changed once written: a mistake is voided by a new event.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.auth.models import Structure, User
from workshops.core.models import Base, SyncMixin, TimestampMixin, UTCDateTime
from workshops.families.models import Family
from workshops.scheduling.models import Workshop

EQUIPMENT_KINDS = ("desktop", "laptop", "tablet", "phone", "other")
# Condition after refurbishing, best first (Emmaüs Connect's A, B, C map to the first three).
GRADES = ("very_good", "good", "fair", "poor")
# Longest text each column of a machine keeps (its VARCHAR length; notes are a Text column): the
# form and the import check these too, so that a machine imported can always be edited.
TEXT_LIMITS = {"asset_tag": 64, "serial": 100, "brand": 80, "model": 120, "cpu": 120, "storage": 80,
               "operating_system": 80, "accessories": 200, "origin": 160, "refurbisher": 120,
               "notes": 5000}
EQUIPMENT_STATUSES = ("in_stock", "reserved", "handed_over", "on_loan", "returned", "faulty", "recycled")
HANDOVER_MODES = ("gift", "loan")

# Which status may follow which. Handing over and lending go through Handover rows;
# voiding a handover goes back to the status the machine had before it (see services).
TRANSITIONS: dict[str, frozenset[str]] = {
    "in_stock": frozenset({"reserved", "handed_over", "on_loan", "faulty", "recycled"}),
    "reserved": frozenset({"in_stock", "handed_over", "on_loan", "faulty"}),
    "handed_over": frozenset({"returned"}),
    "on_loan": frozenset({"returned"}),
    "returned": frozenset({"in_stock", "faulty", "recycled"}),
    "faulty": frozenset({"in_stock", "recycled"}),
    "recycled": frozenset(),
}
# Statuses in which the machine is with a family.
WITH_FAMILY = ("handed_over", "on_loan")

# What happened to a machine, as recorded in its history.
EVENT_KINDS = (
    "added",          # typed in by hand
    "imported",       # from a delivery list
    "edited",         # description corrected (reason = the fields changed)
    "reserved",       # for a family
    "unreserved",     # reservation cancelled
    "handed_over",    # given (gift)
    "lent",           # lent (loan)
    "renewed",        # loan extended (new due date)
    "returned",       # brought back
    "voided",         # a handover recorded by mistake, cancelled with a reason
    "restocked",      # back in stock after a return or a repair
    "faulty",         # found faulty
    "recycled",       # sent to recycling (final)
)


class Equipment(SyncMixin, TimestampMixin, Base):
    """One machine of the inventory, identified by its asset tag (the refurbisher's
    inventory number, unique). `structure_id` is the structure holding the stock: a
    conseiller sees and hands over their structure's machines, a laptop receives them."""

    __tablename__ = "equipment"
    __table_args__ = (Index("ix_equipment_status_kind", "status", "kind"),)

    asset_tag: Mapped[str] = mapped_column(String(TEXT_LIMITS["asset_tag"]), unique=True)
    structure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("structures.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="desktop")
    serial: Mapped[str] = mapped_column(String(TEXT_LIMITS["serial"]), default="")
    brand: Mapped[str] = mapped_column(String(TEXT_LIMITS["brand"]), default="")
    model: Mapped[str] = mapped_column(String(TEXT_LIMITS["model"]), default="")
    cpu: Mapped[str] = mapped_column(String(TEXT_LIMITS["cpu"]), default="")
    ram_gb: Mapped[int | None] = mapped_column(Integer)
    storage: Mapped[str] = mapped_column(String(TEXT_LIMITS["storage"]), default="")
    operating_system: Mapped[str] = mapped_column(String(TEXT_LIMITS["operating_system"]), default="")
    accessories: Mapped[str] = mapped_column(String(TEXT_LIMITS["accessories"]), default="")
    # Where it came from: a collège's name or a donor (free text, as on the delivery list).
    origin: Mapped[str] = mapped_column(String(TEXT_LIMITS["origin"]), default="", index=True)
    refurbisher: Mapped[str] = mapped_column(String(TEXT_LIMITS["refurbisher"]), default="")
    refurbished_on: Mapped[date | None] = mapped_column(Date)
    grade: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")

    # Current state, kept by the services with every event.
    status: Mapped[str] = mapped_column(String(16), default="in_stock", index=True)
    reserved_family_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"), index=True)
    reserved_workshop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("workshops.id"))
    # The active handover (no foreign key: handovers point to machines, and a cycle of
    # keys would need deferred constraints on PostgreSQL).
    current_handover_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    loan_due_on: Mapped[date | None] = mapped_column(Date, index=True)

    structure: Mapped[Structure] = relationship()
    reserved_family: Mapped[Family | None] = relationship(foreign_keys=[reserved_family_id])
    reserved_workshop: Mapped[Workshop | None] = relationship(foreign_keys=[reserved_workshop_id])


class Handover(SyncMixin, TimestampMixin, Base):
    """A machine given or lent to a family, usually at an atelier. Append-only: never
    edited. Its end (return, void) and renewals are EquipmentEvent rows pointing to it.

    `terms_text` is the exact text shown to the family, `terms_version` its version and
    `terms_sha256` the SHA-256 of its UTF-8 bytes. `handed_dt` is the time at the event.
    """

    __tablename__ = "handovers"
    # Free text may name people: wiped when the family is erased.
    __personal__ = ("notes",)

    equipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("equipment.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    workshop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("workshops.id"), index=True)
    mode: Mapped[str] = mapped_column(String(8))
    handed_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date | None] = mapped_column(Date)  # the first due date of a loan
    terms_version: Mapped[str] = mapped_column(String(32))
    terms_language: Mapped[str] = mapped_column(String(8), default="fr")
    terms_text: Mapped[str] = mapped_column(Text)
    terms_sha256: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    notes: Mapped[str] = mapped_column(Text, default="")

    equipment: Mapped[Equipment] = relationship(foreign_keys=[equipment_id])
    family: Mapped[Family] = relationship()
    workshop: Mapped[Workshop | None] = relationship()
    actor: Mapped[User | None] = relationship()


class EquipmentEvent(SyncMixin, TimestampMixin, Base):
    """One change in a machine's life: who (actor), when (`occurred_dt`, the time at the
    event), where (`workshop_id`, else `place`), why (`reason`), and the status before and
    after. Append-only: never edited nor deleted."""

    __tablename__ = "equipment_events"
    __personal__ = ("place", "reason")

    equipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("equipment.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    occurred_dt: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    family_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"), index=True)
    workshop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("workshops.id"))
    handover_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("handovers.id"), index=True)
    place: Mapped[str] = mapped_column(String(160), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(Date)  # a loan's due date after this event

    equipment: Mapped[Equipment] = relationship()
    handover: Mapped[Handover | None] = relationship()
    actor: Mapped[User | None] = relationship()
    family: Mapped[Family | None] = relationship()
    workshop: Mapped[Workshop | None] = relationship()
