"""Every account action leaves exactly one journal entry, with ids and counts only (R41, R09)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from workshops.audit.models import AuditEntry
from workshops.audit.services import pseudonym
from workshops.auth import services
from workshops.auth.models import Epci, Structure, User
from workshops.extensions import db as _db


@pytest.fixture
def journal(app):
    """journal() -> the entries written since the fixture was made, as dicts."""
    with app.app_context():
        start = _db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0

    def read():
        with app.app_context():
            query = select(AuditEntry).where(AuditEntry.id > start).order_by(AuditEntry.id)
            rows = _db.session.scalars(query)
            return [{"action": r.action, "actor_id": r.actor_id, "object_type": r.object_type,
                     "object_ref": r.object_ref, "details": r.details} for r in rows]

    return read


def user_id(app, username):
    with app.app_context():
        return _db.session.scalars(select(User.id).filter_by(username=username)).one()


def test_login_and_logout(app, client, create_user, journal):
    username = create_user()
    client.post("/login", data={"username": username, "password": PASSWORD})
    client.post("/logout")
    me = user_id(app, username)
    assert [(e["action"], e["actor_id"], e["object_ref"]) for e in journal()[1:]] == [
        ("login", me, str(me)), ("logout", me, str(me))]


def test_a_failed_login_names_nobody(app, client, create_user, journal):
    create_user(username="camille")
    client.post("/login", data={"username": "  Camille ", "password": "not the right one at all"})
    [created, failed] = journal()
    assert created["action"] == "user_created"
    assert failed["action"] == "login_failed" and failed["actor_id"] is None
    assert failed["object_ref"] == pseudonym(app.config["SECRET_KEY"], "camille")
    assert failed["details"] == {"failures": 1}


def test_a_throttled_login(app, client, create_user, journal):
    username = create_user()
    for _ in range(5):
        client.post("/login", data={"username": username, "password": "wrong wrong wrong wrong"})
    client.post("/login", data={"username": username, "password": PASSWORD})
    assert [e["action"] for e in journal()[1:]] == ["login_failed"] * 5 + ["login_throttled"]


def test_a_password_change_is_one_entry(app, client, logged_in, journal):
    username = logged_in()
    client.post("/account/password", data={"current_password": PASSWORD,
                                           "new_password": "une autre phrase bien longue"})
    entries = journal()
    assert [e["action"] for e in entries] == ["user_created", "login", "password_changed"]
    assert entries[-1]["actor_id"] == user_id(app, username)
    assert entries[-1]["details"] == {"sessions_ended": 1}


def test_account_administration(app, client, logged_in, create_user, journal):
    admin = user_id(app, logged_in("admin"))
    client.post("/users/new", data={"username": "nouveau", "display_name": "Nouveau Compte",
                                    "password": PASSWORD, "role": "conseiller", "structure_id": ""})
    target = user_id(app, "nouveau")
    edit = {"display_name": "Nouveau Compte", "structure_id": ""}
    client.post(f"/users/{target}", data={**edit, "role": "manager", "is_active": "y"})
    client.post(f"/users/{target}", data={**edit, "role": "manager", "is_active": "y"})  # no change
    client.post(f"/users/{target}", data={**edit, "role": "manager", "is_active": ""})
    client.post(f"/users/{target}", data={**edit, "role": "manager", "is_active": "y"})
    client.post(f"/users/{target}/end-sessions")
    entries = journal()[2:]  # after the admin's own creation and login
    assert [e["action"] for e in entries] == ["user_created", "role_changed", "user_deactivated",
                                              "user_reactivated", "sessions_ended"]
    assert all(e["actor_id"] == admin and e["object_ref"] == str(target) for e in entries)
    assert entries[0]["details"] == {"role": "conseiller"}
    assert entries[1]["details"] == {"from": "conseiller", "to": "manager", "structure_changed": False}
    assert entries[-1]["details"] == {"count": 0}


def test_structure_and_epci_edits_are_settings_changes(app, client, logged_in, journal):
    manager = user_id(app, logged_in("manager"))
    client.post("/structures/new", data={"name": "MJC Aliénor", "kind": "association"})
    with app.app_context():
        structure_id = _db.session.scalars(select(Structure.id)).one()
    client.post(f"/structures/{structure_id}", data={"name": "MJC Aliénor d'Aquitaine",
                                                     "kind": "association", "is_active": "y"})
    with app.app_context():
        services.save_epci(_db.session, "200069854", "CU Grand Poitiers", actor_id=manager)
        services.save_epci(_db.session, "200070000", "CC Seed")  # the seed: no person, no entry
        _db.session.commit()
        epci_id = _db.session.scalars(select(Epci.id).filter_by(siren="200069854")).one()
    entries = journal()[2:]
    assert [(e["action"], e["object_type"], e["object_ref"]) for e in entries] == [
        ("settings_changed", "structure", str(structure_id)),
        ("settings_changed", "structure", str(structure_id)),
        ("settings_changed", "epci", str(epci_id)),
    ]
    assert all(e["actor_id"] == manager for e in entries)


def test_the_journal_holds_no_typed_name_or_password(app, client, logged_in, journal):
    canaries = {"name": "Zéphyrine Canari", "login": "zephyrine.canari", "typed": "Mme Canari Dupont",
                "password": "canari secret passphrase 0601020304"}
    logged_in("admin")
    client.post("/users/new", data={"username": canaries["login"], "display_name": canaries["name"],
                                    "password": canaries["password"], "role": "conseiller",
                                    "structure_id": ""})
    other = app.test_client()
    other.post("/login", data={"username": canaries["typed"], "password": canaries["password"]})
    other.post("/login", data={"username": canaries["login"], "password": canaries["typed"]})
    other.post("/login", data={"username": canaries["login"], "password": canaries["password"]})
    other.post("/account/password", data={"current_password": canaries["password"],
                                          "new_password": canaries["password"] + " encore"})
    entries = journal()
    assert {"user_created", "login_failed", "login", "password_changed"} <= {e["action"] for e in entries}
    text = json.dumps(entries, default=str).casefold()
    for value in canaries.values():
        for word in value.casefold().split():
            assert word not in text, f"{word!r} is in the journal"
