"""Hostile markup typed into any free-text field is shown as text on every page (R28).

Every free-text field a person can type (or that another machine sends: the hub's device
name, a conflict's values) is given a hostile value; then an administrator opens every GET
page of the laptop, and the hub's own pages on a hub. No HTML page may carry the markup raw,
and each field's escaped form must appear on some page, so a field that stopped being shown
(or a crawl that stopped reaching it) is noticed. A second test reads the code: `Markup()` is
only ever given literals, escape() and a few reviewed sources of our own markup.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import url_for
from markupsafe import escape
from sqlalchemy import select

from tests.conftest import PASSWORD, get_paths, make_test_app
from tests.login_helpers import log_in
from workshops.auth import services as auth_services
from workshops.auth.models import Epci, Structure, User
from workshops.core.models import utcnow
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.services import clean_tag
from workshops.extensions import db as _db
from workshops.families.models import Child, Family, Guardian
from workshops.families.normalize import name_problem, normalize_email
from workshops.resources.models import Resource, ResourceDescription
from workshops.resources.services import is_web_address
from workshops.scheduling.models import Venue, Workshop
from workshops.sync.device_services import is_safe_hub_url, sync_state
from workshops.sync.models import Conflict, Device

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = "<img src=x onerror=alert(1)>\"'<script>"
# What must never reach a page: the hostile tags themselves, in any case and with "/" for spaces.
RAW = re.compile(r"<img[\s/]+src=x[\s/]+onerror|<script>", re.IGNORECASE)

# Names (guardians, children) refuse "<", ">", '"' and digits (R21): their most hostile accepted
# value has apostrophes (which close a single-quoted attribute), a hyphen and a dot.
NAME_TAIL = "'O'Hara-D'Arc."
# E-mail addresses refuse "<", ">" and '"' outside a quoted local part (which the validator
# refuses too): the most hostile accepted local part has an apostrophe, "&" and "=".
EMAIL_TAIL = "'&x='1@example.org"
# Asset tags lose their spaces and are upper-cased (as a scanner types them): no space, capitals.
TAG_TAIL = "<SCRIPT>\"'<IMG/SRC=X/ONERROR=ALERT(1)>"
# Web addresses refuse spaces and any scheme but http(s): the markup goes in the path and query.
URL_TAIL = "?q=\"'><img/src=x/onerror=alert(1)><script>"
# Not seeded: phone numbers (stored as E.164 digits), postcodes (5 digits), SIREN numbers (9
# digits), and every kind/status/level/category (chosen from a list and checked).


def free_text(marker: str) -> Callable[[int], str]:
    return lambda index: f"{marker} {HOSTILE} {index}"


def name(marker: str) -> Callable[[int], str]:
    return lambda index: f"{marker}{NAME_TAIL}"


# (model, column) -> the value of its index-th row. Markers are letters and digits only (names
# take letters only) and unique, so each field's escaped value is found on the pages.
FIELDS: dict[tuple[type, str], Callable[[int], str]] = {
    (Epci, "name"): free_text("epcinamez"),
    (Structure, "name"): free_text("structnamez"),
    (Structure, "commune"): free_text("structcommunez"),
    (User, "display_name"): free_text("userdisplayz"),
    (User, "username"): free_text("userloginz"),  # login names are folded to lower case
    (Venue, "name"): free_text("venuenamez"),
    (Venue, "address"): free_text("venueaddressz"),
    (Venue, "commune"): free_text("venuecommunez"),
    (Workshop, "title"): free_text("ateliertitlez"),
    (Workshop, "notes"): free_text("ateliernotesz"),
    (Workshop, "cancelled_reason"): free_text("ateliercancelz"),
    (Resource, "name"): free_text("resourcenamez"),
    (Resource, "url"): lambda index: f"https://example.org/resourceurlz{index}{URL_TAIL}",
    (ResourceDescription, "text"): free_text("resourcetextz"),
    (Family, "commune"): free_text("familycommunez"),
    (Family, "notes"): free_text("familynotesz"),
    (Guardian, "first_name"): name("Guardianfirstz"),
    (Guardian, "last_name"): name("Guardianlastz"),
    (Guardian, "email"): lambda index: f"guardianmailz{index}{EMAIL_TAIL}",
    (Child, "first_name"): name("Childfirstz"),
    (Equipment, "asset_tag"): lambda index: f"TAGZ{index}{TAG_TAIL}",
    **{(Equipment, column): free_text(f"equip{column.replace('_', '')}z")
       for column in ("serial", "brand", "model", "cpu", "storage", "operating_system", "accessories",
                      "origin", "refurbisher", "notes")},
    (Handover, "notes"): free_text("handovernotesz"),
    (EquipmentEvent, "place"): free_text("eventplacez"),
    (EquipmentEvent, "reason"): free_text("eventreasonz"),
}


def shown(value: str) -> str:
    """How a value looks once escaped in a page (lower case: some pages capitalise names)."""
    return str(escape(value)).lower()


def test_the_fallback_values_are_what_the_fields_accept_and_hostile_is_refused():
    """The comments above hold: each narrower field refuses the hostile value and takes ours."""
    assert name_problem(HOSTILE) is not None and name_problem(f"Childfirstz{NAME_TAIL}") is None
    assert normalize_email(f"a{HOSTILE}@example.org")[0] is None
    assert normalize_email(f"guardianmailz0{EMAIL_TAIL}") == (f"guardianmailz0{EMAIL_TAIL}", None)
    assert clean_tag(HOSTILE) != HOSTILE and clean_tag(f"TAGZ0{TAG_TAIL}") == f"TAGZ0{TAG_TAIL}"
    assert not is_web_address(f"https://example.org/{HOSTILE}")
    assert is_web_address(f"https://example.org/resourceurlz0{URL_TAIL}")
    assert is_safe_hub_url(f"https://hub.example.org/hubzurl{URL_TAIL}")


def _seed_hostile(app) -> dict[tuple[type, str], list[str]]:
    """Demo data, every free-text field overwritten; returns the values of each field."""
    seeded = {}
    with app.app_context():
        for (model, column), value_of in FIELDS.items():
            rows = list(_db.session.scalars(select(model).order_by(model.id)))
            assert rows, f"the demo has no {model.__tablename__} row to seed"
            for index, row in enumerate(rows):
                setattr(row, column, value_of(index))
            seeded[(model, column)] = [value_of(index) for index in range(len(rows))]
        # What the hub gave this laptop at its connection, and a hub's unknown error code.
        state = sync_state(_db.session)
        state.device_id, state.token = uuid.uuid4(), "t" * 43
        state.hub_url = f"https://hub.example.org/hubzurl{URL_TAIL}"
        state.device_name = f"hubzdevice {HOSTILE}"
        state.last_error, state.last_failure_dt = f"hubzerror {HOSTILE}", utcnow()
        _db.session.commit()
    return seeded


def _cancelled_atelier_pages(app) -> list[str]:
    """The page of a cancelled atelier, the only one that shows why it was cancelled."""
    with app.app_context(), app.test_request_context():
        cancelled = _db.session.scalars(select(Workshop).where(Workshop.status == "cancelled")).first()
        if cancelled is None:
            cancelled = _db.session.scalars(select(Workshop).order_by(Workshop.id)).first()
            cancelled.status = "cancelled"
            _db.session.commit()
        return [url_for("scheduling.workshop", workshop_id=cancelled.id)]


def _seen_and_raw(client, paths: list[str]) -> tuple[str, list[str]]:
    """All HTML of the pages, lower-cased, and the paths whose HTML carries raw markup."""
    pages, raw = [], []
    for path in paths:
        response = client.get(path)
        assert response.status_code < 500, path
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        if RAW.search(html):
            raw.append(path)
        pages.append(html.lower())
    return "\n".join(pages), raw


def test_no_laptop_page_shows_hostile_markup_raw(app, client, runner):
    app.config["DEMO"] = True  # demo data gives a sample row for every kind of page
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    with app.app_context():
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="crawler", display_name="Crawler", password=PASSWORD, role="admin"))
        _db.session.commit()
    assert client.post("/login", data={"username": "crawler", "password": PASSWORD}).status_code == 302
    seeded = _seed_hostile(app)  # after the login: the crawler's own names are hostile too
    paths = get_paths(app) + _cancelled_atelier_pages(app)
    html, raw = _seen_and_raw(client, paths)
    assert raw == [], "hostile markup shown raw"
    assert len(paths) > 60
    missing = [f"{model.__tablename__}.{column}" for (model, column), values in seeded.items()
               if not any(shown(value) in html for value in values)]
    assert missing == [], "fields no page showed (escaped): the crawl would not see them break"
    for value in (f"hubzdevice {HOSTILE}", f"https://hub.example.org/hubzurl{URL_TAIL}"):
        assert shown(value) in html


@pytest.fixture
def hub_app(tmp_path, monkeypatch):
    app = make_test_app(tmp_path, monkeypatch, "hub", ROLE="hub", WTF_CSRF_ENABLED=False,
                        BABEL_DEFAULT_LOCALE="en")
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_no_hub_page_shows_hostile_markup_raw(hub_app, app):
    """The pages only a hub has: its devices (their names are typed on the hub) and the sync
    conflicts (their values come from laptops)."""
    laptop_endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    hub_only = [rule for rule in hub_app.url_map.iter_rules()
                if "GET" in rule.methods and rule.endpoint not in laptop_endpoints]
    with hub_app.app_context():
        structure = Structure(name=f"structnamez {HOSTILE}", kind="other", commune=f"hubcommunez {HOSTILE}")
        _db.session.add(structure)
        _db.session.flush()
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="hubadmin", display_name=f"userdisplayz {HOSTILE}", password=PASSWORD, role="admin",
            structure_id=structure.id))
        family = Family(structure=structure, notes=f"familynotesz {HOSTILE}", notice_version="2026-01")
        family.guardians.append(Guardian(first_name=f"Guardianfirstz{NAME_TAIL}",
                                         last_name=f"Guardianlastz{NAME_TAIL}"))
        _db.session.add_all([family, Device(name=f"hubzdevice {HOSTILE}", structure_id=structure.id,
                                            app_version=f"hubzversion {HOSTILE}"[:40])])
        _db.session.flush()
        _db.session.add(Conflict(table_name="families", record_id=family.id, field="notes",
                                 kept_value=f"familynotesz {HOSTILE}", other_value=f"hubzother {HOSTILE}",
                                 kept_hlc="1", other_hlc="2"))
        _db.session.commit()
    client = hub_app.test_client()
    assert log_in(hub_app, client, "hubadmin").status_code == 302
    with hub_app.test_request_context():
        paths = [rule.build({})[1] for rule in hub_only if not rule.arguments]
    assert len(paths) == len(hub_only), "a hub-only page takes an argument: give it a sample row"
    html, raw = _seen_and_raw(client, paths)
    assert raw == [], "hostile markup shown raw"
    for value in (f"hubzdevice {HOSTILE}", f"hubzother {HOSTILE}", f"structnamez {HOSTILE}",
                  f"hubzversion {HOSTILE}"[:40]):
        assert shown(value) in html, value


# ---------- Markup() in the code ----------

# Functions whose Markup() argument is not only literals and escape(): the source of their markup
# was reviewed and is ours, and the attribute reads it may do are named. Adding one is a decision:
# add it here with the reason.
REVIEWED_MARKUP: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("workshops/core/qr.py", "qr_svg"): ("segno's SVG of a QR code", frozenset()),
    ("workshops/printing/qr.py", "qr_svg"): ("segno's SVG of a QR code", frozenset()),
    ("workshops/sync/hub_views.py", "_qr_svg"): ("segno's SVG of a QR code", frozenset()),
    ("workshops/reports/charts.py", "_svg"): ("ids and numbers of our code; every text through escape()",
                                              frozenset()),
    ("workshops/printing/report_documents.py", "_chart"): ("charts.py's SVG with two literal attributes",
                                                           frozenset()),
    ("workshops/printing/notice.py", "notice_html"): ("the render of our own autoescaped template",
                                                      frozenset()),
    ("workshops/core/i18n.py", "gettext"): ("our message catalogue; the variables escaped by Markup's %",
                                            frozenset()),
    ("workshops/core/i18n.py", "ngettext"): ("our message catalogue; the variables escaped by Markup's %",
                                             frozenset()),
    ("workshops/help/views.py", "show"): ("the user guide's Markdown files of the repository, rendered by "
                                          "markdown-it with raw HTML off", frozenset({"rendered.html"})),
}


def _is_markup_call(node: ast.AST) -> bool:
    """Markup(...), markupsafe.Markup(...), jinja2/flask.Markup(...), under any import alias."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "Markup") or \
        (isinstance(func, ast.Attribute) and func.attr == "Markup")


def _is_escape_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "escape")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "escape"))


def _only_literals_and_escape(node: ast.AST) -> bool:
    """A literal, escape(...), or literal text joining such parts (f-string, +, %)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if _is_escape_call(node):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_only_literals_and_escape(part) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return _only_literals_and_escape(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _only_literals_and_escape(node.left) and _only_literals_and_escape(node.right)
    return False


def _reads_data(node: ast.AST) -> list[str]:
    """Attribute reads and subscripts in an expression, outside escape(): `family.notes`,
    `row["title"]`. An attribute that is called (`buffer.getvalue()`) is a method, not data."""
    if _is_escape_call(node):
        return []
    found = []
    if isinstance(node, ast.Subscript):
        found.append(ast.unparse(node))
    if isinstance(node, ast.Attribute):
        found.append(ast.unparse(node))
    if isinstance(node, ast.Call):
        children = [*node.args, *(keyword.value for keyword in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            children.append(node.func.value)  # the object a method is called on
        return found + [read for child in children for read in _reads_data(child)]
    return found + [read for child in ast.iter_child_nodes(node) for read in _reads_data(child)]


def markup_problems(source: str, relative: str) -> list[str]:
    """Every Markup() call of a module that breaks the rule:

    - its argument is made of string literals and escape() calls only (anywhere), or
    - it is in a reviewed function (REVIEWED_MARKUP), and even there it reads no data: no
      attribute read (`family.notes`) and no subscript (`row["notes"]`) outside escape(),
      but the reads the review names.
    """
    problems = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if _is_markup_call(node):
            where = f"{relative}:{node.lineno} in {function}()"
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if not all(_only_literals_and_escape(argument) for argument in arguments):
                reviewed = REVIEWED_MARKUP.get((relative, function))
                if reviewed is None:
                    problems.append(f"{where}: Markup() of something else than literals and escape()")
                allowed = reviewed[1] if reviewed else frozenset()
                problems.extend(f"{where}: Markup() reads {read}" for argument in arguments
                                for read in _reads_data(argument) if read not in allowed)
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source), "")
    return problems


def test_markup_is_only_made_of_literals_escape_and_reviewed_sources():
    modules = sorted((ROOT / "workshops").rglob("*.py"))
    problems = [problem for path in modules
                for problem in markup_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert problems == []
    calls = sum(_is_markup_call(node) for path in modules
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    assert calls >= len(REVIEWED_MARKUP), "the scan sees today's Markup() calls"


@pytest.mark.parametrize("source,where", [
    ("def page(family):\n    return Markup(family.notes)\n", "workshops/families/views.py"),
    ("def page(row):\n    return markupsafe.Markup(f'<p>{row[\"title\"]}</p>')\n", "workshops/x.py"),
    ("def _svg(title, family):\n    return Markup(f'<title>{escape(title)}</title>' + family.notes)\n",
     "workshops/reports/charts.py"),
    ("def qr_svg(text, family):\n    return Markup(family.notes.strip())\n", "workshops/core/qr.py"),
    ("def show(text):\n    return Markup(text)\n", "workshops/families/views.py"),
    ("def show(page, family):\n    return Markup(family.notes)\n", "workshops/help/views.py"),
])
def test_the_markup_rule_refuses_markup_of_model_fields(source, where):
    assert markup_problems(source, where) != []


def test_the_markup_rule_accepts_literals_and_escape():
    source = "def page(family):\n    return Markup('<b>') + Markup(f'<i>{escape(family.notes)}</i>')\n"
    assert markup_problems(source, "workshops/families/views.py") == []


# Ways to make a template out of a string at run time (a template built from input runs it).
TEMPLATE_FROM_TEXT = {"render_template_string", "stream_template_string", "from_string", "Template"}


def test_no_template_is_built_from_a_string():
    calls = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sorted((ROOT / "workshops").rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and (getattr(node.func, "id", None) in TEMPLATE_FROM_TEXT
                                                or getattr(node.func, "attr", None) in TEMPLATE_FROM_TEXT)]
    assert calls == [], "templates are files under templates/, never text"
