"""The audit journal: one row per security-relevant action, appended, never changed.

Rows hold ids, action codes and counts, never a name, phone, e-mail or note: a family is
referred to by its id only. Each row carries the hash of the previous one (`prev_hash`) and
its own (`entry_hash`, over its content and `prev_hash`), so an edited or removed row breaks
the chain (`flask audit verify`). Database triggers refuse UPDATE and DELETE on the table
(SQLite and PostgreSQL), whatever the code path. Local to each installation, never synced.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from workshops.core.models import Base, UTCDateTime, utcnow

# The hash a chain starts from (the "previous hash" of the first entry).
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """An action in the journal; `id` is its place in the chain."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    # The staff account that acted (no foreign key: the journal outlives accounts).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_ref: Mapped[str] = mapped_column(String(64), default="")  # an id or a keyed hash
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # codes and counts only
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
