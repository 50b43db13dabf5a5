"""Local backups of the laptop's SQLite database: made, listed, checked, restored, rotated and
scrubbed of erased households.

Backups are single SQLite files named `<kind>-<UTC time>.sqlite` in the backup folder
(`BACKUP_DIR`, default `instance/backups`): `auto` (the daily one, rotated), `manual`
(`flask backup create`, kept), `before-restore` (the database as it was before a restore,
kept) and `before-upgrade` (before a schema upgrade, backup/upgrade.py). Every file is
written through SQLite's backup API (files.py), never copied.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from workshops.backup import files
from workshops.core.db import known_revisions, migration_head, open_read_only
from workshops.sync import erasure_ledger

logger = logging.getLogger(__name__)

KINDS = ("auto", "manual", "before-restore", "before-upgrade")
_NAME = re.compile(r"^(auto|manual|before-restore|before-upgrade)-(\d{8}T\d{6}Z)(?:-(\d+))?\.sqlite$")
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says why in plain words."""


@dataclass(frozen=True)
class BackupFile:
    """One backup of the backup folder."""

    path: Path
    kind: str
    taken_dt: datetime
    size: int


@dataclass
class VerifyResult:
    """What `verify_backup` found: SQLite's integrity check, the schema revision, row counts."""

    path: Path
    integrity: list[str] = field(default_factory=list)
    revision: str | None = None
    is_known_revision: bool = False
    row_counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore: what was checked and where the previous database was kept."""

    verified: VerifyResult
    safety_copy: Path | None


def backup_dir(app: Flask) -> Path:
    """The app's backup folder (`BACKUP_DIR`, default `instance/backups`)."""
    configured = app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "backups"


def database_path(engine_or_db_path: Engine | str | Path) -> Path:
    """The SQLite file behind an engine or a path. Raises BackupError on PostgreSQL (a hub is
    backed up with pg_dump, docs/hub.md)."""
    if isinstance(engine_or_db_path, Engine):
        if engine_or_db_path.dialect.name != "sqlite" or not engine_or_db_path.url.database:
            raise BackupError("Only a laptop's SQLite database is backed up here; "
                              "back up a hub's PostgreSQL with pg_dump.")
        return Path(engine_or_db_path.url.database)
    return Path(engine_or_db_path)


def list_backups(folder: Path) -> list[BackupFile]:
    """The backups of a folder, newest first (other files and unfinished `.partial` ignored)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            taken = datetime.strptime(match.group(2), _STAMP).replace(tzinfo=UTC)
            found.append(BackupFile(path, match.group(1), taken, path.stat().st_size))
    return sorted(found, key=lambda backup: (backup.taken_dt, backup.path.name), reverse=True)


def create_backup(engine_or_db_path: Engine | str | Path, backup_dir: Path, now: datetime,
                  kind: str = "manual") -> Path:
    """Back the database up into the folder as `<kind>-<time>.sqlite`; returns the new file.
    The file is complete or absent, even if the computer stops in the middle. Raises
    BackupError when the database cannot be read or the folder written."""
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    source = database_path(engine_or_db_path)
    if not source.is_file():
        raise BackupError(f"There is no database at {source}.")
    backup_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(backup_dir)
    target = _free_name(backup_dir, kind, now)
    try:
        return files.snapshot_to(source, target)
    except (sqlite3.Error, OSError) as error:
        raise BackupError(f"The backup could not be written ({type(error).__name__}: {error}).") \
            from error


def _free_name(folder: Path, kind: str, now: datetime) -> Path:
    base = f"{kind}-{now.astimezone(UTC).strftime(_STAMP)}"
    target, number = folder / f"{base}.sqlite", 1
    while target.exists():
        number += 1
        target = folder / f"{base}-{number}.sqlite"
    return target


def _remove_stale_partials(folder: Path) -> None:
    """Left by a backup the computer interrupted: never a valid backup, removed."""
    for kind in KINDS:
        for partial in folder.glob(f"{kind}-*.sqlite{files.PARTIAL}*"):
            with contextlib.suppress(OSError):
                partial.unlink()


def verify_backup(path: str | Path) -> VerifyResult:
    """Open a backup read-only and check it: `PRAGMA integrity_check` is ok, its schema is at a
    migration this code knows, and count its rows. Never raises on a bad file: the problems are
    in the result."""
    result = VerifyResult(Path(path))
    if not result.path.is_file():
        result.problems.append(f"{result.path} does not exist.")
        return result
    try:
        connection = open_read_only(result.path)
        try:
            _inspect(connection, result)
        finally:
            connection.close()
    except sqlite3.Error as error:
        result.problems.append(f"Not a readable database ({type(error).__name__}: {error}).")
    return result


def _inspect(connection: sqlite3.Connection, result: VerifyResult) -> None:
    result.integrity = [row[0] for row in connection.execute("PRAGMA integrity_check(20)")]
    if result.integrity != ["ok"]:
        result.problems.append("SQLite's integrity check failed: the file is damaged.")
        return
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        result.revision = row[0] if row else None
    result.is_known_revision = result.revision in known_revisions()
    if not result.is_known_revision:
        result.problems.append("The file is not a database of this application "
                               "(or of a newer version of it).")
    for table in tables:
        result.row_counts[table] = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608 (names from sqlite_master)


def restore_backup(path: str | Path, db_path: str | Path, *, backup_dir: Path, now: datetime,
                   work_dir: Path | None = None) -> RestoreResult:
    """Replace the database file with a verified backup, keeping the current file first as a
    `before-restore` backup. Stop the app before (see backup.cli's server lock); migrations,
    the erasure ledger and the journal entry come after, in the app (cli.py).
    Raises BackupError when the backup fails its check (nothing is changed then)."""
    verified = verify_backup(path)
    if not verified.is_ok:
        raise BackupError(" ".join(verified.problems))
    db_path = Path(db_path)
    safety = None
    if db_path.is_file():
        try:
            safety = create_backup(db_path, backup_dir, now, kind="before-restore")
        except BackupError:
            logger.warning("restore: the current database could not be read; replaced without a copy")
    incoming = (work_dir or db_path.parent) / (db_path.name + ".restore" + files.PARTIAL)
    try:
        files.snapshot(Path(path), incoming)
    except (sqlite3.Error, OSError) as error:
        files.remove_database(incoming)
        raise BackupError(f"The backup could not be read ({type(error).__name__}).") from error
    _close_live(db_path)
    files.publish(incoming, db_path)
    return RestoreResult(verified, safety)


def _close_live(db_path: Path) -> None:
    """Fold the live database's WAL into it and remove the side files, so that no old `-wal`
    is ever replayed onto the restored file."""
    if db_path.is_file():
        with contextlib.suppress(sqlite3.Error):
            connection = sqlite3.connect(db_path)
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
    for suffix in files.SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (db_path.parent / (db_path.name + suffix)).unlink()


def due_for_backup(folder: Path, now: datetime, period: timedelta = timedelta(days=1)) -> bool:
    """True when no backup of the folder was taken in the last `period` (backups dated in the
    future, from a clock set wrong once, do not count)."""
    return not any(now - period < backup.taken_dt <= now for backup in list_backups(folder))


def rotate_backups(folder: Path, keep_daily: int, keep_weekly: int) -> list[Path]:
    """Remove the automatic backups beyond the newest of each of the last `keep_daily` days and
    of each of the last `keep_weekly` weeks; returns the removed files. Manual and
    before-restore backups are never removed here."""
    autos = [backup for backup in list_backups(folder) if backup.kind == "auto"]
    days: list[object] = []
    weeks: list[object] = []
    keep = set()
    for backup in autos:
        day = backup.taken_dt.date()
        week = day.isocalendar()[:2]
        if day not in days and len(days) < keep_daily:
            days.append(day)
            keep.add(backup.path)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.append(week)
            keep.add(backup.path)
    removed = [backup.path for backup in autos if backup.path not in keep]
    for path in removed:
        files.remove_database(path)
    if removed:
        files.fsync_folder(folder)
    return removed


def scrub_backups(backup_dir: Path, family_ids: list[uuid.UUID] | set[uuid.UUID],
                  now: datetime | None = None) -> int:
    """Erase the given households from every local backup with the erasure code itself, then
    VACUUM, so no copy keeps their personal data; returns how many files were rewritten.
    A backup this code cannot rewrite (at an older schema, a `before-upgrade` one say, at a
    newer version's, or damaged) is removed if it holds one of the households, otherwise left
    as it is; one that cannot even be read is left as it is (logged). Each file is replaced
    atomically."""
    ids = set(family_ids)
    if not ids:
        return 0
    now = now or datetime.now(UTC)
    head = migration_head()
    rewritten = 0
    for backup in list_backups(backup_dir):
        checked = verify_backup(backup.path)
        if checked.is_ok and checked.revision == head:
            rewritten += _scrub_one(backup.path, ids, now)
            continue
        try:
            holds = _holds_any(backup.path, ids)
        except sqlite3.Error as error:  # one unreadable file does not stop the others
            logger.warning("scrub: backup %s could not be read (%s): left as it is",
                           backup.path.name, type(error).__name__)
            continue
        if holds:
            files.remove_database(backup.path)
            logger.warning("scrub: backup %s, at another schema or damaged, held an erased "
                           "household: removed", backup.path.name)
            rewritten += 1
    return rewritten


def _holds_any(path: Path, ids: set[uuid.UUID]) -> bool:
    """Whether a backup's families table has one of these households (ids stored as hex)."""
    marks = ",".join("?" * len(ids))
    with contextlib.closing(open_read_only(path)) as connection:
        row = connection.execute(f"SELECT 1 FROM families WHERE id IN ({marks}) LIMIT 1",  # noqa: S608
                                 [family_id.hex for family_id in ids]).fetchone()
    return row is not None


def _scrub_one(path: Path, ids: set[uuid.UUID], now: datetime) -> int:
    work = path.with_name(path.name + ".scrub" + files.PARTIAL)
    try:
        files.snapshot(path, work)
        engine = create_engine(f"sqlite:///{work}")
        try:
            erased = _erase_in(engine, ids, now)
        finally:
            engine.dispose()
        if not erased:
            files.remove_database(work)
            return 0
        _vacuum(work)
        files.publish(work, path)
        return 1
    except BaseException:
        files.remove_database(work)
        raise


def _erase_in(engine: Engine, ids: set[uuid.UUID], now: datetime) -> int:
    """Anonymise the households in a private work file (no other writer: a plain transaction,
    committed when the block ends)."""
    with Session(engine) as session, session.begin():
        return erasure_ledger.erase_again(session, dict.fromkeys(ids, now))


def _vacuum(path: Path) -> None:
    """Rebuild the file so that no free page keeps old content; single file again, fsynced."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("VACUUM")
    finally:
        connection.close()
    files.fsync_file(path)


def scrub_after_erasure(app: Flask, family_ids: list[uuid.UUID] | None = None) -> int:
    """After an erasure is committed, take the households out of this laptop's local backups
    too (all those of the erasure ledger when `family_ids` is None); returns how many files were
    rewritten. A hub's PostgreSQL is backed up with pg_dump, outside the app: nothing to do.
    Never raises: the erasure stands, the failure is logged (its type only), and a restore
    re-applies the ledger anyway."""
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        return 0
    ids = family_ids
    if ids is None:
        ledger = erasure_ledger.ledger_path(app.instance_path)
        ids = [family_id for family_id, _ in erasure_ledger.read(ledger)]
    try:
        return scrub_backups(backup_dir(app), ids)
    except Exception as failure:  # noqa: BLE001 - logged, and the ledger covers a restore
        logger.error("scrub of the local backups failed: %s", type(failure).__name__)
        return 0


def remove_expired_backups(folder: Path, now: datetime, days: int, *, dry_run: bool = False) -> int:
    """Remove the manual and before-restore backups older than `days` days (automatic ones are
    rotated when they are made); returns how many."""
    expired = [backup for backup in list_backups(folder)
               if backup.kind != "auto" and backup.taken_dt <= now - timedelta(days=days)]
    if not dry_run:
        for backup in expired:
            files.remove_database(backup.path)
    return len(expired)
