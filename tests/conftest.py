"""Fixtures in the flaskr style: app, client, runner, and factories that return callables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_migrate import stamp
from sqlalchemy import select

from workshops import create_app
from workshops.auth import services as auth_services
from workshops.extensions import db as _db

PASSWORD = "une phrase de passe assez longue"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """Compile stale message catalogues, so a plain `pytest` sees the French UI."""
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)


def make_test_app(tmp_path: Path, monkeypatch, name: str = "test", **config):
    """An app on a new SQLite file `<name>.sqlite` of tmp_path, its tables made from the models
    and stamped at the migration head, its instance folder `<name>-instance`. `config` adds to
    or overrides TESTING and a secret key long enough for a hub."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / f"{name}-instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": "a-secret-key-long-enough-0123456789abcdef",
                      "DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.sqlite'}", **config})
    with app.app_context():
        _db.create_all()
        stamp()
    return app


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An app on a fresh SQLite file, schema at the migration head, with its own
    instance folder (a test never writes into the real instance/)."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite'}",
        "WTF_CSRF_ENABLED": False,
        # Tests read messages by their ids (English), so rewording a French
        # translation breaks no test; tests/test_i18n.py proves the French UI.
        "BABEL_DEFAULT_LOCALE": "en",
    })
    with app.app_context():
        _db.create_all()
        stamp()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    """The session inside an app context, for service tests."""
    with app.app_context():
        yield _db.session
        _db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def create_user(app):
    """Make an account: create_user(role="manager", username=..., password=...)."""
    counter = iter(range(1, 10_000))

    def make(role="conseiller", username=None, password=PASSWORD, **overrides):
        with app.app_context():
            user = auth_services.create_user(_db.session, auth_services.NewUser(
                username=username or f"{role}{next(counter)}",
                display_name=overrides.pop("display_name", f"{role.title()} Test"),
                password=password, role=role, **overrides))
            _db.session.commit()
            return user.username

    return make


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username, password=PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def logged_in(create_user, auth):
    """Log in a fresh account of the given role; returns its username."""

    def login_as(role="conseiller"):
        username = create_user(role)
        response = auth.login(username)
        assert response.status_code == 302, "login should redirect"
        return username

    return login_as


# Which id each route argument takes, by table.
ROUTE_ARGUMENTS = {"users": "user_id", "structures": "structure_id", "resources": "resource_id",
                   "venues": "venue_id", "epcis": "epci_id", "workshops": "workshop_id",
                   "families": "family_id", "registrations": "registration_id",
                   "equipment": "equipment_id", "handovers": "handover_id"}


def get_paths(app) -> list[str]:
    """One URL per GET route, built with an existing row for each id it takes.

    Fails when a route takes an argument with no sample row, so a new route is
    never silently left out of the crawls.
    """
    with app.app_context():
        values = {}
        for mapper in _db.Model.registry.mappers:
            arg = ROUTE_ARGUMENTS.get(mapper.local_table.name)
            row = _db.session.scalars(select(mapper.class_).limit(1)).first() if arg else None
            if row is not None:
                values[arg] = row.id
        values.update(guide_page="checkin", guide_lang="fr", guide_image="checkin.png")
        paths = []
        with app.test_request_context():
            for rule in app.url_map.iter_rules():
                if "GET" not in rule.methods or rule.endpoint == "static":
                    continue
                missing = set(rule.arguments) - set(values) - set(rule.defaults or {})
                assert not missing, f"no sample value for {rule.endpoint} {sorted(missing)}"
                paths.append(rule.build({a: values[a] for a in rule.arguments if a in values})[1])
    return paths


def csrf_token_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)
