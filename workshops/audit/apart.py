"""Journal entries written in a transaction of their own, committed at once: for what happens in
a read-only request (a download of personal data), whose own transaction never writes."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.core.db import READ_ONLY

logger = logging.getLogger(__name__)


def record_apart(engine: Engine, action: str, **fields: Any) -> bool:
    """Append one entry and commit it; returns whether it was written. Nothing is written into a
    database the start check found damaged (read-only mode): the action is only logged, by code."""
    if has_app_context() and current_app.extensions.get(READ_ONLY):
        logger.warning("audit entry %s not written: the database is read-only", action)
        return False
    with Session(engine) as session:
        record(session, action, **fields)
        session.commit()
    return True
