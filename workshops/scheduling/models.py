"""Venues: the places where ateliers are held."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.auth.models import Epci, Structure
from workshops.core.models import Base, SyncMixin, TimestampMixin

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
