"""A refused form says, at its top, which fields to correct (each a link to its field), shows each
field's message beside it, and keeps what was typed (issue 9)."""

from __future__ import annotations

import html
import io
import re
from types import SimpleNamespace

import pytest

from tests.test_registrations import build_world

SUMMARY = re.compile(r'<div class="alert alert--error" role="alert">(.*?)</div>', re.S)


def _summary_links(page: str) -> dict[str, str]:
    """The error summary's links: {field id: text}."""
    match = SUMMARY.search(page)
    assert match, "no error summary at the top of the form"
    return {target: " ".join(html.unescape(text).split())
            for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', match.group(1), re.S)}


def _field_error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert match, f"no message beside {field_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def _value_of(page: str, field_id: str) -> str | None:
    tag = re.search(rf'<(?:input|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    assert tag, f"no field {field_id}"
    if tag.group(0).startswith("<textarea"):
        # A browser drops the newline that starts a textarea's content.
        return html.unescape(page[tag.end():page.index("</textarea>", tag.end())]).removeprefix("\r\n")
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


def _assert_refused(page: str, fields: dict[str, str]):
    """Each field of `fields` ({id: words of its message}) is in the summary and marked."""
    links = _summary_links(page)
    for field_id, words in fields.items():
        assert field_id in links, (field_id, links)
        assert words in links[field_id]
        assert words in _field_error(page, field_id)
        assert re.search(rf'id="{re.escape(field_id)}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*'
                         rf'id="{re.escape(field_id)}"', page), f"{field_id} not marked invalid"
    main = page.index("<main")
    form = re.compile(r'<form[^>]*method="post"(?![^>]*inline-form)').search(page, main)
    assert form and main < page.index('class="alert alert--error"') < form.start(), \
        "the summary comes at the top, before the form"


@pytest.fixture
def world(db):
    """The ids of a venue and a structure; the test's session left with no open transaction,
    so that the requests (same app context) start their own."""
    made = build_world(db)
    ids = SimpleNamespace(venue=str(made.venue.id), home=str(made.home.id))
    db.rollback()
    return ids


def test_an_atelier_without_date_and_times_keeps_what_was_typed(client, logged_in, world):
    logged_in("admin")
    response = client.post("/ateliers/new", data={
        "kind": "collective", "title": "Parents & numérique <ENT>", "day": "", "start_time": "",
        "end_time": "", "venue_id": world.venue, "notes": "Salle 12, \"2e étage\""})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    _assert_refused(page, {"day": "Enter the date of the atelier.",
                           "end_time": "Enter the time the atelier ends."})
    assert _value_of(page, "title") == "Parents & numérique <ENT>"
    assert _value_of(page, "notes") == "Salle 12, \"2e étage\""
    assert "<ENT>" not in page, "typed text is escaped"


def test_a_family_without_a_guardian_keeps_what_was_typed(client, logged_in, world):
    logged_in("admin")
    response = client.post("/families/new", data={
        "guardians-0-last_name": "", "guardians-0-first_name": "", "guardians-0-phone": "06 12 34 56 78",
        "children-0-first_name": "Inès", "commune": "Chasseneuil-du-Poitou",
        "structure_id": world.home, "origin": "other", "notes": "Vient le mercredi"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    _assert_refused(page, {"guardians-0-last_name": "Enter the last name."})
    assert _value_of(page, "guardians-0-phone") == "06 12 34 56 78"
    assert _value_of(page, "children-0-first_name") == "Inès"
    assert _value_of(page, "commune") == "Chasseneuil-du-Poitou"
    assert _value_of(page, "notes") == "Vient le mercredi"


def test_a_machine_without_an_asset_tag_keeps_what_was_typed(client, logged_in, world):
    logged_in("admin")
    response = client.post("/materiel/new", data={
        "asset_tag": "", "kind": "laptop", "brand": "Lenovo", "model": "ThinkPad T480", "ram_gb": "8",
        "structure_id": world.home, "notes": "Clavier AZERTY"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    _assert_refused(page, {"asset_tag": "Enter the asset tag"})
    assert _value_of(page, "ram_gb") == "8"
    assert _value_of(page, "brand") == "Lenovo" and _value_of(page, "model") == "ThinkPad T480"
    assert _value_of(page, "notes") == "Clavier AZERTY"


def test_a_machine_with_a_wrong_memory_and_no_asset_tag_gets_both_messages_at_once(client, logged_in, world):
    """A field check (memory below zero) and the service's rule (no asset tag) in one round, not
    one after the other."""
    logged_in("admin")
    response = client.post("/materiel/new", data={
        "asset_tag": "", "kind": "laptop", "ram_gb": "-4", "structure_id": world.home})
    assert response.status_code == 200
    _assert_refused(response.get_data(as_text=True), {
        "asset_tag": "Enter the asset tag", "ram_gb": "Number must be at least 0"})


@pytest.mark.parametrize("path", ["/import/familles", "/import/materiel"])
@pytest.mark.parametrize("name,content,words", [
    ("liste.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "neither a CSV nor an XLSX file"),
    ("liste.csv", b"", "The file is empty."),
    ("liste.csv", "Nom;Prénom\n".encode(), "a header line but no rows"),
], ids=["wrong-type", "empty", "header-only"])
def test_an_unusable_upload_says_why_and_keeps_the_structure_chosen(client, logged_in, world, path,
                                                                    name, content, words):
    logged_in("admin")
    response = client.post(path, data={"file": (io.BytesIO(content), name), "structure_id": world.home},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    _assert_refused(page, {"file": words})
    assert re.search(rf'<option selected value="{world.home}"|<option value="{world.home}" selected', page), \
        "the structure chosen is kept"
