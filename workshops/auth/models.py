"""Accounts, the structures they belong to, server-side sessions and login throttling.

Structures live here rather than in scheduling because every account belongs
to one and the import direction (core -> auth -> ... -> scheduling) forbids
auth from reaching forward.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.core.models import Base, SyncMixin, TimestampMixin, UTCDateTime, utcnow

STRUCTURE_KINDS = (
    "departement", "intercommunalite", "commune", "college", "la_poste",
    "france_services", "centre_social", "association", "entreprise", "other",
)


class Epci(SyncMixin, TimestampMixin, Base):
    """An intercommunality (EPCI), the territory figures are reported by."""

    __tablename__ = "epcis"

    siren: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    commune_count: Mapped[int | None] = mapped_column(Integer)


class Structure(SyncMixin, TimestampMixin, Base):
    """An employer or partner: the Département, a communauté de communes, a collège..."""

    __tablename__ = "structures"

    name: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="other")
    commune: Mapped[str] = mapped_column(String(120), default="")
    epci_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("epcis.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    epci: Mapped[Epci | None] = relationship()


class User(SyncMixin, TimestampMixin, Base):
    """A staff account: conseiller, manager or admin."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="conseiller")
    structure_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("structures.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_language: Mapped[str] = mapped_column(String(8), default="fr")
    password_changed_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    structure: Mapped[Structure | None] = relationship()


class UserSession(Base):
    """A logged-in browser session; the cookie holds a random token, we keep its hash.

    Deleting the row ends the session at once (logout, password change,
    deactivation). Local to each installation, never synced.
    """

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins per account name (known or not), kept in the database so a
    restart does not reset them. Local to each installation."""

    __tablename__ = "login_throttles"

    username_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserTotp(Base):
    """The TOTP secret of a manager or admin account on the hub (a second factor at login).

    `confirmed_dt` is set once a first code was checked; `last_step` is the time step of the
    last accepted code, so a code is accepted once. Local to the hub, never synced; deleting
    the row (an admin resetting it) makes the account enrol again at its next login.
    """

    __tablename__ = "user_totps"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"),
                                               primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))  # base32
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship()
