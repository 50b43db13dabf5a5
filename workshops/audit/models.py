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

from sqlalchemy import DDL, JSON, Integer, String, Uuid, event
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
    # Indexed: a family page lists its consent history by it (families/consent_queries.py).
    object_ref: Mapped[str] = mapped_column(String(64), default="", index=True)  # an id or a keyed hash
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # codes and counts only
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


# Append-only, enforced by the database whatever the code path (R41). The same statements are
# written inline in migration 61d540a57109; a database made by `create_all` gets them here.
APPEND_ONLY_MESSAGE = "audit_entries is append-only"
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE"))
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()",
)
for _statement in SQLITE_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
