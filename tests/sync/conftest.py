"""Fixtures for sync tests: a hub (on SQLite and on PostgreSQL), laptops on their own SQLite
files, and pairing a laptop with the hub through the real enrolment services.

PostgreSQL runs when WORKSHOPS_TEST_POSTGRES_URL is set (`.ci/run` starts the Debian server
and sets it); WORKSHOPS_REQUIRE_POSTGRES=1 turns a missing URL into a failure instead of a
skip. Its schema is made once per test session by the migrations (proving they run on
PostgreSQL), then every table is emptied before each test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask_migrate import stamp, upgrade
from sqlalchemy import inspect, select, text

from workshops import create_app
from workshops.auth.models import Structure
from workshops.core.models import Base
from workshops.extensions import db as _db
from workshops.seed.reference import load_reference
from workshops.sync import device_services, keys

HUB_SECRET = "hub-secret-key-for-tests-only-0123456789"
_migrated_postgres: set[str] = set()


def postgres_url() -> str:
    url = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("WORKSHOPS_REQUIRE_POSTGRES") == "1":
            pytest.fail("WORKSHOPS_REQUIRE_POSTGRES=1 but WORKSHOPS_TEST_POSTGRES_URL is not set")
        pytest.skip("set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    return url


def _reset_postgres(url: str) -> None:
    """Schema by the migrations once per session (again if another test's fixture dropped
    tables: tests/test_reports_queries.py makes and drops its own with create_all/drop_all),
    then every table emptied."""
    present = set(inspect(_db.engine).get_table_names())
    if url not in _migrated_postgres or not {*Base.metadata.tables, "alembic_version"} <= present:
        with _db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        _migrated_postgres.add(url)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with _db.engine.begin() as connection:
        # The audit journal refuses TRUNCATE (its append-only trigger): lifted for this reset only.
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change"))
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_no_change"))


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_database(request, tmp_path) -> str:
    """The hub's database URL: a SQLite file, then PostgreSQL."""
    if request.param == "postgresql":
        return postgres_url()
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


def make_app(url: str, instance: str, monkeypatch, **config) -> Flask:
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", instance)
    return create_app({"TESTING": True, "SECRET_KEY": HUB_SECRET, "DATABASE_URL": url,
                       "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en", **config})


@pytest.fixture
def hub(hub_database, tmp_path, monkeypatch) -> Flask:
    """A hub app with the reference data (EPCI, structures, venues, resources)."""
    app = make_app(hub_database, str(tmp_path / "hub-instance"), monkeypatch, ROLE="hub")
    with app.app_context():
        if hub_database.startswith("postgresql"):
            _reset_postgres(hub_database)
        else:
            _db.create_all()
            stamp()
        load_reference(_db.session)
        _db.session.commit()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def make_laptop(tmp_path, monkeypatch) -> Callable[..., Flask]:
    """make_laptop("a") -> a laptop app on its own SQLite file, with the reference data."""
    apps: list[Flask] = []

    def make(name: str = "laptop", **config) -> Flask:
        app = make_app(f"sqlite:///{tmp_path / f'{name}.sqlite'}", str(tmp_path / f"{name}-instance"),
                       monkeypatch, ROLE="laptop", **config)
        with app.app_context():
            _db.create_all()
            stamp()
            load_reference(_db.session)
            _db.session.commit()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def first_structure(app: Flask, kind: str | None = None) -> Structure:
    """A structure of the reference data (not a collège unless asked), inside an app context."""
    query = select(Structure).order_by(Structure.name)
    query = query.where(Structure.kind == kind) if kind else query.where(Structure.kind != "college")
    return _db.session.scalars(query).first()


@pytest.fixture
def pair(hub) -> Callable[..., dict]:
    """pair(laptop, name="Laptop A", structure_id=None) -> the enrolment answer: the hub makes
    a device and its code, the laptop exchanges the code and keeps the connection."""

    def do(laptop: Flask, name: str = "Laptop", structure_id=None) -> dict:
        with hub.app_context():
            structure_id = structure_id or first_structure(hub).id
            device, code = device_services.create_device(_db.session, name, structure_id, None)
            signing_key = keys.new_signing_key()
            enrolment = device_services.enrol(_db.session, code, keys.verify_key(signing_key),
                                              app_version="test", schema_version=1)
            answer = device_services.enrolment_answer(enrolment, hub_time_ms=time.time_ns() // 1_000_000)
            _db.session.commit()
        with laptop.app_context():
            device_services.save_connection(_db.session, "http://hub.test", answer, signing_key)
            _db.session.commit()
        return answer

    return do
