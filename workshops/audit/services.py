"""Appending to the audit journal, inside the caller's transaction (all or nothing with the
action it records), and checking its chain.

`record` never takes a name, phone, e-mail or free text: `object_ref` is an id (or a keyed
hash, `pseudonym`), `details` holds codes and counts. Entries are numbered and chained under a
lock, so two writers never fork the chain: on PostgreSQL a transaction advisory lock taken
before the last entry is read; on SQLite the write lock (BEGIN IMMEDIATE when `record` opens
the transaction, else the first write of the caller's transaction). The entry's id is the
primary key, so a writer that read a stale last entry fails instead of forking.

What `record` accepts (checked, ValueError otherwise), so that personal data stays out:
- `object_type`: a code (lowercase letters, digits, "_"; starts with a letter; at most 40);
- `object_ref` and text values of `details`: at most 64 characters among letters, digits and
  `_ . : -` (no space, "@" or "+", so no name with a space, no e-mail, no "+33..."), and no
  run of 9 or more digits once ". -" are taken out (a phone number), unless the value is a UUID
  or a hexadecimal hash (32 to 64 characters);
- `details`: at most 20 keys, each a code; values are such texts, integers, booleans or None
  (no float, list or nested dict: counts are integers).
A lowercase single word (a surname typed as a code) cannot be told from a code: callers pass
codes they chose, never what a user typed (`pseudonym` for that).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, scoped_session

from workshops.audit.models import GENESIS_HASH, AuditEntry
from workshops.core.db import begin_write
from workshops.core.models import utcnow

# The actions the journal records (issue 8, R41). Add new ones here, never rename one.
ACTIONS = frozenset({
    "login", "login_failed", "login_throttled", "logout", "password_changed", "sessions_ended",
    "totp_enrolled", "totp_failed", "totp_reset",
    "user_created", "role_changed", "user_deactivated", "user_reactivated", "settings_changed",
    "export", "import", "erasure", "retention_purge", "family_export",
    "sync_push", "sync_pull", "sync_device_paired", "sync_device_revoked",
    "backup_created", "backup_restored", "backup_removed", "integrity_failed", "schema_upgraded",
    "disk_unencrypted", "consent_changed",
})
# The advisory lock key of the chain on PostgreSQL (any constant shared by every writer).
_PG_LOCK_KEY = 0x6A75646974  # "judit"

MAX_DETAILS = 20
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_REF = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_HEX_HASH = re.compile(r"[0-9a-f]{32,64}")
_PHONE_LIKE = re.compile(r"\d{9,}")


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


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _check_ref(value: str, what: str) -> None:
    if not _REF.fullmatch(value):
        raise ValueError(f"audit {what} must be an id or a code, not free text")
    if _is_uuid(value) or _HEX_HASH.fullmatch(value):
        return
    if _PHONE_LIKE.search(re.sub(r"[.-]", "", value)):
        raise ValueError(f"audit {what} looks like a phone number")


def check_fields(object_type: str, object_ref: str, details: dict[str, Any]) -> None:
    """Refuse what may carry personal data (see the module's docstring). Raises ValueError."""
    if object_type and not _CODE.fullmatch(object_type):
        raise ValueError("audit object_type must be a code")
    if object_ref:
        _check_ref(object_ref, "object_ref")
    if len(details) > MAX_DETAILS:
        raise ValueError("audit details hold a few codes and counts")
    for key, value in details.items():
        if not isinstance(key, str) or not _CODE.fullmatch(key):
            raise ValueError(f"audit details key {key!r} must be a code")
        if isinstance(value, str):
            _check_ref(value, f"details[{key!r}]")
        elif value is not None and not isinstance(value, bool | int):
            raise ValueError(f"audit details[{key!r}] must be a code, a count, a flag or None")


@dataclass(frozen=True)
class NewEntry:
    """One entry to append (record_many): the same fields as `record` takes."""

    action: str
    actor_id: uuid.UUID | None = None
    object_type: str = ""
    object_ref: str = ""
    details: dict[str, Any] | None = None


def record(db: Session, action: str, *, actor_id: uuid.UUID | None = None, object_type: str = "",
           object_ref: str = "", details: dict[str, Any] | None = None,
           now: datetime | None = None) -> AuditEntry:
    """Append one entry; it is written when the caller's transaction commits.

    Raises ValueError for an unknown action, a naive `now` or a field that may carry personal
    data (check_fields). Call it at the end of the unit of work it records: the chain stays
    locked until the caller's transaction ends (keep that short).
    """
    return record_many(db, [NewEntry(action, actor_id, object_type, object_ref, details)], now=now)[0]


def record_many(db: Session, entries: list[NewEntry], *, now: datetime | None = None) -> list[AuditEntry]:
    """Append entries in this order, chained, with one read of the chain's end and one flush
    (an import journals one entry per consent of hundreds of households). Checks every entry
    before writing any; raises ValueError as `record`."""
    for new in entries:
        if new.action not in ACTIONS:
            raise ValueError(f"unknown audit action {new.action!r}")
        if new.actor_id is not None and not isinstance(new.actor_id, uuid.UUID):
            raise ValueError("audit actor_id must be a UUID")
        check_fields(new.object_type, new.object_ref, dict(new.details or {}))
    if now is not None and now.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    if not entries:
        return []
    # The hash is computed on what the database hands back: UTC, whole seconds.
    occurred = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    if not (db() if isinstance(db, scoped_session) else db).in_transaction():
        begin_write(db)  # SQLite: BEGIN IMMEDIATE, so the read below is already locked
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    db.flush()
    last = db.execute(select(AuditEntry.id, AuditEntry.entry_hash)
                      .order_by(AuditEntry.id.desc()).limit(1)).first()
    entry_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    written = []
    for new in entries:
        entry_id += 1
        details = dict(new.details or {})
        entry = AuditEntry(id=entry_id, occurred_dt=occurred, action=new.action, actor_id=new.actor_id,
                           object_type=new.object_type, object_ref=new.object_ref, details=details,
                           prev_hash=prev_hash,
                           entry_hash=entry_hash(entry_id, occurred, new.action, new.actor_id,
                                                 new.object_type, new.object_ref, details, prev_hash))
        prev_hash = entry.entry_hash
        written.append(entry)
    db.add_all(written)
    db.flush()
    return written


# ---------- Checking the chain ----------

@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verify_chain: ok with the number of entries, or the first broken entry."""

    ok: bool
    count: int
    broken_id: int | None = None
    reason: str | None = None  # "missing", "changed" or "relinked"
    last_hash: str = GENESIS_HASH

    def describe(self) -> str:
        """The outcome in plain words (English, for the command line and logs)."""
        if self.ok:
            return f"The audit journal is intact: {self.count} entries, last hash {self.last_hash}."
        what = {"missing": "entry {id} is missing (removed)",
                "changed": "entry {id} was changed after it was written",
                "relinked": "entry {id} does not link to the entry before it (one of them was rewritten)"}
        return (f"The audit journal is broken: {what[self.reason].format(id=self.broken_id)}. "
                f"{self.count} entries before it are intact.")


_COLUMNS = (AuditEntry.id, AuditEntry.occurred_dt, AuditEntry.action, AuditEntry.actor_id,
            AuditEntry.object_type, AuditEntry.object_ref, AuditEntry.details, AuditEntry.prev_hash,
            AuditEntry.entry_hash)


def verify_chain(db: Session) -> VerifyResult:
    """Walk the journal in order: every id follows the previous one, links to its hash, and
    hashes to what it holds. Raises nothing on a broken chain (says where).

    Removing the newest entries cannot be seen from the chain alone: compare the count and
    last hash with an earlier run (`flask audit verify` prints them)."""
    count, prev_hash = 0, GENESIS_HASH
    rows = db.execute(select(*_COLUMNS).order_by(AuditEntry.id).execution_options(yield_per=500))
    try:
        for entry in rows:
            if entry.id != count + 1:
                return VerifyResult(False, count, count + 1, "missing", prev_hash)
            if entry.prev_hash != prev_hash:
                return VerifyResult(False, count, entry.id, "relinked", prev_hash)
            expected = entry_hash(entry.id, entry.occurred_dt, entry.action, entry.actor_id,
                                  entry.object_type, entry.object_ref, entry.details, entry.prev_hash)
            if entry.entry_hash != expected:
                return VerifyResult(False, count, entry.id, "changed", prev_hash)
            count, prev_hash = count + 1, entry.entry_hash
    finally:
        rows.close()
    return VerifyResult(True, count, last_hash=prev_hash)
