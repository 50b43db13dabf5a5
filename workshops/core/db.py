"""Database behaviour: SQLite pragmas, IMMEDIATE write transactions, schema status."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, render_template, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, scoped_session

# Execution option that makes the transaction begin with BEGIN IMMEDIATE.
WRITE_OPTION = "workshops_write"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def configure_engine_options(app: Flask) -> None:
    """Set pool options for SQLite files before Flask-SQLAlchemy builds the engine."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        connect_args.setdefault("check_same_thread", False)
        options["connect_args"] = connect_args
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


# `app.extensions[READ_ONLY]` is set when the start check found the database damaged: nothing
# may write into it then (backup/startup.py refuses write requests; the journal skips entries).
READ_ONLY = "workshops_read_only"


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    """Every SQLite connection: WAL, FULL sync, foreign keys, secure delete.

    The busy timeout comes from the driver's `timeout` connect argument
    (configure_engine_options), which sets SQLite's busy handler.
    pysqlite's own transaction handling is switched off so that SQLAlchemy's
    `begin` hook below decides how each transaction starts.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted or overwritten content is zeroed in the file, so an erased family's data does not
    # linger in free pages (R35).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn) -> None:
    """Reads begin DEFERRED; writes begin IMMEDIATE, so they wait instead of failing."""
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def begin_write(session: Session) -> None:
    """Start this session's transaction as a write (BEGIN IMMEDIATE on SQLite).

    Call at the edge of a unit of work (a POST request, a CLI command), before
    anything is read. Raises RuntimeError if a read transaction already began,
    because upgrading it later could fail with "database is locked".
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        connection = session.connection()
        if connection.get_execution_options().get(WRITE_OPTION):
            return
        if connection.dialect.name == "sqlite":
            raise RuntimeError("begin_write() called after the transaction started")
        return
    session.connection(execution_options={WRITE_OPTION: True})


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database stands against the migrations shipped with the code."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def is_empty(self) -> bool:
        return self.current is None


def migration_head() -> str:
    """The newest migration revision shipped with the code."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def known_revisions() -> set[str]:
    """Every migration revision shipped with the code (a backup must be at one of them)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database)


def open_read_only(path: str | Path, timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to a SQLite file (never creates it; raises sqlite3.Error)."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)


def quick_check(path: str | Path) -> list[str]:
    """SQLite's `PRAGMA quick_check` on a file: [] when sound, else its findings (page numbers
    and structure names, never row content), or the error that stopped it."""
    try:
        connection = open_read_only(path)
        try:
            rows = [row[0] for row in connection.execute("PRAGMA quick_check(20)")]
        finally:
            connection.close()
    except sqlite3.Error as error:
        return [f"{type(error).__name__}: {error}"]
    return [] if rows == ["ok"] else rows


def schema_status(engine: Engine) -> SchemaStatus:
    """Compare the database's migration revision with the code's head."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaStatus(current=current, head=migration_head())


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask, db) -> None:
    """Per request: writes begin IMMEDIATE; pages wait for a current schema.

    Registered before the login check, so that a write request's first read
    already happens inside its IMMEDIATE transaction.
    """
    @app.before_request
    def database_gate():
        if request.endpoint == "static":
            return None
        if not app.extensions.get("workshops_schema_current"):
            status = schema_status(db.engine)
            if not status.is_current:
                return render_template("errors/schema.html", status=status), 503
            app.extensions["workshops_schema_current"] = True
        if request.method not in SAFE_METHODS:
            begin_write(db.session)
        return None
