"""Who can reach what, and what every response carries (R01, R02, R13, R17-R20)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import request
from flask_migrate import stamp
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_token_of, get_paths, make_test_app
from workshops import create_app
from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.auth.models import Structure
from workshops.core.security import is_public_endpoint
from workshops.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent

# Every endpoint reachable without a login. Adding one is a decision: add it here.
# help.*: the user guide (docs/guide, no personal data), readable from the login page.
PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.setup", "core.language", "help.index", "help.page",
                    "help.image"}
# The hub's sync API: laptops authenticate with their device token (or a pairing code), not a login.
HUB_PUBLIC_ENDPOINTS = PUBLIC_ENDPOINTS | {"sync_api.enrol", "sync_api.hello", "sync_api.push",
                                          "sync_api.pull", "sync_api.roll"}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
       "frame-ancestors 'none'")


def _concrete_paths(app):
    """One URL per route, with a made-up id for each converter."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            converters = rule._converters
            values = {arg: uuid.uuid4() if type(converters[arg]).__name__ == "UUIDConverter" else "x"
                      for arg in rule.arguments if arg in converters}
            if rule.endpoint == "static":
                values = {"filename": "css/app.css"}
            yield rule, rule.build(values)[1]


def test_public_endpoints_are_exactly_the_decided_ones(app):
    public = {rule.endpoint for rule in app.url_map.iter_rules()
              if is_public_endpoint(app, rule.endpoint)}
    assert public == PUBLIC_ENDPOINTS


@pytest.fixture
def hub_app(tmp_path, monkeypatch):
    app = make_test_app(tmp_path, monkeypatch, "hub", ROLE="hub", WTF_CSRF_ENABLED=False)
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_the_hub_adds_only_its_sync_api_to_the_public_endpoints(hub_app):
    public = {rule.endpoint for rule in hub_app.url_map.iter_rules()
              if is_public_endpoint(hub_app, rule.endpoint)}
    assert public == HUB_PUBLIC_ENDPOINTS


def test_every_hub_page_sends_anonymous_visitors_to_login(hub_app):
    with hub_app.app_context():
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="admin", display_name="Admin", password=PASSWORD, role="admin"))
        _db.session.commit()
    client, checked = hub_app.test_client(), 0
    for rule, path in _concrete_paths(hub_app):
        if rule.endpoint in HUB_PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, path)
            checked += 1
    assert checked >= 10 and any(rule.endpoint.startswith("hub.") for rule in hub_app.url_map.iter_rules())


def test_every_other_route_sends_anonymous_visitors_to_login(app, client, create_user):
    create_user()  # a laptop with an account (no first-run redirect)
    checked = 0
    for rule, path in _concrete_paths(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code == 302, (method, path)
            assert "/login" in response.headers["Location"], (method, path)
            checked += 1
    assert checked >= 10


# role -> endpoints paths and expected status for a GET
ROLE_TABLE = [
    ("/", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/users", {"conseiller": 403, "manager": 403, "admin": 200}),
    ("/users/new", {"conseiller": 403, "manager": 403, "admin": 200}),
    ("/structures", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/structures/new", {"conseiller": 403, "manager": 200, "admin": 200}),
    ("/account/password", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/ateliers", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/ateliers/week", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/ateliers/new", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/families", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/families/new", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/import/familles", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/materiel", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/materiel/new", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/materiel/stock", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/materiel/prets", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/import/materiel", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/resources/new", {"conseiller": 403, "manager": 200, "admin": 200}),
    ("/venues/new", {"conseiller": 200, "manager": 200, "admin": 200}),
    ("/rapports", {"conseiller": 200, "manager": 200, "admin": 200}),
]


@pytest.mark.parametrize("role", ["conseiller", "manager", "admin"])
@pytest.mark.parametrize("path,expected", ROLE_TABLE)
def test_role_matrix(client, logged_in, role, path, expected):
    logged_in(role)
    assert client.get(path).status_code == expected[role]


def test_a_conseiller_posting_to_an_admin_form_changes_nothing(app, client, logged_in):
    logged_in("conseiller")
    response = client.post("/structures/new", data={"name": "Intrus", "kind": "other"})
    assert response.status_code == 403
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Structure)) == 0


@pytest.fixture
def csrf_app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "k",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'csrf.sqlite'}"})
    with app.app_context():
        _db.create_all()
        stamp()
    return app


def test_forms_without_a_valid_token_are_refused_and_change_nothing(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/setup", data={"display_name": "Eve", "username": "eve",
                                           "password": "une phrase de passe assez longue"})
    assert response.status_code == 400
    assert b"Rechargez la page" in response.data
    assert client.get("/setup").status_code == 200, "no account was created"


def test_a_form_token_from_the_page_is_accepted(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token_of(client.get("/setup").get_data(as_text=True))
    response = client.post("/setup", data={"csrf_token": token, "display_name": "Ada",
                                           "username": "ada",
                                           "password": "une phrase de passe assez longue"})
    assert response.status_code == 302


def _assert_security_headers(response, *, personal=True):
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    if personal:
        assert response.headers["Cache-Control"] == "no-store"


def test_security_headers_on_pages_errors_and_static(app, client, logged_in):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret detail 0601020304")

    _assert_security_headers(client.get("/login"))
    logged_in()
    _assert_security_headers(client.get("/"))
    not_found = client.get("/no-such-page")
    assert not_found.status_code == 404
    _assert_security_headers(not_found)
    error = client.get("/boom")
    assert error.status_code == 500
    _assert_security_headers(error)
    assert b"secret detail" not in error.data and b"Traceback" not in error.data
    with client.get("/static/css/app.css") as static:
        _assert_security_headers(static, personal=False)


def test_500_is_logged_without_the_message(app, client, logged_in, caplog):
    @app.route("/boom")
    def boom():
        raise RuntimeError(request.args["who"])

    logged_in()
    client.get("/boom?who=Mme+Canary+0601020304")
    assert "RuntimeError" in caplog.text
    assert "0601020304" not in caplog.text and "Canary" not in caplog.text


TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))
STATIC_TEXT = sorted(p for p in (ROOT / "static").rglob("*") if p.suffix in {".css", ".js", ".svg"})


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_style_or_handlers(path):
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style[\s>]", html), "inline <style>"
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "event handler attribute"
    assert "|safe" not in html.replace(" ", ""), "|safe on template data"


@pytest.mark.parametrize("path", TEMPLATE_FILES + STATIC_TEXT, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_is_loaded_from_the_network(path):
    text = path.read_text(encoding="utf-8")
    loads = re.findall(r"""(?:src|href)=["']https?://|url\(["']?https?://|@import\s+["']?https?://""", text)
    assert loads == []


def test_get_requests_never_change_the_database(app, client, runner, logged_in):
    app.config["DEMO"] = True  # demo data gives a sample row for every kind of page
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    logged_in("admin")
    database = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))

    def dump():
        with app.app_context():
            _db.session.remove()
            raw = _db.engine.raw_connection()
            try:
                return "\n".join(raw.driver_connection.iterdump())
            finally:
                raw.close()

    def data(text: str) -> list[str]:
        """The dump without the audit journal: a download of personal data is journaled (its
        own transaction, workshops.audit.services.record_apart); nothing else may change."""
        return [line for line in text.splitlines() if '"audit_entries"' not in line]

    def journaled() -> list[str]:
        with app.app_context():
            return list(_db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))

    before, earlier = dump(), journaled()
    for path in get_paths(app):
        client.get(path)
    assert database.exists() and data(dump()) == data(before)
    added = journaled()[len(earlier):]
    assert set(added) <= {"export"}, "only downloads of personal data are journaled by a GET"


def test_session_cookie_is_http_only_and_same_site_strict(client, create_user):
    username = create_user()
    response = client.post("/login", data={"username": username,
                                           "password": "une phrase de passe assez longue"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie, "a laptop serves plain http on 127.0.0.1"


def test_a_form_left_open_during_an_atelier_still_submits(csrf_app):
    """The form token lives as long as the session, not one hour (R15)."""
    client = csrf_app.test_client()
    token = csrf_token_of(client.get("/setup").get_data(as_text=True))
    client.post("/setup", data={"csrf_token": token, "display_name": "Ada", "username": "ada",
                                "password": "une phrase de passe assez longue"})
    form_token = csrf_token_of(client.get("/structures/new").get_data(as_text=True))
    for minutes in (25, 50, 75, 90):
        with time_machine.travel(timedelta(minutes=minutes)):
            if minutes < 90:
                assert client.get("/").status_code == 200
                continue
            response = client.post("/structures/new", data={"csrf_token": form_token,
                                                             "name": "MJC Aliénor", "kind": "association"})
            assert response.status_code == 302, "accepted 90 minutes after the form was shown"


def test_https_same_origin_post_passes_the_referrer_check(tmp_path):
    """On a hub (HTTPS) Flask-WTF checks the Referer; our policy must keep sending it (R16)."""
    app = create_app({"TESTING": True, "ROLE": "hub", "SECRET_KEY": "h" * 64,
                      "BABEL_DEFAULT_LOCALE": "en",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite'}"})
    with app.app_context():
        _db.create_all()
        stamp()
    client = app.test_client()
    base = "https://hub.example"
    page = client.get("/login", base_url=base)
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = csrf_token_of(page.get_data(as_text=True))
    without = client.post("/login", base_url=base, data={"csrf_token": token, "username": "a",
                                                          "password": "b" * 12})
    assert without.status_code == 400, "no Referer on HTTPS: refused"
    same_origin = client.post("/login", base_url=base, headers={"Referer": f"{base}/login"},
                              data={"csrf_token": token, "username": "a", "password": "b" * 12})
    assert same_origin.status_code == 200 and b"Login failed" in same_origin.data
