"""Reading the audit journal: the newest entries first, filtered, with the actor's name.

The actor's display name is joined by table name ("users", owned by the auth layer, which the
audit layer may not import); an entry whose account was removed shows no name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, null, select
from sqlalchemy.orm import Session

from workshops.audit.models import AuditEntry
from workshops.core.models import Base


@dataclass(frozen=True)
class EntryRow:
    """One journal entry as listed."""

    id: int
    occurred_dt: datetime
    action: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    object_type: str
    object_ref: str
    details: dict[str, Any]


def _filtered(query, since: datetime | None, action: str | None):
    if since is not None:
        query = query.where(AuditEntry.occurred_dt >= since)
    if action:
        query = query.where(AuditEntry.action == action)
    return query


def count_entries(db: Session, *, since: datetime | None = None, action: str | None = None) -> int:
    """How many entries match. Raises nothing."""
    return db.scalar(_filtered(select(func.count()).select_from(AuditEntry), since, action)) or 0


def list_entries(db: Session, *, since: datetime | None = None, action: str | None = None,
                 limit: int = 50, offset: int = 0) -> list[EntryRow]:
    """The newest entries first (by place in the chain), from `since` (aware) and of `action`
    when given. Raises nothing."""
    users = Base.metadata.tables.get("users")
    if users is not None:
        query = select(AuditEntry, users.c.display_name).outerjoin(users, users.c.id == AuditEntry.actor_id)
    else:
        query = select(AuditEntry, null())
    query = _filtered(query, since, action).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return [EntryRow(entry.id, entry.occurred_dt, entry.action, entry.actor_id, name, entry.object_type,
                     entry.object_ref, dict(entry.details or {}))
            for entry, name in db.execute(query)]
