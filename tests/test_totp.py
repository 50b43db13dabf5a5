"""The hub's second factor for managers and admins (R12), on SQLite and PostgreSQL; laptops never ask."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import time_machine
from flask_migrate import stamp
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.sync.conftest import HUB_SECRET, _reset_postgres, make_app, postgres_url
from workshops.audit.models import AuditEntry
from workshops.auth import services
from workshops.auth.models import LoginThrottle, User, UserSession, UserTotp
from workshops.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent
WRONG_CODE = b"This code is not right or was already used"


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, tmp_path, monkeypatch):
    url = postgres_url() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'hub.sqlite'}"
    app = make_app(url, str(tmp_path / "hub-instance"), monkeypatch, ROLE="hub")
    with app.app_context():
        if url.startswith("postgresql"):
            _reset_postgres(url)
        else:
            _db.create_all()
            stamp()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def make_user(app, role, username=None):
    with app.app_context():
        user = services.create_user(_db.session, services.NewUser(username or role, role.title(), PASSWORD,
                                                                  role=role))
        _db.session.commit()
        return user.username


def secret_of(app, username):
    with app.app_context():
        user = _db.session.scalars(select(User).filter_by(username=username)).one()
        row = _db.session.get(UserTotp, user.id)
        return row.secret if row else None


def count(app, model, **where):
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def actions(app):
    with app.app_context():
        return list(_db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def password_step(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    return response


def enrol(app, client, username):
    """Password, then the first code: the account is enrolled and logged in."""
    password_step(client, username)
    code = pyotp.TOTP(secret_of(app, username)).now()
    assert client.post("/login", data={"code": code}).status_code == 302
    return code


def test_enrolment_shows_a_qr_code_and_the_secret_then_needs_a_first_code(hub):
    username = make_user(hub, "manager")
    client = hub.test_client()
    password_step(client, username)
    page = client.get("/login").get_data(as_text=True)
    secret = secret_of(hub, username)
    assert "<svg" in page and " ".join(re.findall(".{1,4}", secret)) in page
    assert count(hub, UserSession) == 0 and client.get("/").status_code == 302, "no session yet"
    wrong_code = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    wrong = client.post("/login", data={"code": wrong_code})
    assert WRONG_CODE in wrong.data and count(hub, UserSession) == 0
    assert client.post("/login", data={"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.get("/").status_code == 200
    assert count(hub, UserSession) == 1
    with hub.app_context():
        assert _db.session.scalars(select(UserTotp)).one().confirmed_dt is not None
    assert actions(hub)[-3:] == ["totp_failed", "totp_enrolled", "login"]


def test_without_a_valid_code_there_is_no_session_and_failures_lock_the_account(hub):
    username = make_user(hub, "admin")
    client = hub.test_client()
    enrol(hub, client, username)
    client.post("/logout")
    with time_machine.travel(timedelta(minutes=1)):
        password_step(client, username)
        for _ in range(5):
            assert WRONG_CODE in client.post("/login", data={"code": "12345"}).data
        good = pyotp.TOTP(secret_of(hub, username)).now()
        assert WRONG_CODE in client.post("/login", data={"code": good}).data, "locked: even the right code"
        assert client.get("/").status_code == 302
    assert count(hub, UserSession) == 0
    assert count(hub, LoginThrottle, username_key=username) == 1
    assert actions(hub)[-6:] == ["totp_failed"] * 5 + ["login_throttled"]


def test_a_code_is_accepted_once(hub):
    username = make_user(hub, "manager")
    client = hub.test_client()
    with time_machine.travel("2026-03-02 09:00:10 +0000", tick=False):
        used = enrol(hub, client, username)
        client.post("/logout")
        password_step(client, username)
        replay = client.post("/login", data={"code": used})
        assert WRONG_CODE in replay.data and client.get("/").status_code == 302
    with time_machine.travel("2026-03-02 09:00:40 +0000", tick=False):
        fresh = pyotp.TOTP(secret_of(hub, username)).now()
        assert fresh != used
        assert client.post("/login", data={"code": fresh}).status_code == 302
        assert client.get("/").status_code == 200


def test_a_code_from_the_previous_step_still_works_but_not_older(hub):
    username = make_user(hub, "manager")
    client = hub.test_client()
    with time_machine.travel("2026-03-02 09:00:10 +0000", tick=False):
        enrol(hub, client, username)
        client.post("/logout")
    totp = pyotp.TOTP(secret_of(hub, username))
    with time_machine.travel("2026-03-02 09:05:10 +0000", tick=False):
        password_step(client, username)
        two_steps_ago = totp.at(totp.timecode(services.utcnow()) * 30 - 60)
        assert WRONG_CODE in client.post("/login", data={"code": two_steps_ago}).data
        previous = totp.at(totp.timecode(services.utcnow()) * 30 - 30)
        assert client.post("/login", data={"code": previous}).status_code == 302


def test_a_conseiller_on_the_hub_has_no_second_step(hub):
    username = make_user(hub, "conseiller")
    client = hub.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and not response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 200 and count(hub, UserTotp) == 0


def test_the_pending_step_expires_after_five_minutes(hub):
    username = make_user(hub, "manager")
    client = hub.test_client()
    password_step(client, username)
    with time_machine.travel(timedelta(minutes=6)):
        page = client.get("/login").get_data(as_text=True)
        assert 'name="password"' in page, "back to the password step"


def test_an_admin_resets_a_lost_second_factor(hub):
    manager = make_user(hub, "manager")
    admin = make_user(hub, "admin")
    enrol(hub, hub.test_client(), manager)
    admin_client = hub.test_client()
    enrol(hub, admin_client, admin)
    with hub.app_context():
        manager_id = _db.session.scalars(select(User.id).filter_by(username=manager)).one()
    assert "Reset login code" in admin_client.get("/users").get_data(as_text=True)
    assert admin_client.post(f"/users/{manager_id}/second-factor/reset").status_code == 302
    assert secret_of(hub, manager) is None
    assert actions(hub)[-1] == "totp_reset"
    again = hub.test_client()
    password_step(again, manager)
    assert "<svg" in again.get("/login").get_data(as_text=True), "enrols again"


def test_a_laptop_never_asks_for_a_code(app, client, create_user):
    username = create_user("admin")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and not response.headers["Location"].endswith("/login")
    assert client.get("/users").status_code == 200
    assert count(app, UserTotp) == 0
    with app.app_context():
        user_id = _db.session.scalars(select(User.id).filter_by(username=username)).one()
    assert client.post(f"/users/{user_id}/second-factor/reset").status_code == 404


def test_the_laptop_decision_is_documented():
    decision = (ROOT / "docs" / "security-decisions.md").read_text(encoding="utf-8")
    assert "TOTP" in decision and "full-disk encryption" in decision


def test_the_hub_session_cookie_is_host_prefixed_and_secure(tmp_path, monkeypatch):
    app = make_app(f"sqlite:///{tmp_path / 'hub.sqlite'}", str(tmp_path / "i"), monkeypatch, ROLE="hub")
    with app.app_context():
        _db.create_all()
        stamp()
    make_user(app, "conseiller")
    response = app.test_client().post("/login", base_url="https://hub.example",
                                      headers={"Referer": "https://hub.example/login"},
                                      data={"username": "conseiller", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/" in cookie and "Domain=" not in cookie
    assert HUB_SECRET not in cookie


def test_the_operator_resets_the_code_of_the_only_admin(hub):
    admin = make_user(hub, "admin")
    enrol(hub, hub.test_client(), admin)
    result = hub.test_cli_runner().invoke(args=["users", "reset-code", admin.upper()])
    assert result.exit_code == 0, result.output
    assert secret_of(hub, admin) is None and actions(hub)[-1] == "totp_reset"
    again = hub.test_cli_runner().invoke(args=["users", "reset-code", admin])
    assert again.exit_code == 0 and "nothing to reset" in again.output
