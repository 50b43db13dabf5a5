"""The user guide (docs/guide) holds together: the same pages in French and in English, links
that lead somewhere, only screenshots the browser tests regenerate, and only button labels
the application really shows.

Rule for labels: a French page quotes what the screen shows between «guillemets», an English
page in **bold**; each must be, whole, a French translation (msgstr) or an English msgid of the
catalogue translations/fr/LC_MESSAGES/messages.po. The installation page is left out: it quotes
the labels of the system's installers, not the app's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.browser.test_guide_screenshots import SHOTS
from workshops.help import pages
from workshops.help.render import render

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guide"
CATALOGUE = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"

# Pages quoting the labels of other programs (the system's installers), not the app's.
LABELS_OF_OTHER_PROGRAMS = {"installation"}

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
FRENCH_LABEL = re.compile(r"«([^»]+)»")
ENGLISH_LABEL = re.compile(r"\*\*([^*]+)\*\*")


def guide_files(language: str) -> dict[str, Path]:
    return {path.stem: path for path in sorted((GUIDE / language).glob("*.md"))}


def all_pages() -> list[tuple[str, str]]:
    return [(language, page) for language in pages.LANGUAGES for page in guide_files(language)]


def anchors(language: str, page: str) -> set[str]:
    """The ids of the page's headings, as the app renders them (GitHub's anchors)."""
    html = render(guide_files(language)[page].read_text(encoding="utf-8"),
                  lambda page, anchor: "", lambda language, name: "").html
    return set(re.findall(r'<h[1-6] id="([^"]*)"', html))


def without_code(text: str) -> str:
    """The page without its code (commands are not labels nor links)."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`]*`", "", text)


@pytest.fixture(scope="module")
def catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle)


def test_every_page_exists_in_both_languages_and_the_app_lists_them_all():
    french, english = set(guide_files("fr")), set(guide_files("en"))
    assert french == english, f"pages in one language only: {sorted(french ^ english)}"
    assert french == set(pages.PAGES), "workshops/help/pages.py PAGES lists exactly the guide's pages"


@pytest.mark.parametrize(("language", "page"), all_pages())
def test_a_page_has_a_title_and_its_links_lead_to_pages_of_its_language(language, page):
    text = without_code(guide_files(language)[page].read_text(encoding="utf-8"))
    assert text.startswith("# "), "a page starts with its title"
    for target in LINK.findall(text):
        if target.startswith("https://"):
            continue
        match = re.fullmatch(r"([a-z0-9-]+\.md)?(?:#(\S+))?", target)
        assert match and target, f"{target}: a link is `page.md`, `page.md#heading` or `#heading` (no folder)"
        name = match.group(1)[:-3] if match.group(1) else page
        assert name in guide_files(language), f"{target} does not exist in docs/guide/{language}"
        if match.group(2):
            assert match.group(2) in anchors(language, name), f"{target}: no such heading"


@pytest.mark.parametrize(("language", "page"), all_pages())
def test_images_are_screenshots_the_browser_tests_regenerate(language, page):
    text = guide_files(language)[page].read_text(encoding="utf-8")
    for alt, target in IMAGE.findall(text):
        assert alt.strip(), f"{target}: an image needs a text alternative"
        match = re.fullmatch(rf"\.\./img/{language}/([a-z0-9-]+)\.png", target)
        assert match, f"{target}: a screenshot of the page's language, ../img/{language}/NAME.png"
        assert match.group(1) in SHOTS, \
            f"{target} is not taken by tests/browser/test_guide_screenshots.py: it would go stale"
        assert (GUIDE / "img" / language / f"{match.group(1)}.png").is_file(), \
            f"{target} is missing: run tests/browser/test_guide_screenshots.py"


def test_every_screenshot_taken_is_shown_by_the_guide():
    shown = {name for language in pages.LANGUAGES for path in guide_files(language).values()
             for name in re.findall(r"\.\./img/[a-z]{2}/([a-z0-9-]+)\.png", path.read_text(encoding="utf-8"))}
    assert set(SHOTS) - shown == set(), "a screenshot nobody shows only slows the browser tests"


@pytest.mark.parametrize("page", sorted(set(guide_files("fr")) - LABELS_OF_OTHER_PROGRAMS))
def test_french_labels_are_the_applications(catalogue, page):
    known = {form.strip() for message in catalogue if message.id
             for form in (message.string if isinstance(message.string, tuple) else (message.string,))}
    text = " ".join(without_code(guide_files("fr")[page].read_text(encoding="utf-8")).split())
    labels = [label.strip() for label in FRENCH_LABEL.findall(text)]
    unknown = [label for label in labels if label not in known]
    assert not unknown, f"quoted «labels» the French application never shows: {unknown}"


@pytest.mark.parametrize("page", sorted(set(guide_files("en")) - LABELS_OF_OTHER_PROGRAMS))
def test_english_labels_are_the_applications(catalogue, page):
    known = {message_id.strip() for message in catalogue if message.id
             for message_id in (message.id if isinstance(message.id, tuple) else (message.id,))}
    text = " ".join(without_code(guide_files("en")[page].read_text(encoding="utf-8")).split())
    unknown = [label for label in ENGLISH_LABEL.findall(text) if label.strip() not in known]
    assert not unknown, f"**labels** the English application never shows: {unknown}"


def test_the_label_rule_catches_a_label_that_does_not_exist(catalogue):
    known = {message.string for message in catalogue if message.id and isinstance(message.string, str)}
    assert "Ouvrir l'accueil des familles" in known
    assert FRENCH_LABEL.findall("cliquez sur «Ouvrir la porte»") == ["Ouvrir la porte"]
    assert "Ouvrir la porte" not in known
