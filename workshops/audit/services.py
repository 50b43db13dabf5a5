"""Appending to the audit journal, inside the caller's transaction (all or nothing with the
action it records).

`record` never takes a name, phone, e-mail or free text: `object_ref` is an id (or a keyed
hash, `pseudonym`), `details` holds codes and counts. Entries are numbered and chained under a
lock (PostgreSQL: a transaction advisory lock; SQLite: writes are already serialised by
BEGIN IMMEDIATE), so two writers never fork the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workshops.audit.models import GENESIS_HASH, AuditEntry
from workshops.core.models import utcnow

# The actions the journal records (issue 8, R41). Add new ones here, never rename one.
ACTIONS = frozenset({
    "login", "login_failed", "login_throttled", "logout", "password_changed", "sessions_ended",
    "totp_enrolled", "totp_failed", "totp_reset",
    "user_created", "role_changed", "user_deactivated", "user_reactivated", "settings_changed",
    "export", "import", "erasure", "retention_purge", "family_export",
    "sync_push", "sync_pull", "sync_device_paired", "sync_device_revoked",
    "backup_created", "backup_restored", "backup_removed", "integrity_failed",
    "disk_unencrypted",
})
# The advisory lock key of the chain on PostgreSQL (any constant shared by every writer).
_PG_LOCK_KEY = 0x6A75646974  # "judit"


def entry_hash(entry_id: int, occurred: datetime, action: str, actor_id: uuid.UUID | None,
               object_type: str, object_ref: str, details: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of an entry's content and the previous entry's hash (canonical JSON)."""
    content = json.dumps([entry_id, occurred.isoformat(), action, str(actor_id) if actor_id else None,
                          object_type, object_ref, details, prev_hash],
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def pseudonym(secret: str, value: str) -> str:
    """A keyed hash standing for a value that must not be written in clear (a login name typed
    at a failed login may be anything, even a family's name)."""
    return hmac.new(secret.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def record(db: Session, action: str, *, actor_id: uuid.UUID | None = None, object_type: str = "",
           object_ref: str = "", details: dict[str, Any] | None = None,
           now: datetime | None = None) -> AuditEntry:
    """Append one entry; it is written when the caller's transaction commits."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    db.flush()
    last = db.execute(select(AuditEntry.id, AuditEntry.entry_hash)
                      .order_by(AuditEntry.id.desc()).limit(1)).first()
    entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    occurred = (now or utcnow()).replace(microsecond=0)
    details = dict(details or {})
    entry = AuditEntry(id=entry_id, occurred_dt=occurred, action=action, actor_id=actor_id,
                       object_type=object_type, object_ref=object_ref, details=details,
                       prev_hash=prev_hash,
                       entry_hash=entry_hash(entry_id, occurred, action, actor_id, object_type,
                                             object_ref, details, prev_hash))
    db.add(entry)
    db.flush()
    return entry
