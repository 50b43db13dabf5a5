"""The erasure ledger: which households were erased, and when (ids and times only).

One JSON line per erasure in `instance/erasure-ledger.jsonl`, appended and fsynced before the
erasure commits: a restored backup or a pull of an old snapshot may bring an erased household
back, and `reapply` erases it again (R36). The file outlives the database on purpose (it is
not in it), holds nothing personal (a random id and a UTC time) and is never rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.families.models import Family
from workshops.sync.anonymise_services import anonymise_family
from workshops.sync.purge_services import purge_people_of_purged_families

logger = logging.getLogger(__name__)

FILE_NAME = "erasure-ledger.jsonl"
# Ids per IN query (SQLite's bound on variables is far above).
_CHUNK = 500


def ledger_path(instance_path: str | Path) -> Path:
    """Where this installation's ledger lives."""
    return Path(instance_path) / FILE_NAME


def append(path: str | Path, family_id: uuid.UUID, when: datetime) -> None:
    """Append one erasure to the ledger and fsync it (the folder too, when the file is new).
    Raises OSError when it cannot be written: the erasure must not commit without it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists()
    line = json.dumps(
        {"table": "families", "id": str(family_id), "erased_dt": when.astimezone(UTC).isoformat()},
        sort_keys=True,
    )
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if is_new:
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself is synced
    finally:
        os.close(descriptor)


def read(path: str | Path) -> list[tuple[uuid.UUID, datetime]]:
    """Every erasure of the ledger, in the order written (empty when there is no ledger). A
    damaged line (a crash in the middle of a write) is skipped and logged."""
    path = Path(path)
    if not path.exists():
        return []
    found: list[tuple[uuid.UUID, datetime]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                found.append((uuid.UUID(entry["id"]), datetime.fromisoformat(entry["erased_dt"])))
            except (ValueError, KeyError, TypeError):
                logger.warning("erasure ledger %s: line %d unreadable, skipped", path.name, number)
    return found


def reapply(db: Session, path: str | Path) -> int:
    """Erase again, with the erasure code, every household of the ledger that the database holds
    and that is not purged (after a restore, or a pull that brought an old copy back); returns
    how many. Nothing is appended to the ledger or the journal again. The caller commits."""
    count = erase_again(db, dict(read(path)))
    if count:
        logger.warning("erasure ledger: %d erased households found again and erased", count)
    return count


def erase_again(db: Session, erased: dict[uuid.UUID, datetime]) -> int:
    """Anonymise, with the erasure code, those households (id -> time of the erasure) that the
    database holds not purged, and the people a pull brought back to purged ones; returns how
    many households. The caller commits."""
    ids = list(erased)
    count = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = db.scalars(select(Family).where(Family.id.in_(chunk), Family.is_purged.is_(False)))
        for family in list(found):
            anonymise_family(db, family, erased[family.id])
            count += 1
        # People a pull brought back to a household still purged here.
        purge_people_of_purged_families(db, chunk)
    return count


def reapply_here(db: Session) -> int:
    """`reapply` with this app's ledger (after each pull page); 0 outside an app."""
    if not has_app_context():
        return 0
    return reapply(db, ledger_path(current_app.instance_path))
