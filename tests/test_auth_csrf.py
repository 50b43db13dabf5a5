"""With CSRF on, account and settings forms refuse a POST without this session's token (R13)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from tests.conftest import PASSWORD, csrf_token_of, make_test_app
from workshops.auth import services
from workshops.auth.models import User
from workshops.extensions import db as _db


@pytest.fixture
def csrf_app(tmp_path, monkeypatch):
    app = make_test_app(tmp_path, monkeypatch, "csrf", BABEL_DEFAULT_LOCALE="en")
    with app.app_context():
        for name, role in (("admin", "admin"), ("target", "conseiller")):
            services.create_user(_db.session, services.NewUser(name, name.title(), PASSWORD, role=role))
        _db.session.commit()
    return app


def log_in(app, username="admin"):
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def snapshot(app) -> str:
    """A hash of every row of every table."""
    with app.app_context():
        _db.session.remove()
        digest = hashlib.sha256()
        for table in _db.metadata.sorted_tables:
            query = text(f'SELECT * FROM "{table.name}" ORDER BY 1')  # noqa: S608 (our own table names)
            for row in _db.session.execute(query):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()


def target_id(app):
    with app.app_context():
        return _db.session.scalars(select(User.id).filter_by(username="target")).one()


def forms(user_id):
    return [
        ("/logout", {}),
        ("/account/password", {"current_password": PASSWORD, "new_password": "une nouvelle phrase longue"}),
        ("/users/new", {"username": "intrus", "display_name": "Intrus", "password": PASSWORD,
                        "role": "admin", "structure_id": ""}),
        (f"/users/{user_id}", {"display_name": "Target", "role": "admin", "structure_id": "",
                               "is_active": "y"}),
        (f"/users/{user_id}/end-sessions", {}),
        ("/structures/new", {"name": "Intruse", "kind": "other"}),
        ("/families/new", {"display_name": "Famille Intruse"}),
    ]


def test_posts_without_a_token_are_refused_and_change_nothing(csrf_app):
    log_in(csrf_app, "target")  # a session that end-sessions would remove
    client = log_in(csrf_app)
    before = snapshot(csrf_app)
    for path, data in forms(target_id(csrf_app)):
        response = client.post(path, data=data)
        assert response.status_code == 400, path
    assert snapshot(csrf_app) == before
    assert client.get("/users").status_code == 200, "still logged in"


def test_a_token_from_another_session_is_refused(csrf_app):
    other = log_in(csrf_app, "target")
    foreign = csrf_token_of(other.get("/account/password").get_data(as_text=True))
    client = log_in(csrf_app)
    before = snapshot(csrf_app)
    for path, data in forms(target_id(csrf_app)):
        assert client.post(path, data={**data, "csrf_token": foreign}).status_code == 400, path
    assert snapshot(csrf_app) == before


def test_the_login_form_needs_its_token_too(csrf_app):
    client = csrf_app.test_client()
    before = snapshot(csrf_app)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400 and client.get("/").status_code == 302
    assert snapshot(csrf_app) == before
