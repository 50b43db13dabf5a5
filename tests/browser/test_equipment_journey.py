"""Machines from the delivery list to the families, end to end in Debian chromium (issue 4,
item 7 "Proof").

A conseillère imports the refurbisher's list (shared/samples/inventaire-exemple.csv) through
the column mapping and the preview, reserves a laptop for a family, hands it over as a gift
and a desktop as a loan at an equipment atelier (asset tag typed, then Enter as a scanner
does), voids the gift with a reason, records the return of the loan, and reads the stock
counters move at each step. Elements are found by id, name, value, href or link text.
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
from workshops.extensions import db
from workshops.families import registration_services
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.models import Workshop
from workshops.seed.reference import load_reference

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "inventaire-exemple.csv"
USERNAME = "conseillere-materiel"
PASSWORD = "une phrase de passe assez longue"
STRUCTURE = "CU Grand Poitiers"
VENUE = ("Collège Jules Verne", "Poitiers")
LAPTOP_TAG, DESKTOP_TAG = "LR-2025-0001", "LR-2025-0029"  # a "Portable" and a "Fixe" of the file


@pytest.fixture(scope="module")
def equipment_server(tmp_path_factory):
    """The app on its own migrated SQLite file, with the reference data, a conseillère, an
    equipment atelier of today and two families registered to it (one wants a laptop, one a
    desktop)."""
    if not SAMPLE.exists():
        pytest.fail(f"{SAMPLE} is missing: the journey imports this real list.")
    rows = len(SAMPLE.read_text(encoding="utf-8-sig").strip().splitlines()) - 1
    folder = tmp_path_factory.mktemp("equipment")
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        app = create_app({"SECRET_KEY": "browser-equipment-secret",
                          "DATABASE_URL": f"sqlite:///{folder / 'equipment.sqlite'}"})
    with app.app_context():
        upgrade()
        load_reference(db.session)
        db.session.commit()
        structure = auth_queries.get_structure_by_name(db.session, STRUCTURE)
        venue = scheduling_queries.find_venue(db.session, *VENUE)
        user = create_user(db.session, NewUser(username=USERNAME, display_name="Conseillère Matériel",
                                               password=PASSWORD, structure_id=structure.id))
        now = datetime.now(UTC)
        workshop = Workshop(title="Remise d'ordinateurs", kind="remise_equipement", venue=venue,
                            structure=structure, start_dt=now - timedelta(minutes=30),
                            end_dt=now + timedelta(hours=1))
        db.session.add(workshop)
        families = {}
        for last_name, wanted in (("Rousseau", "laptop"), ("Faure", "desktop")):
            families[wanted] = create_family(db.session, FamilyData(
                guardians=(GuardianData(first_name="Anh", last_name=last_name),), computer_wanted=wanted,
                structure_id=structure.id, notice_version="2026-01"), user)
            registration_services.register_family(db.session, workshop, families[wanted], user)
        db.session.commit()
        ids = SimpleNamespace(workshop=str(workshop.id), laptop_family=str(families["laptop"].id),
                              desktop_family=str(families["desktop"].id), rows=rows)
    with served(app, "waitress-equipment") as url:
        yield SimpleNamespace(url=url, ids=ids)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def journey(browser, equipment_server):
    context = browser.new_context(base_url=equipment_server.url, locale="fr-FR",
                                  viewport={"width": 1366, "height": 768})
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page, PageProblems(page)
    context.close()


def expect_stock(page: Page, **counts: int) -> None:
    page.goto("/materiel/stock")
    for status, value in counts.items():
        expect(page.locator(f"#stock-{status} .counter__value")).to_have_text(str(value))


def hand_over(page: Page, workshop_id: str, family_id: str, mode: str, tag: str) -> str:
    """At the atelier's handover screen: family, mode, tag typed then Enter, confirm; returns
    the handover page's path."""
    page.goto(f"/ateliers/{workshop_id}/remises")
    page.locator("#family_id").select_option(family_id)
    page.locator(f"input[name=mode][value={mode}]").check()
    page.locator("#asset_tag").fill(tag.lower() + " ")  # as typed in a hurry
    page.locator("#asset_tag").press("Enter")
    expect(page.locator("#terms-text")).to_be_visible()
    page.locator("button[name=step][value=confirm]").click()
    page.wait_for_url(re.compile(r"/remises/[0-9a-f-]{36}$"))
    return "/remises/" + page.url.rsplit("/", 1)[1]


def test_machines_from_the_delivery_list_to_the_families(journey, equipment_server):
    page, problems = journey
    ids = equipment_server.ids

    page.goto("/login")
    page.locator("input[name=username]").fill(USERNAME)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{equipment_server.url}/")

    # 1. Import the delivery list: upload, columns, preview, confirm.
    page.goto("/import/materiel")
    page.locator("input[name=file]").set_input_files(SAMPLE)
    page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/import/materiel/colonnes"))
    problems.assert_clean("mapping")
    page.locator("main form[action$='/import/materiel/colonnes'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/import/materiel/apercu"))
    problems.assert_clean("preview")
    page.locator("main form[action$='/import/materiel/confirmer'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/import/materiel/resultat"))
    problems.assert_clean("import result")
    expect_stock(page, in_stock=ids.rows, reserved=0, handed_over=0, on_loan=0, returned=0)

    # 2. Reserve the laptop for the family who asked for one.
    page.goto("/materiel")
    page.get_by_role("link", name=LAPTOP_TAG, exact=True).click()
    page.wait_for_url(re.compile(r"/materiel/[0-9a-f-]{36}$"))
    reserve = page.locator("form[action$='/reserver']")
    reserve.locator("select[name=family_id]").select_option(ids.laptop_family)
    reserve.locator("button[type=submit]").click()
    problems.assert_clean("reserved")
    expect_stock(page, in_stock=ids.rows - 1, reserved=1)

    # 3. At the atelier: the laptop as a gift, the desktop as a loan.
    gift = hand_over(page, ids.workshop, ids.laptop_family, "gift", LAPTOP_TAG)
    problems.assert_clean("gift")
    loan = hand_over(page, ids.workshop, ids.desktop_family, "loan", DESKTOP_TAG)
    problems.assert_clean("loan")
    expect_stock(page, in_stock=ids.rows - 2, reserved=0, handed_over=1, on_loan=1)

    # 4. The gift was a mistake: voided with a reason, the laptop is reserved again.
    page.goto(gift)
    void = page.locator("form[action$='/annuler']")
    void.locator("textarea[name=reason]").fill("Mauvaise famille sélectionnée")
    void.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(gift + "$"))
    expect(page.get_by_text("Mauvaise famille sélectionnée")).to_be_visible()
    problems.assert_clean("voided")
    expect_stock(page, in_stock=ids.rows - 2, reserved=1, handed_over=0, on_loan=1)

    # 5. The desktop comes back.
    page.goto(loan)
    page.locator("form[action$='/retour'] button[type=submit]").click()
    problems.assert_clean("returned")
    expect_stock(page, in_stock=ids.rows - 2, reserved=1, handed_over=0, on_loan=0, returned=1)
    problems.assert_clean("stock page")
