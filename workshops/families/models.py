"""Households (guardians, children), their registrations to ateliers, anonymous
headcounts, what was shown to each family, and remembered import mappings."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.auth.models import Structure
from workshops.core.models import Base, SyncMixin, TimestampMixin, UTCDateTime
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop

COMPUTER_NEEDS = ("desktop", "laptop")
ORIGINS = ("college_list", "phone_line", "walk_in", "partner", "other")
RELATIONS = ("mother", "father", "guardian", "other")
SCHOOL_LEVELS = ("6e", "5e", "4e", "3e")
REGISTRATION_STATUSES = ("invited", "registered", "attended", "absent", "excused")


class Family(SyncMixin, TimestampMixin, Base):
    """A household: one or more guardians and their collégiens.

    `structure_id` is the structure that follows the family: a conseiller sees
    the families of their structure, and a laptop receives only those.
    `search_key` holds every name of the household folded (no case, no
    accents, straight apostrophes), so search works the same on SQLite and
    PostgreSQL. `merged_into_id` points to the household this one was merged
    into (an alias kept for sync).
    """

    __tablename__ = "families"
    # Fields holding personal data: wiped when the family is erased (sync carries the purge).
    __personal__ = ("commune", "notes", "search_key")
    __table_args__ = (Index("ix_families_structure_search", "structure_id", "search_key"),)

    structure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("structures.id"), index=True)
    commune: Mapped[str] = mapped_column(String(120), default="")
    computer_wanted: Mapped[str | None] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16), default="other")
    notice_version: Mapped[str | None] = mapped_column(String(32))
    notice_date: Mapped[date | None] = mapped_column(Date)
    has_follow_up_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    has_photo_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Agreed that its guardians are named in the national reporting tool (La Coop's
    # beneficiaries workbook); without it they are counted there anonymously.
    has_naming_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    search_key: Mapped[str] = mapped_column(Text, default="", index=True)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"))

    structure: Mapped[Structure] = relationship()
    guardians: Mapped[list[Guardian]] = relationship(
        back_populates="family", cascade="all, delete-orphan", order_by="Guardian.position")
    children: Mapped[list[Child]] = relationship(
        back_populates="family", cascade="all, delete-orphan", order_by="Child.first_name")


class Guardian(SyncMixin, TimestampMixin, Base):
    """A parent or guardian. Phone stored E.164; e-mail normalised, never checked by DNS."""

    __tablename__ = "guardians"
    __personal__ = ("first_name", "last_name", "phone", "email")

    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    relation: Mapped[str] = mapped_column(String(16), default="guardian")

    family: Mapped[Family] = relationship(back_populates="guardians")


class Child(SyncMixin, TimestampMixin, Base):
    """A collégien: first name, collège and level only (no birth date)."""

    __tablename__ = "children"
    __personal__ = ("first_name",)

    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    college_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("structures.id"))
    level: Mapped[str | None] = mapped_column(String(4))

    family: Mapped[Family] = relationship(back_populates="children")
    college: Mapped[Structure | None] = relationship()


class Registration(SyncMixin, TimestampMixin, Base):
    """A family at an atelier. The id derives from (workshop, family), so two
    laptops checking in the same family make one row.

    `checked_in_dt` is the time seen at the event, not the sync time.
    """

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("workshop_id", "family_id"),
                      # Reports count distinct families present per atelier from this index alone.
                      Index("ix_registrations_presence", "workshop_id", "status", "deleted_dt", "family_id"))

    workshop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workshops.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="registered", index=True)
    checked_in_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    adults_present: Mapped[int] = mapped_column(Integer, default=0)
    children_present: Mapped[int] = mapped_column(Integer, default=0)
    is_signed_on_paper: Mapped[bool] = mapped_column(Boolean, default=False)
    is_walk_in: Mapped[bool] = mapped_column(Boolean, default=False)

    workshop: Mapped[Workshop] = relationship()
    family: Mapped[Family] = relationship()


class AnonymousHeadcount(SyncMixin, TimestampMixin, Base):
    """People who came without giving a name, by national age bracket and social
    status; id derived from (workshop, bracket, status)."""

    __tablename__ = "anonymous_headcounts"
    __table_args__ = (UniqueConstraint("workshop_id", "age_bracket", "social_status"),)

    workshop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workshops.id"), index=True)
    age_bracket: Mapped[str] = mapped_column(String(32))
    social_status: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=0)


class FamilyResource(SyncMixin, TimestampMixin, Base):
    """A resource shown to a family at an atelier, and whether an account was
    opened together; id derived from (workshop, family, resource)."""

    __tablename__ = "family_resources"
    __table_args__ = (UniqueConstraint("workshop_id", "family_id", "resource_id"),)

    workshop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workshops.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"))
    is_shown: Mapped[bool] = mapped_column(Boolean, default=True)
    has_opened_account: Mapped[bool] = mapped_column(Boolean, default=False)

    resource: Mapped[Resource] = relationship()


class ImportMapping(TimestampMixin, Base):
    """The column mapping chosen for a file layout, found again by the hash of
    its headers. Local to the laptop, never synced."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    headers_hash: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("kind", "headers_hash"),)
