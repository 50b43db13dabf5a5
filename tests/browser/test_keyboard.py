"""The three journeys of a day, with the keyboard only (issue 9, item 4; design.md §6).

Check a family in at the door, import a list of families, hand a computer over: Tab, Shift+Tab,
Enter, Space, arrow keys and typing through `page.keyboard`, never a click. Choosing the file
to import is the one exception: the file input is reached with Tab, then `set_input_files`
stands for the operating system's file dialog, which a headless browser does not draw.
At several steps the focused element must show the focus ring, and where axe-core is installed
the pages met on the way (results of a search, the import's steps, the handover's preview) are
checked as in test_accessibility.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y_world import (
    ADMIN,
    DOOR_FAMILIES,
    HAND_OVER_FAMILY,
    PASSWORD,
    axe_source,
    describe,
    new_context,
    run_axe,
    shared_world,
)
from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "familles-exemple.csv"
TAB_LIMIT = 80  # presses before giving up on reaching an element

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const own = getComputedStyle(e);
  const after = getComputedStyle(e, '::after');
  const ring = (s) => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                      || (s.boxShadow && s.boxShadow !== 'none');
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'),
          text: (e.innerText || e.value || '').trim().slice(0, 60),
          visible: e.matches(':focus-visible'), ring: ring(own) || ring(after)};
}"""


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def axe():
    """axe-core's source, or None where it is not installed (the journeys still run; on CI,
    WORKSHOPS_REQUIRE_BROWSER=1 makes its absence a failure)."""
    try:
        return axe_source()
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def session(browser, world):
    """The demo admin, logged in with the keyboard: Tab to each field, type, Enter."""
    context = new_context(browser, world.url)
    page = context.new_page()
    page.goto("/login")
    tab_to(page, "input[name=username]")
    assert_focus_visible(page, "login name")
    page.keyboard.type(ADMIN)
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{world.url}/")
    yield page, PageProblems(page)
    context.close()


def describe_focus(page: Page) -> str:
    info = page.evaluate(FOCUSED)
    if info is None:
        return "nothing"
    return f"<{info['tag']} id={info['id']!r} name={info['name']!r}> {info['text']!r}"


def tab_to(page: Page, selector: str, *, back: bool = False, limit: int = TAB_LIMIT) -> None:
    """Press Tab (Shift+Tab when `back`) until the focused element matches `selector`."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{limit} presses of {key} never reached {selector}; focus is on {describe_focus(page)}")


def assert_focus_visible(page: Page, where: str) -> None:
    """The focused element matches :focus-visible and draws a ring (outline or shadow)."""
    info = page.evaluate(FOCUSED)
    assert info is not None, f"{where}: nothing has the focus"
    assert info["visible"] and info["ring"], f"{where}: no visible focus on {describe_focus(page)}"


def check_axe(page: Page, axe: str | None, where: str) -> None:
    if axe is not None:
        violations = run_axe(page, axe)
        assert not violations, f"{where}, {page.url}:\n{describe(violations)}"


def test_check_in_a_family_with_the_keyboard(session, world, axe):
    page, problems = session
    door = world.ids.door
    page.goto(f"/ateliers/{door}")
    # From the atelier's page to its check-in screen: Tab to the link, Enter.
    tab_to(page, f"main a[href='/ateliers/{door}/checkin']")
    assert_focus_visible(page, "link to the check-in screen")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/ateliers/{door}/checkin$"))
    search = page.locator("#checkin-search input[name=q]")
    expect(search).to_be_focused()  # ready to type as the page opens
    assert_focus_visible(page, "search field")
    counters = page.locator("#checkin-counters .counter__value")
    expect(counters.first).to_have_text("0")

    last, first = DOOR_FAMILIES[1]
    page.keyboard.type(last[:3].lower(), delay=60)
    hits = page.locator("#checkin-results .checkin-hit")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text(f"{last} {first}")
    check_axe(page, axe, "check-in with a family found")
    # Tab from the field to the family's button (past the search button and the walk-in link).
    tab_to(page, "#checkin-results button.checkin-hit")
    assert_focus_visible(page, "the family's check-in button")
    page.keyboard.press("Enter")
    expect(counters.first).to_have_text("1")
    expect(page.locator("#checkin-roster .roster__present")).to_have_count(1)
    expect(page.locator("#checkin-roster .roster__present")).to_contain_text(f"{last} {first}")
    expect(page.locator("#checkin-status")).to_contain_text(first)
    expect(search).to_be_focused()  # back in the field for the next family
    check_axe(page, axe, "check-in after a family came in")

    # Another one with the roster's own button: Tab down the list to her "check in" button.
    last, first = DOOR_FAMILIES[2]
    family = world.ids.door_families[2]
    tab_to(page, f"#checkin-roster form:has(input[name=family_id][value='{family}']) button[type=submit]")
    assert_focus_visible(page, "a roster button")
    page.keyboard.press("Space")
    expect(counters.first).to_have_text("2")
    expect(page.locator("#checkin-roster .roster__present")).to_have_count(2)
    problems.assert_clean("check-in by keyboard")


def test_import_a_list_with_the_keyboard(session, world, axe):
    page, problems = session
    page.goto("/")
    tab_to(page, "nav.main-nav a[href='/import/familles']")  # the main menu's entry
    assert_focus_visible(page, "main menu entry")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/import/familles$"))
    tab_to(page, "input[type=file][name=file]")
    assert_focus_visible(page, "file input")
    page.locator("input[type=file][name=file]").set_input_files(SAMPLE)  # the system's file dialog
    tab_to(page, "main form[enctype='multipart/form-data'] button[type=submit]")
    assert_focus_visible(page, "read the file button")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/import/familles/colonnes\?token="))
    check_axe(page, axe, "import: columns")
    # Correct one guess with the arrow keys, as a user checking the columns would, then back.
    tab_to(page, "main form select")
    assert_focus_visible(page, "first column choice")
    chosen = page.evaluate("document.activeElement.value")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") != chosen, "the arrow key changes the column"
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.value") == chosen
    tab_to(page, "form[action='/import/familles/colonnes'] button[type=submit]")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/import/familles/apercu\?token="))
    check_axe(page, axe, "import: preview")
    counters = page.locator("main ul.counters strong").all_inner_texts()
    ready, warned, _refused = (int(text) for text in counters)
    ticked = page.locator("input[type=checkbox][name=include]:checked").count()
    # Untick the first warned row kept with Space, then reach the confirm button.
    tab_to(page, "input[type=checkbox][name=include]:checked")
    assert_focus_visible(page, "a row's checkbox")
    page.keyboard.press("Space")
    expect(page.locator("input[type=checkbox][name=include]:checked")).to_have_count(ticked - 1)
    tab_to(page, "form[action='/import/familles/confirmer'] button[type=submit]")
    assert_focus_visible(page, "import button")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/import/familles/resultat$"))
    created = int(page.locator("main ul.counters li.counter strong").first.inner_text())
    assert created == ready + ticked - 1, (ready, warned, ticked, created)
    check_axe(page, axe, "import: result")
    problems.assert_clean("import by keyboard")


def test_hand_a_computer_over_with_the_keyboard(session, world, axe):
    page, problems = session
    ids = world.ids
    page.goto(f"/ateliers/{ids.desk}")
    tab_to(page, f"main a[href='/ateliers/{ids.desk}/remises']")  # the atelier's equipment panel
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/ateliers/{ids.desk}/remises$"))
    # The asset tag field has the focus (a scanner types into it); go back to the family first.
    expect(page.locator("#asset_tag")).to_be_focused()
    tab_to(page, "#family_id", back=True)
    assert_focus_visible(page, "family list")
    page.keyboard.type(HAND_OVER_FAMILY[0][:3], delay=60)  # a list jumps to what is typed
    expect(page.locator("#family_id")).to_have_value(ids.receiver)
    tab_to(page, "input[name=mode]")
    page.keyboard.press("Space")  # the first choice of the group
    expect(page.locator("input[name=mode]:checked")).to_have_count(1)
    mode = page.evaluate("document.activeElement.value")
    tab_to(page, "#asset_tag")
    page.keyboard.type(ids.asset_tag.lower())
    page.keyboard.press("Enter")  # as a scanner does: shows the machine and the terms

    expect(page.locator("#terms-text")).to_be_visible()
    expect(page.locator(".handover-preview")).to_contain_text(ids.asset_tag)
    check_axe(page, axe, "handover: preview")
    tab_to(page, "button[name=step][value=confirm]")
    assert_focus_visible(page, "confirm button")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/remises/[0-9a-f-]{36}$"))
    expect(page.locator(".flashes .alert--success")).to_contain_text(ids.asset_tag)
    expect(page.locator("main")).to_contain_text(HAND_OVER_FAMILY[0])
    check_axe(page, axe, f"handover recorded ({mode})")
    page.goto(f"/materiel/{ids.equipment}")
    expect(page.locator("main")).to_contain_text(HAND_OVER_FAMILY[0])
    problems.assert_clean("handover by keyboard")
