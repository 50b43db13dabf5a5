"""Erasing a household at its request or at the end of its retention (R35, R36, R37).

`erase_family` anonymises the household in the caller's transaction (anonymise_services: the
same code the ledger re-applies), writes the erasure to the ledger (fsynced before the caller
commits: if the commit then fails, the next pull or restore erases it anyway, never the other
way round) and appends one journal entry holding the family's id and counts only. The pages freed by the wipe
are zeroed: every SQLite connection has `secure_delete` on (core/db.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.families.models import Family
from workshops.sync import erasure_ledger
from workshops.sync.anonymise_services import ErasureCount, anonymise_family

__all__ = ["ErasureCount", "erase_family"]


class AlreadyErased(ValueError):
    """The household was erased already: nothing left to erase."""


def instance_ledger() -> Path | None:
    """This app's ledger file, or None outside an app (scripts that pass their own)."""
    return erasure_ledger.ledger_path(current_app.instance_path) if has_app_context() else None


def erase_family(
    db: Session, family: Family, actor_id: uuid.UUID | None, now: datetime, ledger: Path | None = None
) -> ErasureCount:
    """Anonymise the household, record it in the ledger and the journal; returns the counts.
    Raises AlreadyErased for a purged household, OSError when the ledger cannot be written
    (nothing is erased then: the caller rolls back). The caller commits."""
    if family.is_purged:
        raise AlreadyErased(str(family.id))
    count = anonymise_family(db, family, now)
    ledger = ledger or instance_ledger()
    if ledger is not None:
        # Every household of it: a backup taken before a merge holds them apart.
        for family_id in count.family_ids:
            erasure_ledger.append(ledger, family_id, now)
    record(
        db,
        "erasure",
        actor_id=actor_id,
        object_type="family",
        object_ref=str(family.id),
        details=count.as_details(),
        now=now,
    )
    return count
