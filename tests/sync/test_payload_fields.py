"""Exactly which fields of which tables a laptop sends to the hub (R38, minimisation).

`tests/fixtures/sync-payload-fields.json` is a reviewed snapshot: every request a laptop makes
to the hub with its keys, and every synced table with each field sent and its class in the
data inventory (personal, pseudonymous, operational, not_personal). A field added to a synced
table, or a key added to a request, fails these tests with a readable diff until a reviewer
updates the snapshot on purpose, and says in docs/security-decisions.md ("What the hub
receives") why the hub needs it.

Two checks: the sync's own definitions (registry.MODELS and fields_of) against the snapshot,
and what a laptop full of demo data really sends through a connection and a sync run.
"""

from __future__ import annotations

import copy
import difflib
import json
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.extensions import db
from workshops.privacy.inventory import DATA_INVENTORY
from workshops.sync import client as sync_client
from workshops.sync import registry, transport
from workshops.sync import views as sync_views
from workshops.sync.device_services import create_device, sync_state

from .conftest import first_structure

SNAPSHOT = Path(__file__).resolve().parent.parent / "fixtures" / "sync-payload-fields.json"
UPDATE_HINT = (f"What a laptop sends to the hub changed. If that is intended, update {SNAPSHOT.name} "
               "and the section 'What the hub receives (R38)' of docs/security-decisions.md.")


@pytest.fixture
def hub_database(tmp_path) -> str:
    """SQLite only: what the laptop sends does not depend on the hub's database."""
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


def reviewed() -> dict:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def lines(tables: dict[str, dict[str, str]]) -> list[str]:
    return [f"{table}.{field}: {kind}" for table in sorted(tables)
            for field, kind in sorted(tables[table].items())]


def key_lines(requests: dict) -> list[str]:
    return [f"{path}: {', '.join(sorted(names))}" for path, names in sorted(requests.items())]


def assert_same(found: list[str], expected: list[str], what: str) -> None:
    diff = "\n".join(difflib.unified_diff(expected, found, f"reviewed ({SNAPSHOT.name})", what, lineterm=""))
    assert found == expected, f"{UPDATE_HINT}\n{diff}"


def test_the_synced_tables_and_fields_are_the_reviewed_ones():
    defined = {table: {field: DATA_INVENTORY[table].columns[field] for field in registry.fields_of(table)}
               for table in registry.MODELS}
    assert_same(lines(defined), lines(reviewed()["tables"]), "registry.fields_of")


class Recording:
    """A transport that keeps a copy of everything the laptop sends, then passes it on."""

    def __init__(self, inner: transport.Transport, sent: list[tuple[str, dict]]) -> None:
        self.inner, self.sent = inner, sent

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        self.sent.append((path, copy.deepcopy(payload)))
        return self.inner.post(path, payload)

    def get(self, path: str, params: dict) -> tuple[int, dict]:
        self.sent.append((path, dict(params)))
        return self.inner.get(path, params)


def _connect_and_sync(hub: Flask, laptop: Flask, monkeypatch) -> list[tuple[str, dict]]:
    """Connect the laptop through its sync page, then run a sync; returns what it sent."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(sync_views, "make_transport", lambda hub_url, token, timeout=30:
                        Recording(transport.AppTransport(hub, token), sent))
    with hub.app_context():
        _device, code = create_device(db.session, "PC Ronsard", first_structure(hub).id, None)
        db.session.commit()
    with laptop.app_context():
        auth_services.create_user(db.session, auth_services.NewUser(
            username="camille", display_name="Camille", password=PASSWORD, role="conseiller",
            structure_id=first_structure(laptop).id))
        db.session.commit()
    client = laptop.test_client()
    assert client.post("/login", data={"username": "camille", "password": PASSWORD}).status_code == 302
    connected = client.post("/sync/connect", data={"hub_url": "https://hub.example.org", "code": code})
    assert connected.status_code == 302, "the laptop connected"
    with laptop.app_context():
        token = sync_state(db.session).token
        result = sync_client.run(db.session, Recording(transport.AppTransport(hub, token), sent))
        assert result.ok and result.sent > 0
    return sent


def test_what_a_laptop_really_sends_is_the_reviewed_fields(hub, make_laptop, monkeypatch):
    laptop = make_laptop("laptop", DEMO=True)
    assert laptop.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    sent = _connect_and_sync(hub, laptop, monkeypatch)
    snapshot = reviewed()

    keys: dict[str, set[str]] = {}
    fields: dict[str, dict[str, str]] = {}
    for path, payload in sent:
        keys.setdefault(path, set()).update(payload)
        for change in payload.get("changes", ()) if path == "/api/sync/push" else ():
            keys.setdefault("push: each change", set()).update(change)
            table = change["table"]
            known = snapshot["tables"].get(table, {})
            fields.setdefault(table, {}).update(
                {field: known.get(field, "NOT REVIEWED") for field in change["fields"]})
            if change["base_version"] == 0:
                assert set(change["fields"]) == set(known), f"a new {table} row sends every reviewed field"
    assert_same(key_lines(keys), key_lines(snapshot["requests"]), "keys of the requests sent")
    reviewed_lines = set(lines(snapshot["tables"]))
    assert [line for line in lines(fields) if line not in reviewed_lines] == [], UPDATE_HINT
    # The demo's households travelled: the test saw the tables R38 is about.
    assert {"families", "guardians", "children", "registrations", "handovers", "users"} <= set(fields)

