"""The in-app guide (/aide): the header's Help link leads to the guide page of the current screen,
in the interface's language; pages render from docs/guide with their screenshots; unknown
pages, unsafe names and raw HTML in the Markdown go nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_registrations import build_world, new_workshop
from workshops.core.db import READ_ONLY
from workshops.extensions import db as _db
from workshops.help import pages
from workshops.help.render import render

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide"
HELP_LINK = re.compile(r'<a href="([^"]*)" class="help-link"')


def help_link(html: str) -> str:
    found = HELP_LINK.findall(html)
    assert len(found) == 1, "one Help link in the header"
    return found[0]


def title_of(language: str, page: str) -> str:
    """The page's title as its Markdown file gives it (the first line, `# Title`)."""
    first = (GUIDE / language / f"{page}.md").read_text(encoding="utf-8").splitlines()[0]
    return first.removeprefix("# ")


def h1(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL).group(1)


@pytest.fixture
def atelier(app, create_user, auth):
    """A conseiller of the atelier's structure, logged in (the tests' UI is English)."""
    with app.app_context():
        world = build_world(_db.session)
        workshop_id = new_workshop(_db.session, world).id
        home = world.home.id
    assert auth.login(create_user("conseiller", structure_id=home)).status_code == 302
    return workshop_id


def test_the_help_link_of_the_checkin_page_leads_to_its_guide_page_in_the_ui_language(client, atelier):
    client.post("/language/fr", data={"next": "/"})
    link = help_link(client.get(f"/ateliers/{atelier}/checkin").get_data(as_text=True))
    assert link == "/aide/checkin"
    french = client.get(link).get_data(as_text=True)
    assert h1(french) == title_of("fr", "checkin") == "Accueillir les familles"
    assert '<img src="/aide/img/fr/checkin.png"' in french

    client.post("/language/en", data={"next": "/"})
    link = help_link(client.get(f"/ateliers/{atelier}/checkin").get_data(as_text=True))
    assert link == "/aide/checkin"
    english = client.get(link).get_data(as_text=True)
    assert h1(english) == title_of("en", "checkin") == "Check families in"
    assert '<img src="/aide/img/en/checkin.png"' in english

    with client.get("/aide/img/en/checkin.png") as image:
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(("path", "page"), [
    ("/", "/aide/"),
    ("/ateliers", "/aide/prepare"),
    ("/ateliers/{id}", "/aide/prepare"),
    ("/ateliers/{id}/registrations", "/aide/checkin"),
    ("/import/familles", "/aide/import"),
    ("/ateliers/{id}/remises", "/aide/handover"),
    ("/materiel", "/aide/handover"),
    ("/ateliers/{id}/imprimer", "/aide/print"),
    ("/sync", "/aide/sync"),
    ("/no-such-page", "/aide/troubleshooting"),
])
def test_each_screen_links_to_its_guide_page(client, atelier, path, page):
    response = client.get(path.format(id=atelier))
    assert help_link(response.get_data(as_text=True)) == page


def test_guide_links_inside_a_page_stay_in_the_app(client, atelier):
    index = client.get("/aide/").get_data(as_text=True)
    for page in ("prepare", "import", "checkin", "handover", "print", "sync", "troubleshooting"):
        assert f'href="/aide/{page}"' in index
        assert client.get(f"/aide/{page}").status_code == 200


def test_the_guide_is_readable_logged_out_from_the_login_page(client, create_user):
    create_user("admin")  # else the login page sends to the first account's setup
    login = client.get("/login").get_data(as_text=True)
    assert help_link(login) == "/aide/troubleshooting"
    page = client.get("/aide/troubleshooting")
    assert page.status_code == 200
    assert h1(page.get_data(as_text=True)) == title_of("en", "troubleshooting")
    with client.get("/aide/img/en/login.png") as image:
        assert image.status_code == 200


def test_a_read_only_database_sends_the_help_link_to_troubleshooting(app, client, atelier):
    app.extensions[READ_ONLY] = True
    assert help_link(client.get("/ateliers").get_data(as_text=True)) == "/aide/troubleshooting"


@pytest.mark.parametrize("path", [
    "/aide/no-such-page", "/aide/..", "/aide/..%2F..%2Fsetup", "/aide/README", "/aide/Index",
    "/aide/img/fr/no-such.png", "/aide/img/xx/checkin.png", "/aide/img/fr/checkin.svg",
    "/aide/img/fr/..%2F..%2F..%2Fsetup.cfg", "/aide/img/fr/.checkin.png", "/aide/img/../fr/checkin.png",
])
def test_unknown_pages_and_unsafe_names_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"[metadata]" not in response.data and b"\x89PNG" not in response.data


def test_raw_html_in_the_markdown_is_shown_as_text(app, client, tmp_path, monkeypatch):
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "index.md").write_text(
        "# Guide <b>gras</b>\n\n<script>alert('x')</script>\n\n"
        "<img src=x onerror=alert(1)>\n\n[piège](javascript:alert(1)) [suite](sync.md)\n",
        encoding="utf-8")
    monkeypatch.setattr(pages, "GUIDE_DIR", tmp_path)
    html = client.get("/aide/").get_data(as_text=True)
    body = html.split('<article class="guide">')[1].split("</article>")[0]
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in body.replace("&#x27;", "'")
    assert "<script" not in body and "<img" not in body and "<b>" not in body
    assert "javascript:" not in body.split("piège")[0][-40:]
    assert 'href="/aide/sync"' in body


def test_an_english_page_missing_falls_back_to_french(client, tmp_path, monkeypatch):
    (tmp_path / "fr").mkdir()
    (tmp_path / "en").mkdir()
    (tmp_path / "fr" / "sync.md").write_text("# Synchroniser\n", encoding="utf-8")
    monkeypatch.setattr(pages, "GUIDE_DIR", tmp_path)
    assert h1(client.get("/aide/sync").get_data(as_text=True)) == "Synchroniser"


def test_render_rewrites_guide_links_and_screenshots_only():
    rendered = render("# Titre\n\n[a](checkin.md) [b](https://example.org) ![c](../img/fr/sync.png) "
                      "![d](/etc/x.png)\n",
                      lambda page, anchor: f"/P/{page}", lambda language, name: f"/I/{language}/{name}")
    assert rendered.title == "Titre"
    assert 'href="/P/checkin"' in rendered.html and 'href="https://example.org"' in rendered.html
    assert 'src="/I/fr/sync"' in rendered.html and 'src="/etc/x.png"' in rendered.html


def test_headings_get_githubs_anchors_and_links_to_them_work_in_the_app(client, tmp_path, monkeypatch):
    text = "# Titre\n\n## Où sont les données ?\n\n## Avant : le `disque`\n\n## Avant : le disque\n"
    rendered = render(text, lambda page, anchor: "", lambda language, name: "")
    assert '<h2 id="où-sont-les-données-">' in rendered.html
    assert '<h2 id="avant--le-disque">' in rendered.html and '<h2 id="avant--le-disque-1">' in rendered.html

    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "index.md").write_text("# Guide\n\n[hub](sync.md#où-est-le-hub)\n", encoding="utf-8")
    (tmp_path / "fr" / "sync.md").write_text("# Synchroniser\n\n## Où est le hub\n", encoding="utf-8")
    monkeypatch.setattr(pages, "GUIDE_DIR", tmp_path)
    assert 'href="/aide/sync#o%C3%B9-est-le-hub"' in client.get("/aide/").get_data(as_text=True)
    assert '<h2 id="où-est-le-hub">' in client.get("/aide/sync").get_data(as_text=True)
