"""The daily retention job, for the lead's scheduler: one run in its own transaction, committed."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from workshops.backup.services import backup_dir, scrub_after_erasure
from workshops.core import logs
from workshops.core.db import begin_write
from workshops.core.models import utcnow
from workshops.extensions import db as _db
from workshops.privacy.retention_services import RetentionResult, purge


def run_daily_retention(app: Flask, now: datetime | None = None) -> RetentionResult:
    """The daily job: one retention run in its own write transaction, committed."""
    with app.app_context():
        session = _db.session()
        try:
            begin_write(session)
            result = purge(
                session,
                now or utcnow(),
                app.config["RETENTION_MONTHS"],
                logs.log_dir(app),
                app.config["LOG_RETENTION_DAYS"],
                backup_directory=backup_dir(app),
                backup_days=app.config["BACKUP_RETENTION_DAYS"],
            )
            session.commit()
        except Exception:
            session.rollback()
            raise
        if result.families:
            scrub_after_erasure(app)
        return result
