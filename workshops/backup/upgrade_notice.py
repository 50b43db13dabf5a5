"""The one-time notice of an upgrade for administrators: written by backup/upgrade.py into the
instance folder, shown once by startup.durability_banners, then removed."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from flask import Flask

from workshops.backup import files

logger = logging.getLogger(__name__)

NOTICE_FILE = "upgrade-notice.json"


def app_version() -> str:
    try:
        return metadata.version("workshops")
    except metadata.PackageNotFoundError:
        return "?"


def notice_path(app: Flask) -> Path:
    return Path(app.instance_path) / NOTICE_FILE


def write_notice(app: Flask, head: str, backup: Path, now: datetime) -> None:
    """What the next administrator to open a page is told once (startup.durability_banners)."""
    notice = {"version": app_version(), "revision": head, "upgraded_dt": now.astimezone(UTC).isoformat(),
              "backup": str(backup)}
    target = notice_path(app)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + files.PARTIAL)
        partial.write_text(json.dumps(notice), encoding="utf-8")
        os.replace(partial, target)
    except OSError as error:
        logger.warning("upgrade: the notice for administrators was not written (%s)", type(error).__name__)


def read_notice(app: Flask) -> dict | None:
    """The notice of the last upgrade not yet shown, None when there is none (or it is unreadable)."""
    try:
        notice = json.loads(notice_path(app).read_text(encoding="utf-8"))
        notice["upgraded_dt"] = datetime.fromisoformat(notice["upgraded_dt"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return notice


def clear_notice(app: Flask) -> None:
    with contextlib.suppress(OSError):
        notice_path(app).unlink()
