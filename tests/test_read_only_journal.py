"""A damaged database makes the app read-only (R46): a GET download of personal data writes
no journal entry into it (workshops.audit.apart.record_apart skips it)."""

from __future__ import annotations

import sqlite3

from flask_migrate import upgrade

from tests.conftest import PASSWORD
from tests.test_startup_checks import flip_byte_in_table_page
from workshops import create_app
from workshops.backup import startup
from workshops.extensions import db as _db


def _journal_count(path):
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT count(*) FROM audit_entries WHERE action = 'export'").fetchone()[0]
    finally:
        connection.close()


def test_a_read_only_app_writes_no_journal_entry_for_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    path = tmp_path / "app.sqlite"
    config = {"TESTING": True, "SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{path}",
              "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en"}
    healthy = create_app(config)
    with healthy.app_context():
        upgrade()
    result = healthy.test_cli_runner().invoke(args=["users", "create", "--username", "boss",
                                                    "--name", "Boss", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    client = healthy.test_client()
    assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 302
    with healthy.app_context():
        _db.session.remove()
        _db.engine.dispose()
    # The laptop restarts on a database with one damaged page (a table the export never reads).
    flip_byte_in_table_page(path, table="sync_conflicts")
    damaged = create_app(config)
    client.application = damaged  # same browser, same signed cookie
    before = _journal_count(path)
    page = client.get("/rapports")
    assert damaged.extensions.get(startup.READ_ONLY), "the start check found the damage"
    assert page.status_code == 200
    download = client.get("/rapports/export?kind=indicators&format=csv")
    assert download.status_code == 200
    with damaged.app_context():
        _db.session.remove()
        _db.engine.dispose()
    # Read-only means nothing is written into the damaged file.
    assert _journal_count(path) == before
