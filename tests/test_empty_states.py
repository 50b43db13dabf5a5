"""Every list that can be empty says what is missing and what to do next, in the page's language,
with a link or a form to that next step when the user may take it (issue 9).

Each page is rendered on an empty database as an administrator, in French and in English; the
French empty state is compared with the English one, so an untranslated sentence or label fails.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from tests.conftest import PASSWORD, make_test_app
from tests.login_helpers import log_in
from tests.test_registrations import build_world
from workshops.auth import services as auth_services
from workshops.core.models import utcnow
from workshops.extensions import db as _db
from workshops.scheduling.models import Workshop

VOID_TAGS = {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}


class EmptyStates(HTMLParser):
    """The `.empty-state` blocks of a page: their text pieces and the next steps they offer."""

    def __init__(self):
        super().__init__()
        self.blocks: list[dict] = []
        self._block = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if self._block is None:
            if "empty-state" in (attributes.get("class") or "").split():
                self._block, self._depth = {"texts": [], "targets": []}, 1
            return
        if tag not in VOID_TAGS:
            self._depth += 1
        if tag == "a" and attributes.get("href"):
            self._block["targets"].append(attributes["href"])
        if tag == "form" and attributes.get("action"):
            self._block["targets"].append(attributes["action"])

    def handle_endtag(self, tag):
        if self._block is not None and tag not in VOID_TAGS:
            self._depth -= 1
            if self._depth == 0:
                self.blocks.append(self._block)
                self._block = None

    def handle_data(self, data):
        text = " ".join(data.split())
        if self._block is not None and text:
            self._block["texts"].append(text)


def empty_states(html: str) -> list[dict]:
    parser = EmptyStates()
    parser.feed(html)
    return parser.blocks


def _words(text: str) -> list[str]:
    """The words of a sentence, leaving out quoted commands ("flask seed reference")."""
    return re.findall(r"[^\W\d_]+", re.sub(r"\"[^\"]*\"", " ", text).lower())


def assert_translated(french: dict, english: dict, path: str):
    """The French block has the English block's shape, and no English sentence or label in it."""
    assert len(french["texts"]) == len(english["texts"]), (path, french, english)
    for fr_text, en_text in zip(french["texts"], english["texts"], strict=True):
        assert fr_text != en_text, f"{path}: not translated: {en_text!r}"
    english_runs = set()
    for text in english["texts"]:
        words = _words(text)
        english_runs |= {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    for text in french["texts"]:
        words = _words(text)
        runs = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
        assert not runs & english_runs, f"{path}: English words on the French page: {runs & english_runs}"


def _make(tmp_path, monkeypatch, role="laptop"):
    app = make_test_app(tmp_path, monkeypatch, role, ROLE=role, WTF_CSRF_ENABLED=False)
    with app.app_context():
        for username, account_role in (("admin", "admin"), ("claude", "conseiller")):
            auth_services.create_user(_db.session, auth_services.NewUser(
                username=username, display_name=username.title(), password=PASSWORD, role=account_role))
        _db.session.commit()
    return app


def _dispose(app):
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(scope="module")
def laptop(tmp_path_factory):
    """A laptop with accounts and nothing else."""
    monkeypatch = pytest.MonkeyPatch()
    app = _make(tmp_path_factory.mktemp("empty"), monkeypatch)
    yield app
    _CLIENTS.clear()
    _dispose(app)
    monkeypatch.undo()


@pytest.fixture(scope="module")
def atelier(tmp_path_factory):
    """A laptop with one atelier planned for tomorrow, nobody registered: (app, its id)."""
    monkeypatch = pytest.MonkeyPatch()
    app = _make(tmp_path_factory.mktemp("atelier"), monkeypatch)
    with app.app_context():
        world = build_world(_db.session)
        start = utcnow().replace(microsecond=0) + timedelta(days=1)
        workshop = Workshop(title="Parents et numérique", start_dt=start, end_dt=start + timedelta(hours=2),
                            venue=world.venue, structure=world.home, status="planned")
        _db.session.add(workshop)
        _db.session.commit()
        workshop_id = str(workshop.id)
    yield app, workshop_id
    _CLIENTS.clear()
    _dispose(app)
    monkeypatch.undo()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    app = _make(tmp_path_factory.mktemp("hub"), monkeypatch, role="hub")
    yield app
    _CLIENTS.clear()
    _dispose(app)
    monkeypatch.undo()


_CLIENTS: dict = {}


def _client(app, username: str):
    """One logged-in client per app and account (a hub asks admins for a code at each login)."""
    key = (id(app), username)
    if key not in _CLIENTS:
        client = app.test_client()
        assert log_in(app, client, username).status_code == 302
        _CLIENTS[key] = client
    return _CLIENTS[key]


def _render(app, path: str, lang: str, username="admin") -> str:
    client = _client(app, username)
    client.post(f"/language/{lang}", data={"next": "/"})
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}"' in page
    return page


def check_page(app, path: str, next_step: str | None, username="admin"):
    """Both renders have an empty state, the French one translated, offering `next_step`."""
    renders = {lang: empty_states(_render(app, path, lang, username)) for lang in ("fr", "en")}
    assert renders["en"], f"{path}: no empty state"
    assert len(renders["fr"]) == len(renders["en"])
    for french, english in zip(renders["fr"], renders["en"], strict=True):
        assert english["texts"], f"{path}: an empty state with no message"
        assert_translated(french, english, path)
    targets = [target for block in renders["fr"] for target in block["targets"]]
    if next_step is None:
        assert targets == [], f"{path}: offers {targets} where the user has no next step"
    else:
        assert any(target.startswith(next_step) for target in targets), (path, targets)
        assert targets == [target for block in renders["en"] for target in block["targets"]]


# (path, the start of the link or form action to the next step)
LAPTOP_PAGES = [
    ("/ateliers", "/ateliers/new"),
    ("/ateliers/week", "/ateliers/new"),
    ("/ateliers?when=past", "/ateliers"),
    ("/ateliers?start=2030-01-01", "/ateliers"),
    ("/families", "/families/new"),
    ("/families?q=zzzz", "/families/new"),
    ("/materiel", "/materiel/new"),
    ("/materiel/stock", "/import/materiel"),
    ("/materiel/prets", "/ateliers"),
    ("/resources", "/resources/new"),
    ("/venues", "/venues/new"),
    ("/structures", "/structures/new"),
    ("/rapports", "/ateliers"),
    ("/rapports/fiches-cra.pdf", "/rapports"),
    ("/sync", "#hub_url"),
    ("/admin/audit/?action=erasure", "/admin/audit/"),
    ("/import/familles/resultat", "/import/familles"),
    ("/import/materiel/resultat", "/import/materiel"),
]


@pytest.mark.parametrize("path,next_step", LAPTOP_PAGES, ids=[p for p, _ in LAPTOP_PAGES])
def test_an_empty_list_says_what_to_do_next(laptop, path, next_step):
    check_page(laptop, path, next_step)


# A new atelier with nobody registered: (page under /ateliers/<id>, next step; {id} is its id)
ATELIER_PAGES = [
    ("", "/ateliers/{id}/registrations"),
    ("/registrations", "/import/familles?workshop_id={id}"),
    ("/checkin", "#walk-in"),
    ("/sheet", "#sheet-walk-ins"),
    ("/imprimer", "/ateliers/{id}/registrations"),
    ("/imprimer/tout/pdf", "/ateliers/{id}/imprimer"),
    ("/remises", "/ateliers/{id}/checkin"),
    ("/resources-shown", "/resources"),
]


@pytest.mark.parametrize("page,next_step", ATELIER_PAGES, ids=[p or "/" for p, _ in ATELIER_PAGES])
def test_a_new_atelier_with_nobody_registered_says_what_to_do_next(atelier, page, next_step):
    app, workshop_id = atelier
    check_page(app, f"/ateliers/{workshop_id}{page}", next_step.format(id=workshop_id))


HUB_PAGES = [("/hub/devices", "/hub/devices/new"), ("/hub/conflicts", "/hub/devices")]


@pytest.mark.parametrize("path,next_step", HUB_PAGES, ids=[p for p, _ in HUB_PAGES])
def test_an_empty_hub_page_says_what_to_do_next(hub, path, next_step):
    check_page(hub, path, next_step)


# A conseiller may not add these: the empty state says who can, and links to no form it refuses.
WHO_CAN = [("/resources", "manager"), ("/structures", "manager")]


@pytest.mark.parametrize("path,who", WHO_CAN, ids=[p for p, _ in WHO_CAN])
def test_an_empty_list_tells_a_conseiller_who_can_fill_it(laptop, path, who):
    check_page(laptop, path, None, username="claude")
    english = empty_states(_render(laptop, path, "en", username="claude"))
    assert who in " ".join(english[0]["texts"])


def test_the_parser_finds_blocks_and_their_targets():
    html = ('<p>x</p><div class="empty-state"><p class="empty-state__message">No <b>thing</b>.</p>'
            '<p><a class="button" href="/new">Add</a></p><form action="/go"></form></div>'
            '<a href="/out">o</a>')
    assert empty_states(html) == [{"texts": ["No", "thing", ".", "Add"], "targets": ["/new", "/go"]}]
