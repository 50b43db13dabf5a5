"""Accounts: password rules, login, throttling, sessions and their revocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from argon2 import PasswordHasher
from flask_migrate import stamp

from tests.conftest import PASSWORD
from workshops import create_app
from workshops.auth import services
from workshops.auth.models import User, UserSession
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.extensions import db as _db

GENERIC_FAILURE = b"Login failed"


def test_passwords_are_hashed_with_argon2id(db):
    user = services.create_user(db, services.NewUser("Camille", "Camille Martin", PASSWORD))
    assert user.password_hash.startswith("$argon2id$")
    params = dict(item.split("=") for item in user.password_hash.split("$")[3].split(","))
    assert int(params["m"]) >= 12288 and int(params["t"]) >= 3, "ASVS floor (R04)"
    assert PASSWORD not in user.password_hash
    assert user.username == "camille"


@pytest.mark.parametrize("password,accepted", [
    ("x" * 64, True),
    ("x" * 128, True),
    ("quinze-signes-x", True),
    ("cinq mots simples pour moi", True),
    ("douze-signes", False),
    ("a b c d e f", False),
    ("court", False),
    ("Motdepasse123!", False),
    ("x" * 129, False),
])
def test_password_policy_has_length_not_composition_rules(db, password, accepted):
    new = services.NewUser(f"user{len(password)}", "Some One", password)
    if accepted:
        assert services.create_user(db, new).id
    else:
        with pytest.raises(ValidationFailed) as refused:
            services.create_user(db, new)
        assert [field for field, _ in refused.value.reasons] == ["password"]


def test_password_equal_to_the_structure_name_is_refused(db):
    structure = services.save_structure(db, services.StructureData(name="Centre social du Lac"))
    new = services.NewUser("lea", "Léa", "centre social du lac", structure_id=structure.id)
    with pytest.raises(ValidationFailed):
        services.create_user(db, new, structure_name=structure.name)


def test_overlong_password_is_refused_before_any_hashing(db, monkeypatch):
    services.create_user(db, services.NewUser("nina", "Nina", PASSWORD))
    calls = []

    class SpyHasher:
        def verify(self, *args):
            calls.append(args)
            return True

    monkeypatch.setattr(services, "_hasher", SpyHasher())
    assert services.authenticate(db, "nina", "y" * 129, max_failures=5, lock_seconds=60,
                                 audit_key="k") is None
    assert calls == []


def test_old_hash_parameters_are_upgraded_at_login(db):
    user = services.create_user(db, services.NewUser("omar", "Omar", PASSWORD))
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    old = user.password_hash
    assert services.authenticate(db, "omar", PASSWORD, max_failures=5, lock_seconds=60,
                                 audit_key="k") is user
    assert user.password_hash != old and services._hasher.verify(user.password_hash, PASSWORD)


def test_unknown_user_and_wrong_password_look_the_same(app, create_user):
    create_user(username="known")
    unknown = app.test_client().post("/login", data={"username": "nobody", "password": "whatever it is"})
    wrong = app.test_client().post("/login", data={"username": "known", "password": "whatever it is"})
    assert unknown.status_code == wrong.status_code == 200
    assert GENERIC_FAILURE in unknown.data and GENERIC_FAILURE in wrong.data
    # Same page but for the login name typed back into the field and the form token.
    def page(response, typed):
        return re.sub(rb'name="csrf_token"[^>]*>', b"", response.data.replace(typed, b"NAME"))

    assert page(unknown, b"nobody") == page(wrong, b"known")
    cookie_names = [[c.split("=")[0] for c in r.headers.getlist("Set-Cookie")] for r in (unknown, wrong)]
    assert cookie_names[0] == cookie_names[1]


def test_login_is_throttled_per_account_and_survives_a_restart(app, client, create_user, tmp_path):
    create_user(username="target")
    create_user(username="other")
    for _ in range(5):
        client.post("/login", data={"username": "target", "password": "not the password"})
    # The right password is refused while the account is locked...
    assert GENERIC_FAILURE in client.post("/login", data={"username": "target", "password": PASSWORD}).data
    # ...another account still logs in...
    assert client.post("/login", data={"username": "other", "password": PASSWORD}).status_code == 302
    # ...and a restarted app on the same database still refuses.
    restarted = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "WTF_CSRF_ENABLED": False,
                            "BABEL_DEFAULT_LOCALE": "en",
                            "DATABASE_URL": app.config["DATABASE_URL"]})
    response = restarted.test_client().post("/login", data={"username": "target", "password": PASSWORD})
    assert GENERIC_FAILURE in response.data
    with time_machine.travel(timedelta(seconds=61)):
        again = restarted.test_client().post("/login", data={"username": "target", "password": PASSWORD})
        assert again.status_code == 302


def _session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_session_is_renewed_at_login(client, create_user):
    username = create_user()
    client.get("/login")
    client.post("/language/en", data={"next": "/login"})
    before = _session_cookie(client)
    client.post("/login", data={"username": username, "password": PASSWORD})
    after = _session_cookie(client)
    assert before and after and before != after
    with client.session_transaction() as session:
        assert session["lang"] == "en", "the chosen language survives login"
        assert set(session) <= {"lang", "sid", "seen", "_fresh", "csrf_token", "_flashes"}


def _replay(app, cookie, path="/"):
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get(path)


def test_logout_revokes_the_session_server_side(app, client, logged_in):
    logged_in()
    cookie = _session_cookie(client)
    assert _replay(app, cookie).status_code == 200
    client.post("/logout")
    replay = _replay(app, cookie)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]


def test_password_change_ends_other_sessions(app, client, create_user, auth):
    username = create_user()
    elsewhere = app.test_client()
    elsewhere.post("/login", data={"username": username, "password": PASSWORD})
    auth.login(username)
    new_password = "une toute nouvelle phrase"
    response = client.post("/account/password",
                           data={"current_password": PASSWORD, "new_password": new_password})
    assert response.status_code == 302
    assert elsewhere.get("/").status_code == 302, "the other browser is logged out"
    assert client.get("/").status_code == 200, "this browser stays logged in"


def test_deactivation_and_end_all_sessions_revoke_at_once(app, client, create_user, logged_in):
    target = create_user(username="target")
    victim = app.test_client()
    victim.post("/login", data={"username": target, "password": PASSWORD})
    logged_in("admin")
    with app.app_context():
        target_id = _db.session.query(User).filter_by(username="target").one().id
    client.post(f"/users/{target_id}/end-sessions")
    assert victim.get("/").status_code == 302
    victim.post("/login", data={"username": target, "password": PASSWORD})
    client.post(f"/users/{target_id}", data={"display_name": "Target", "role": "conseiller",
                                            "structure_id": "", "is_active": ""})
    assert victim.get("/").status_code == 302
    assert victim.post("/login", data={"username": target, "password": PASSWORD}).status_code == 200


def test_idle_and_absolute_timeouts(app, client, logged_in):
    logged_in()
    with time_machine.travel(timedelta(minutes=29)):
        assert client.get("/").status_code == 200
    with time_machine.travel(timedelta(minutes=29 + 31)):
        assert client.get("/").status_code == 302, "idle for 31 minutes"


def test_absolute_timeout_despite_activity(app, client, logged_in):
    logged_in()
    for minutes in range(20, 600, 20):
        with time_machine.travel(timedelta(minutes=minutes)):
            assert client.get("/").status_code == 200
    with time_machine.travel(timedelta(minutes=601)):
        assert client.get("/").status_code == 302


def test_first_visit_offers_the_first_account_only_while_none_exists(client):
    assert client.get("/login").headers["Location"].endswith("/setup")
    response = client.post("/setup", data={"display_name": "Ada Admin", "username": "ada",
                                           "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/users").status_code == 200, "the first account is an administrator"
    assert client.get("/setup").status_code == 404


def test_first_account_service_refuses_once_an_account_exists(db):
    services.create_first_account(db, services.NewUser("ada", "Ada", PASSWORD))
    with pytest.raises(NotAllowed):
        services.create_first_account(db, services.NewUser("eve", "Eve", PASSWORD))


def test_users_create_command(app, runner):
    result = runner.invoke(args=["users", "create", "--username", "Marie", "--name", "Marie Dupont",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    second = runner.invoke(args=["users", "create", "--username", "paul", "--name", "Paul",
                                 "--password", "court"])
    assert second.exit_code != 0 and "15" in second.output
    with app.app_context():
        assert _db.session.query(User).filter_by(username="marie").one().role == "admin"
        assert _db.session.query(UserSession).count() == 0


def test_admin_cannot_lock_themselves_out(app, client, logged_in):
    username = logged_in("admin")
    with app.app_context():
        me = _db.session.query(User).filter_by(username=username).one()
    response = client.post(f"/users/{me.id}", data={"display_name": "Me", "role": "conseiller",
                                                   "structure_id": "", "is_active": "y"})
    assert response.status_code == 200
    assert client.get("/users").status_code == 200, "still an administrator"


def test_a_hub_has_no_setup_page(tmp_path, monkeypatch):
    app = create_app({"TESTING": True, "ROLE": "hub", "SECRET_KEY": "h" * 64,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite'}"})
    with app.app_context():
        _db.create_all()
        stamp()
    client = app.test_client()
    assert client.get("/setup").status_code == 404
    assert client.get("/login").status_code == 200
