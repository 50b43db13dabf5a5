"""The day of an atelier, end to end in Debian chromium (issue 3, item 10 "Proof").

A conseillère of CU Grand Poitiers logs in, creates an e-parentalité atelier for today at a
collège, imports the collège's list (shared/samples/familles-exemple.csv) through the column
mapping and the preview, checks in three families and a walk-in at the door, undoes and redoes a
check-in, re-enters the paper sheet, closes the atelier, and reads the right figures on its page.

Real forms with CSRF, French interface (the default), pages watched for console errors, failed
requests and CSP violations. Elements are found by id, name, value or href, not by wording; the
numbers a user reads are asserted, computed from the importer itself where they come from the file.
Screenshots for humans go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from flask_migrate import upgrade
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import CSP_RECORDER, PageProblems
from tests.browser.served import served
from workshops import create_app
from workshops.auth import queries as auth_queries
from workshops.auth.services import NewUser, create_user
from workshops.extensions import db
from workshops.families import import_rows, importers
from workshops.families.import_rows import FamilyImport
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.forms import WORKSHOP_STATUS_LABELS
from workshops.scheduling.localtime import LOCAL_ZONE
from workshops.seed.reference import load_reference

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "familles-exemple.csv"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
USERNAME = "conseillere-journee"
PASSWORD = "une phrase de passe assez longue"
STRUCTURE = "CU Grand Poitiers"  # an EPCI, employer of the conseillère
VENUE = ("Collège Jules Verne", "Poitiers")
CAPACITY = 40
TITLE = "Suivre la scolarité de son enfant en ligne"
LAPTOP = {"width": 1366, "height": 768}

# Families of the file met at the door: (three letters typed, last name, first name).
AT_THE_DOOR = (("kow", "Kowalski", "Sébastien"),  # a warned row ("pas de tel"), imported anyway
               ("rou", "Rousseau", "Anh"),
               ("fau", "Faure", "Mohamed"))
ON_THE_SHEET_PRESENT = ("Mercier", "Anaïs")  # ticked present on paper, with 2 adults and 1 child
ON_THE_SHEET_ABSENT = ("Dubois", "Jérôme")
WALK_IN = ("Lambert", "Josiane", "06 12 34 56 78")  # nobody of the file looks like her


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory):
    """The app on its own migrated SQLite file and instance folder, with the reference data
    (collèges, venues, structures) and a conseillère; plus what the importer makes of the sample."""
    if not SAMPLE.exists():
        pytest.fail(f"{SAMPLE} is missing: the journey imports this real list.")
    folder = tmp_path_factory.mktemp("journey")
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        # No disk-encryption warning: see live_server in conftest.py.
        app = create_app({"SECRET_KEY": "browser-journey-secret",
                          "DATABASE_URL": f"sqlite:///{folder / 'journey.sqlite'}", "DISK_CHECK": False})
    with app.app_context():
        upgrade()
        load_reference(db.session)
        db.session.commit()
        structure = auth_queries.get_structure_by_name(db.session, STRUCTURE)
        assert structure is not None, f"the reference data has {STRUCTURE}"
        venue = scheduling_queries.find_venue(db.session, *VENUE)
        assert venue is not None and venue.kind == "college", "the reference data has the collège"
        user = create_user(db.session, NewUser(username=USERNAME, display_name="Conseillère Journée",
                                               password=PASSWORD, structure_id=structure.id))
        db.session.commit()
        # What the importer makes of the same bytes, before anything is written.
        table = importers.read_table(SAMPLE.read_bytes())
        mapping = importers.guess_mapping(table.headers, import_rows.FIELDS)
        preview = import_rows.preview_families(db.session, table, mapping,
                                               FamilyImport(actor=user, structure_id=structure.id))
        # As the preview ticks them at first: possible duplicates left out.
        to_write = preview.to_write(preview.default_included())
        kept = {(row.data.guardians[0].last_name, row.data.guardians[0].first_name)
                for row in to_write}
        for _letters, last, first in AT_THE_DOOR:
            assert (last, first) in kept, f"{last} {first} is imported from the sample"
        assert {ON_THE_SHEET_PRESENT, ON_THE_SHEET_ABSENT} <= kept
        with app.test_request_context():
            held_label = str(WORKSHOP_STATUS_LABELS["held"])  # in the default language, French
        expected = SimpleNamespace(
            headers=table.headers, mapping=mapping, counts=preview.counts,
            written=len(to_write), ticked=len(preview.default_included()), venue_id=str(venue.id),
            structure_id=str(structure.id),
            held_label=held_label)
    with served(app, "waitress-journey") as url:
        yield SimpleNamespace(url=url, expected=expected)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def journey(browser, journey_server):
    context = browser.new_context(base_url=journey_server.url, locale="fr-FR", viewport=LAPTOP)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(15_000)
    yield page, PageProblems(page)
    context.close()


def counter_values(page: Page, scope: str) -> Locator:
    """The figures of a counters list: families, adults, children present, people without a
    name, places taken (n/capacity)."""
    return page.locator(f"{scope} .counter__value")


def expect_counters(page: Page, scope: str, families: int, adults: int, children: int,
                    places: str | None = None) -> None:
    values = counter_values(page, scope)
    expect(values.nth(0)).to_have_text(str(families))
    expect(values.nth(1)).to_have_text(str(adults))
    expect(values.nth(2)).to_have_text(str(children))
    if places is not None:
        expect(values.nth(4)).to_have_text(places)


def atelier_hours() -> tuple[str, str, str]:
    """(day, start, end) of an atelier of today in Paris that has started and is not over."""
    now = datetime.now(UTC)
    local_now = now.astimezone(LOCAL_ZONE)
    if local_now.hour == 23 and local_now.minute >= 55:
        pytest.skip("Five minutes before midnight in Paris: no atelier of today can still be on.")
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = max((now - timedelta(hours=1)).astimezone(LOCAL_ZONE), midnight)
    end = min((now + timedelta(hours=2)).astimezone(LOCAL_ZONE), local_now.replace(hour=23, minute=59))
    return local_now.date().isoformat(), start.strftime("%H:%M"), end.strftime("%H:%M")


def test_an_atelier_from_creation_to_closing(journey, journey_server):
    page, problems = journey
    expected = journey_server.expected
    counts = expected.counts
    ARTIFACTS.mkdir(exist_ok=True)

    # 1. Log in; create the atelier for today at the collège; land on its page.
    page.goto("/login")
    page.locator("input[name=username]").fill(USERNAME)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{journey_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")  # French unless asked otherwise
    problems.assert_clean("home after login")

    page.goto("/ateliers/new")
    day, start, end = atelier_hours()
    page.locator("input[name=kind][value=e_parentalite]").check()
    page.locator("#title").fill(TITLE)
    page.locator("#day").fill(day)
    page.locator("#start_time").fill(start)
    page.locator("#end_time").fill(end)
    page.locator("#venue_id").select_option(expected.venue_id)
    expect(page.locator("#structure_id")).to_have_value(expected.structure_id)
    page.locator("#capacity").fill(str(CAPACITY))
    problems.assert_clean("new atelier form")
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/ateliers/[0-9a-f-]{36}$"))
    atelier_path = page.url.removeprefix(journey_server.url)
    workshop_id = atelier_path.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(f"form[action='{atelier_path}/close'] button")).to_be_visible()
    expect_counters(page, ".attendance-panel", 0, 0, 0, f"0/{CAPACITY}")
    problems.assert_clean("atelier page, new")

    # 2. Import the collège's list from the atelier page: upload, columns (guessed), preview, confirm.
    page.locator(f".attendance-panel a[href='/import/familles?workshop_id={workshop_id}']").click()
    page.locator("input[name=file]").set_input_files(SAMPLE)
    expect(page.locator("#workshop_id")).to_have_value(workshop_id)
    expect(page.locator("#status")).to_have_value("registered")
    problems.assert_clean("upload page")
    page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/import/familles/colonnes\?token="))
    for key in ("last_name", "first_name", "phone"):
        column = expected.mapping[key]
        select = page.locator(f"main form select[name={key}]")
        expect(select).to_have_value(str(column))
        expect(select.locator("option:checked")).to_have_text(expected.headers[column])
    assert [expected.headers[expected.mapping[k]] for k in ("last_name", "first_name", "phone")] == [
        "Nom du responsable", "Prénom du responsable", "Tél."], "the guesses hit the right columns"
    problems.assert_clean("mapping page")
    page.locator("form[action='/import/familles/colonnes'] button[type=submit]").click()

    page.wait_for_url(re.compile(r"/import/familles/apercu\?token="))
    shown = page.locator("main ul.counters li.counter strong")
    expect(shown).to_have_text([str(counts["ok"]), str(counts["warning"]), str(counts["refused"])])
    assert counts == {"ok": 31, "warning": 7, "refused": 2}, "as the importer's own tests pin it"
    expect(page.locator("input[type=checkbox][name=include]:checked")).to_have_count(expected.ticked)
    assert expected.ticked < counts["warning"], "the sample's duplicate line is left out at first"
    expect(page.locator("input[name=allow_overbooking]")).to_have_count(0)  # they fit in 40 places
    problems.assert_clean("preview page")
    page.locator("form[action='/import/familles/confirmer'] button[type=submit]").click()

    page.wait_for_url(re.compile(r"/import/familles/resultat$"))
    written = expected.written
    assert written == counts["ok"] + expected.ticked
    expect(page.locator("main ul.counters li.counter strong")).to_have_text(
        [str(written), str(written), str(counts["refused"] + counts["warning"] - expected.ticked)])
    # created, registered, not imported (refused, and duplicates left unticked)
    problems.assert_clean("import result")
    page.locator(f"main a[href='{atelier_path}']").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}")
    expect_counters(page, ".attendance-panel", 0, 0, 0, f"{written}/{CAPACITY}")
    expect(page.locator(".attendance-panel tbody tr")).to_have_count(written)

    # 3. The door: three letters and Enter, three letters and a tap, a walk-in, Enter again.
    page.locator(f".attendance-panel a[href='{atelier_path}/checkin']").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}/checkin")
    search = page.locator("#checkin-search input[name=q]")
    hits = page.locator("#checkin-results .checkin-hit")
    expect(search).to_be_focused()
    expect_counters(page, "#checkin-counters", 0, 0, 0, f"{written}/{CAPACITY}")
    problems.assert_clean("check-in page")

    def find(letters: str, last: str, first: str) -> None:
        search.press_sequentially(letters, delay=50)
        expect(hits).to_have_count(1)
        expect(hits.first).to_contain_text(f"{last} {first}")

    (letters1, *name1), (letters2, *name2), (letters3, *name3) = AT_THE_DOOR
    find(letters1, *name1)
    search.press("Enter")
    expect_counters(page, "#checkin-counters", 1, 1, 0)
    expect(search).to_have_value("")

    find(letters2, *name2)
    hits.first.click()
    expect_counters(page, "#checkin-counters", 2, 2, 0)
    problems.assert_clean("two families checked in")

    walk_in = page.locator("#walk-in form.walk-in-form")
    last, first, phone = WALK_IN
    walk_in.locator("#last_name").fill(last)
    walk_in.locator("#first_name").fill(first)
    walk_in.locator("#phone").fill(phone)
    walk_in.locator("#notice_given").check()
    walk_in.locator("button[type=submit]").click()
    # The form posts to .../walk-in#walk-in: the redirect back keeps the fragment.
    page.wait_for_url(re.compile(re.escape(f"{atelier_path}/checkin") + r"(#walk-in)?$"))
    expect_counters(page, "#checkin-counters", 3, 3, 0, f"{written + 1}/{CAPACITY}")
    expect(page.locator("#checkin-roster .roster__present")).to_have_count(3)
    expect(page.locator("#checkin-roster")).to_contain_text(f"{last} {first}")
    problems.assert_clean("walk-in")

    find(letters3, *name3)
    search.press("Enter")
    expect_counters(page, "#checkin-counters", 4, 4, 0, f"{written + 1}/{CAPACITY}")
    expect(page.locator("#checkin-roster .roster__present")).to_have_count(4)
    page.screenshot(path=ARTIFACTS / "journey-checkin.png", full_page=True)
    problems.assert_clean("four families at the door")

    # 4. Undo the last check-in, then do it again.
    page.locator(f"#checkin-status form[action='{atelier_path}/checkin/undo'] button").click()
    expect_counters(page, "#checkin-counters", 3, 3, 0)
    expect(page.locator("#checkin-roster .roster__present")).to_have_count(3)
    find(letters3, *name3)
    search.press("Enter")
    expect_counters(page, "#checkin-counters", 4, 4, 0, f"{written + 1}/{CAPACITY}")
    problems.assert_clean("undo and redo")

    # 5. The paper sheet: one more family present (2 adults, 1 child), one absent.
    page.locator(f"nav.attendance-nav a[href='{atelier_path}/sheet']").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}/sheet")
    rows = page.locator("table.sheet").first.locator("tbody tr")
    expect(rows).to_have_count(written + 1)

    def sheet_row(last_name: str, first_name: str):
        return rows.filter(has=page.locator("th[scope=row]", has_text=f"{last_name} {first_name}"))

    present = sheet_row(*ON_THE_SHEET_PRESENT)
    present.locator("input[type=radio][value=attended]").check()
    present.locator("input[name$='-adults']").fill("2")
    present.locator("input[name$='-children']").fill("1")
    sheet_row(*ON_THE_SHEET_ABSENT).locator("input[type=radio][value=absent]").check()
    expect(rows.locator("input[type=radio][value=attended]:checked")).to_have_count(5)
    problems.assert_clean("sheet page")
    page.locator("form.sheet-form button[type=submit]").click()
    page.wait_for_load_state("load")
    expect(page.locator(".field__error, .alert--error")).to_have_count(0)
    expect(sheet_row(*ON_THE_SHEET_ABSENT).locator("input[value=absent]")).to_be_checked()
    expect(sheet_row(*ON_THE_SHEET_PRESENT).locator("input[value=attended]")).to_be_checked()
    problems.assert_clean("sheet recorded")

    page.locator(f"nav.attendance-nav a[href='{atelier_path}/checkin']").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}/checkin")
    expect_counters(page, "#checkin-counters", 5, 6, 1, f"{written}/{CAPACITY}")
    problems.assert_clean("check-in after the sheet")

    # 6. Close the atelier from its page: held, and the figures of the day.
    page.locator(f"nav.attendance-nav a[href='{atelier_path}']").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}")
    page.locator(f"form[action='{atelier_path}/close'] button[type=submit]").click()
    page.wait_for_url(f"{journey_server.url}{atelier_path}")
    expect(page.locator(".page-head .badge")).to_have_text(expected.held_label)
    expect(page.locator(".page-head .badge")).to_have_class(re.compile(r"\bbadge--success\b"))
    expect(page.locator(f"form[action='{atelier_path}/close']")).to_have_count(0)
    expect(page.locator(f"form[action='{atelier_path}/reopen'] button")).to_be_visible()
    expect_counters(page, ".attendance-panel", 5, 6, 1, f"{written}/{CAPACITY}")
    roster = page.locator(".attendance-panel tbody tr")
    expect(roster).to_have_count(written + 1)  # the list, the walk-in included
    expect(roster.locator(".badge--success")).to_have_count(5)  # present
    expect(roster.locator(".badge--warning")).to_have_count(1)  # absent
    # The door kept its arrival times through the sheet; the sheet itself gives none.
    arrived = roster.locator("td:last-child", has_text=re.compile(r"^\s*\d{1,2}:\d{2}\s*$"))
    expect(arrived).to_have_count(4)
    page.screenshot(path=ARTIFACTS / "journey-end.png", full_page=True)
    problems.assert_clean("atelier closed")
