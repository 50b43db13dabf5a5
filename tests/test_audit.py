"""The audit journal (issue 8, R41): append-only in the database, a hash chain that
`verify_chain` and `flask audit verify` check, and `record` refusing what may carry personal
data. On SQLite and PostgreSQL, each made by the migrations and by create_all.

PostgreSQL runs when WORKSHOPS_TEST_POSTGRES_URL is set, in a schema of its own
("audit_tests"), so that other tests' schema on the same database is left alone.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask_migrate import stamp, upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from workshops import create_app
from workshops.audit import services
from workshops.audit.models import GENESIS_HASH, AuditEntry
from workshops.audit.services import record, verify_chain
from workshops.core.db import begin_write
from workshops.extensions import db as _db

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SCHEMA = "audit_tests"


def _postgres_url() -> str:
    url = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("WORKSHOPS_REQUIRE_POSTGRES") == "1":
            pytest.fail("WORKSHOPS_REQUIRE_POSTGRES=1 but WORKSHOPS_TEST_POSTGRES_URL is not set")
        pytest.skip("set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    return url


def _make_app(url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": url,
                       "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en"})


@pytest.fixture(params=["sqlite-create_all", "sqlite-migrations", "postgresql-create_all",
                        "postgresql-migrations"])
def journal_app(request, tmp_path, monkeypatch):
    """An app whose database was made one of the four ways, with an empty journal."""
    dialect, how = request.param.split("-")
    if dialect == "postgresql":
        base = _postgres_url()
        engine = create_engine(base)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        engine.dispose()
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{SCHEMA}"
    else:
        url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    app = _make_app(url, tmp_path, monkeypatch)
    with app.app_context():
        if how == "migrations":
            upgrade()
        else:
            _db.create_all()
            stamp()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _append(count: int, start: datetime = T0, action: str = "login") -> None:
    for number in range(count):
        record(_db.session, action, actor_id=uuid.uuid4(), object_type="user", object_ref=str(uuid.uuid4()),
               details={"attempt": number}, now=start + timedelta(minutes=number))
        _db.session.commit()


def _refused(statement: str) -> str:
    """Run raw SQL that must fail; returns the database's message."""
    with _db.engine.connect() as connection, pytest.raises(DBAPIError) as raised, connection.begin():
        connection.execute(text(statement))
    return str(raised.value.orig)


# ---------- Append-only in the database ----------

def test_raw_update_and_delete_are_refused_by_the_database(journal_app):
    with journal_app.app_context():
        _append(3)
        before = [(e.id, e.action, e.details, e.entry_hash) for e in _db.session.scalars(select(AuditEntry))]
        _db.session.rollback()
        for statement in ("UPDATE audit_entries SET action = 'logout' WHERE id = 2",
                          "UPDATE audit_entries SET details = '{}'",
                          "DELETE FROM audit_entries WHERE id = 2",
                          "DELETE FROM audit_entries"):
            assert "append-only" in _refused(statement)
        if _db.engine.dialect.name == "postgresql":
            assert "append-only" in _refused("TRUNCATE audit_entries")
        _db.session.expire_all()
        after = [(e.id, e.action, e.details, e.entry_hash) for e in _db.session.scalars(select(AuditEntry))]
        assert after == before and len(after) == 3
        assert verify_chain(_db.session).ok


def test_the_orm_cannot_change_an_entry_either(journal_app):
    with journal_app.app_context():
        _append(1)
        entry = _db.session.get(AuditEntry, 1)
        entry.action = "logout"
        with pytest.raises(DBAPIError):
            _db.session.commit()
        _db.session.rollback()
        assert _db.session.get(AuditEntry, 1).action == "login"


# ---------- The chain ----------

def test_entries_follow_each_other_and_the_chain_verifies(journal_app):
    with journal_app.app_context():
        assert verify_chain(_db.session) == services.VerifyResult(True, 0)
        _append(4)
        entries = list(_db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert [e.id for e in entries] == [1, 2, 3, 4]
        assert entries[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
        result = verify_chain(_db.session)
        assert result.ok and result.count == 4 and result.last_hash == entries[-1].entry_hash


def _break(app, statement: str, **params) -> None:
    """Change the journal behind the app's back: the trigger is lifted first (a copy's owner can)."""
    with app.app_context(), _db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_entries_no_update"))
            connection.execute(text("DROP TRIGGER audit_entries_no_delete"))
        else:
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change"))
        connection.execute(text(statement), params)


@pytest.mark.parametrize("statement,broken_id,reason", [
    ("UPDATE audit_entries SET object_ref = 'someone-else' WHERE id = 3", 3, "changed"),
    ("UPDATE audit_entries SET occurred_dt = occurred_dt - interval '1 day' WHERE id = 2", 2, "changed"),
    ("DELETE FROM audit_entries WHERE id = 3", 3, "missing"),
    ("DELETE FROM audit_entries WHERE id = 1", 1, "missing"),
    # A hash rewritten alone no longer matches its entry.
    ("UPDATE audit_entries SET entry_hash = '" + "a" * 64 + "' WHERE id = 2", 2, "changed"),
])
def test_a_changed_or_removed_entry_breaks_the_chain_where_it_happened(journal_app, statement, broken_id,
                                                                      reason, runner_for):
    with journal_app.app_context():
        _append(5)
    if "interval" in statement and journal_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        statement = "UPDATE audit_entries SET occurred_dt = '2026-11-23 09:31:00.000000' WHERE id = 2"
    _break(journal_app, statement)
    with journal_app.app_context():
        result = verify_chain(_db.session)
    assert not result.ok and (result.broken_id, result.reason) == (broken_id, reason)
    assert result.count == broken_id - 1
    outcome = runner_for(journal_app).invoke(args=["audit", "verify"])
    assert outcome.exit_code == 1
    assert f"entry {broken_id}" in outcome.output and "broken" in outcome.output


def test_a_relinked_entry_is_named(journal_app):
    with journal_app.app_context():
        _append(3)
        second = _db.session.get(AuditEntry, 2)
        forged = services.entry_hash(2, second.occurred_dt, "logout", second.actor_id, second.object_type,
                                     second.object_ref, second.details, second.prev_hash)
        _db.session.rollback()
    _break(journal_app, "UPDATE audit_entries SET action = 'logout', entry_hash = :forged WHERE id = 2",
           forged=forged)
    with journal_app.app_context():
        result = verify_chain(_db.session)
    assert (result.ok, result.broken_id, result.reason) == (False, 3, "relinked")


@pytest.fixture
def runner_for():
    return lambda app: app.test_cli_runner()


def test_an_edited_copy_of_the_database_file_fails_verification(app, runner, tmp_path, monkeypatch):
    """R41: copy the file, edit a row in the copy bypassing the trigger: the copy fails, naming
    the entry; the original still verifies."""
    with app.app_context():
        _append(4)
        source = _db.engine.url.database
        _db.session.remove()
        _db.engine.dispose()
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(source, copy)
    edited = _make_app(f"sqlite:///{copy}", tmp_path / "copy", monkeypatch)
    _break(edited, "UPDATE audit_entries SET details = '{\"attempt\": 99}' WHERE id = 2")
    outcome = edited.test_cli_runner().invoke(args=["audit", "verify"])
    assert outcome.exit_code == 1 and "entry 2 was changed" in outcome.output
    with edited.app_context():
        _db.engine.dispose()
    intact = runner.invoke(args=["audit", "verify"])
    assert intact.exit_code == 0 and "intact: 4 entries" in intact.output


def _append_from_threads(app, threads: int, each: int) -> None:
    errors = []

    def work():
        try:
            with app.app_context():
                for _ in range(each):
                    record(_db.session, "sync_push", details={"sent": 1})
                    _db.session.commit()
                _db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


def test_writers_at_the_same_time_never_fork_the_chain(journal_app):
    _append_from_threads(journal_app, threads=4, each=10)
    with journal_app.app_context():
        result = verify_chain(_db.session)
        assert result.ok and result.count == 40


def test_record_inside_a_write_transaction_keeps_it(app, db):
    """In a request or a command, the unit of work began with begin_write: record joins it,
    and a rollback takes the entry away with the action."""
    begin_write(db)
    record(db, "settings_changed", details={"changed": 1})
    assert db.connection().get_execution_options().get("workshops_write")
    db.rollback()
    assert verify_chain(db).count == 0
    record(db, "settings_changed", details={"changed": 1})
    db.commit()
    assert verify_chain(db).count == 1


# ---------- What an entry may hold ----------

def test_times_are_utc_whole_seconds_and_the_chain_survives_the_round_trip(app, db):
    paris = timezone(timedelta(hours=1))
    entry = record(db, "login", now=datetime(2026, 11, 24, 10, 30, 15, 987654, tzinfo=paris))
    db.commit()
    db.expire_all()
    assert db.get(AuditEntry, entry.id).occurred_dt == datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC)
    assert verify_chain(db).ok
    with pytest.raises(ValueError, match="timezone"):
        record(db, "login", now=datetime(2026, 11, 24, 10, 30))


@pytest.mark.parametrize("fields", [
    {"object_ref": "Marie Dupont"},
    {"object_ref": "marie.dupont@example.org"},
    {"object_ref": "0612345678"},
    {"object_ref": "06.12.34.56.78"},
    {"object_ref": "+33612345678"},
    {"object_type": "Family name"},
    {"details": {"name": "Dupont Marie"}},
    {"details": {"phone": "06-12-34-56-78"}},
    {"details": {"email": "x@y.fr"}},
    {"details": {"note": "x" * 65}},
    {"details": {"ratio": 0.5}},
    {"details": {"names": ["dupont"]}},
    {"details": {"Bad Key": 1}},
    {"details": {f"k{n}": n for n in range(21)}},
    {"actor_id": "not-a-uuid"},
])
def test_what_may_carry_personal_data_is_refused(app, db, fields):
    with pytest.raises(ValueError):
        record(db, "export", **fields)
    assert verify_chain(db).count == 0


def test_ids_codes_counts_and_pseudonyms_are_taken(app, db):
    family = uuid.uuid4()
    record(db, "export", actor_id=uuid.uuid4(), object_type="family", object_ref=str(family), details={
        "rows": 1_234_567_890, "kind": "families_csv", "dry_run": False, "workshop": str(uuid.uuid4()),
        "error": None, "file": "cra-2026-11.pdf",
        "login": services.pseudonym("secret", "Marie Dupont 0612345678")})
    record(db, "login_failed", object_ref=services.pseudonym("secret", "marie"))
    db.commit()
    assert verify_chain(db).count == 2
    with pytest.raises(ValueError, match="unknown audit action"):
        record(db, "coffee_break")


def test_many_entries_appended_at_once_follow_the_chain_or_none_is_written(app, db):
    record(db, "login_failed", object_ref="before")
    batch = [services.NewEntry("consent_changed", object_type="family", object_ref=str(uuid.uuid4()),
                               details={"purpose": "photos", "given": True}) for _ in range(3)]
    written = services.record_many(db, batch)
    db.commit()
    assert [entry.id for entry in written] == [2, 3, 4]
    result = verify_chain(db)
    assert result.ok and result.count == 4 and result.last_hash == written[-1].entry_hash
    with pytest.raises(ValueError):  # one entry with a name: nothing of the batch is written
        services.record_many(db, [*batch, services.NewEntry("export", details={"name": "Dupont Marie"})])
    assert verify_chain(db).count == 4


# ---------- Listing ----------

def test_audit_list_filters_by_day_and_action(app, runner):
    with app.app_context():
        _append(2, start=T0 - timedelta(days=3))
        _append(1, start=T0, action="logout")
        _append(1, start=T0 + timedelta(hours=1))
    everything = runner.invoke(args=["audit", "list"])
    assert everything.exit_code == 0
    lines = everything.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["4", "3", "2", "1"], "newest first"
    assert lines[1].split("\t")[1:3] == ["2026-11-24T09:30:00Z", "logout"]
    recent = runner.invoke(args=["audit", "list", "--since", "2026-11-24"])
    assert [line.split("\t")[0] for line in recent.output.strip().splitlines()] == ["4", "3"]
    logins = runner.invoke(args=["audit", "list", "--since", "2026-11-24", "--action", "login"])
    assert [line.split("\t")[0] for line in logins.output.strip().splitlines()] == ["4"]
    none = runner.invoke(args=["audit", "list", "--action", "erasure"])
    assert none.exit_code == 0 and none.output.strip() == "No entries."
