"""Languages: every page in French and English, every template string through Babel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_migrate import stamp

from tests.conftest import get_paths
from workshops import create_app
from workshops.core.i18n import catalogue_problems
from workshops.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent

# Words that are the same in every language and may stand outside _().
LANGUAGE_NAMES = {"English", "Français"}


def _visible_text(template: str) -> str:
    text = re.sub(r"\{#.*?#\}", " ", template, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    # Scripts, and commands shown to type, are not prose.
    text = re.sub(r"<(script|style|pre|code|kbd)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return text


@pytest.mark.parametrize("path", sorted((ROOT / "templates").rglob("*.html")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_text_outside_babel(path):
    words = re.findall(r"[^\W\d_]{2,}", _visible_text(path.read_text(encoding="utf-8")))
    leftover = [word for word in words if word not in LANGUAGE_NAMES]
    assert leftover == [], f"text not passed through _(): {leftover[:10]}"


def test_catalogues_are_complete_and_current():
    assert catalogue_problems() == []


# A word of the layout that every page shows, per language.
LOG_OUT = {"fr": "Se déconnecter", "en": "Log out"}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_renders_in_both_languages(app, client, runner, logged_in, lang):
    app.config["DEMO"] = True  # demo data gives a sample row for every kind of page
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    logged_in("admin")
    client.post(f"/language/{lang}", data={"next": "/"})
    rendered = 0
    for path in get_paths(app):
        response = client.get(path)
        if path == "/setup":
            assert response.status_code == 404, "no first-run page once an account exists"
            continue
        assert response.status_code == 200, path
        if not response.data.lstrip().lower().startswith(b"<!doctype"):
            continue  # an HTML fragment fetched by a page's script
        assert f'<html lang="{lang}"'.encode() in response.data, path
        assert LOG_OUT[lang] in response.get_data(as_text=True), path
        rendered += 1
    assert rendered >= 8


def test_french_is_the_default_language(tmp_path, monkeypatch):
    """A fresh installation speaks French until someone chooses otherwise."""
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "SECRET_KEY": "k",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'fr.sqlite'}"})
    with app.app_context():
        _db.create_all()
        stamp()
    page = app.test_client().get("/setup").get_data(as_text=True)
    assert '<html lang="fr"' in page and "Créer le compte administrateur" in page
    with app.app_context():
        _db.engine.dispose()


# --- translations and dates looked up once per request ----------------------------------


def test_a_forced_language_translates_even_after_the_page_language_was_cached(app):
    """The catalogue kept on `g` follows force_locale (printing in a family's language)."""
    import flask_babel
    from flask import render_template_string, session

    with app.test_request_context("/"):
        session["lang"] = "fr"
        assert flask_babel.gettext("Check in") == "Pointer l'arrivée"
        with flask_babel.force_locale("en"):
            assert flask_babel.gettext("Check in") == "Check in"
            assert render_template_string("{{ _('Check in') }}") == "Check in"
        assert flask_babel.gettext("Check in") == "Pointer l'arrivée"
        assert render_template_string("{{ _('Check in') }}") == "Pointer l'arrivée"


def test_template_translations_escape_what_they_are_given(app):
    from flask import render_template_string, session

    with app.test_request_context("/"):
        session["lang"] = "fr"
        page = render_template_string(
            "{{ _('Check in %(name)s', name='<b>Zoé</b>') }} | "
            "{{ ngettext('%(num)d upcoming atelier, the soonest first', "
            "'%(num)d upcoming ateliers, the soonest first', 2) }}")
    assert page == ("Pointer l'arrivée de &lt;b&gt;Zoé&lt;/b&gt; | "
                    "2 ateliers à venir, les plus proches en premier")


@pytest.mark.parametrize("when", ["2026-03-29T00:30", "2026-03-29T01:30", "2026-10-25T00:59",
                                  "2026-10-25T01:01", "2026-12-03T13:30"])
def test_date_filters_show_paris_time_as_flask_babel_does(app, when):
    """The date filters work out the language and zone once, and say the same, across DST."""
    from datetime import UTC, datetime

    import flask_babel
    from flask import render_template_string, session

    value = datetime.fromisoformat(when).replace(tzinfo=UTC)
    for lang in ("fr", "en"):
        with app.test_request_context("/"):
            session["lang"] = lang
            for style in ("short", "medium", "full"):
                shown = render_template_string(
                    "{{ v|dateformat(s) }}|{{ v|timeformat(s) }}|{{ v|datetimeformat(s) }}", v=value, s=style)
                expected = (flask_babel.format_date(value, style), flask_babel.format_time(value, style),
                            flask_babel.format_datetime(value, style))
                assert shown == "|".join(expected).replace("'", "&#39;")
