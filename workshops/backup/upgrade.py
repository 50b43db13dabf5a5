"""Upgrading the database to the code's migrations without fear (docs/backup.md, "Upgrading").

`flask serve` and `flask upgrade` call `upgrade_database` before anything else. On a laptop,
when the SQLite schema is behind the code's head: a `before-upgrade-<time>.sqlite` backup is
taken (SQLite's backup API) and verified, the migrations run, the result is checked
(`integrity_check`, no new broken reference, the revision is the head, no table lost rows
unless a migration lists it in its `dropped_tables`), and `schema_upgraded` is journaled. When
the migration or the check fails, the backup is restored over the database and checked, and
the report says what to do next in the user's language; the log gets the technical detail
(error types and codes, names of tables and constraints, code locations: never row content;
upgrade_checks.describe).

A database newer than the code (an unknown revision), or with tables but no revision, is
refused: the app never runs on a schema it does not know. A hub's PostgreSQL is backed up by
its administrator with pg_dump: there `flask upgrade` only runs the migrations (one
transaction, undone by PostgreSQL on failure) and `flask serve` refuses an older schema.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from flask import Flask, current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.backup import files, serverlock
from workshops.backup.services import (
    BackupError,
    VerifyResult,
    backup_dir,
    restore_backup,
    verify_backup,
)
from workshops.backup.upgrade_checks import (
    UpgradeCheckFailed,
    broken_references,
    check_upgraded,
    describe,
    dropped_tables,
)
from workshops.backup.upgrade_notice import write_notice
from workshops.core.db import (
    begin_write,
    known_revisions,
    migration_head,
    schema_status,
    sqlite_file,
)
from workshops.core.models import utcnow
from workshops.extensions import db

logger = logging.getLogger(__name__)

KIND = "before-upgrade"
_STAMP = "%Y%m%dT%H%M%SZ"

CURRENT, CREATED, UPGRADED = "current", "created", "upgraded"
RESTORED, RESTORE_FAILED, BACKUP_FAILED = "restored", "restore_failed", "backup_failed"
NEWER, UNKNOWN, BUSY, UNREADABLE = "newer", "unknown", "busy", "unreadable"
HUB_BEHIND, HUB_FAILED = "hub_behind", "hub_failed"
OK_STATUSES = frozenset({CURRENT, CREATED, UPGRADED})


@dataclass
class UpgradeReport:
    """What `upgrade_database` did, and the lines to show (already in the user's language)."""

    status: str
    from_revision: str | None = None
    to_revision: str | None = None
    backup: Path | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def may_serve(self) -> bool:
        """Whether the app may start: a database that cannot even be read is left to the start
        checks (they run it read-only and say how to restore)."""
        return self.ok or self.status == UNREADABLE


def upgrade_database(app: Flask, now: datetime | None = None, *, allow_hub: bool = False,
                     lock_held: bool = False) -> UpgradeReport:
    """Bring the database to the code's migration head safely (see the module's docstring).
    Never raises for a failed upgrade: the report says what happened and what to do.
    `lock_held`: the caller (a restore) holds the server lock on the file already."""
    now = now or utcnow()
    with _app_context(app):
        head = migration_head()
        try:
            current = schema_status(db.engine).current
            has_tables = bool(inspect(db.engine).get_table_names()) if current is None else True
        except SQLAlchemyError as error:
            logger.error("upgrade: the database's version cannot be read (%s)", describe(error))
            return UpgradeReport(UNREADABLE, to_revision=head, lines=[
                _("The database cannot be read: see \"The database is damaged\" in docs/backup.md.")])
        finally:
            _release()
        if current == head:
            return UpgradeReport(CURRENT, head, head, lines=[
                _("The database is up to date (version %(revision)s): nothing to do.", revision=head)])
        if current is not None and current not in known_revisions():
            logger.error("upgrade: the database is at %s, unknown to this code (head %s)", current, head)
            return UpgradeReport(NEWER, current, head, lines=_newer_lines(current))
        if current is None and has_tables:
            logger.error("upgrade: the database has tables but no migration revision")
            return UpgradeReport(UNKNOWN, None, head, lines=_unknown_lines())
        if db.engine.dialect.name != "sqlite":
            return _upgrade_hub(app, current, head, now, allow_hub)
        path = sqlite_file(db.engine)
        if current is None or path is None:
            return _create(app, head, now)
        try:
            with contextlib.nullcontext() if lock_held else serverlock.exclusive(path):
                return _upgrade_laptop(app, path, current, head, now)
        except serverlock.ServerRunning:
            return UpgradeReport(BUSY, current, head, lines=[
                _("The application is already running on this database: stop it (Ctrl+C in its "
                  "window), then try again.")])


def _upgrade_laptop(app: Flask, path: Path, current: str, head: str, now: datetime) -> UpgradeReport:
    folder = backup_dir(app)
    try:
        backup = take_backup(path, folder, now)
        before = verify_backup(backup)
        if before.integrity != ["ok"]:
            logger.error("upgrade from %s: the database fails its integrity check; not upgraded", current)
            files.remove_database(backup)  # a damaged copy must never be mistaken for a way back
            return UpgradeReport(BACKUP_FAILED, current, head, lines=_damaged_lines())
        if not before.is_ok or before.revision != current:
            raise BackupError(f"the new backup fails its check ({len(before.problems)} problems)")
        before_broken = broken_references(backup)
    except (BackupError, sqlite3.Error, OSError) as error:
        logger.error("upgrade from %s: the backup before the upgrade failed (%s)", current, describe(error))
        return UpgradeReport(BACKUP_FAILED, current, head, lines=_backup_failed_lines())
    logger.info("upgrade from %s to %s: backup %s taken", current, head, backup.name)
    try:
        run_migrations(app)
        _release()
        findings = check_upgraded(path, before, before_broken, head, dropped_tables(current, head))
        if findings:
            raise UpgradeCheckFailed("; ".join(findings))
    except BaseException as error:  # whatever failed (even Ctrl+C), the backup goes back in place
        logger.error("upgrade from %s to %s failed: %s", current, head, describe(error))
        report = _put_back(app, path, folder, backup, before, head, now)
        if not isinstance(error, Exception):
            raise
        return report
    _release()
    _journal(current, head, backup, now)
    write_notice(app, head, backup, now)
    forget_older_backups(folder, keep=backup)
    logger.info("upgrade from %s to %s done and checked", current, head)
    return UpgradeReport(UPGRADED, current, head, backup, lines=[
        _("Backed up the database to %(path)s.", path=str(backup)),
        _("Updated the database from version %(old)s to %(new)s.", old=current, new=head),
        _("Checked: the database is sound and no data is missing."),
    ])


def _put_back(app: Flask, path: Path, folder: Path, backup: Path, before: VerifyResult, head: str,
              now: datetime) -> UpgradeReport:
    """Restore the backup over the half-done database, check it, and say what to do."""
    current = before.revision
    _release()
    try:
        result = restore_backup(backup, path, backup_dir=folder, now=now)
        if result.safety_copy is not None:
            files.remove_database(result.safety_copy)  # the failed state: personal data, no use
        restored = verify_backup(path)
        if not restored.is_ok or restored.revision != current or restored.row_counts != before.row_counts:
            raise BackupError("the restored database differs from its backup")
    except Exception as error:  # noqa: BLE001 - the report says how to put the backup back by hand
        logger.critical("upgrade: the backup %s could not be put back (%s)", backup.name, describe(error))
        return UpgradeReport(RESTORE_FAILED, current, head, backup, lines=[
            _("The update of the database failed, and the database could not be put back as it "
              "was by itself. Do not use the application."),
            _("Install the previous version of the application again, then run this command in "
              "its folder:"),
            f'flask backup restore "{backup}" --yes',
            _("Then tell the person who installs the application, with the log of today from "
              "%(logs)s.", logs=str(logs_folder(app))),
        ])
    logger.info("upgrade: the database was put back from %s (version %s)", backup.name, current)
    return UpgradeReport(RESTORED, current, head, backup, lines=[
        _("The update of the database failed. The database was put back as it was: nothing is lost."),
        _("The backup taken before the update is kept in %(path)s.", path=str(backup)),
        _("What to do: start the previous version of the application again (it uses database "
          "version %(revision)s), and tell the person who installs the application, with the log "
          "of today from %(logs)s.", revision=current, logs=str(logs_folder(app))),
    ])


def _create(app: Flask, head: str, now: datetime) -> UpgradeReport:
    """A new installation: nothing to back up, the migrations make the schema."""
    try:
        run_migrations(app)
    except Exception as error:  # noqa: BLE001 - said plainly; the log has the detail
        logger.error("creating the database failed: %s", describe(error))
        return UpgradeReport(BACKUP_FAILED, None, head, lines=[
            _("The database could not be created. Check that the disk has free space, then start "
              "again; if it fails again, tell the person who installs the application.")])
    finally:
        _release()
    _journal(None, head, None, now)
    return UpgradeReport(CREATED, None, head, lines=[
        _("Created the database (version %(revision)s).", revision=head)])


def _upgrade_hub(app: Flask, current: str | None, head: str, now: datetime, allow: bool) -> UpgradeReport:
    """PostgreSQL: its administrator backs it up with pg_dump first; then only the migrations."""
    if not allow:
        return UpgradeReport(HUB_BEHIND, current, head, lines=[
            _("The hub's database is older than this version of the application. Back it up with "
              "pg_dump, then run \"flask upgrade\" (docs/hub.md), then start the application again.")])
    try:
        run_migrations(app)
    except Exception as error:  # noqa: BLE001 - PostgreSQL undid the transaction
        logger.error("upgrade of the hub from %s to %s failed: %s", current, head, describe(error))
        return UpgradeReport(HUB_FAILED, current, head, lines=[
            _("The update of the hub's database failed; PostgreSQL undid it, so nothing was changed."),
            _("Start the previous version of the application again and send the log of today "
              "(%(logs)s) to whoever maintains the application. Restore the pg_dump backup only if "
              "the database seems wrong.", logs=str(logs_folder(app))),
        ])
    finally:
        _release()
    _journal(current, head, None, now)
    return UpgradeReport(UPGRADED, current, head, lines=[
        _("Updated the database from version %(old)s to %(new)s.", old=current or "-", new=head)])


def _newer_lines(revision: str) -> list[str]:
    return [
        _("This database comes from a newer version of the application (database version "
          "%(revision)s): this version cannot use it, so it did not start. Nothing was changed.",
          revision=revision),
        _("Start the newer version again. To use this version instead, restore a backup it "
          "made: \"flask backup list\", then \"flask backup restore PATH\"."),
    ]


def _unknown_lines() -> list[str]:
    return [
        _("This database has no version: it was not made by this application, or its making was "
          "interrupted. It was not changed, and the application did not start."),
        _("Restore a backup (\"flask backup list\", then \"flask backup restore PATH\"), or ask "
          "the person who installs the application."),
    ]


def _damaged_lines() -> list[str]:
    return [
        _("The database is damaged, so it was not updated: nothing was changed."),
        _("Restore the latest backup (\"flask backup list\", then \"flask backup restore PATH\"; "
          "docs/backup.md, \"The database is damaged\"), then start the application again."),
    ]


def _backup_failed_lines() -> list[str]:
    return [
        _("The database could not be backed up before the update, so it was not updated: "
          "nothing was changed."),
        _("Check that the disk has free space, then start the application again. If it fails "
          "again, start the previous version of the application and tell the person who "
          "installs it."),
    ]


# ---------- the steps (module functions, so that tests can make one fail) ----------

def take_backup(path: Path, folder: Path, now: datetime) -> Path:
    """`before-upgrade-<UTC time>.sqlite` in the backup folder, whole or absent."""
    folder.mkdir(parents=True, exist_ok=True)
    for partial in folder.glob(f"{KIND}-*.sqlite{files.PARTIAL}*"):
        with contextlib.suppress(OSError):
            partial.unlink()
    base = f"{KIND}-{now.astimezone(UTC).strftime(_STAMP)}"
    target, number = folder / f"{base}.sqlite", 1
    while target.exists():
        number += 1
        target = folder / f"{base}-{number}.sqlite"
    return files.snapshot_to(path, target)


def run_migrations(app: Flask) -> None:
    """Alembic's upgrade to the head, with the app's engine (migrations/env.py: one
    transaction; foreign keys checked before it commits). Raises on any failure."""
    config = app.extensions["migrate"].migrate.get_config()
    command.upgrade(config, "head")


def forget_older_backups(folder: Path, keep: Path) -> int:
    """After a successful upgrade, the before-upgrade backups of earlier upgrades go."""
    removed = 0
    for path in folder.glob(f"{KIND}-*.sqlite"):
        if path != keep:
            files.remove_database(path)
            removed += 1
    return removed


def logs_folder(app: Flask) -> Path:
    return Path(app.instance_path) / "logs"


def _app_context(app: Flask):
    """The running app context when it is this app's (so that `_release` closes its session
    too), else a new one."""
    if has_app_context() and current_app._get_current_object() is app:
        return contextlib.nullcontext()
    return app.app_context()


def _release() -> None:
    """No connection of the app may stay open on a file about to be replaced."""
    db.session.remove()
    db.engine.dispose()


def _journal(old: str | None, head: str, backup: Path | None, now: datetime) -> None:
    """`schema_upgraded` in the journal; logged (not raised) if it cannot be written."""
    details = {"from_revision": old, "to_revision": head, "backup": backup.name if backup else None}
    try:
        with Session(db.engine) as session:
            begin_write(session)
            record(session, "schema_upgraded", object_type="database", object_ref=head,
                   details=details, now=now)
            session.commit()
    except Exception as error:  # noqa: BLE001 - the upgrade stands; the log says it
        logger.warning("upgrade: journal entry not written (%s)", type(error).__name__)
