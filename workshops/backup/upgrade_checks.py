"""The checks of an upgrade (backup/upgrade.py): the migrated database against its backup, the
tables a migration may empty, and errors described for the log without personal data."""

from __future__ import annotations

import re
import sqlite3
import traceback
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

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


class UpgradeCheckFailed(Exception):
    """The migrated database fails a check; the findings name tables and counts only."""


# SQLite messages whose shape leaves room for names only (tables, columns, indexes: taken from
# the schema or the migration's SQL text, never from a row, whose values are bound parameters).
_NAMES = r"[A-Za-z_][\w.]*"
_SAFE_SQLITE = (
    re.compile(rf"(UNIQUE|NOT NULL|PRIMARY KEY|FOREIGN KEY|CHECK) constraint failed"
               rf"(: {_NAMES}(, {_NAMES})*)?"),
    # Not "no such column": SQL made from a value (a bug) would get the value named there.
    re.compile(rf"no such (table|index|view|trigger): {_NAMES}"),
    re.compile(rf"(table|index|view|trigger) {_NAMES} already exists"),
    re.compile(r"[a-z][a-z ]*"),  # fixed phrases: "database is locked", "datatype mismatch"
)
# What PostgreSQL names about a failed statement: schema objects, never a value.
_PG_NAMES = ("schema_name", "table_name", "column_name", "constraint_name", "datatype_name")


def describe(error: BaseException) -> str:
    """An error for the log, without any personal data: its type; for a database error the
    driver's class and code and, on PostgreSQL, the names of the table, column and constraint
    (never the message: its DETAIL quotes the row, and even its primary line may quote the
    value, as in `invalid input syntax for type integer: "..."`); on SQLite the message's first
    line only when its shape leaves room for names only; for a failed check its findings
    (tables and counts); for anything else nothing of its message, which Python fills with the
    value it choked on. Then where it was raised (file:line of the last frames)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        text = f"{type(error).__name__} ({_driver_error(error.orig)})"
    elif isinstance(error, sqlite3.Error):
        text = _driver_error(error)
    elif isinstance(error, UpgradeCheckFailed):
        text = f"{type(error).__name__}: {error}"
    else:
        text = type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = " < ".join(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"
                       for frame in reversed(frames))
    return f"{text} at {where}" if where else text


def _driver_error(orig: BaseException) -> str:
    """The DB-API error's class and code, and only what cannot hold a value."""
    parts = [type(orig).__name__]
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:  # psycopg (PostgreSQL)
        parts.append(f"sqlstate {sqlstate}")
        diag = getattr(orig, "diag", None)
        for name in _PG_NAMES:
            value = getattr(diag, name, None) if diag is not None else None
            if value:
                parts.append(f"{name.removesuffix('_name')} {value}")
    elif isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorname", None)
        if code:
            parts.append(code)
        lines = str(orig).splitlines()
        if lines and any(shape.fullmatch(lines[0]) for shape in _SAFE_SQLITE):
            parts.append(lines[0])
    return ", ".join(parts)
