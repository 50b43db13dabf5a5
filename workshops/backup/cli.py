"""`flask backup ...`: make, list, check, export and restore backups of the laptop's database;
`flask upgrade`: bring the database to this version's schema safely (upgrade.py)."""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _

from workshops.audit.services import record
from workshops.backup import export, serverlock, services
from workshops.backup import files as backup_files
from workshops.backup import upgrade as safe_upgrade
from workshops.core.db import begin_write, migration_head
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.sync import erasure_ledger

logger = logging.getLogger(__name__)

backup = AppGroup("backup", help="Backups of this laptop's database (docs/backup.md).")

# Tables whose counts `verify` prints first (every other table follows).
MAIN_TABLES = ("users", "families", "guardians", "children", "workshops", "registrations",
               "equipment", "handovers", "audit_entries")


def _folder() -> Path:
    return services.backup_dir(current_app)


def _database() -> Path:
    try:
        return services.database_path(db.engine)
    except services.BackupError as error:
        raise click.ClickException(str(error)) from error


def _passphrase(passphrase_file: Path | None, confirm: bool) -> str:
    """From the file's first line, else asked for (twice when making an export)."""
    if passphrase_file is not None:
        lines = passphrase_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)


def _journal(action: str, **fields) -> None:
    begin_write(db.session)
    record(db.session, action, now=utcnow(), **fields)
    db.session.commit()


@backup.command("create")
def create_command() -> None:
    """Back the database up now into the backup folder (kept BACKUP_RETENTION_DAYS days, 90 by
    default, then removed by the daily retention run)."""
    try:
        path = services.create_backup(db.engine, _folder(), utcnow(), kind="manual")
    except services.BackupError as error:
        raise click.ClickException(str(error)) from error
    _journal("backup_created", object_type="backup", object_ref=path.name, details={"kind": "manual"})
    click.echo(f"Backup written: {path}")


@backup.command("list")
def list_command() -> None:
    """List the backups of the backup folder, newest first."""
    found = services.list_backups(_folder())
    if not found:
        click.echo(f"No backup in {_folder()}.")
    for item in found:
        size = f"{item.size / 1e6:8.1f} MB"
        click.echo(f"{item.taken_dt:%Y-%m-%d %H:%M} UTC  {item.kind:<14} {size}  {item.path}")


@contextlib.contextmanager
def _plain(path: Path, passphrase_file: Path | None):
    """The backup as a plain SQLite file: itself, or decrypted beside the backups (removed
    afterwards). Raises ClickException on a wrong passphrase or a damaged export."""
    if not path.is_file() or not export.is_encrypted(path):
        yield path
        return
    passphrase = _passphrase(passphrase_file, confirm=False)
    _folder().mkdir(parents=True, exist_ok=True)
    plain = _folder() / f"incoming-{secrets.token_hex(6)}.decrypted"
    try:
        try:
            export.decrypt_file(path, plain, passphrase)
        except export.ExportError as error:
            raise click.ClickException(str(error)) from error
        yield plain
    finally:
        backup_files.remove_database(plain)


@backup.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For an exported (encrypted) backup: a file whose first line is the passphrase.")
def verify_command(path: Path, passphrase_file: Path | None) -> None:
    """Check a backup: SQLite's integrity check, its schema version, its row counts."""
    with _plain(path, passphrase_file) as plain:
        result = services.verify_backup(plain)
    click.echo(f"Integrity check: {'ok' if result.integrity == ['ok'] else 'FAILED'}")
    if result.revision:
        state = "current" if result.revision == migration_head() else "older, upgraded on restore"
        click.echo(f"Schema revision: {result.revision} ({state if result.is_known_revision else 'unknown'})")
    ordered = [t for t in MAIN_TABLES if t in result.row_counts]
    ordered += sorted(set(result.row_counts) - set(ordered))
    for table in ordered:
        click.echo(f"  {table:<24} {result.row_counts[table]:>8}")
    if not result.is_ok:
        raise click.ClickException(" ".join(result.problems))
    click.echo("The backup can be restored.")


@backup.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For an exported (encrypted) backup: a file whose first line is the passphrase.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: Path, passphrase_file: Path | None, yes: bool) -> None:
    """Replace the database with a backup (local or exported). Stop the app first. The current
    database is kept as a before-restore backup; an older backup is upgraded as `flask upgrade`
    does (if that fails, the database is put back as it was, exit code 1); erased households
    are erased again."""
    database = _database()
    if not yes:
        click.confirm(f"Replace the database {database} with {path.name}? "
                      "The current one is kept in the backup folder.", abort=True)
    db.session.remove()
    db.engine.dispose()
    with _plain(path, passphrase_file) as plain:
        try:
            with serverlock.exclusive(database):
                result = services.restore_backup(plain, database, backup_dir=_folder(), now=utcnow())
                db.engine.dispose()
                failure = None
                if result.verified.revision != migration_head():
                    failure = _upgrade_restored(database, result)
        except serverlock.ServerRunning as error:
            raise click.ClickException("The app is running on this database: stop it (Ctrl+C in its "
                                       "window), then run this command again.") from error
        except services.BackupError as error:
            raise click.ClickException(f"{error} Nothing was changed.") from error
    if failure is not None:
        for line in failure:
            click.echo(line, err=True)
        raise click.exceptions.Exit(1)
    _after_restore(path, result)


def _upgrade_restored(database: Path, result: services.RestoreResult) -> list[str] | None:
    """A backup made by an older version: the safe upgrade (upgrade.py) brings it to this
    version's schema, which the erasure ledger's code needs. None when it did; else the
    database from before the restore goes back in place (a restore is all or nothing: never
    an old database whose erased households were not erased again) and the lines to show."""
    app = current_app._get_current_object()
    report = safe_upgrade.upgrade_database(app, lock_held=True)
    if report.ok:
        return None
    if report.backup is not None:  # a copy of the backup being restored, which stays where it is
        backup_files.remove_database(report.backup)
    logger.error("restore: the backup (version %s) could not be updated (%s); not restored",
                 result.verified.revision, report.status)
    lines = [_("This backup comes from an older version of the application (database version "
               "%(revision)s) and could not be updated to this version, so it was not restored.",
               revision=result.verified.revision)]
    lines += _put_back_before_restore(database, result.safety_copy)
    lines.append(_("What to do: go on with the application as it is, or restore this backup with the "
                   "version of the application that made it. Tell the person who installs the "
                   "application, with the log of today from %(logs)s.",
                   logs=str(safe_upgrade.logs_folder(app))))
    return lines


def _put_back_before_restore(database: Path, safety: Path | None) -> list[str]:
    """The `before-restore` copy back in place, checked; the lines that say how it went."""
    if safety is None:  # nothing readable was there before: the restored copy goes
        backup_files.remove_database(database)
        return [_("There was no readable database before the restore: the restored copy was removed.")]
    try:
        before = services.verify_backup(safety)
        again = services.restore_backup(safety, database, backup_dir=_folder(), now=utcnow())
        if again.safety_copy is not None:  # the failed state: the old backup's data, no use
            backup_files.remove_database(again.safety_copy)
        back = services.verify_backup(database)
        if not back.is_ok or (back.revision, back.row_counts) != (before.revision, before.row_counts):
            raise services.BackupError("the database put back differs from its copy")
    except (services.BackupError, sqlite3.Error, OSError) as error:
        logger.critical("restore: the before-restore copy %s could not be put back (%s)",
                        safety.name, type(error).__name__)
        return [_("The database could not be put back as it was before the restore. Do not use the "
                  "application: put it back with this command, then tell the person who installs "
                  "the application:"),
                f'flask backup restore "{safety}" --yes']
    finally:
        db.session.remove()
        db.engine.dispose()
    return [_("The database was put back as it was before the restore: nothing is lost.")]


def _after_restore(path: Path, result: services.RestoreResult) -> None:
    """Erase again what the ledger lists, journal the restore, say what happened."""
    begin_write(db.session)
    erased = erasure_ledger.reapply(db.session, erasure_ledger.ledger_path(current_app.instance_path))
    # No file name in the journal: an exported file's name was typed by someone.
    record(db.session, "backup_restored", object_type="backup", now=utcnow(),
           details={"erased_again": erased,
                    "families": result.verified.row_counts.get("families", 0)})
    db.session.commit()
    if erased:  # an older backup's copies (before-upgrade) must not keep them either
        services.scrub_after_erasure(current_app._get_current_object())
    click.echo(f"Restored from {path}.")
    if result.safety_copy:
        click.echo(f"The database as it was before is kept in {result.safety_copy}.")
    if erased:
        click.echo(f"{erased} households erased since that backup were erased again.")


@backup.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the encrypted backup (a USB stick, say).")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file whose first line is the passphrase (else it is asked for).")
def export_command(out: Path, passphrase_file: Path | None) -> None:
    """Write an encrypted backup to take away; only its passphrase opens it again."""
    passphrase = _passphrase(passphrase_file, confirm=True)
    try:
        export.check_passphrase(passphrase)
    except export.ExportError as error:
        raise click.ClickException(str(error)) from error
    _folder().mkdir(parents=True, exist_ok=True)
    plain = _folder() / f"export-{secrets.token_hex(6)}.snapshot"
    try:
        backup_files.snapshot(_database(), plain)
        export.encrypt_file(plain, out, passphrase)
    finally:
        backup_files.remove_database(plain)
    _journal("export", object_type="backup", details={"encrypted": 1})
    click.echo(f"Encrypted backup written: {out}. Keep the passphrase apart from the stick.")


@click.command("upgrade")
@click.option("--yes", is_flag=True,
              help="Hub: do not ask whether the database was backed up with pg_dump first.")
@with_appcontext
def upgrade_command(yes: bool) -> None:
    """Bring the database to this version of the app: a laptop's is backed up, migrated and
    checked, and put back as it was if anything fails (exit code 1 then). A hub's PostgreSQL
    is backed up with pg_dump by its administrator first (docs/backup.md, "Upgrading")."""
    app = current_app._get_current_object()
    if db.engine.dialect.name != "sqlite" and not yes:
        click.confirm(_("The application does not back up a hub's PostgreSQL database. Did you "
                        "back it up with pg_dump (docs/hub.md)?"), abort=True)
    report = safe_upgrade.upgrade_database(app, allow_hub=True)
    for line in report.lines:
        click.echo(line, err=not report.ok)
    if not report.ok:
        raise click.exceptions.Exit(1)
