"""Browser fixtures: the real app served by waitress, driven by Debian's chromium through Playwright."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from flask_migrate import upgrade
from playwright.sync_api import ConsoleMessage, Page, Response, sync_playwright

from tests.browser.served import served
from workshops import create_app
from workshops.auth.services import NewUser, create_user
from workshops.extensions import db

# Debian's chromium: Playwright's own browser download cannot work offline.
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps dialling out and is refused.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

ADMIN_USERNAME = "camille"
ADMIN_DISPLAY_NAME = "Camille Navigatrice"
ADMIN_PASSWORD = "une phrase de passe assez longue"

# Playwright injects init scripts through the DevTools protocol, so the page's
# CSP does not block this one; it records every violation of the document.
CSP_RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
                    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@dataclass
class LiveServer:
    url: str
    username: str = ADMIN_USERNAME
    display_name: str = ADMIN_DISPLAY_NAME
    password: str = ADMIN_PASSWORD


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app on a migrated temporary SQLite file, served by waitress on a free port."""
    folder = tmp_path_factory.mktemp("live")
    # A laptop's app (automatic backups and logs in its own instance folder, never the
    # repository's), but without the disk-encryption warning: the CI container's disk is not
    # encrypted, and tests/test_startup_checks.py covers the warning.
    with mock.patch.dict(os.environ, {"WORKSHOPS_INSTANCE_PATH": str(folder / "instance")}):
        app = create_app({
            "SECRET_KEY": "browser-test-secret-key",
            "DATABASE_URL": f"sqlite:///{folder / 'browser.sqlite'}",
            "DISK_CHECK": False,
        })
    with app.app_context():
        upgrade()
        create_user(db.session, NewUser(username=ADMIN_USERNAME, display_name=ADMIN_DISPLAY_NAME,
                                        password=ADMIN_PASSWORD, role="admin"))
        db.session.commit()
    with served(app, "waitress") as url:
        yield LiveServer(url=url)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium; skipped when absent unless WORKSHOPS_REQUIRE_BROWSER=1."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package (see .ci/run)."
        if os.environ.get("WORKSHOPS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " WORKSHOPS_REQUIRE_BROWSER=1 forbids skipping.")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """What went wrong in a page: console errors, uncaught exceptions, failed
    requests and CSP violations, gathered until the next assert_clean()."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"console: {message.text} ({message.location.get('url')})")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.seen.append(f"HTTP {response.status}: {response.url}")

    def assert_clean(self, where: str) -> None:
        """Fail listing everything recorded since the last check, CSP violations
        of the current document included."""
        self.page.wait_for_load_state("load")
        violations = self.page.evaluate("window.__csp.splice(0)")
        found = self.seen + [f"CSP: {violation}" for violation in violations]
        self.seen = []
        assert not found, f"{where}:\n  " + "\n  ".join(found)


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh browser context (no cookies), French like the users."""
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def problems(page) -> PageProblems:
    """Records the page's problems from its first navigation on."""
    return PageProblems(page)
