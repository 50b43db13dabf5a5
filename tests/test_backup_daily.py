"""The daily automatic backup and its rotation (frozen clock), and scrubbing erased households
out of every local backup."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask_migrate import stamp
from sqlalchemy import select

from tests.test_privacy_seed import files_holding, seed_canary_family
from workshops import create_app
from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.backup import services, startup
from workshops.core.db import known_revisions, migration_head
from workshops.extensions import db as _db
from workshops.families import services as family_services
from workshops.families.models import Family
from workshops.families.services import ChildData, FamilyData, GuardianData

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday


def journal(app, action):
    with app.app_context():
        return list(_db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_forty_days_keep_seven_daily_and_four_weekly_backups(app):
    folder = services.backup_dir(app)
    services.create_backup(Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")), folder,
                           START, kind="manual")
    for day in range(40):
        assert startup.run_daily_backup(app, START + timedelta(days=day)) is not None
    autos = [b.taken_dt.date() for b in services.list_backups(folder) if b.kind == "auto"]
    last = (START + timedelta(days=39)).date()
    assert autos[:7] == [last - timedelta(days=n) for n in range(7)]
    weeks = {day.isocalendar()[:2] for day in autos}
    assert len(weeks) == 4 and len(autos) <= 7 + 4
    assert [b.kind for b in services.list_backups(folder)].count("manual") == 1  # never rotated
    removed = sum(entry.details["count"] for entry in journal(app, "backup_removed"))
    assert removed == 40 - len(autos)
    assert len(journal(app, "backup_created")) == 40


@pytest.fixture
def auto_app(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": "k", "BACKUP_AUTO": True,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'auto.sqlite'}",
                      "BABEL_DEFAULT_LOCALE": "en", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        _db.create_all()
        stamp()
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="admin", display_name="Admin", password="une phrase de passe assez longue",
            role="admin"))
        _db.session.commit()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _request_and_wait(app, client, path="/login"):
    response = client.get(path)
    thread = app.extensions.get("workshops_backup", {}).get("thread")
    if thread is not None:
        thread.join(timeout=10)
    return response


def test_the_first_request_backs_up_then_not_again_until_a_day_passed(auto_app):
    client = auto_app.test_client()
    folder = services.backup_dir(auto_app)
    with time_machine.travel(START, tick=False):
        _request_and_wait(auto_app, client)
        assert len(services.list_backups(folder)) == 1
    with time_machine.travel(START + timedelta(hours=23), tick=False):
        _request_and_wait(auto_app, client)
        assert len(services.list_backups(folder)) == 1
    with time_machine.travel(START + timedelta(hours=25), tick=False):
        _request_and_wait(auto_app, client)
        assert [b.taken_dt for b in services.list_backups(folder)] == [
            START + timedelta(hours=25), START]


def test_a_failed_backup_is_logged_without_data_and_shown_to_admins(auto_app, caplog):
    folder = services.backup_dir(auto_app)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    client = auto_app.test_client()
    with time_machine.travel(START, tick=False):
        _request_and_wait(auto_app, client)
        assert client.post("/login", data={"username": "admin",
                                           "password": "une phrase de passe assez longue"}).status_code == 302
        assert b"automatic backup failed" in client.get("/").data
    assert "automatic backup failed (FileExistsError)" in caplog.text
    assert str(folder) not in caplog.text


def test_a_damaged_database_is_never_backed_up_over_good_backups(auto_app, monkeypatch):
    folder = services.backup_dir(auto_app)
    with auto_app.app_context():
        good = services.create_backup(_db.engine, folder, START - timedelta(days=2), kind="auto")
    before = good.read_bytes()
    monkeypatch.setattr(startup, "quick_check", lambda path: ["page 3: damaged"])
    with time_machine.travel(START, tick=False):
        _request_and_wait(auto_app, auto_app.test_client())
    assert auto_app.extensions.get(startup.READ_ONLY)
    assert [backup.path for backup in services.list_backups(folder)] == [good]
    assert good.read_bytes() == before, "the good backup is left as it was"


def test_scrub_removes_erased_households_from_every_backup(app):
    with app.app_context():
        actor = _conseiller()
        erased = family_services.create_family(_db.session, FamilyData(
            guardians=(GuardianData("Amina", "Zerguini", "06 12 34 56 78"),),
            children=(ChildData("Yanis"),)), actor)
        kept = family_services.create_family(_db.session, FamilyData(
            guardians=(GuardianData("Paul", "Quintard"),)), actor)
        _db.session.commit()
        erased_id, kept_id, engine = erased.id, kept.id, _db.engine
        folder = services.backup_dir(app)
        paths = [services.create_backup(engine, folder, START + timedelta(days=n), kind)
                 for n, kind in enumerate(("auto", "manual", "before-restore", "before-upgrade"))]
    for path in paths:
        assert b"Zerguini" in path.read_bytes()
    assert services.scrub_backups(folder, {erased_id}, now=START) == 4
    for path in paths:
        data = path.read_bytes()
        assert b"Zerguini" not in data and b"0612345678" not in data and b"Yanis" not in data
        assert b"Quintard" in data
        assert services.verify_backup(path).is_ok
        with sqlite3.connect(path) as copy:  # the other household is still a live row
            row = copy.execute("SELECT is_purged FROM families WHERE id = ?", (kept_id.hex,)).fetchone()
        assert row == (0,)
    assert not list(folder.glob("*.partial"))
    assert services.scrub_backups(folder, {erased_id}, now=START) == 0  # nothing left to erase


def test_the_daily_run_anonymises_inactive_households_before_backing_up(app):
    """The retention run is one of the daily jobs: a household last seen 25 months ago is
    anonymised, and the day's automatic backup holds none of its strings."""
    last_seen = START - timedelta(days=25 * 31)
    with app.app_context():
        seeded = seed_canary_family(_db.session(), tag="DAILYQ", when=last_seen)
        _db.session.commit()
        family = _db.session.get(Family, seeded.family_id)
        for row in (family, *family.guardians, *family.children):
            row.updated_dt = last_seen
        _db.session.commit()
    path = startup.run_daily_backup(app, START)
    with app.app_context():
        assert _db.session.get(Family, seeded.family_id).is_purged
    assert files_holding(seeded.canaries, path) == []
    assert [entry.details["families"] for entry in journal(app, "retention_purge")] == [1]


def test_the_retention_run_happens_once_a_day_even_when_the_backup_fails(auto_app):
    folder = services.backup_dir(auto_app)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")  # every backup fails
    client = auto_app.test_client()
    for hours in range(5):
        with time_machine.travel(START + timedelta(hours=hours, minutes=1), tick=False):
            _request_and_wait(auto_app, client)
    assert len(journal(auto_app, "retention_purge")) == 1
    with time_machine.travel(START + timedelta(days=1, minutes=1), tick=False):
        _request_and_wait(auto_app, client)
    assert len(journal(auto_app, "retention_purge")) == 2, "and again the next day"


def test_a_manual_backup_today_does_not_put_the_retention_run_off(auto_app):
    with auto_app.app_context():
        services.create_backup(_db.engine, services.backup_dir(auto_app), START, kind="manual")
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        _request_and_wait(auto_app, auto_app.test_client())
    assert len(journal(auto_app, "retention_purge")) == 1
    assert [b.kind for b in services.list_backups(services.backup_dir(auto_app))] == ["manual"]


@pytest.mark.parametrize("schema", ["older", "newer"])
def test_a_backup_at_another_schema_holding_an_erased_household_is_removed(app, schema):
    """The erasure code cannot rewrite another schema (a before-upgrade backup, or one a newer
    version of the app made before the laptop went back to this one): the file goes rather than
    keep the household; a backup at that schema without it stays."""
    with app.app_context():
        actor = _conseiller()
        _db.session.commit()
        folder = services.backup_dir(app)
        without = services.create_backup(_db.engine, folder, START, "manual")
        erased = family_services.create_family(_db.session, FamilyData(
            guardians=(GuardianData("Amina", "Zerguini"),)), actor)
        _db.session.commit()
        erased_id = erased.id
        holding = services.create_backup(_db.engine, folder, START + timedelta(hours=1), "before-upgrade")
    other = _previous_revision() if schema == "older" else "f00dfeed2099"  # not a migration of this code
    for path in (holding, without):
        with sqlite3.connect(path) as copy:
            copy.execute("UPDATE alembic_version SET version_num = ?", (other,))
        assert services.verify_backup(path).revision == other
    assert services.scrub_backups(folder, {erased_id}, now=START) == 1
    assert not holding.exists()
    assert without.exists() and services.verify_backup(without).revision == other


def _previous_revision() -> str:
    head = migration_head()
    return next(revision for revision in known_revisions() if revision != head)


@pytest.mark.parametrize("folder_name", ["Cle USB #2", "Sauvegardes ?"])
def test_an_older_backup_in_a_folder_named_with_a_hash_or_question_mark_is_scrubbed(
        app, tmp_path, folder_name):
    folder = tmp_path / folder_name
    app.config["BACKUP_DIR"] = str(folder)
    with app.app_context():
        actor = _conseiller()
        _db.session.commit()
        erased = family_services.create_family(_db.session, FamilyData(
            guardians=(GuardianData("Amina", "Zerguini"),)), actor)
        _db.session.commit()
        erased_id = erased.id
        holding = services.create_backup(_db.engine, folder, START + timedelta(hours=1), "before-upgrade")
    with sqlite3.connect(holding) as copy:
        copy.execute("UPDATE alembic_version SET version_num = ?", (_previous_revision(),))
    services.scrub_after_erasure(app, [erased_id])
    assert not holding.exists(), "the older-schema backup still holds the erased household"


def _conseiller() -> User:
    """A conseiller of a new structure, added to the session (not committed)."""
    structure = auth_services.save_structure(_db.session, auth_services.StructureData("Centre"))
    actor = User(id=uuid.uuid4(), username="w", display_name="W", role="conseiller",
                 structure_id=structure.id, password_hash="-")
    _db.session.add(actor)
    return actor
