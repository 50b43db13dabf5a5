"""Smoke test in a real browser: the pages load clean under the CSP, and a user can get around."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def log_in(page, live_server) -> None:
    page.goto("/login")
    page.locator("input[name=username]").fill(live_server.username)
    page.locator("input[name=password]").fill(live_server.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


def test_login_page_loads_without_errors(page, problems):
    response = page.goto("/login")

    assert response.status == 200
    expect(page.locator("input[name=username]")).to_be_visible()
    problems.assert_clean("login page")


def test_user_logs_in_gets_around_switches_language_and_logs_out(page, problems, live_server):
    log_in(page, live_server)
    expect(page.locator("main")).to_contain_text(live_server.display_name)
    problems.assert_clean("home page after login")

    menu = page.locator("header nav a")
    expect(menu.first).to_be_visible()
    links = [menu.nth(i).get_attribute("href") for i in range(menu.count())]
    links.append(page.locator('header a[href="/account/password"]').get_attribute("href"))
    for link in links:
        response = page.goto(link)
        assert response.status == 200, link
        problems.assert_clean(link)

    language_button = page.locator("header form[action^='/language/'] button")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    language_button.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    language_button.click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    problems.assert_clean("language switch")

    page.locator("header form[action='/logout'] button").click()
    page.wait_for_url(f"{live_server.url}/login")
    expect(page.locator("input[name=username]")).to_be_visible()
    problems.assert_clean("login page after logout")
