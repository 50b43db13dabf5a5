"""What the laptop checks when it starts, and the daily backup.

`flask serve` first brings the database to the code's migrations (upgrade.py: a verified
backup, the migrations, a check, the backup put back on failure) and refuses to serve a schema
it does not know; the next administrator's page says once that it happened. When the app
starts (`flask serve`, or else its first request): SQLite's `quick_check` on the database; on a
finding the app runs read-only (every write request gets the recovery steps, with a 503) and a
banner says so (R46). Then whether the disk is encrypted (R49): a banner for staff when it is
not (or cannot be told). Then, and on the first request after a day passed, an automatic
backup in a background thread (a request never waits for it), followed by the rotation of the
automatic backups. Apart from an upgrade that failed, nothing here ever stops the app: a
check that fails is logged (without personal data) and shown.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.backup import cli as backup_cli
from workshops.backup import diskcheck, serverlock, upgrade, upgrade_notice
from workshops.backup.services import (
    BackupError,
    backup_dir,
    create_backup,
    due_for_backup,
    list_backups,
    rotate_backups,
)
from workshops.core.db import READ_ONLY, SAFE_METHODS, begin_write, quick_check, sqlite_file
from workshops.core.i18n import format_datetime
from workshops.core.models import utcnow
from workshops.extensions import db

logger = logging.getLogger(__name__)

DISK_STATUS = "workshops_disk_status"
_STARTED = "workshops_started"
# The upgrade notice not yet shown to an administrator (None: none; absent: not read yet).
_NOTICE = "workshops_upgrade_notice"
_BACKUP = "workshops_backup"
_LOCK = threading.Lock()
# The (UTC) day the daily jobs last ran in this process.
_JOBS_DAY = "workshops_daily_jobs_day"
# Requests a read-only app still serves: they write nothing in the database.
READ_ONLY_ALLOWED = {"core.language"}
BACKUP_PERIOD = timedelta(days=1)
RETRY_AFTER_FAILURE = timedelta(hours=1)


def enabled(app: Flask, key: str) -> bool:
    """A switch of the config; unset (None) means on for a laptop, off for a hub and tests."""
    value = app.config.get(key)
    if value is None:
        return app.config["ROLE"] == "laptop" and not app.config.get("TESTING")
    return bool(value)


def run_start_checks(app: Flask) -> list[str]:
    """Run the start checks once for this app; returns what `flask serve` prints."""
    with _LOCK:
        if _STARTED in app.extensions:
            return app.extensions[_STARTED]
        problems = _integrity(app) + _disk(app)
        app.extensions[_STARTED] = problems
    return problems


def _integrity(app: Flask) -> list[str]:
    path = sqlite_file(db.engine)
    if path is None or not app.config.get("INTEGRITY_CHECK", True) or not path.is_file():
        return []
    findings = quick_check(path)
    if not findings:
        return []
    app.extensions[READ_ONLY] = True
    logger.error("database quick_check failed (%d findings): the app runs read-only", len(findings))
    try_record(app, [("integrity_failed", {"details": {"findings": len(findings)}})])
    return [f"The database is damaged: the app runs read-only. {restore_hint(app)}"]


def _disk(app: Flask) -> list[str]:
    if not enabled(app, "DISK_CHECK"):
        return []
    status = diskcheck.disk_encryption(Path(app.instance_path))
    app.extensions[DISK_STATUS] = status
    if status == diskcheck.UNENCRYPTED:
        try_record(app, [("disk_unencrypted", {})])
        return ["The disk holding the data is not encrypted: turn on full-disk encryption."]
    if status == diskcheck.UNKNOWN:
        return ["Could not tell whether the disk holding the data is encrypted: make sure it is."]
    return []


def try_record(app: Flask, entries: list[tuple[str, dict]], now: datetime | None = None) -> bool:
    """Append journal entries in their own transaction; on any failure (a damaged database)
    log the failure's type and carry on. Returns whether they were written."""
    try:
        with app.app_context(), Session(db.engine) as session:
            begin_write(session)
            for action, fields in entries:
                record(session, action, now=now, **fields)
            session.commit()
    except Exception as error:  # never stop the app for its journal
        logger.warning("journal entry %s not written (%s)", entries[0][0], type(error).__name__)
        return False
    return True


def restore_hint(app: Flask) -> str:
    """The command that restores the newest local backup (for people and the console)."""
    return f"Stop the app, then run: {restore_command(app)}"


def restore_command(app: Flask) -> str:
    newest = list_backups(backup_dir(app))
    target = str(newest[0].path) if newest else "PATH-OF-A-BACKUP"
    return f'flask backup restore "{target}"'


# ---------- the daily backup ----------

def maybe_start_backup(app: Flask, now: datetime) -> threading.Thread | None:
    """Start the automatic backup in a thread when none was taken in the last day; returns the
    thread (None when nothing was due). Cheap when not due: one look at a time in memory."""
    state = app.extensions.setdefault(_BACKUP, {"next_check": None, "thread": None, "failed_dt": None})
    if state["next_check"] is not None and now < state["next_check"]:
        return None
    with _LOCK:
        if state["thread"] is not None and state["thread"].is_alive():
            return None
        folder = backup_dir(app)
        if not due_for_backup(folder, now, BACKUP_PERIOD):
            taken = [backup.taken_dt for backup in list_backups(folder) if backup.taken_dt <= now]
            state["next_check"] = min(max(taken) + BACKUP_PERIOD, _next_day(now))
            if not _jobs_due(app, now):
                return None
            # A manual backup today does not put the daily jobs off.
            thread = threading.Thread(target=run_daily_jobs_once, args=(app, now), daemon=True,
                                      name="workshops-daily-jobs")
            state["thread"] = thread
            thread.start()
            return thread
        state["next_check"] = now + RETRY_AFTER_FAILURE  # until the thread says otherwise
        thread = threading.Thread(target=run_daily_backup, args=(app, now), daemon=True,
                                  name="workshops-daily-backup")
        state["thread"] = thread
        thread.start()
    return thread


def run_daily_backup(app: Flask, now: datetime) -> Path | None:
    """Take the automatic backup, check it, then rotate; journal both. Returns the new file,
    None on failure (logged, shown to admins, tried again an hour later)."""
    state = app.extensions.setdefault(_BACKUP, {"next_check": None, "thread": None, "failed_dt": None})
    folder = backup_dir(app)
    run_daily_jobs_once(app, now)
    try:
        with app.app_context():
            path = create_backup(db.engine, folder, now, kind="auto")
        if quick_check(path):
            # Never rotate good backups away for a damaged one.
            raise BackupError("the new backup fails its check")
        removed = rotate_backups(folder, app.config["BACKUP_KEEP_DAILY"], app.config["BACKUP_KEEP_WEEKLY"])
    except Exception as error:  # logged and shown; the app carries on
        logger.error("automatic backup failed (%s)", type(error).__name__)
        state["failed_dt"] = now
        state["next_check"] = now + RETRY_AFTER_FAILURE
        return None
    state["failed_dt"] = None
    state["next_check"] = now + BACKUP_PERIOD
    entries = [("backup_created", {"object_type": "backup", "object_ref": path.name,
                                   "details": {"kind": "auto"}})]
    if removed:
        entries.append(("backup_removed", {"object_type": "backup", "details": {"count": len(removed)}}))
    try_record(app, entries, now=now)
    return path


def _jobs_due(app: Flask, now: datetime) -> bool:
    return app.extensions.get(_JOBS_DAY) != now.date() and bool(app.extensions.get("daily_jobs"))


def _next_day(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)


def run_daily_jobs_once(app: Flask, now: datetime) -> None:
    """The other daily jobs (`app.extensions["daily_jobs"]`, each `job(app, now)`: the privacy
    retention run), at most once a (UTC) day whatever happens to the backup; run before the
    backup so it holds what they left. A failing job is logged (its type only), the others and
    the backup still run, and it is tried again the next day."""
    if not _jobs_due(app, now):
        return
    app.extensions[_JOBS_DAY] = now.date()
    for job in app.extensions.get("daily_jobs", ()):
        try:
            job(app, now)
        except Exception as error:  # noqa: BLE001 - logged; tomorrow's run tries again
            logger.error("daily job %s failed (%s)", getattr(job, "__name__", "?"), type(error).__name__)


def backup_failed_dt(app: Flask) -> datetime | None:
    """When the last automatic backup failed (None: it did not, or none ran)."""
    return app.extensions.get(_BACKUP, {}).get("failed_dt")


# ---------- per request ----------

def durability_gate():
    """Before every request (ahead of the database gate): start checks once, refuse writes
    when read-only, start the daily backup when due."""
    if request.endpoint == "static":
        return None
    app = current_app._get_current_object()
    run_start_checks(app)
    if app.extensions.get(READ_ONLY):
        if request.method not in SAFE_METHODS and request.endpoint not in READ_ONLY_ALLOWED:
            return render_template("errors/damaged.html", command=restore_command(app)), 503
        return None
    if enabled(app, "BACKUP_AUTO"):
        maybe_start_backup(app, utcnow())
    return None


def durability_banners() -> list[tuple[str, str]]:
    """The persistent banners of this page, as (level, message)."""
    app = current_app._get_current_object()
    user = g.get("user")
    banners = []
    if app.extensions.get(READ_ONLY):
        banners.append(("error", _("The database is damaged: the application is read-only and "
                                   "nothing can be saved. Ask the administrator to restore the "
                                   "latest backup.")))
    status = app.extensions.get(DISK_STATUS)
    if user is not None and status == diskcheck.UNENCRYPTED:
        banners.append(("error", _("This computer's disk is not encrypted: anyone who takes it can "
                                   "read the families' data. Ask the person who installed it to "
                                   "turn on disk encryption (LUKS or BitLocker) before the next "
                                   "atelier.")))
    elif user is not None and status == diskcheck.UNKNOWN:
        banners.append(("info", _("The application could not check that this computer's disk is "
                                  "encrypted. Make sure it is (LUKS, BitLocker or FileVault).")))
    if user is not None and user.role == "admin" and backup_failed_dt(app) is not None:
        banners.append(("warning", _("The automatic backup failed. Check the free disk space, "
                                     "then run \"flask backup create\".")))
    if user is not None and user.role == "admin":
        notice = _take_upgrade_notice(app)
        if notice is not None and Path(notice["backup"]).is_file():
            banners.append(("info", _("The application was updated to version %(version)s on %(date)s "
                                      "(database version %(revision)s). A backup was taken before the "
                                      "update: %(path)s", version=notice["version"],
                                      date=format_datetime(notice["upgraded_dt"], "short"),
                                      revision=notice["revision"], path=notice["backup"])))
        elif notice is not None:  # an erasure since took the backup away (it held the household)
            banners.append(("info", _("The application was updated to version %(version)s on %(date)s "
                                      "(database version %(revision)s).", version=notice["version"],
                                      date=format_datetime(notice["upgraded_dt"], "short"),
                                      revision=notice["revision"])))
    return banners


def _take_upgrade_notice(app: Flask) -> dict | None:
    """The last upgrade's notice, once: the first administrator's page shows it, then it goes."""
    with _LOCK:
        if _NOTICE not in app.extensions:
            app.extensions[_NOTICE] = upgrade_notice.read_notice(app)
        notice = app.extensions[_NOTICE]
        if notice is not None:
            app.extensions[_NOTICE] = None
            upgrade_notice.clear_notice(app)
    return notice


def serve_checks(app: Flask) -> list[str]:
    """`flask serve`: upgrade the database first (its lines printed in the app's language; the
    command stops with exit code 1 when the app must not run on it), then hold the server lock
    (a restore refuses while it is held), run the start checks and the backup now rather than
    at the first request."""
    report = upgrade.upgrade_database(app)
    if report.status != upgrade.CURRENT:
        for line in report.lines:
            click.echo(line, err=not report.ok)
    if not report.may_serve:
        raise click.exceptions.Exit(1)
    app.extensions.pop(_NOTICE, None)  # read again: this upgrade may have written one
    with contextlib.suppress(OSError):
        serverlock.hold(app, sqlite_file(db.engine))
    problems = run_start_checks(app)
    if not app.extensions.get(READ_ONLY) and enabled(app, "BACKUP_AUTO"):
        maybe_start_backup(app, utcnow())
    return problems


def init_app(app: Flask) -> None:
    """Register the gate (call before core.db's), the banners, `flask serve`'s checks (the
    upgrade first) and `flask upgrade`."""
    app.before_request(durability_gate)
    app.context_processor(lambda: {"durability_banners": durability_banners})
    app.extensions.setdefault("startup_checks", []).append(lambda: serve_checks(app))
    app.extensions.setdefault("serve_stops", []).append(lambda: serverlock.release(app))
    app.cli.add_command(backup_cli.upgrade_command)
