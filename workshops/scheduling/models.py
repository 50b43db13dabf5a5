"""Venues and ateliers: where and when workshops happen, who runs them, what is shown."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.auth.models import Epci, Structure, User
from workshops.core.models import Base, SyncMixin, TimestampMixin, UTCDateTime
from workshops.resources.models import Resource

VENUE_KINDS = (
    "college", "france_services", "mds", "mediatheque", "centre_social", "la_poste", "other",
)


class Venue(SyncMixin, TimestampMixin, Base):
    """A place where ateliers happen: a collège, a France Services, a médiathèque...

    The EPCI is required: managers count ateliers and families per EPCI.
    """

    __tablename__ = "venues"
    __table_args__ = (UniqueConstraint("name", "commune"),)

    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32), default="other")
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(5), default="")
    commune: Mapped[str] = mapped_column(String(120))
    epci_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("epcis.id"), index=True)
    structure_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("structures.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    epci: Mapped[Epci] = relationship()
    structure: Mapped[Structure | None] = relationship()


WORKSHOP_KINDS = ("e_parentalite", "remise_equipement", "mixte", "autre")
WORKSHOP_STATUSES = ("planned", "held", "cancelled")


class Workshop(SyncMixin, TimestampMixin, Base):
    """An atelier: a collective session at a venue, organised by a structure.

    Times are stored in UTC and shown in Europe/Paris. `thematiques` and
    `level` use the national codes (core.taxonomy); `languages` lists the
    languages the session is held in. Ateliers of a series share `series_id`.
    """

    __tablename__ = "workshops"

    kind: Mapped[str] = mapped_column(String(32), default="e_parentalite")
    title: Mapped[str] = mapped_column(String(200))
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    structure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("structures.id"), index=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    thematiques: Mapped[list[str]] = mapped_column(JSON, default=list)
    level: Mapped[str | None] = mapped_column(String(16))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    closed_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str] = mapped_column(String(200), default="")

    venue: Mapped[Venue] = relationship()
    structure: Mapped[Structure] = relationship()
    animators: Mapped[list[WorkshopAnimator]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan")
    resources: Mapped[list[WorkshopResource]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan")


class WorkshopAnimator(SyncMixin, TimestampMixin, Base):
    """A staff account animating an atelier; id derived from (workshop, user)."""

    __tablename__ = "workshop_animators"
    __table_args__ = (UniqueConstraint("workshop_id", "user_id"),)

    workshop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workshops.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)

    workshop: Mapped[Workshop] = relationship(back_populates="animators")
    user: Mapped[User] = relationship()


class WorkshopResource(SyncMixin, TimestampMixin, Base):
    """A catalogue resource planned for an atelier, and whether it was presented;
    id derived from (workshop, resource)."""

    __tablename__ = "workshop_resources"
    __table_args__ = (UniqueConstraint("workshop_id", "resource_id"),)

    workshop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workshops.id"), index=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"), index=True)
    is_planned: Mapped[bool] = mapped_column(Boolean, default=True)
    is_presented: Mapped[bool] = mapped_column(Boolean, default=False)

    workshop: Mapped[Workshop] = relationship(back_populates="resources")
    resource: Mapped[Resource] = relationship()
