"""The checks of an upgrade (backup/upgrade.py): the migrated database against its backup, the
tables a migration may empty, and errors described for the log without personal data."""

from __future__ import annotations

import traceback
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from workshops.backup.services import VerifyResult, verify_backup
from workshops.core.db import MIGRATIONS_DIR, open_read_only


def check_upgraded(path: Path, before: VerifyResult, before_broken: int, head: str,
                   dropped: set[str]) -> list[str]:
    """What is wrong with the migrated database, compared with its backup: [] when nothing.
    Findings name tables and counts, never content."""
    after = verify_backup(path)
    findings = list(after.problems)
    if after.revision != head:
        findings.append(f"the schema is at {after.revision}, not {head}")
    broken = broken_references(path)
    if broken > before_broken:
        findings.append(f"{broken - before_broken} new broken references")
    for table, count in sorted(before.row_counts.items()):
        if table == "alembic_version" or table in dropped:
            continue
        left = after.row_counts.get(table)
        if left is None or left < count:
            findings.append(f"table {table}: {count} rows before, {left or 0} after")
    return findings


def broken_references(path: Path) -> int:
    """How many rows `PRAGMA foreign_key_check` finds."""
    connection = open_read_only(path)
    try:
        return len(connection.execute("PRAGMA foreign_key_check").fetchall())
    finally:
        connection.close()


def dropped_tables(from_revision: str, head: str) -> set[str]:
    """The tables whose rows the migrations after `from_revision` may remove: each migration
    lists them in a module-level `dropped_tables = ("name", ...)`."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    names: set[str] = set()
    for script in ScriptDirectory.from_config(config).iterate_revisions(head, from_revision):
        if script.revision != from_revision:
            names.update(getattr(script.module, "dropped_tables", ()))
    return names


def describe(error: BaseException) -> str:
    """An error for the log: its type, SQLite's own message for a database error (never the
    statement's parameters, which may hold personal data), and where it was raised."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        text = f"{type(error).__name__} ({type(error.orig).__name__}: {error.orig})"
    elif isinstance(error, SQLAlchemyError):
        text = type(error).__name__
    else:
        text = f"{type(error).__name__}: {str(error)[:300]}"
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = " < ".join(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"
                       for frame in reversed(frames))
    return f"{text} at {where}" if where else text
