"""axe-core on every main page, in French and in English (issue 9, item 4; design.md §6).

The demo admin, logged in on an app full of the demonstration data, opens each page; axe-core
(from the npm registry, tests/browser/axe) checks it against WCAG 2.1 A and AA, and any
violation axe rates serious or critical fails the page's own test, named by page and language,
with the rule, its help and the elements at fault.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y_world import (
    axe_source,
    describe,
    log_in,
    new_context,
    run_axe,
    shared_world,
)

pytestmark = pytest.mark.browser

# Name, path (with {ids} filled from the world), expected HTTP status, logged in.
PAGES = (
    ("home", "/", 200, True),
    ("ateliers", "/ateliers", 200, True),
    ("ateliers-week", "/ateliers/week", 200, True),
    ("atelier", "/ateliers/{door}", 200, True),
    ("atelier-past", "/ateliers/{past}", 200, True),
    ("atelier-new", "/ateliers/new", 200, True),
    ("atelier-edit", "/ateliers/{door}/edit", 200, True),
    ("ateliers-series", "/ateliers/series/new", 200, True),
    ("registrations", "/ateliers/{door}/registrations", 200, True),
    ("headcount", "/ateliers/{door}/headcount", 200, True),
    ("resources-shown", "/ateliers/{door}/resources-shown", 200, True),
    ("checkin", "/ateliers/{door}/checkin", 200, True),
    ("sheet", "/ateliers/{door}/sheet", 200, True),
    ("print", "/ateliers/{door}/imprimer", 200, True),
    ("families", "/families", 200, True),
    ("family", "/families/{family}", 200, True),
    ("family-new", "/families/new", 200, True),
    ("family-edit", "/families/{family}/edit", 200, True),
    ("family-merge", "/families/{family}/merge", 200, True),
    ("family-erase", "/families/{family}/erase", 200, True),
    ("import-families", "/import/familles", 200, True),
    ("import-equipment", "/import/materiel", 200, True),
    ("equipment", "/materiel", 200, True),
    ("equipment-item", "/materiel/{equipment}", 200, True),
    ("equipment-new", "/materiel/new", 200, True),
    ("stock", "/materiel/stock", 200, True),
    ("loans", "/materiel/prets", 200, True),
    ("handovers", "/ateliers/{desk}/remises", 200, True),
    ("handover", "/remises/{handover}", 200, True),
    ("resources", "/resources", 200, True),
    ("resource", "/resources/{resource}", 200, True),
    ("venues", "/venues", 200, True),
    ("venue-new", "/venues/new", 200, True),
    ("reports", "/rapports", 200, True),
    ("sync", "/sync", 200, True),
    ("privacy-notice", "/confidentialite", 200, True),
    ("privacy-register", "/privacy/register", 200, True),
    ("users", "/users", 200, True),
    ("user-new", "/users/new", 200, True),
    ("structures", "/structures", 200, True),
    ("structure-new", "/structures/new", 200, True),
    ("audit", "/admin/audit/", 200, True),
    ("password", "/account/password", 200, True),
    ("not-found", "/nothing-here", 404, True),
    ("login", "/login", 200, False),
)
LANGUAGES = ("fr", "en")

def _case(name: str, path: str, status: int, logged_in: bool, language: str):
    return pytest.param(name, path, status, logged_in, language, id=f"{name}-{language}")


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
def pages(browser, world):
    """One page per (language, logged in), opened on first use and kept for the module."""
    opened: dict[tuple[str, bool], Page] = {}
    contexts = []

    def get(language: str, logged_in: bool) -> Page:
        if (language, logged_in) not in opened:
            context = new_context(browser, world.url)
            contexts.append(context)
            page = context.new_page()
            if logged_in:
                log_in(page, world.url, language)
            else:
                page.goto("/login")
                if language != "fr":
                    page.locator("button.language-switch").click()
                    page.wait_for_load_state("load")
            opened[(language, logged_in)] = page
        return opened[(language, logged_in)]

    yield get
    for context in contexts:
        context.close()


@pytest.mark.parametrize(("name", "path", "status", "logged_in", "language"), [
    _case(*page, language) for language in LANGUAGES for page in PAGES])
def test_no_serious_or_critical_violation(axe, pages, world, name, path, status, logged_in, language):
    page = pages(language, logged_in)
    response = page.goto(path.format(**vars(world.ids)))
    assert response is not None and response.status == status, f"{name}: HTTP {response and response.status}"
    assert page.locator("html").get_attribute("lang") == language
    violations = run_axe(page, axe)
    assert not violations, f"{name} in {language}, {page.url}:\n{describe(violations)}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", ["/ateliers/new", "/families/new"])
def test_a_form_sent_empty_shows_its_errors_accessibly(axe, pages, path, language):
    """The error state: the list of fields to correct at the top, each error by its field."""
    page = pages(language, True)
    page.goto(path)
    page.locator("main form[method=post] button[type=submit]").first.click()
    expect(page.locator("main .alert--error").first).to_be_visible()
    expect(page.locator("main .field__error").first).to_be_visible()
    violations = run_axe(page, axe)
    assert not violations, f"{path} with errors in {language}:\n{describe(violations)}"


def test_axe_reports_what_it_must(axe, pages):
    """The harness itself: a picture without a text alternative and grey-on-grey text slipped
    into a page are reported, so a clean page above is clean, not unchecked."""
    page = pages("fr", True)
    page.goto("/")
    assert not run_axe(page, axe)
    page.evaluate("""() => {
        const main = document.querySelector('main');
        const picture = document.createElement('img');
        picture.src = '/static/img/icon-book.svg';
        main.append(picture);
        const faint = document.createElement('p');
        faint.textContent = 'Texte à peine lisible';
        faint.style.cssText = 'color: #bbbbbb; background: #ffffff';
        main.append(faint);
    }""")
    found = {violation["id"] for violation in run_axe(page, axe)}
    assert {"image-alt", "color-contrast"} <= found, found
