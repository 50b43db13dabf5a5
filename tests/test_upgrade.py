"""Upgrades without fear (issue 9): a laptop's database made by the previous version of the app,
with data in every table, is backed up, migrated and checked; a failure puts it back as it was
and says what to do; a database the code does not know is refused."""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DataError, IntegrityError

from tests.test_startup_checks import flip_byte_in_table_page
from workshops import create_app
from workshops.audit.models import AuditEntry
from workshops.backup import services, startup, upgrade, upgrade_checks
from workshops.core.db import MIGRATIONS_DIR, migration_head, open_read_only, schema_status
from workshops.extensions import db as _db

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# A made-up surname that must never reach the log.
SURNAME = "Zorglubovitch"
# Realistic values where a column takes one of a few codes (the rest is generic).
VALUES = {
    ("users", "role"): "admin", ("users", "preferred_language"): "fr",
    ("guardians", "language"): "fr", ("guardians", "relation"): "mother",
    ("guardians", "last_name"): SURNAME, ("guardians", "phone"): "0601020304",
    ("families", "origin"): "college_list", ("families", "computer_wanted"): "laptop",
    ("registrations", "status"): "attended", ("workshops", "status"): "held",
    ("workshops", "kind"): "e_parentalite", ("workshops", "thematiques"): '["numerique"]',
    ("workshops", "languages"): '["fr", "ar"]', ("equipment", "kind"): "laptop",
    ("equipment", "status"): "handed_over", ("equipment", "grade"): "good",
    ("handovers", "mode"): "gift", ("sync_outbox", "status"): "pending",
    ("sync_conflicts", "status"): "open", ("structures", "kind"): "college",
}


def previous_head() -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_revision(migration_head())
    assert isinstance(head.down_revision, str), "the head has one parent"
    return head.down_revision


def _value(table: str, column: str, declared: str, is_pk: bool) -> object:
    declared = declared.upper()
    if (table, column) in VALUES:
        return VALUES[(table, column)]
    if declared == "CHAR(32)":
        return uuid.uuid4().hex
    if declared in ("INTEGER", "BIGINT"):
        return 1 if is_pk else 3
    if declared == "BOOLEAN":
        return 1
    if declared == "DATETIME":
        return "2026-02-10 14:30:00.000000"
    if declared == "DATE":
        return "2026-02-10"
    if declared == "JSON":
        return '{"sample": 1}'
    size = int(declared[declared.index("(") + 1:-1]) if declared.startswith("VARCHAR(") else 200
    return f"{table}.{column}"[:size]


def fill_every_table(path: Path) -> None:
    """One row in every table (a referenced table first), every column filled: what a laptop
    holds after weeks of ateliers. A new table needs nothing here unless its values are special."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA foreign_keys=ON")
    tables = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'alembic_version'")]
    rows: dict[str, dict[str, object]] = {}
    pending = list(tables)
    while pending:
        progressed = False
        for table in list(pending):
            references = {row[3]: (row[2], row[4]) for row in
                          connection.execute(f"PRAGMA foreign_key_list('{table}')")}
            if any(target not in rows and target != table for target, _ in references.values()):
                continue
            row = {}
            for _cid, column, declared, _notnull, _default, pk in connection.execute(
                    f"PRAGMA table_info('{table}')"):
                target = references.get(column)
                if target is None:
                    row[column] = _value(table, column, declared, bool(pk))
                else:  # a self-reference stays empty
                    row[column] = rows[target[0]][target[1]] if target[0] != table else None
            names = ", ".join(f'"{name}"' for name in row)
            connection.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(row))})',  # noqa: S608
                               list(row.values()))
            rows[table] = row
            pending.remove(table)
            progressed = True
        assert progressed, f"circular references between {pending}: give one of them a NULL"
    connection.commit()
    connection.close()


def counts(path: Path) -> dict[str, int]:
    return services.verify_backup(path).row_counts


def _read(path: Path, work):
    connection = open_read_only(path)
    try:
        return work(connection)
    finally:
        connection.close()


def dump(path: Path) -> list[str]:
    """The whole content of a database, schema and rows, as SQL text."""
    return _read(path, lambda connection: list(connection.iterdump()))


def revision_of(path: Path) -> str | None:
    return services.verify_backup(path).revision


def rows_of(path: Path, table: str, columns: list[str]) -> list[tuple]:
    names = ", ".join(f'"{name}"' for name in columns)
    return sorted(_read(path, lambda connection: connection.execute(
        f'SELECT {names} FROM "{table}"').fetchall()), key=repr)  # noqa: S608


def columns_of(path: Path, table: str) -> list[str]:
    return _read(path, lambda connection: [row[1] for row in connection.execute(
        f"PRAGMA table_info('{table}')")])


def journal(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = list(_db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        _db.session.remove()
    return entries


@pytest.fixture
def old_laptop(tmp_path, monkeypatch):
    """An app of this version on a database made by the previous migration head, with at least
    one row in every table."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    path = tmp_path / "laptop.sqlite"
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": f"sqlite:///{path}",
                      "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context():
        alembic_upgrade(revision=previous_head())
        _db.engine.dispose()
    fill_every_table(path)
    empty = [table for table, count in counts(path).items() if count == 0]
    assert empty == [], f"tables left empty: {empty}"
    assert revision_of(path) == previous_head()
    yield app, path
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def backups_of(app) -> list[Path]:
    folder = services.backup_dir(app)
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


def test_an_upgrade_backs_up_migrates_and_keeps_every_row(old_laptop, tmp_path):
    app, path = old_laptop
    before_copy = tmp_path / "before.sqlite"
    services.files.snapshot(path, before_copy)
    folder = services.backup_dir(app)
    earlier = upgrade.take_backup(path, folder, datetime(2026, 1, 5, tzinfo=UTC))  # the last upgrade's
    manual = services.create_backup(path, folder, datetime(2026, 1, 6, tzinfo=UTC), kind="manual")
    report = upgrade.upgrade_database(app, NOW)

    assert report.status == upgrade.UPGRADED and report.ok
    assert revision_of(path) == migration_head()
    # Every row of every table is still there, column for column.
    after_counts = counts(path)
    for table, count in counts(before_copy).items():
        if table == "alembic_version":
            continue
        assert after_counts[table] >= count
        new_columns = columns_of(path, table)
        common = [column for column in columns_of(before_copy, table) if column in new_columns]
        kept = rows_of(before_copy, table, common)
        if table == "audit_entries":  # the upgrade journals itself after the earlier entries
            assert rows_of(path, table, common)[:len(kept)] == kept, table
        else:
            assert rows_of(path, table, common) == kept, table
    # The backup taken before is there, sound, and holds the previous version's data; the one
    # of the upgrade before goes now, other backups stay.
    assert backups_of(app) == sorted([report.backup, manual]) and not earlier.exists()
    assert report.backup.name.startswith("before-upgrade-")
    checked = services.verify_backup(report.backup)
    assert checked.is_ok and checked.revision == previous_head()
    assert dump(report.backup) == dump(before_copy)
    # The report says so, and the journal keeps it.
    said = "\n".join(report.lines)
    assert str(report.backup) in said and previous_head() in said and migration_head() in said
    assert "Checked" in said
    [entry] = journal(app, "schema_upgraded")
    assert entry.details == {"from_revision": previous_head(), "to_revision": migration_head(),
                             "backup": report.backup.name}


def test_the_next_administrator_sees_the_upgrade_once(old_laptop):
    app, _path = old_laptop
    report = upgrade.upgrade_database(app, NOW)
    client = admin_client(app)
    first = client.get("/").get_data(as_text=True)
    assert "updated to version" in first and str(report.backup) in first
    assert "updated to version" not in client.get("/").get_data(as_text=True)


def test_the_notice_does_not_name_a_backup_an_erasure_took_away(old_laptop):
    app, _path = old_laptop
    report = upgrade.upgrade_database(app, NOW)
    report.backup.unlink()  # as the scrub does when the backup held an erased household
    first = admin_client(app).get("/").get_data(as_text=True)
    assert "updated to version" in first
    assert str(report.backup) not in first and "A backup was taken" not in first


def admin_client(app):
    """A client logged in as a new administrator (made with `flask users create`)."""
    result = app.test_cli_runner().invoke(args=["users", "create", "--username", "boss", "--name", "Boss",
                                                "--password", "x" * 20, "--role", "admin"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert client.post("/login", data={"username": "boss", "password": "x" * 20}).status_code == 302
    return client


def test_a_failed_migration_puts_the_database_back_and_says_what_to_do(old_laptop, monkeypatch, caplog):
    app, path = old_laptop
    before = dump(path)
    real = upgrade.run_migrations

    def migrate_then_fail(app):
        real(app)  # the schema is at the head, the data moved: all of it must go back
        raise IntegrityError("INSERT INTO guardians ...", {"last_name": SURNAME},
                             sqlite3.IntegrityError("UNIQUE constraint failed: guardians.id"))

    monkeypatch.setattr(upgrade, "run_migrations", migrate_then_fail)
    with caplog.at_level(logging.INFO):
        result = app.test_cli_runner().invoke(args=["upgrade"])

    assert result.exit_code == 1
    assert dump(path) == before  # nothing half-migrated: same schema, same rows
    assert revision_of(path) == previous_head()
    [kept] = backups_of(app)  # the backup stays; the failed state is not kept
    assert kept.name.startswith("before-upgrade-") and services.verify_backup(kept).is_ok
    assert "put back as it was" in result.output and str(kept) in result.output
    assert "start the previous version" in result.output and previous_head() in result.output
    assert "Traceback" not in result.output and "IntegrityError" not in result.output
    # The log has what a developer needs, and no personal data.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "UNIQUE constraint failed: guardians.id" in logged and "migrate_then_fail" in logged
    assert SURNAME not in logged


def test_a_failed_check_after_the_migration_puts_the_database_back(old_laptop, monkeypatch):
    app, path = old_laptop
    before = dump(path)
    monkeypatch.setattr(upgrade, "check_upgraded", lambda *args: ["table families: 1 rows before, 0 after"])
    report = upgrade.upgrade_database(app, NOW)
    assert report.status == upgrade.RESTORED and not report.ok and not report.may_serve
    assert dump(path) == before
    assert any("nothing is lost" in line for line in report.lines)


def test_flask_serve_upgrades_before_serving_and_stops_on_failure(old_laptop, monkeypatch, capsys):
    app, path = old_laptop
    monkeypatch.setattr(upgrade, "check_upgraded", lambda *args: ["a check failed"])
    with app.app_context(), pytest.raises(click.exceptions.Exit) as stopped:
        startup.serve_checks(app)
    assert stopped.value.exit_code == 1
    assert "put back as it was" in capsys.readouterr().err
    monkeypatch.undo()
    with app.app_context():
        startup.serve_checks(app)
    startup.serverlock.release(app)
    assert "Updated the database from version" in capsys.readouterr().out
    assert revision_of(path) == migration_head()


def test_a_restore_that_fails_too_gives_the_command_to_put_the_backup_back(old_laptop, monkeypatch):
    app, _path = old_laptop
    monkeypatch.setattr(upgrade, "check_upgraded", lambda *args: ["a check failed"])

    def broken_restore(*args, **kwargs):
        raise services.BackupError("disk full")

    monkeypatch.setattr(upgrade, "restore_backup", broken_restore)
    report = upgrade.upgrade_database(app, NOW)
    assert report.status == upgrade.RESTORE_FAILED
    assert f'flask backup restore "{report.backup}" --yes' in report.lines
    assert report.backup.is_file() and services.verify_backup(report.backup).is_ok


def test_no_backup_no_upgrade(old_laptop, monkeypatch):
    app, path = old_laptop
    before = dump(path)

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(upgrade, "take_backup", no_space)
    report = upgrade.upgrade_database(app, NOW)
    assert report.status == upgrade.BACKUP_FAILED and not report.may_serve
    assert "nothing was changed" in report.lines[0]
    assert dump(path) == before


def test_a_damaged_database_is_not_upgraded(old_laptop):
    app, path = old_laptop
    flip_byte_in_table_page(path)
    before = path.read_bytes()
    report = upgrade.upgrade_database(app, NOW)
    assert report.status == upgrade.BACKUP_FAILED and not report.may_serve
    assert "damaged" in report.lines[0] and "flask backup restore" in report.lines[1]
    assert path.read_bytes() == before and backups_of(app) == []


def test_a_database_at_the_head_is_left_alone(app):
    path = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    before = dump(path)
    result = app.test_cli_runner().invoke(args=["upgrade"])
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert dump(path) == before and backups_of(app) == []
    assert journal(app, "schema_upgraded") == []


def test_a_database_from_a_newer_version_is_refused(app, capsys):
    path = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    with app.app_context():
        _db.session.execute(_db.text("UPDATE alembic_version SET version_num = 'f00dfacef00d'"))
        _db.session.commit()
        _db.engine.dispose()
    before = dump(path)
    result = app.test_cli_runner().invoke(args=["upgrade"])
    assert result.exit_code == 1
    assert "newer version of the application" in result.output and "f00dfacef00d" in result.output
    with app.app_context(), pytest.raises(click.exceptions.Exit):
        startup.serve_checks(app)  # flask serve does not start on it
    assert "newer version" in capsys.readouterr().err
    assert dump(path) == before and backups_of(app) == []


def test_the_check_counts_rows_except_in_tables_a_migration_drops(tmp_path):
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    for path, rows in ((old, 3), (new, 1)):
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (migration_head(),))
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        connection.executemany("INSERT INTO notes VALUES (?)", [(n,) for n in range(rows)])
        connection.commit()
        connection.close()
    before = services.verify_backup(old)
    assert upgrade_checks.check_upgraded(new, before, 0, migration_head(), set()) == \
        ["table notes: 3 rows before, 1 after"]
    assert upgrade_checks.check_upgraded(new, before, 0, migration_head(), {"notes"}) == []
    assert upgrade_checks.check_upgraded(new, before, 0, "000000000000", {"notes"}) == \
        [f"the schema is at {migration_head()}, not 000000000000"]


@pytest.fixture
def old_hub(tmp_path, monkeypatch):
    """A hub on PostgreSQL (WORKSHOPS_TEST_POSTGRES_URL, a schema of its own) at the previous head."""
    base = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS upgrade_tests CASCADE"))
        connection.execute(text("CREATE SCHEMA upgrade_tests"))
    engine.dispose()
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3Dupgrade_tests"
    app = create_app({"TESTING": True, "SECRET_KEY": "s" * 40, "DATABASE_URL": url, "ROLE": "hub",
                      "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context():
        alembic_upgrade(revision=previous_head())
        _db.engine.dispose()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_a_hub_is_backed_up_with_pg_dump_then_only_migrated(old_hub):
    with old_hub.app_context(), pytest.raises(click.exceptions.Exit):
        startup.serve_checks(old_hub)  # flask serve refuses an older hub schema, and says why
    refused = old_hub.test_cli_runner().invoke(args=["upgrade"], input="n\n")
    assert refused.exit_code != 0 and "pg_dump" in refused.output
    result = old_hub.test_cli_runner().invoke(args=["upgrade", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"from version {previous_head()} to {migration_head()}" in result.output
    with old_hub.app_context():
        assert schema_status(_db.engine).is_current
    assert backups_of(old_hub) == [] and journal(old_hub, "schema_upgraded")


def test_a_new_laptop_is_told_in_french_that_its_database_was_made(tmp_path):
    """The terminal speaks the app's default language (French): `flask upgrade` on a new
    installation makes the database and says so."""
    path = tmp_path / "new.sqlite"
    app = create_app({"SECRET_KEY": "test-secret-key", "DATABASE_URL": f"sqlite:///{path}",
                      "BACKUP_AUTO": False, "DISK_CHECK": False})
    result = app.test_cli_runner().invoke(args=["upgrade"])
    assert result.exit_code == 0, result.output
    assert f"Base de données créée (version {migration_head()})" in result.output
    assert revision_of(path) == migration_head()


@pytest.fixture
def hub_engine(monkeypatch):
    """PostgreSQL (WORKSHOPS_TEST_POSTGRES_URL) in a schema of its own, emptied afterwards."""
    base = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    engine = create_engine(f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3Dupgrade_log_tests")
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS upgrade_log_tests CASCADE"))
        connection.execute(text("CREATE SCHEMA upgrade_log_tests"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS upgrade_log_tests CASCADE"))
    engine.dispose()


def test_a_failed_hub_migration_does_not_log_the_row_it_failed_on(hub_engine):
    email = "elodie.zorglubovitch@example.org"
    with hub_engine.begin() as connection:
        connection.execute(text("CREATE TABLE guardians (id int, email text, phone text)"))
        connection.execute(text("INSERT INTO guardians VALUES (1, :e, '06'), (2, :e, :p)"),
                           {"e": email, "p": SURNAME})
    # What a migration adding a unique index on the e-mails meets on real data (PostgreSQL's
    # DETAIL quotes the duplicated value), and one reading a column as a number (the primary
    # message itself quotes the value).
    with pytest.raises(IntegrityError) as duplicated, hub_engine.begin() as connection:
        connection.execute(text("CREATE UNIQUE INDEX guardians_email ON guardians (email)"))
    with pytest.raises(DataError) as not_a_number, hub_engine.begin() as connection:
        connection.execute(text("SELECT CAST(phone AS integer) FROM guardians"))
    assert email in str(duplicated.value) and SURNAME in str(not_a_number.value)  # what was logged before
    logged = [upgrade_checks.describe(duplicated.value), upgrade_checks.describe(not_a_number.value)]
    assert not [line for line in logged if email in line or SURNAME in line], logged
    # What a developer needs stays: the kind of error, its code, the index it failed on.
    assert "UniqueViolation" in logged[0] and "23505" in logged[0] and "guardians_email" in logged[0]
    assert "InvalidTextRepresentation" in logged[1] and "22P02" in logged[1]


def test_a_failed_data_migration_does_not_log_the_value_it_failed_on(old_laptop, monkeypatch, caplog):
    app, path = old_laptop
    before = dump(path)

    def data_migration_fails(app):
        with sqlite3.connect(path) as connection:
            [(surname,)] = connection.execute("SELECT last_name FROM guardians LIMIT 1")
        int(surname)  # a data migration reading a column it expected to hold a number

    monkeypatch.setattr(upgrade, "run_migrations", data_migration_fails)
    with caplog.at_level(logging.INFO):
        report = upgrade.upgrade_database(app, NOW)
    assert report.status == upgrade.RESTORED and dump(path) == before
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SURNAME not in logged, [line for line in logged.splitlines() if SURNAME in line]
    assert "ValueError" in logged and "data_migration_fails" in logged


def test_a_sqlite_message_is_logged_only_when_it_can_hold_names_only(tmp_path):
    connection = sqlite3.connect(tmp_path / "x.sqlite")
    connection.execute("CREATE TABLE guardians (email TEXT UNIQUE)")
    connection.execute("INSERT INTO guardians VALUES (?)", (SURNAME,))
    failures = []
    for statement in ("INSERT INTO guardians VALUES (?)",  # names the column, not the value
                      f"SELECT 1 {SURNAME} {SURNAME}",  # SQL made from a value: SQLite quotes it
                      f"SELECT {SURNAME}",  # or takes it for a column's name
                      "SELECT * FROM families"):
        try:
            connection.execute(statement, (SURNAME,) if "?" in statement else ())
        except sqlite3.Error as error:
            failures.append(upgrade_checks.describe(error))
    connection.close()
    assert "UNIQUE constraint failed: guardians.email" in failures[0]
    assert [SURNAME in failure for failure in failures[1:3]] == [False, False]
    assert "SQLITE_ERROR" in failures[1] and "SQLITE_ERROR" in failures[2]
    assert "no such table: families" in failures[3]
