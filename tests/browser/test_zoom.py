"""Zoomed to 200% without loss (issue 9, item 4; WCAG 1.4.4 resize text, 1.4.10 reflow).

A 1280x800 window zoomed to 200% lays pages out as a 640x400 CSS-pixel viewport at two device
pixels per CSS pixel, which is what the browser context here is. On each main page, in French
(the longer words): the page does not scroll sideways, every entry of the main menu and the
page's main action can be reached and seen whole, and no text is cut off, neither by a box that
hides what overflows it nor by the edge of the window. Tables may scroll inside their own
region (WCAG 1.4.10 allows it for data tables); the text in them is still checked for clipping.
Some pages are checked again with the wider text spacing a reader may impose (WCAG 1.4.12), and
the check-in screen at 400% (320 CSS pixels, the width WCAG 1.4.10 names).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.a11y_world import log_in, new_context, shared_world

pytestmark = pytest.mark.browser

ZOOM_200 = {"width": 640, "height": 400}
ZOOM_400 = {"width": 320, "height": 200}

# Name, path, the page's main action (a selector).
PAGES = (
    ("home", "/", "main .tiles a"),
    ("ateliers", "/ateliers", "main .page-head a.button"),
    ("ateliers-week", "/ateliers/week", "main a[href^='/ateliers/new']"),
    ("atelier", "/ateliers/{door}", "main a[href$='/checkin']"),
    ("atelier-new", "/ateliers/new", "main form[method=post] button[type=submit]"),
    ("checkin", "/ateliers/{door}/checkin", "#checkin-search input[name=q]"),
    ("sheet", "/ateliers/{door}/sheet", "form.sheet-form button[type=submit]"),
    ("families", "/families", "main .page-head a.button"),
    ("family", "/families/{family}", "main a[href$='/edit']"),
    ("family-new", "/families/new", "main form[method=post] button[type=submit]"),
    ("import", "/import/familles", "main form[enctype='multipart/form-data'] button[type=submit]"),
    ("equipment", "/materiel", "main .page-head a.button"),
    ("equipment-item", "/materiel/{equipment}", "main form button[type=submit]"),
    ("stock", "/materiel/stock", "main a[href^='/materiel?status=']"),
    ("loans", "/materiel/prets", "main table button[type=submit]"),
    ("handovers", "/ateliers/{desk}/remises", "button[name=step][value=check]"),
    ("resources", "/resources", "main .page-head a.button"),
    ("reports", "/rapports", "main a[href^='/rapports/export']"),
    ("sync", "/sync", "main button[type=submit], main a.button"),
    ("users", "/users", "main a[href='/users/new']"),
    ("password", "/account/password", "main form button[type=submit]"),
)

# Every element that shows text of its own, with what cuts it: a box hiding its overflow
# (the text is wider or taller than the box), or the window's edge (the text starts or ends
# outside it) when no scrolling box holds the element.
CUT_TEXT = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                      + (e.classList.length ? '.' + [...e.classList].join('.') : '');
  const scroller = (e) => {
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return p;
    }
    return null;
  };
  for (const e of document.body.querySelectorAll('*')) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.checkVisibility() || e.closest('.visually-hidden, [aria-hidden=true]')) continue;
    const s = getComputedStyle(e);
    const hides = (o) => o === 'hidden' || o === 'clip';
    if ((hides(s.overflowX) && e.scrollWidth > e.clientWidth + 1)
        || (hides(s.overflowY) && e.scrollHeight > e.clientHeight + 1)
        || s.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1) {
      found.push(`${name(e)} cuts its text "${e.textContent.trim().slice(0, 40)}"`);
      continue;
    }
    if (scroller(e)) continue;
    for (const node of e.childNodes) {
      if (node.nodeType !== 3 || !node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
        found.push(`${name(e)} "${node.textContent.trim().slice(0, 40)}" runs off the window `
                   + `(${Math.round(box.left)} to ${Math.round(box.right)} of ${width})`);
        break;
      }
    }
  }
  return found;
}"""


# Each entry of the main menu: shown, and whole within the window's width (the page scrolls
# only down, so whatever is within the width can be reached).
MENU = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('nav.main-nav a')].map((a) => {
    const box = a.getBoundingClientRect();
    return {text: a.textContent.trim(), whole: a.checkVisibility({visibilityProperty: true})
            && box.width > 0 && box.left >= -1 && box.right <= width + 1};
  });
}"""


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def zoomed(browser, world):
    context = new_context(browser, world.url, viewport=ZOOM_200, device_scale_factor=2)
    page = context.new_page()
    log_in(page, world.url)
    yield page
    context.close()


def sideways_scroll(page: Page) -> int:
    """How many CSS pixels the page scrolls sideways (0 when it does not)."""
    return page.evaluate("() => { const s = document.scrollingElement;"
                         " return Math.max(0, s.scrollWidth - s.clientWidth - 1); }")


def assert_reachable(page: Page, selector: str, what: str) -> None:
    """The element is displayed, and once scrolled to, is whole inside the window's width."""
    assert page.locator(selector).count(), f"{what}: nothing matches {selector}"
    target = page.locator(selector).first
    target.scroll_into_view_if_needed()
    assert target.is_visible(), f"{what} ({selector}) is not visible"
    box = target.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert box is not None and box["x"] >= -1 and box["x"] + box["width"] <= width + 1, (
        f"{what} ({selector}) is cut by the window: {box} in {width} px")


def check_page(page: Page, name: str) -> None:
    assert sideways_scroll(page) == 0, f"{name}: the page scrolls sideways by {sideways_scroll(page)} px"
    cut = page.evaluate(CUT_TEXT)
    assert not cut, f"{name}: text cut off:\n  " + "\n  ".join(cut[:15])
    menu = page.evaluate(MENU)
    assert len(menu) >= 5, f"{name}: the main menu is missing"
    hidden = [entry for entry in menu if not entry["whole"]]
    assert not hidden, f"{name}: menu entries hidden or cut by the window: {hidden}"


@pytest.mark.parametrize(("name", "path", "action"), [pytest.param(*p, id=p[0]) for p in PAGES])
def test_page_at_200_percent(zoomed, world, name, path, action):
    page = zoomed
    response = page.goto(path.format(**vars(world.ids)))
    assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
    check_page(page, name)
    assert_reachable(page, action, f"{name}: main action")


# WCAG 1.4.12: what a reader may impose through a user style sheet. Inserted through the CSS
# object model, which the page's CSP allows (a <style> element would be refused).
TEXT_SPACING = """() => {
  const sheet = document.styleSheets[0];
  sheet.insertRule('* { line-height: 1.5 !important; letter-spacing: 0.12em !important;'
                   + ' word-spacing: 0.16em !important; }', sheet.cssRules.length);
  sheet.insertRule('p { margin-bottom: 2em !important; }', sheet.cssRules.length);
}"""


@pytest.mark.parametrize("name", ["home", "checkin", "families", "handovers", "import"])
def test_wider_text_spacing_at_200_percent_cuts_nothing(zoomed, world, name):
    path = {p[0]: p[1] for p in PAGES}[name]
    page = zoomed
    page.goto(path.format(**vars(world.ids)))
    page.evaluate(TEXT_SPACING)
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).letterSpacing") != "normal"
    check_page(page, f"{name} with wider text spacing")


def test_check_in_at_400_percent(browser, world):
    """At 320 CSS pixels, the door's screen still works without sideways scrolling."""
    context = new_context(browser, world.url, viewport=ZOOM_400, device_scale_factor=4)
    try:
        page = context.new_page()
        log_in(page, world.url)
        for name, path in (("home", "/"), ("checkin", f"/ateliers/{world.ids.door}/checkin")):
            page.goto(path)
            check_page(page, f"{name} at 400%")
        assert_reachable(page, "#checkin-search input[name=q]", "search field at 400%")
        assert_reachable(page, "#walk-in button[type=submit]", "walk-in button at 400%")
    finally:
        context.close()
