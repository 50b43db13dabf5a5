"""Retention (R37): households inactive for RETENTION_MONTHS are anonymised by the erasure code,
log files older than LOG_RETENTION_DAYS are removed, and one count-only journal entry says so.

A household's last activity is the latest of: its own and its people's last change
(`updated_dt`), the date of the ateliers it was registered to, its handovers, counting those of
the households merged into it (directly or through a chain of merges), which are erased with it.
Runs offline, daily (`run_daily_retention`), or by hand (`flask privacy purge [--dry-run]`); the
daily job is privacy/jobs.py.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.backup.services import remove_expired_backups
from workshops.core import logs
from workshops.equipment.models import Handover
from workshops.families.merge_queries import root_households
from workshops.families.models import Child, Family, Guardian, Registration
from workshops.scheduling.models import Workshop
from workshops.sync.erasure_services import erase_family


@dataclass
class RetentionResult:
    families: int = 0
    log_files: int = 0
    backups: int = 0


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a shorter month)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def last_activity(db: Session) -> dict[uuid.UUID, datetime]:
    """The last activity of every live household not merged into another (see the module)."""
    latest: dict[uuid.UUID, datetime] = dict(
        db.execute(
            select(Family.id, Family.updated_dt).where(
                Family.is_purged.is_(False), Family.merged_into_id.is_(None)
            )
        ).all()
    )
    queries = [
        select(model.family_id, func.max(model.updated_dt)).group_by(model.family_id)
        for model in (Guardian, Child)
    ]
    queries.append(
        select(Registration.family_id, func.max(Workshop.start_dt))
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .group_by(Registration.family_id)
    )
    queries.append(select(Handover.family_id, func.max(Handover.handed_dt)).group_by(Handover.family_id))
    # Rows left on a merged-away household (its handovers, a person it shared) count for the
    # household it ends up merged into, through chains of merges.
    roots = root_households(db)
    for query in queries:
        for family_id, moment in db.execute(query):
            root = roots.get(family_id)
            if root in latest and moment is not None and moment > latest[root]:
                latest[root] = moment
    return latest


def inactive_families(db: Session, now: datetime, months: int) -> list[uuid.UUID]:
    """Households whose last activity is older than `months` months before `now`."""
    limit = months_before(now, months)
    return sorted(family_id for family_id, moment in last_activity(db).items() if moment < limit)


def purge_inactive(db: Session, now: datetime, months: int, *, dry_run: bool = False) -> int:
    """Anonymise (erase_family) every inactive household; returns how many (counted only when
    `dry_run`). The caller commits."""
    ids = inactive_families(db, now, months)
    if dry_run:
        return len(ids)
    for family_id in ids:
        erase_family(db, db.get(Family, family_id), None, now)
    return len(ids)


def old_log_files(directory: Path, now: datetime, days: int) -> list[Path]:
    """Log files of days older than `days` days before `now`."""
    limit = now - timedelta(days=days)
    return [path for path, day in logs.log_files(directory) if day + timedelta(days=1) <= limit]


def purge(
    db: Session, now: datetime, months: int, log_directory: Path, log_days: int, *, dry_run: bool = False,
    backup_directory: Path | None = None, backup_days: int = 0,
) -> RetentionResult:
    """The retention run: households, then log files, then manual backups past `backup_days`,
    then one journal entry with the counts (none for a dry run). The caller commits."""
    result = RetentionResult(purge_inactive(db, now, months, dry_run=dry_run))
    old = old_log_files(log_directory, now, log_days)
    result.log_files = len(old)
    if backup_directory is not None:
        result.backups = remove_expired_backups(backup_directory, now, backup_days, dry_run=dry_run)
    if dry_run:
        return result
    for path in old:
        path.unlink(missing_ok=True)
    record(db, "retention_purge", details={"families": result.families, "log_files": result.log_files,
                                           "backups": result.backups}, now=now)
    return result
