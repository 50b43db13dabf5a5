"""Every failure gives a page that says what happened and what to do, in the user's language,
and never a traceback, an exception name, SQL, a file path or the raw message (issue 9)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from flask import Blueprint, abort, render_template_string
from jinja2.exceptions import UndefinedError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.conftest import PASSWORD, csrf_token_of, make_test_app
from workshops import create_app
from workshops.auth import services as auth_services
from workshops.core.db import begin_write
from workshops.extensions import db as _db

SECRET = "Dupont-0601020304-tok3n"

# What must never reach a page, whatever failed.
LEAKS = ("Traceback", 'File "', ".py", "sqlite3", "OperationalError", "KeyError", "ValueError",
         "UndefinedError", "SELECT", "INSERT", "no_such_column", "jinja2", "werkzeug", SECRET, "0601020304")


def _boom_blueprint() -> Blueprint:
    """Test-only routes, each failing in its own way."""
    bp = Blueprint("boom", __name__, url_prefix="/boom")

    @bp.route("/value", methods=["GET", "POST"])
    def value():
        raise ValueError(f"bad value {SECRET}")

    @bp.route("/key")
    def key():
        raise KeyError(SECRET)

    @bp.route("/locked", methods=["GET", "POST"])
    def locked():
        raise OperationalError("UPDATE families SET last_name = ?", (SECRET,),
                               sqlite3.OperationalError("database is locked"))

    @bp.route("/locked-after-commit", methods=["POST"])
    def locked_after_commit():
        begin_write(_db.session)
        _db.session.commit()  # something was saved before the database turned busy
        raise OperationalError("UPDATE families SET last_name = ?", (SECRET,),
                               sqlite3.OperationalError("database is locked"))

    @bp.route("/full", methods=["GET", "POST"])
    def full():
        raise OperationalError("INSERT INTO families VALUES (?)", (SECRET,),
                               sqlite3.OperationalError("database or disk is full"))

    @bp.route("/sql")
    def sql():
        _db.session.execute(text("SELECT no_such_column_Dupont_0601020304 FROM users"))
        return "unreachable"

    @bp.route("/undefined")
    def undefined():
        return render_template_string("{{ nothing.secret }}")

    @bp.route("/undefined-direct")
    def undefined_direct():
        raise UndefinedError(f"'{SECRET}' is undefined")

    @bp.route("/after-commit", methods=["POST"])
    def after_commit():
        begin_write(_db.session)
        _db.session.commit()
        raise RuntimeError(SECRET)

    @bp.route("/forbidden")
    def forbidden():
        abort(403)

    @bp.route("/post-only", methods=["POST"])
    def post_only():
        return "ok"

    return bp


def _make_app(tmp_path, monkeypatch, **config):
    app = make_test_app(tmp_path, monkeypatch, "errors", **{"WTF_CSRF_ENABLED": False, **config})
    app.register_blueprint(_boom_blueprint())
    with app.app_context():
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="admin", display_name="Admin", password=PASSWORD, role="admin"))
        _db.session.commit()
    return app


@pytest.fixture
def boom_app(tmp_path, monkeypatch):
    app = _make_app(tmp_path, monkeypatch)
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _client(app, lang):
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    client.post(f"/language/{lang}", data={"next": "/"})
    return client


def _main_text(response) -> str:
    page = response.get_data(as_text=True)
    main = page[page.index("<main"):page.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def _assert_no_leak(response):
    page = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in page, f"{leak!r} reached the page"


# (method, path, status, English words, French words) for each failure.
CASES = [
    ("GET", "/boom/value", 500, "Nothing was changed", "Rien n'a été modifié"),
    ("POST", "/boom/value", 500, "Your change was not saved", "Votre modification n'a pas été enregistrée"),
    ("GET", "/boom/key", 500, "Nothing was changed", "Rien n'a été modifié"),
    ("GET", "/boom/sql", 500, "Nothing was changed", "Rien n'a été modifié"),
    ("GET", "/boom/undefined", 500, "Something went wrong on our side", "Un problème est survenu"),
    ("GET", "/boom/undefined-direct", 500, "Something went wrong on our side", "Un problème est survenu"),
    ("POST", "/boom/after-commit", 500, "Your change was saved", "Votre modification a été enregistrée"),
    ("GET", "/boom/locked", 503, "The database is busy", "La base de données est occupée"),
    ("POST", "/boom/locked", 503, "wait a moment, then send it again", "attendez un instant"),
    ("POST", "/boom/full", 503, "The database cannot be written", "ne peut pas être modifiée"),
    ("GET", "/boom/locked", 503, "then open the page again", "puis rouvrez la page"),
    ("GET", "/boom/full", 503, "Nothing was changed: call the administrator", "Rien n'a été modifié"),
    ("POST", "/boom/locked-after-commit", 500, "Your change was saved",
     "Votre modification a été enregistrée"),
    ("GET", "/boom/forbidden", 403, "Ask an administrator", "administrateur"),
    ("GET", "/boom/post-only", 405, "use the buttons of the page", "boutons de la page"),
    ("GET", "/no/such/page", 404, "Page not found", "Page non trouvée"),
]


@pytest.mark.parametrize("method,path,status,english,french", CASES,
                         ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_a_failure_says_what_happened_and_what_to_do_in_both_languages(boom_app, method, path, status,
                                                                       english, french):
    pages = {}
    for lang, words in (("en", english), ("fr", french)):
        response = _client(boom_app, lang).open(path, method=method)
        assert response.status_code == status
        assert response.mimetype == "text/html"
        assert f'<html lang="{lang}"'.encode() in response.data
        assert words in response.get_data(as_text=True), (lang, _main_text(response))
        _assert_no_leak(response)
        assert 'href="/"' in response.get_data(as_text=True), "no way back home"
        pages[lang] = _main_text(response)
    assert pages["fr"] != pages["en"]


def test_an_unexpected_error_gives_a_reference_that_is_in_the_log(boom_app, caplog):
    response = _client(boom_app, "en").get("/boom/key")
    match = re.search(r"Reference for the administrator: ([0-9A-F]{8})", response.get_data(as_text=True))
    assert match, _main_text(response)
    logged = [r.getMessage() for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and "KeyError" in logged[0] and SECRET not in logged[0]
    second = _client(boom_app, "en").get("/boom/key").get_data(as_text=True)
    assert match.group(1) not in second, "each failure has its own reference"


def test_when_the_layout_itself_fails_a_bare_page_still_says_what_to_do(boom_app):
    broken = []

    def broken_menu():
        raise RuntimeError(SECRET)

    boom_app.context_processor(lambda: {"main_menu": broken_menu} if broken else {})
    client = _client(boom_app, "fr")
    broken.append(True)
    response = client.get("/boom/key")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Rien n'a été modifié" in page and "Référence pour l'administrateur" in page
    assert '<html lang="fr"' in page and 'href="/"' in page
    _assert_no_leak(response)


def test_a_page_that_only_reads_never_speaks_of_an_unsaved_change(boom_app):
    for path in ("/boom/locked", "/boom/full"):
        page = _client(boom_app, "en").get(path).get_data(as_text=True)
        assert "not saved" not in page and "Nothing was changed" in page, path


def test_a_busy_database_asks_to_retry_in_a_moment(boom_app):
    response = _client(boom_app, "en").post("/boom/locked")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert "Reference" not in response.get_data(as_text=True), "nothing for the administrator to look up"


def test_a_database_locked_by_another_writer_gives_the_busy_page(tmp_path, monkeypatch):
    """A real lock: another process holds the write lock longer than the busy timeout."""
    app = _make_app(tmp_path, monkeypatch, SQLITE_BUSY_TIMEOUT_MS=100)
    pages = {lang: _client(app, lang) for lang in ("fr", "en")}
    other = sqlite3.connect(tmp_path / "errors.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        for lang, words in (("en", "The database is busy"), ("fr", "La base de données est occupée")):
            response = pages[lang].post("/ateliers/new", data={"title": f"Atelier {SECRET}"})
            assert response.status_code == 503
            assert words in response.get_data(as_text=True), _main_text(response)
            _assert_no_leak(response)
    finally:
        other.rollback()
        other.close()
    assert pages["en"].get("/ateliers").status_code == 200, "the app works again once the lock is gone"
    with app.app_context():
        _db.engine.dispose()


def test_a_missing_item_links_back_to_its_list(boom_app):
    for lang, label in (("en", "Back to the list"), ("fr", "Retour à la liste")):
        response = _client(boom_app, lang).get("/families/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert re.search(r'<a class="button" href="/families">\s*' + label, page), _main_text(response)


def test_a_missing_page_without_a_list_offers_home_only(boom_app):
    page = _client(boom_app, "en").get("/nothing-here").get_data(as_text=True)
    assert "Back to the list" not in page and "Back to the home page" in page


def test_an_upload_too_large_gives_the_limit_in_megabytes(tmp_path, monkeypatch):
    app = _make_app(tmp_path, monkeypatch, MAX_CONTENT_LENGTH=3 * 1024 * 1024,
                    IMPORT_MAX_BYTES=int(1.5 * 1024 * 1024))
    for lang, words in (("en", "The limit is 1.5 MB."), ("fr", "La limite est de 1,5 Mo.")):
        client = _client(app, lang)
        response = client.post("/import/familles", data=b"x" * (3 * 1024 * 1024 + 1),
                               content_type="application/octet-stream")
        assert response.status_code == 413
        assert words in response.get_data(as_text=True), _main_text(response)
        _assert_no_leak(response)


def test_too_many_failed_logins_say_when_to_retry(tmp_path, monkeypatch):
    app = _make_app(tmp_path, monkeypatch, LOGIN_IP_MAX_FAILURES=2, LOGIN_IP_WINDOW_SECONDS=600)
    for lang, words in (("en", "Wait 10 minutes"), ("fr", "Attendez 10 minutes")):
        client = app.test_client()
        client.post(f"/language/{lang}", data={"next": "/login"})
        for attempt in range(3):
            response = client.post("/login", data={"username": f"nobody{attempt}", "password": "wrong"})
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "600"
        assert words in response.get_data(as_text=True), _main_text(response)
        assert 'href="/login"' in response.get_data(as_text=True)


def test_an_expired_form_says_to_reload_and_send_again(tmp_path, monkeypatch):
    app = _make_app(tmp_path, monkeypatch, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    for lang, words in (("en", "nothing was saved. Reload the page"),
                        ("fr", "rien n'a été enregistré. Rechargez la page")):
        token = csrf_token_of(client.get("/").get_data(as_text=True))
        client.post(f"/language/{lang}", data={"csrf_token": token, "next": "/"})
        response = client.post("/ateliers/new", data={"csrf_token": "expired", "title": "Atelier"})
        assert response.status_code == 400
        assert words in response.get_data(as_text=True), _main_text(response)
        _assert_no_leak(response)


def test_the_sync_api_answers_json_even_when_it_fails(tmp_path, monkeypatch):
    hub = make_test_app(tmp_path, monkeypatch, "hub", ROLE="hub")
    client = hub.test_client()
    answers = [
        client.post("/api/sync/hello", data=b"not json", headers={"Authorization": f"Device {SECRET}"}),
        client.get("/api/sync/push"),  # wrong method
        client.get("/api/sync/no-such-call"),
        client.post("/api/sync/enrol", data=b"x" * (hub.config["MAX_CONTENT_LENGTH"] + 1)),
    ]
    assert [a.status_code for a in answers] == [401, 405, 404, 413]
    for answer in answers:
        assert answer.mimetype == "application/json", answer.data[:80]
        assert set(answer.get_json()) >= {"error", "message"}
        assert SECRET not in answer.get_data(as_text=True)
    with hub.app_context():
        _db.engine.dispose()


def test_the_default_configuration_shows_no_debugger_and_catches_every_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'default.sqlite'}"})
    assert app.debug is False and app.testing is False
    assert not app.config["PROPAGATE_EXCEPTIONS"]
    assert not app.config.get("TRAP_HTTP_EXCEPTIONS") and not app.config.get("EXPLAIN_TEMPLATE_LOADING")
