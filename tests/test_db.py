"""SQLite behaviour on the laptop: pragmas, IMMEDIATE writes, stamps, migrations."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from workshops import create_app
from workshops.auth import services as auth_services
from workshops.auth.models import Structure
from workshops.core import clock
from workshops.core.db import begin_write, schema_status
from workshops.core.models import BulkWriteRefused, DeviceState, get_device_state
from workshops.extensions import db as _db


def test_every_pooled_connection_is_durable_and_checks_references(app):
    with app.app_context():
        connections = [_db.engine.connect() for _ in range(3)]
        try:
            for connection in connections:
                pragma = lambda name, c=connection: c.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
                assert pragma("journal_mode") == "wal"
                assert pragma("synchronous") == 2  # FULL
                assert pragma("foreign_keys") == 1
                assert pragma("busy_timeout") == 5000
        finally:
            for connection in connections:
                connection.close()


def test_orphan_rows_are_refused(db):
    with pytest.raises(IntegrityError):
        db.execute(text(
            "INSERT INTO users (id, version, hlc, is_purged, username, display_name, role, structure_id,"
            " password_hash, is_active, preferred_language, password_changed_dt, created_dt, updated_dt)"
            " VALUES (:id, 0, '', 0, 'x', 'X', 'conseiller', :orphan, 'h', 1, 'fr',"
            " '2026-01-01', '2026-01-01', '2026-01-01')"),
        {"id": uuid.uuid4().hex, "orphan": uuid.uuid4().hex})


def test_concurrent_read_then_write_transactions_lose_nothing(app):
    """Threads each read a counter then write it back plus one, many times.

    With BEGIN IMMEDIATE they queue instead of failing with "database is
    locked", and no increment is lost.
    """
    with app.app_context():
        begin_write(_db.session)
        get_device_state(_db.session).hlc_counter = 0
        _db.session.commit()

    threads, rounds, errors = 4, 50, []

    def work():
        with app.app_context():
            for _ in range(rounds):
                try:
                    begin_write(_db.session)
                    state = _db.session.scalars(select(DeviceState)).one()
                    state.hlc_counter = state.hlc_counter + 1
                    _db.session.commit()
                except Exception as error:  # collected and asserted below
                    _db.session.rollback()
                    errors.append(repr(error))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    with app.app_context():
        assert _db.session.scalars(select(DeviceState)).one().hlc_counter == threads * rounds


def test_begin_write_refuses_to_upgrade_a_started_read(db):
    db.scalars(select(DeviceState)).first()
    with pytest.raises(RuntimeError, match="after the transaction started"):
        begin_write(db)


def test_changes_get_increasing_clock_stamps_even_if_the_wall_clock_goes_back(db):
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False):
        structure = auth_services.save_structure(db, auth_services.StructureData(name="Centre social"))
        first = structure.hlc
    with time_machine.travel(datetime(2026, 2, 1, 12, 0, tzinfo=UTC), tick=False):
        structure.commune = "Naintré"
        db.flush()
        second = structure.hlc
    assert first and second > first
    assert clock.Stamp.decode(second).physical == clock.Stamp.decode(first).physical


def test_bulk_update_of_synced_rows_is_refused(db):
    auth_services.save_structure(db, auth_services.StructureData(name="Le Ressort"))
    with pytest.raises(BulkWriteRefused):
        db.execute(update(Structure).values(commune="Naintré"))


def test_naive_datetimes_are_refused(db):
    structure = auth_services.save_structure(db, auth_services.StructureData(name="MDS Civray"))
    structure.deleted_dt = datetime(2026, 1, 1)  # noqa: DTZ001 (the mistake under test)
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()


@pytest.fixture
def migrated_app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "k",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'migrated.sqlite'}"})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_migrated_schema_equals_the_models(migrated_app):
    with migrated_app.app_context(), _db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, _db.metadata)
    assert differences == []


def test_pages_say_what_to_run_when_the_schema_is_behind(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "k",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"})
    response = app.test_client().get("/login")
    assert response.status_code == 503
    assert b"flask upgrade" in response.data
    with app.app_context():
        assert not schema_status(_db.engine).is_current
        upgrade()
    assert app.test_client().get("/login").status_code in (200, 302)
