"""Configuration order, roles and secrets."""

from __future__ import annotations

import stat

import pytest

from workshops import create_app


@pytest.fixture
def instance(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(folder))
    for name in ("WORKSHOPS_ROLE", "WORKSHOPS_SECRET_KEY", "WORKSHOPS_DATABASE_URL", "WORKSHOPS_DEMO"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_layers_apply_in_documented_order(instance, monkeypatch):
    (instance / "config.py").write_text(
        "HELPLINE_PHONE = 'from instance'\nSESSION_IDLE_MINUTES = 11\nLOGIN_MAX_FAILURES = 7\n")
    monkeypatch.setenv("WORKSHOPS_SESSION_IDLE_MINUTES", "22")
    monkeypatch.setenv("WORKSHOPS_LOGIN_MAX_FAILURES", "8")
    app = create_app({"LOGIN_MAX_FAILURES": 9})
    assert app.config["HELPLINE_PHONE"] == "from instance"  # instance over defaults
    assert app.config["SESSION_IDLE_MINUTES"] == 22  # environment over instance
    assert app.config["LOGIN_MAX_FAILURES"] == 9  # test mapping over everything


def test_laptop_defaults_to_sqlite_in_instance_and_keeps_its_secret(instance):
    first = create_app()
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'workshops.sqlite'}"
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 64
    assert create_app().config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_demo_uses_its_own_database_file(instance, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_DEMO", "true")
    app = create_app()
    assert app.config["DEMO"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("demo.sqlite")


@pytest.mark.parametrize("secret", [None, "change-me", "short"])
def test_hub_refuses_default_or_missing_secret(instance, monkeypatch, secret):
    monkeypatch.setenv("WORKSHOPS_ROLE", "hub")
    monkeypatch.setenv("WORKSHOPS_DATABASE_URL", "postgresql+psycopg://u@localhost/db")
    if secret:
        monkeypatch.setenv("WORKSHOPS_SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="secret key"):
        create_app()
    assert not (instance / "secret_key").exists(), "a hub never makes its own key"


def test_hub_needs_a_database_url(instance, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_ROLE", "hub")
    monkeypatch.setenv("WORKSHOPS_SECRET_KEY", "x" * 64)
    with pytest.raises(RuntimeError, match="WORKSHOPS_DATABASE_URL"):
        create_app()


def test_hub_starts_with_real_secret_and_secure_cookies(instance, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_ROLE", "hub")
    monkeypatch.setenv("WORKSHOPS_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("WORKSHOPS_DATABASE_URL", "postgresql+psycopg://u@localhost/db")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.debug is False


def test_unknown_role_is_refused(instance, monkeypatch):
    monkeypatch.setenv("WORKSHOPS_ROLE", "server")
    with pytest.raises(RuntimeError, match="WORKSHOPS_ROLE"):
        create_app()


def test_create_app_touches_no_schema(instance):
    app = create_app()
    database = instance / "workshops.sqlite"
    with app.app_context():
        pass
    assert not database.exists(), "create_app() must not create or migrate the database"
