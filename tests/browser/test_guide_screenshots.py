"""The user guide's screenshots (docs/guide/img/<lang>/<name>.png), taken from the real app in
Debian chromium, in French and in English, so that they never go stale.

Each language gets its own app and database, seeded with made-up but realistic data (an
atelier of today in Poitiers, families, machines), then one browser context walks through the
guide's steps: log in, create an atelier, register, import the sample list of a collège,
check a family in, hand over a laptop, print, sync. Every step writes its PNG (1280x800
viewport, overwriting), and the test fails on a console error, a failed request or a CSP
violation. tests/test_guide.py checks that the guide only shows images listed in SHOTS.

Regenerate: .venv/bin/python -m pytest -q -p no:cacheprovider tests/browser/test_guide_screenshots.py
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
from playwright.sync_api import Page, expect

from tests.browser.conftest import CSP_RECORDER, PageProblems
from tests.browser.served import served
from workshops import create_app
from workshops.auth import queries as auth_queries
from workshops.auth.services import NewUser, create_user
from workshops.equipment import services as equipment_services
from workshops.extensions import db
from workshops.families import registration_services
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.models import Workshop
from workshops.seed.reference import DEPARTEMENT_DAS, load_reference

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "guide" / "img"
SAMPLE = ROOT.parent / "shared" / "samples" / "familles-exemple.csv"
LANGUAGES = ("fr", "en")
VIEWPORT = {"width": 1280, "height": 800}

# Every screenshot the guide may show, in the order they are taken (same names in each language).
SHOTS = ("login", "home", "workshop-new", "workshop", "registrations", "import-upload", "import-mapping",
         "import-preview", "import-result", "checkin", "handover-form", "handover", "print", "sync")

USERNAME = "camille.martin"
DISPLAY_NAME = "Camille Martin"
PASSWORD = "une phrase de passe assez longue"
VENUE = ("Collège Jules Verne", "Poitiers")
LAPTOP_TAG = "LR-2026-0012"
# Made-up families of the atelier: last name, first name, phone, computer wanted.
FAMILIES = (("Martin", "Élodie", "06 12 45 78 90", "laptop"), ("N’Diaye", "Awa", "07 81 22 35 14", ""),
            ("Bernard", "Lucie", "06 33 54 21 09", ""), ("Da Silva", "Marco", "06 70 11 48 62", ""),
            ("Haddad", "Samira", "07 45 90 12 33", "desktop"), ("Nguyen", "Thi Lan", "06 58 37 44 21", ""))


@pytest.fixture(scope="module", params=LANGUAGES)
def guide_server(request, tmp_path_factory):
    """One app per language on its own migrated SQLite file: the reference data, a conseillère,
    an atelier of today with six families registered, a later one for the import, a laptop."""
    if not SAMPLE.exists():
        pytest.fail(f"{SAMPLE} is missing: the import screenshots read this sample list.")
    language = request.param
    folder = tmp_path_factory.mktemp(f"guide-{language}")
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        app = create_app({"SECRET_KEY": "browser-guide-secret", "DISK_CHECK": False,
                          "DATABASE_URL": f"sqlite:///{folder / 'guide.sqlite'}"})
    with app.app_context():
        upgrade()
        ids = _seed()
    with served(app, f"waitress-guide-{language}") as url:
        yield SimpleNamespace(url=url, language=language, **ids)
    with app.app_context():
        db.engine.dispose()


def _seed() -> dict[str, str]:
    session = db.session
    load_reference(session)
    session.flush()
    structure = auth_queries.get_structure_by_name(session, DEPARTEMENT_DAS)
    venue = scheduling_queries.find_venue(session, *VENUE)
    user = create_user(session, NewUser(username=USERNAME, display_name=DISPLAY_NAME, password=PASSWORD,
                                        structure_id=structure.id))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = Workshop(title="Pronote, ENT et ordinateurs", kind="mixte", venue=venue, structure=structure,
                     start_dt=now - timedelta(minutes=20), end_dt=now + timedelta(hours=2), capacity=12)
    later = Workshop(title="Découvrir l'ENT du collège", kind="e_parentalite", venue=venue,
                     structure=structure, start_dt=now + timedelta(days=14),
                     end_dt=now + timedelta(days=14, hours=2))
    session.add_all([today, later])
    families = {}
    for last_name, first_name, phone, wanted in FAMILIES:
        family = create_family(session, FamilyData(
            guardians=(GuardianData(first_name=first_name, last_name=last_name, phone=phone),),
            computer_wanted=wanted or None, structure_id=structure.id, notice_version="2026-01"), user)
        registration_services.register_family(session, today, family, user)
        families[last_name] = family
    equipment_services.add_equipment(session, equipment_services.EquipmentData(
        asset_tag=LAPTOP_TAG, structure_id=structure.id, kind="laptop", brand="Lenovo", model="ThinkPad T480",
        cpu="Intel Core i5-8350U", ram_gb=8, storage="SSD 256 Go", operating_system="Linux Mint 22",
        accessories="chargeur, sacoche", origin="Collège Jules Verne", refurbisher="EBE Le Ressort",
        refurbished_on=now.date() - timedelta(days=30), grade="good"), user)
    session.commit()
    return {"workshop": str(today.id), "later": str(later.id), "laptop_family": str(families["Martin"].id)}


def shoot(page: Page, problems: PageProblems, language: str, name: str, *, show: str | None = None) -> None:
    """Check the page is clean, then write its PNG: the viewport from the top of the page, or
    scrolled so that the element `show` ends at the bottom."""
    assert name in SHOTS, name
    problems.assert_clean(name)
    if show is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        page.locator(show).evaluate("element => element.scrollIntoView({block: 'end'})")
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
    page.screenshot(path=str(IMAGES / language / f"{name}.png"), animations="disabled", caret="hide")


def use_language(page: Page, language: str) -> None:
    if page.locator("html").get_attribute("lang") != language:
        page.locator("button.language-switch").click()
        expect(page.locator("html")).to_have_attribute("lang", language)


def test_the_guide_screenshots(browser, guide_server):
    language, server = guide_server.language, guide_server
    (IMAGES / language).mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server.url, locale="fr-FR" if language == "fr" else "en-GB",
                                  viewport=VIEWPORT, device_scale_factor=1)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = PageProblems(page)
    taken = []

    def take(name: str, show: str | None = None) -> None:
        shoot(page, problems, language, name, show=show)
        taken.append(name)

    try:
        # Log in (index, troubleshooting).
        page.goto("/login")
        use_language(page, language)
        page.locator("input[name=username]").fill(USERNAME)
        take("login")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"{server.url}/")
        use_language(page, language)
        take("home")

        # Prepare an atelier.
        page.goto("/ateliers/new")
        page.locator("input[name=kind][value=e_parentalite]").check()
        page.locator("#title").fill("Pronote : suivre la scolarité de son enfant")
        page.locator("#capacity").fill("10")
        take("workshop-new")
        page.goto(f"/ateliers/{server.workshop}")
        take("workshop")
        page.goto(f"/ateliers/{server.workshop}/registrations")
        take("registrations")

        # Import a collège's list into the later atelier.
        page.goto("/import/familles")
        page.locator("input[name=file]").set_input_files(SAMPLE)
        page.locator("select[name=workshop_id]").select_option(server.later)
        take("import-upload")
        page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/import/familles/colonnes"))
        take("import-mapping")
        page.locator("main form[action$='/import/familles/colonnes'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/import/familles/apercu"))
        take("import-preview")
        page.locator("main form[action$='/import/familles/confirmer'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/import/familles/resultat"))
        take("import-result")

        # Check two families in: three letters, then a tap on the family.
        page.goto(f"/ateliers/{server.workshop}/checkin")
        search = page.locator("#checkin-search input[name=q]")
        for letters, name in (("mar", "Martin Élodie"), ("ndi", "N’Diaye Awa")):
            search.press_sequentially(letters, delay=40)
            page.locator("#checkin-results .checkin-hit", has_text=name).click()
            expect(page.locator("#checkin-status button")).to_be_visible()
        expect(page.locator("#checkin-roster .roster__present")).to_have_count(2)
        take("checkin")

        # Hand the laptop over to the family who asked for one.
        page.goto(f"/ateliers/{server.workshop}/remises")
        page.locator("#family_id").select_option(server.laptop_family)
        page.locator("input[name=mode][value=gift]").check()
        page.locator("#asset_tag").fill(LAPTOP_TAG)
        page.locator("#asset_tag").press("Enter")
        expect(page.locator("#terms-text")).to_be_visible()
        take("handover-form", show="button[name=step][value=confirm]")
        page.locator("button[name=step][value=confirm]").click()
        page.wait_for_url(re.compile(r"/remises/[0-9a-f-]{36}$"))
        take("handover")

        # Print, then sync.
        page.goto(f"/ateliers/{server.workshop}/imprimer")
        take("print")
        page.goto("/sync")
        take("sync")
    finally:
        context.close()
    assert taken == list(SHOTS), "every screenshot the guide may show is taken, in each language"
