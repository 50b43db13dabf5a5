"""axe-core on the hub's own pages, in French and in English (issue 9, item 4; design.md §6).

The laptop's pages are checked by test_accessibility.py; these are the pages only a hub has:
the second login step of managers and admins (enrolment with its QR code, then the code,
right and wrong), the devices and a new device's pairing code, the revocation question, the
conflicts to review, and the reports and users pages as a manager or admin sees them there.
The hub runs on its own migrated SQLite file, with the demonstration data, laptops in every
state and a conflict, served by waitress over plain http on 127.0.0.1 (a secure context for
Chromium, so its Secure `__Host-` session cookie works as over HTTPS).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pyotp
import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.a11y_world import axe_source, describe, new_context, run_axe
from tests.browser.served import served
from tests.login_helpers import next_code
from workshops import create_app
from workshops.auth import queries as auth_queries
from workshops.auth.models import UserTotp
from workshops.auth.services import NewUser, create_user
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families.models import Family
from workshops.seed.demo import DEMO_PASSPHRASE, load_demo
from workshops.sync import device_services, keys
from workshops.sync.models import Conflict

pytestmark = pytest.mark.browser

HUB_SECRET = "hub-a11y-secret-key-long-enough-for-a-hub-0123456789"
LANGUAGES = ("fr", "en")
# Accounts of the hub, all with the demo passphrase: who has a second factor set up or not.
ADMIN, MANAGER = "hub-admin", "hub-manager"
NEWCOMER = "hub-newcomer"  # a manager who never set up a code: the enrolment page
RETURNING = "hub-returning"  # an admin with a code: the code page, wrong then right
PAIRING_CODE = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")


def _account(username: str, role: str, structure_id, *, enrolled: bool) -> None:
    user = create_user(db.session, NewUser(username=username, display_name=f"{username.title()} (hub)",
                                           password=DEMO_PASSPHRASE, role=role, structure_id=structure_id))
    if enrolled:
        db.session.add(UserTotp(user_id=user.id, secret=pyotp.random_base32(), confirmed_dt=utcnow()))
    db.session.flush()


def _seed() -> SimpleNamespace:
    """Demo data; four accounts; laptops connected (one silent and off the clock), waiting and
    revoked; a household whose commune two laptops set differently."""
    load_demo(db.session)
    admin = auth_queries.get_user_by_username(db.session, "demo-admin")
    structure_id = admin.structure_id
    _account(ADMIN, "admin", structure_id, enrolled=True)
    _account(MANAGER, "manager", structure_id, enrolled=True)
    _account(NEWCOMER, "manager", structure_id, enrolled=False)
    _account(RETURNING, "admin", structure_id, enrolled=True)
    now = utcnow()
    connected, code = device_services.create_device(db.session, "PC médiathèque Loudun", structure_id, admin)
    device_services.enrol(db.session, code, keys.verify_key(keys.new_signing_key()), app_version="1.4",
                          schema_version=1)
    connected.last_seen_dt, connected.clock_offset_ms = now - timedelta(days=12), 9 * 60_000
    device_services.create_device(db.session, "PC Ronsard 2", structure_id, admin)
    revoked, _code = device_services.create_device(db.session, "PC perdu", structure_id, admin)
    device_services.revoke(db.session, revoked, actor=admin)
    target, _code = device_services.create_device(db.session, "PC à révoquer", structure_id, admin)
    family = db.session.scalars(select(Family).order_by(Family.created_dt)).first()
    db.session.add(Conflict(table_name="families", record_id=family.id, field="commune",
                            kept_value=family.commune, other_value="Châtellerault", kept_hlc="b",
                            other_hlc="a", device_id=connected.id))
    db.session.commit()
    return SimpleNamespace(revoke_target=str(target.id))


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The hub app on its own migrated SQLite file, seeded, served by waitress on a free port."""
    folder: Path = tmp_path_factory.mktemp("hub-a11y")
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        app = create_app({"ROLE": "hub", "SECRET_KEY": HUB_SECRET,
                          "DATABASE_URL": f"sqlite:///{folder / 'hub.sqlite'}"})
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session" and app.config["SESSION_COOKIE_SECURE"]
    with app.app_context():
        upgrade()
        ids = _seed()
    try:
        with served(app, "waitress-hub-a11y") as url:
            yield SimpleNamespace(app=app, url=url, ids=ids)
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


def _password_step(page: Page, username: str, language: str) -> None:
    """The login page in `language`, then the account's password: the second step shows."""
    page.goto("/login")
    if language != "fr":
        page.locator("button.language-switch").click()
        page.wait_for_load_state("load")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSPHRASE)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("input[name=code]")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == language


def _wrong_code(app: Flask, username: str) -> str:
    """Six digits that are none of the codes the hub would accept now or at the next step."""
    with app.app_context():
        user = auth_queries.get_user_by_username(db.session, username)
        totp = pyotp.TOTP(db.session.get(UserTotp, user.id).secret)
        step = totp.timecode(utcnow())
        accepted = {totp.generate_otp(at) for at in range(step - 1, step + 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in accepted)


def _code_step(page: Page, hub: SimpleNamespace, username: str) -> None:
    page.locator("input[name=code]").fill(next_code(hub.app, username))
    page.locator("main form [name=submit]").click()
    page.wait_for_url(f"{hub.url}/")


@pytest.fixture(scope="module")
def pages(browser, hub):
    """One logged-in page per (account, language), opened on first use and kept."""
    opened: dict[tuple[str, str], Page] = {}
    contexts = []

    def get(username: str, language: str) -> Page:
        if (username, language) not in opened:
            context = new_context(browser, hub.url)
            contexts.append(context)
            page = context.new_page()
            _password_step(page, username, language)
            _code_step(page, hub, username)
            opened[(username, language)] = page
        return opened[(username, language)]

    yield get
    for context in contexts:
        context.close()


def _goto(path: str, *shown: str) -> Callable[[Page, SimpleNamespace], None]:
    """Open `path`; the elements `shown` (selectors) must be on it, so axe checks them too."""
    def go(page: Page, hub: SimpleNamespace) -> None:
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        for selector in shown:
            expect(page.locator(selector).first).to_be_visible()
    return go


def _pairing_code(page: Page, hub: SimpleNamespace) -> None:
    """A new device made through its form: the page with the code as text and as QR code."""
    _goto("/hub/devices/new")(page, hub)
    page.locator("input[name=name]").fill(f"PC atelier {page.locator('html').get_attribute('lang')}")
    page.locator("select[name=structure_id]").select_option(index=1)
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".pairing-code")).to_have_text(PAIRING_CODE)


def _device_new_errors(page: Page, hub: SimpleNamespace) -> None:
    _goto("/hub/devices/new")(page, hub)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .field__error").first).to_be_visible()


def _revoke_question(page: Page, hub: SimpleNamespace) -> None:
    _goto("/hub/devices")(page, hub)
    page.locator(f"form[action='/hub/devices/{hub.ids.revoke_target}/revoke'] button").click()
    expect(page.locator("main button.button--danger")).to_be_visible()


# Name, account, how to reach the page.
PAGES = (
    ("home", ADMIN, _goto("/")),
    ("devices", ADMIN, _goto("/hub/devices", "main .alert--warning", ".badge--success", ".badge--info",
                             ".badge--error", "main td form button")),
    ("devices-manager", MANAGER, _goto("/hub/devices", "main table")),
    ("device-new", ADMIN, _goto("/hub/devices/new")),
    ("device-new-errors", ADMIN, _device_new_errors),
    ("pairing-code", ADMIN, _pairing_code),
    ("device-revoke", ADMIN, _revoke_question),
    ("conflicts", MANAGER, _goto("/hub/conflicts", "main td form button")),
    ("reports", MANAGER, _goto("/rapports", "ul#stale-devices", "#open-conflicts a")),
    ("users", ADMIN, _goto("/users", "main table")),
)


@pytest.mark.parametrize(("name", "username", "reach", "language"), [
    pytest.param(name, username, reach, language, id=f"{name}-{language}")
    for language in LANGUAGES for name, username, reach in PAGES])
def test_no_serious_or_critical_violation(axe, pages, hub, name, username, reach, language):
    page = pages(username, language)
    reach(page, hub)
    assert page.locator("html").get_attribute("lang") == language
    violations = run_axe(page, axe)
    assert not violations, f"{name} in {language}, {page.url}:\n{describe(violations)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_enrolment_page_with_its_qr_code(axe, browser, hub, language):
    context = new_context(browser, hub.url)
    try:
        page = context.new_page()
        _password_step(page, NEWCOMER, language)
        expect(page.locator("main .qr-code svg")).to_be_visible()
        violations = run_axe(page, axe)
        assert not violations, f"enrolment in {language}:\n{describe(violations)}"
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_code_page_wrong_then_right(axe, browser, hub, language):
    """The code page, then its error after a wrong code, then the right code logs in."""
    context = new_context(browser, hub.url)
    try:
        page = context.new_page()
        _password_step(page, RETURNING, language)
        violations = run_axe(page, axe)
        assert not violations, f"code page in {language}:\n{describe(violations)}"
        page.locator("input[name=code]").fill(_wrong_code(hub.app, RETURNING))
        page.locator("main form [name=submit]").click()
        expect(page.locator("main .alert--error").first).to_be_visible()
        violations = run_axe(page, axe)
        assert not violations, f"code page with an error in {language}:\n{describe(violations)}"
        _code_step(page, hub, RETURNING)
        assert page.locator("html").get_attribute("lang") == language
    finally:
        context.close()
