"""Configuration: defaults, then instance/config.py, then WORKSHOPS_* variables, then tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROLES = ("laptop", "hub")

# Placeholder that can never be a real secret: a hub refuses to start with it.
DEFAULT_SECRET_KEY = "change-me"  # noqa: S105 (the refused placeholder)

DEFAULTS: dict[str, Any] = {
    # "laptop" (SQLite in instance/, offline) or "hub" (PostgreSQL, managers).
    "ROLE": "laptop",
    # Demo instances use their own database file and show a banner.
    "DEMO": False,
    "SECRET_KEY": DEFAULT_SECRET_KEY,
    # Full SQLAlchemy URL; on a laptop it defaults to a file in instance/.
    "DATABASE_URL": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    # Languages offered in the interface; the first is the default.
    "LANGUAGES": ["fr", "en"],
    "BABEL_DEFAULT_LOCALE": "fr",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
    # Sessions: server-side rows, idle and absolute limits (minutes).
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_MINUTES": 600,
    "SESSION_COOKIE_HTTPONLY": True,
    # None: by role (a hub is served over HTTPS, a laptop on plain 127.0.0.1).
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_SAMESITE": "Strict",
    # Form tokens live as long as the session, so a form left open during an
    # atelier still submits.
    "WTF_CSRF_TIME_LIMIT": None,
    # Login throttling per account name.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_SECONDS": 60,
    # Failed logins per client address (REMOTE_ADDR only), in memory: then 429.
    "LOGIN_IP_MAX_FAILURES": 30,
    "LOGIN_IP_WINDOW_SECONDS": 300,
    # Application logs in instance/logs: one file a day (UTC), kept this many days.
    "LOG_RETENTION_DAYS": 365,
    # Households are anonymised this many months after their last activity (docs/privacy.md).
    "RETENTION_MONTHS": 24,
    # The controller named in the privacy notice and the register of processing, and where
    # families write to exercise their rights (the DPO's address; empty: "ask the conseiller").
    "PRIVACY_CONTROLLER": "Département de la Vienne",
    "PRIVACY_CONTACT": "",
    "LOG_LEVEL": "INFO",
    # Request size limits (uploads of collège lists stay well under this).
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1000,
    # Lists of families or equipment uploaded for import.
    "IMPORT_MAX_BYTES": 2 * 1024 * 1024,
    # Who to call, printed on family documents.
    "HELPLINE_PHONE": "05 67 802 222",
    # Printing: blank rows for walk-ins on the attendance sheet, and the funders' block
    # printed at its foot: "tne_france2030" (the TNE programme and France 2030 mention),
    # "fse_plus" (the EU FSE+ block, black and white) or "none".
    "PRINT_BLANK_ROWS": 5,
    "PRINT_FUNDING": "tne_france2030",
    # Durability (docs/backup.md). SQLite's quick_check at start: read-only on a damaged file.
    "INTEGRITY_CHECK": True,
    # None: on for a laptop, off for a hub and under TESTING. Daily automatic backup, and the
    # check that the disk holding instance/ is encrypted (a banner for staff when not).
    "BACKUP_AUTO": None,
    "DISK_CHECK": None,
    # Backup folder (default instance/backups); automatic backups kept: the newest of each of
    # the last BACKUP_KEEP_DAILY days and of each of the last BACKUP_KEEP_WEEKLY weeks.
    "BACKUP_DIR": None,
    "BACKUP_KEEP_DAILY": 7,
    "BACKUP_KEEP_WEEKLY": 4,
    # Manual and before-restore backups are removed by the retention run after this many days.
    "BACKUP_RETENTION_DAYS": 90,
    # Reports: a laptop silent for longer than this many days is shown on the collection status.
    "REPORTS_STALE_DEVICE_DAYS": 7,
}


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill app.config in the documented order and derive the database URL.

    Raises RuntimeError when a hub would start with a default or missing secret
    or without a database URL.
    """
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="WORKSHOPS")
    if test_config is not None:
        app.config.from_mapping(test_config)

    role = app.config["ROLE"]
    if role not in ROLES:
        raise RuntimeError(f"WORKSHOPS_ROLE must be one of {ROLES}, not {role!r}.")
    if role == "hub":
        _check_hub(app)
    else:
        _laptop_defaults(app)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = role == "hub"
    if role == "hub" and "SESSION_COOKIE_NAME" not in (test_config or {}):
        # HTTPS only: the __Host- prefix makes browsers refuse it without Secure, Path=/ and Domain.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]


def _check_hub(app: Flask) -> None:
    secret = app.config.get("SECRET_KEY")
    if not secret or secret == DEFAULT_SECRET_KEY or len(str(secret)) < 32:
        raise RuntimeError(
            "A hub needs its own secret key: set WORKSHOPS_SECRET_KEY to a long "
            "random value (for example the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)."
        )
    if not app.config.get("DATABASE_URL"):
        raise RuntimeError(
            "A hub needs WORKSHOPS_DATABASE_URL, for example "
            "postgresql+psycopg://workshops@localhost/workshops."
        )


def _laptop_defaults(app: Flask) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        name = "demo.sqlite" if app.config["DEMO"] else "workshops.sqlite"
        app.config["DATABASE_URL"] = f"sqlite:///{instance / name}"
    if app.config.get("SECRET_KEY") in (None, "", DEFAULT_SECRET_KEY):
        app.config["SECRET_KEY"] = _laptop_secret(instance / "secret_key")


def _laptop_secret(path: Path) -> str:
    """Read the laptop's own secret key, making it on first run (owner-only)."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
