"""What the accessibility browser tests share (test_accessibility, test_keyboard, test_zoom): a
live app full of realistic data, a logged-in browser context per language, and axe-core.

The data is the demonstration set (workshops/seed/demo.py: the reference data, 48 families,
ateliers from six months ago to two months ahead, machines at every moment of their life), plus
two ateliers of today: one to check families in at the door, one to hand computers over.
axe-core comes from the npm registry, pinned in tests/browser/axe/package-lock.json
(`npm ci --prefix tests/browser/axe`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from flask_migrate import upgrade
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from tests.browser.conftest import CSP_RECORDER
from tests.browser.served import served
from workshops import create_app
from workshops.auth import queries as auth_queries
from workshops.equipment.models import Equipment, Handover
from workshops.extensions import db
from workshops.families import registration_services
from workshops.families.models import Family
from workshops.families.services import ChildData, FamilyData, GuardianData, create_family
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop
from workshops.seed.demo import DEMO_PASSPHRASE, load_demo

AXE_FOLDER = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
ADMIN = "demo-admin"
PASSWORD = DEMO_PASSPHRASE
LAPTOP = {"width": 1366, "height": 768}
# WCAG 2.1 A and AA, as the RGAA asks; what axe counts as serious or critical fails a test.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

# Families of the door atelier: surnames nobody else has, found by three letters.
DOOR_FAMILIES = (("Zielinska", "Oksana"), ("Quesnel", "Mathis"), ("Wojcik", "Hanna"))
HAND_OVER_FAMILY = ("Xavier", "Ludivine")


def axe_source() -> str:
    """axe.min.js, or a skip (a failure when WORKSHOPS_REQUIRE_BROWSER=1, as on CI)."""
    if not AXE_SCRIPT.exists():
        reason = (f"{AXE_SCRIPT} is missing: run `npm ci --prefix tests/browser/axe` "
                  "(axe-core from the npm registry, pinned in its package-lock.json).")
        if os.environ.get("WORKSHOPS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " WORKSHOPS_REQUIRE_BROWSER=1 forbids skipping.")
        pytest.skip(reason)
    return AXE_SCRIPT.read_text(encoding="utf-8")


def _family(first: str, last: str, structure_id, user) -> Family:
    return create_family(db.session, FamilyData(
        guardians=(GuardianData(first_name=first, last_name=last, phone="06 12 34 56 78"),),
        children=(ChildData("Léa"),), computer_wanted="laptop", structure_id=structure_id,
        notice_version="2026-01"), user)


def _seed() -> SimpleNamespace:
    """The demo data and the two ateliers of today; the ids the tests visit."""
    load_demo(db.session)
    conseiller = auth_queries.get_user_by_username(db.session, "demo-conseiller")
    structure = conseiller.structure
    venue = db.session.scalars(select(Venue).order_by(Venue.name)).first()
    now = datetime.now(UTC)
    door = Workshop(title="Les écrans et nos enfants", kind="e_parentalite", venue=venue, structure=structure,
                    start_dt=now - timedelta(minutes=30), end_dt=now + timedelta(hours=3), capacity=20)
    desk = Workshop(title="Remise d'ordinateurs", kind="remise_equipement", venue=venue, structure=structure,
                    start_dt=now - timedelta(minutes=30), end_dt=now + timedelta(hours=3), capacity=20)
    db.session.add_all([door, desk])
    db.session.flush()
    door_families = [_family(first, last, structure.id, conseiller) for last, first in DOOR_FAMILIES]
    for family in door_families:
        registration_services.register_family(db.session, door, family, conseiller)
    receiver = _family(HAND_OVER_FAMILY[1], HAND_OVER_FAMILY[0], structure.id, conseiller)
    registration_services.register_family(db.session, desk, receiver, conseiller)
    in_stock = db.session.scalars(select(Equipment).where(Equipment.status == "in_stock")
                                  .order_by(Equipment.asset_tag)).first()
    handover = db.session.scalars(select(Handover).order_by(Handover.handed_dt)).first()
    ids = SimpleNamespace(
        door=str(door.id), desk=str(desk.id), door_families=[str(f.id) for f in door_families],
        receiver=str(receiver.id), family=str(handover.family_id), equipment=str(in_stock.id),
        asset_tag=in_stock.asset_tag, handover=str(handover.id), past=str(handover.workshop_id),
        resource=str(db.session.scalars(select(Resource).order_by(Resource.name)).first().id))
    db.session.commit()
    return ids


@contextmanager
def running_world(folder: Path) -> Iterator[SimpleNamespace]:
    """The app on its own migrated SQLite file, seeded, served by waitress; yields url and ids."""
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        app = create_app({"SECRET_KEY": "browser-a11y-secret",
                          "DATABASE_URL": f"sqlite:///{folder / 'a11y.sqlite'}", "DISK_CHECK": False})
    with app.app_context():
        upgrade()
        ids = _seed()
    try:
        with served(app, "waitress-a11y") as url:
            yield SimpleNamespace(url=url, ids=ids)
    finally:
        with app.app_context():
            db.engine.dispose()


_shared: list[SimpleNamespace] = []


def shared_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One seeded app for the three modules of this run (seeding takes seconds on a busy
    2-core machine), stopped when the test session ends. test_keyboard.py, which runs between
    the other two, is the only one that changes its data."""
    if not _shared:
        stack = ExitStack()
        _shared.append(stack.enter_context(running_world(tmp_path_factory.mktemp("a11y"))))
        request.config.add_cleanup(stack.close)
    return _shared[0]


def log_in(page: Page, url: str, language: str = "fr") -> None:
    """Log in as the demo admin through the form, then switch the language if asked."""
    page.goto("/login")
    page.locator("input[name=username]").fill(ADMIN)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{url}/")
    if language != "fr":
        page.locator("button.language-switch").click()
        page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == language


def new_context(browser: Browser, url: str, **options) -> BrowserContext:
    options.setdefault("viewport", LAPTOP)
    context = browser.new_context(base_url=url, locale="fr-FR", **options)
    context.add_init_script(CSP_RECORDER)
    context.set_default_timeout(10_000)
    return context


def run_axe(page: Page, source: str) -> list[dict]:
    """axe-core on the current document (WCAG 2.1 A and AA); the serious and critical
    violations. The script goes in through the DevTools protocol, which the page's strict CSP
    does not govern (an inline <script> would be refused)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(source)
    results = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS)
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    """Rule, impact, help and where, for a failure message a person can act on."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}"
                     f" ({violation['helpUrl']})")
        for node in violation["nodes"][:8]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
                         .replace("\n", " "))
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)
