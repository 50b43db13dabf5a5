"""The check-in screen in Debian chromium: three letters, Enter or a tap, the counters go up;
undo brings them down; a walk-in in three fields; at 1366x768 and on a 10-inch tablet, by
keyboard, under the strict CSP."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect

from tests.browser.conftest import CSP_RECORDER, PageProblems
from tests.browser.served import served
from tests.test_registrations import START, build_world, new_family, new_workshop
from workshops import create_app
from workshops.auth.services import NewUser, create_user
from workshops.extensions import db
from workshops.families import registration_services as services

pytestmark = pytest.mark.browser

USERNAME = "conseillere-porte"
PASSWORD = "une phrase de passe assez longue"
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 800, "height": 1280}  # a 10-inch tablet held upright (CSS pixels)


@pytest.fixture(scope="module")
def door_server(tmp_path_factory):
    """The app on its own migrated SQLite file, with an atelier and two registered families."""
    folder = tmp_path_factory.mktemp("checkin")
    app = create_app({"SECRET_KEY": "browser-checkin-secret",
                      "DATABASE_URL": f"sqlite:///{folder / 'checkin.sqlite'}"})
    with app.app_context():
        upgrade()
        session = db.session
        world = build_world(session)
        workshop = new_workshop(session, world, capacity=12)
        workshop.end_dt = START + timedelta(days=3650)  # never "past" whatever the date of the run
        for last, first in (("Martin", "Élodie"), ("N’Diaye", "Awa"), ("Bernard", "Lucie")):
            services.register_family(session, workshop, new_family(session, world, last, first),
                                     world.manager)
        create_user(session, NewUser(username=USERNAME, display_name="Conseillère", password=PASSWORD,
                                     structure_id=world.home.id))
        session.commit()
        workshop_id = workshop.id
    with served(app, "waitress-checkin") as url:
        yield SimpleNamespace(url=url, workshop_id=workshop_id)
    with app.app_context():
        db.engine.dispose()


def open_page(browser, server, viewport):
    context = browser.new_context(base_url=server.url, locale="fr-FR", viewport=viewport,
                                  has_touch=viewport is TABLET)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = PageProblems(page)
    page.goto("/login")
    page.locator("input[name=username]").fill(USERNAME)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{server.url}/")
    page.goto(f"/ateliers/{server.workshop_id}/checkin")
    return context, page, problems


def counter(page, index: int):
    return page.locator("#checkin-counters .counter__value").nth(index)


def test_three_letters_enter_undo_tap_and_a_walk_in(browser, door_server):
    context, page, problems = open_page(browser, door_server, LAPTOP)
    try:
        search = page.locator("#checkin-search input[name=q]")
        expect(search).to_be_focused()
        expect(counter(page, 0)).to_have_text("0")
        problems.assert_clean("check-in page")

        # Three letters, the family appears, Enter checks it in.
        search.press_sequentially("elo", delay=60)
        expect(page.locator("#checkin-results .checkin-hit")).to_have_count(1)
        expect(page.locator("#checkin-results")).to_contain_text("Martin Élodie")
        search.press("Enter")
        expect(counter(page, 0)).to_have_text("1")
        expect(counter(page, 1)).to_have_text("1")
        expect(search).to_have_value("")
        expect(search).to_be_focused()
        undo = page.locator("#checkin-status button")
        expect(undo).to_be_visible()
        expect(page.locator("#checkin-roster .roster__present")).to_have_count(1)

        # Undo: back to zero.
        undo.click()
        expect(counter(page, 0)).to_have_text("0")
        expect(page.locator("#checkin-roster .roster__present")).to_have_count(0)

        # Three letters of an accented, apostrophed name, then a tap on the result.
        search.press_sequentially("ndi", delay=60)
        hit = page.locator("#checkin-results .checkin-hit").first
        expect(hit).to_contain_text("N’Diaye Awa")
        box = hit.bounding_box()
        assert box["height"] >= 44, "a touch target of at least 44 px"
        hit.click()
        expect(counter(page, 0)).to_have_text("1")
        problems.assert_clean("check-in, undo and a tap")

        # A walk-in: three fields and the notice box.
        page.locator("#last_name").fill("Nguyen")
        page.locator("#first_name").fill("Thi")
        page.locator("#phone").fill("06 12 34 56 78")
        page.locator("#notice_given").check()
        page.locator("#walk-in form.walk-in-form button[type=submit]").click()
        expect(counter(page, 0)).to_have_text("2")
        expect(counter(page, 1)).to_have_text("2")
        expect(page.locator("#checkin-roster")).to_contain_text("Nguyen Thi")
        problems.assert_clean("walk-in")
    finally:
        context.close()


def test_keyboard_only_and_above_the_fold_at_1366x768(browser, door_server):
    context, page, problems = open_page(browser, door_server, LAPTOP)
    try:
        search = page.locator("#checkin-search input[name=q]")
        for element in (search, counter(page, 0)):
            box = element.bounding_box()
            assert box and box["y"] + box["height"] <= LAPTOP["height"], "visible without scrolling"
        search.press_sequentially("ber", delay=60)
        expect(page.locator("#checkin-results .checkin-hit")).to_have_count(1)
        page.keyboard.press("ArrowDown")
        focused = page.locator("#checkin-results .checkin-hit").first
        expect(focused).to_be_focused()
        outline = focused.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline != "none", "the focus is visible"
        before = int(counter(page, 0).inner_text())
        page.keyboard.press("Enter")
        expect(counter(page, 0)).to_have_text(str(before + 1))
        expect(search).to_be_focused()
        problems.assert_clean("keyboard check-in")
    finally:
        context.close()


def test_a_tablet_gets_one_column_and_large_targets(browser, door_server):
    context, page, problems = open_page(browser, door_server, TABLET)
    try:
        search = page.locator("#checkin-search input[name=q]")
        search.press_sequentially("mar", delay=60)
        hit = page.locator("#checkin-results .checkin-hit").first
        expect(hit).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= TABLET["width"], "no sideways scrolling"
        walk_in = page.locator("#walk-in").bounding_box()
        assert walk_in["y"] > search.bounding_box()["y"], "the walk-in form goes under the search"
        for button in page.locator("#checkin-roster button").all():
            assert button.bounding_box()["height"] >= 44
        hit.tap()
        expect(page.locator("#checkin-status button")).to_be_visible()
        problems.assert_clean("tablet")
    finally:
        context.close()
