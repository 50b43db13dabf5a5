"""Start checks: a damaged database makes the app read-only (R46); an unencrypted disk shows a
banner and one journal entry (R49)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from workshops import create_app
from workshops.audit.models import AuditEntry
from workshops.backup import diskcheck, serverlock, startup
from workshops.extensions import db as _db

UNENCRYPTED_BANNER = b"disk is not encrypted"
UNKNOWN_NOTE = b"could not check that this computer"
DAMAGED_BANNER = b"The database is damaged"


def flip_byte_in_table_page(path, table="structures"):
    """Flip the page-type byte of a table's root page (everything folded into the file first)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    connection.close()
    offset = (root - 1) * page_size + (100 if root == 1 else 0)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0xFF]))


@pytest.fixture
def damaged_app(tmp_path, monkeypatch):
    """An app whose database file has one flipped byte in a table page."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    path = tmp_path / "damaged.sqlite"
    config = {"TESTING": True, "SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{path}",
              "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en"}
    healthy = create_app(config)
    with healthy.app_context():
        upgrade()
    result = healthy.test_cli_runner().invoke(args=["users", "create", "--username", "admin",
                                                    "--name", "Admin", "--password", "x" * 20])
    assert result.exit_code == 0, result.output
    with healthy.app_context():
        _db.engine.dispose()
    flip_byte_in_table_page(path)
    app = create_app(config)
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_a_damaged_database_starts_read_only_and_refuses_writes_with_the_steps(damaged_app):
    client = damaged_app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    assert DAMAGED_BANNER in page.data
    for path in ("/login", "/families/new", "/logout"):
        refused = client.post(path, data={"username": "admin", "password": "x" * 20})
        assert refused.status_code == 503
        assert b"flask backup restore" in refused.data
        assert b"Call the administrator" in refused.data


def test_the_refusal_is_in_the_users_language(damaged_app):
    client = damaged_app.test_client()
    assert client.post("/language/fr").status_code == 302  # allowed: it writes no row
    refused = client.post("/login", data={"username": "a", "password": "b"})
    assert refused.status_code == 503
    # The refusal's own steps are in French, the command to type stays as it is.
    page = refused.get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Appelez l'administrateur de l'application" in page
    assert "flask backup restore" in page


def test_flask_serve_start_checks_say_it_runs_read_only(damaged_app):
    with damaged_app.app_context():
        problems = startup.serve_checks(damaged_app)
    serverlock.release(damaged_app)
    assert any("read-only" in problem and "flask backup restore" in problem for problem in problems)


def test_a_sound_database_starts_read_write_without_banner(app, client, create_user):
    create_user("admin", username="boss")
    page = client.get("/login")
    assert DAMAGED_BANNER not in page.data
    assert client.post("/login", data={"username": "boss", "password": "une phrase de passe assez longue"}
                       ).status_code == 302
    assert not app.extensions.get(startup.READ_ONLY)


# ---------- disk encryption (R49) ----------

def lsblk(mount, *chain):
    """lsblk --json output with one device chain (types, disk first) ending at the mount."""
    node = {"name": "leaf", "type": chain[-1], "mountpoint": str(mount)}
    for kind in reversed(chain[:-1]):
        node = {"name": kind, "type": kind, "mountpoint": None, "children": [node]}
    return json.dumps({"blockdevices": [node, {"name": "sdb", "type": "disk", "mountpoint": None}]})


@pytest.mark.parametrize("chain,expected", [
    (("disk", "part", "crypt"), diskcheck.ENCRYPTED),
    (("disk", "part", "crypt", "lvm"), diskcheck.ENCRYPTED),
    (("disk", "part"), diskcheck.UNENCRYPTED),
    (("disk", "part", "lvm"), diskcheck.UNENCRYPTED),
])
def test_linux_detector_follows_the_device_chain(tmp_path, chain, expected):
    output = lsblk(diskcheck.mount_point(tmp_path), *chain)
    assert diskcheck.disk_encryption(tmp_path, runner=lambda args: output, system="Linux") == expected


def test_linux_detector_says_unknown_without_lsblk_or_for_an_unlisted_file_system(tmp_path):
    assert diskcheck.disk_encryption(tmp_path, runner=lambda args: None, system="Linux") == "unknown"
    other = lsblk("/somewhere/else", "disk", "part")
    assert diskcheck.disk_encryption(tmp_path, runner=lambda args: other, system="Linux") == "unknown"


@pytest.mark.parametrize("system,output,expected", [
    ("Windows", "Volume C: [OS]\n    Protection Status:    Protection On\n", "encrypted"),
    ("Windows", "Volume C: [OS]\n    Protection Status:    Protection Off\n", "unencrypted"),
    ("Windows", None, "unknown"),
    ("Darwin", "FileVault is On.\n", "encrypted"),
    ("Darwin", "FileVault is Off.\n", "unencrypted"),
    ("FreeBSD", "anything", "unknown"),
])
def test_other_systems(tmp_path, system, output, expected):
    assert diskcheck.disk_encryption(tmp_path, runner=lambda args: output, system=system) == expected


@pytest.fixture
def disk_app(tmp_path, monkeypatch):
    """make(status): an app with the disk check on and the detector answering `status`."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))

    def make(status):
        monkeypatch.setattr(diskcheck, "disk_encryption", lambda path, **kwargs: status)
        app = create_app({"TESTING": True, "SECRET_KEY": "k", "DISK_CHECK": True,
                          "DATABASE_URL": f"sqlite:///{tmp_path / 'disk.sqlite'}",
                          "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en"})
        with app.app_context():
            upgrade()
        return app

    return make


def _entries(app, action):
    with app.app_context():
        return len(_db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def login(app, client, username="staff"):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--username", username, "--name", "Staff",
                                 "--password", "une phrase de passe assez longue"])
    assert result.exit_code == 0, result.output
    response = client.post("/login", data={"username": username,
                                           "password": "une phrase de passe assez longue"})
    assert response.status_code == 302


def test_unencrypted_disk_shows_a_banner_to_staff_and_journals_once(disk_app):
    app = disk_app("unencrypted")
    client = app.test_client()
    assert UNENCRYPTED_BANNER not in client.get("/login").data  # not to anonymous visitors
    login(app, client)
    for _ in range(3):
        assert UNENCRYPTED_BANNER in client.get("/").data
    assert _entries(app, "disk_unencrypted") == 1


def test_encrypted_disk_shows_nothing_and_journals_nothing(disk_app):
    app = disk_app("encrypted")
    client = app.test_client()
    login(app, client)
    page = client.get("/").data
    assert UNENCRYPTED_BANNER not in page and UNKNOWN_NOTE not in page
    assert _entries(app, "disk_unencrypted") == 0


def test_unknown_disk_shows_a_softer_note(disk_app):
    app = disk_app("unknown")
    client = app.test_client()
    login(app, client)
    page = client.get("/").data
    assert UNKNOWN_NOTE in page and UNENCRYPTED_BANNER not in page
    assert _entries(app, "disk_unencrypted") == 0


def test_the_checks_are_off_under_testing_and_on_for_a_real_laptop(app, tmp_path):
    assert not startup.enabled(app, "DISK_CHECK") and not startup.enabled(app, "BACKUP_AUTO")
    laptop = create_app({"SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite'}"})
    assert startup.enabled(laptop, "DISK_CHECK") and startup.enabled(laptop, "BACKUP_AUTO")
    off = create_app({"SECRET_KEY": "k", "DISK_CHECK": False,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite'}"})
    assert not startup.enabled(off, "DISK_CHECK")
