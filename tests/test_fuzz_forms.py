"""Bad input in the main forms (issue 8 item 8): whatever text a conseiller types or pastes
(control characters, NUL, bidi overrides, right-to-left text, emoji, very long text), the login,
household, walk-in, atelier and machine forms answer with the form shown again and a message,
or save and redirect; never a 500. A refused post writes nothing; a saved value reads back as
typed (spaces trimmed, NFC)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.test_registrations import build_world, new_workshop
from workshops.core.models import Base
from workshops.equipment.models import Equipment
from workshops.extensions import db as _db
from workshops.families.models import Family, Guardian
from workshops.scheduling.models import Workshop

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# Text a browser can send: anything but lone surrogates, which HTTP cannot carry.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
NASTY = st.sampled_from([
    "", " ", "\x00", "Martin\x00", "\u202eMartin", "Mar\u200btin", "\ufeffDupont", "\r\n\t",
    "مريم الحسن", "עברית", "😀👨‍👩‍👧", "Zoe\u0301", "É" * 5000, "x" * 100_000, "<script>", "' OR 1=1 --",
    "%s %(name)s {0}", "\u0000\u0001\u001f\u007f\u0085",
])
TEXT = NASTY | ANY_TEXT
NUMBER = st.sampled_from(["", "0", "-1", "1", "12", "1e3", "٣", "9" * 30, "2147483648", "NaN"]) | ANY_TEXT
SOON = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()  # ateliers are planned up to a year ahead
# Rows a refusal may still write: the journal, the session's activity, the login throttle.
APART = {"audit_entries", "user_sessions", "login_throttles"}


def dump(app) -> dict:
    with app.app_context():
        _db.session.remove()
        return {table.name: sorted(map(repr, _db.session.execute(select(table)).all()))
                for table in Base.metadata.sorted_tables if table.name not in APART}


def same_text(stored: str, typed: str) -> bool:
    """Read back as typed: surrounding and repeated spaces aside, NFC-equal."""
    def norm(text):
        return " ".join(unicodedata.normalize("NFC", text).split())
    return norm(stored) == norm(typed)


def without_controls(typed: str) -> str:
    """Free text as the app promises to keep it (families and machines): a control character
    pasted by mistake (a NUL, an escape) is dropped, line breaks and tabs stay."""
    return "".join(char for char in typed if char in "\n\t" or unicodedata.category(char) != "Cc")


def posted(app, client, path: str, data: dict) -> tuple[int, bool]:
    """(status, changed) of one post; a refusal must be the form again and write nothing."""
    before = dump(app)
    response = client.post(path, data=data)
    assert response.status_code in (200, 302, 422), (response.status_code, response.get_data()[:300])
    if response.status_code != 302:
        assert "text/html" in response.content_type and b"<form" in response.get_data()
        assert dump(app) == before, "a refused post wrote something"
    return response.status_code, response.status_code == 302


@pytest.fixture
def desk(app, client, create_user, auth):
    """A conseiller of the home structure logged in, and an atelier of that structure today."""
    with app.app_context():
        world = build_world(_db.session)
        workshop = new_workshop(_db.session, world)
        ids = {"home": world.home.id, "venue": world.venue.id, "workshop": workshop.id}
    username = create_user("conseiller", structure_id=ids["home"])
    assert auth.login(username).status_code == 302
    return ids


@FUZZ
@given(username=TEXT, password=TEXT)
def test_the_login_form_refuses_any_text_with_the_form_again(app, create_user, username, password):
    if not hasattr(app, "_fuzz_account"):
        app._fuzz_account = create_user("conseiller")  # else /login leads to the first account
    client = app.test_client()
    before = dump(app)
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code in (200, 429), (response.status_code, response.get_data()[:300])
    assert "text/html" in response.content_type
    assert dump(app) == before


@FUZZ
@given(last=TEXT, first=TEXT, phone=TEXT, email=TEXT, commune=TEXT, notes=TEXT, child=TEXT,
       notice=TEXT, notice_date=TEXT)
@example(last="Martin", first="Zoe\u0301", phone="06 12 34 56 78", email="", commune=" Poitiers ",
         notes="Deux enfants 😀", child="Léa", notice="2026-09", notice_date="")
@example(last="Martin", first="Awa", phone="", email="", commune="Poi\x00tiers",
         notes="\x00\x01\x1f\x7f\x85", child="", notice="", notice_date="")
def test_the_household_form_saves_exactly_or_refuses(app, client, desk, last, first, phone, email,
                                                      commune, notes, child, notice, notice_date):
    data = {"guardians-0-last_name": last, "guardians-0-first_name": first, "guardians-0-phone": phone,
            "guardians-0-email": email, "guardians-0-language": "fr", "guardians-0-relation": "mother",
            "children-0-first_name": child, "commune": commune, "origin": "other", "notes": notes,
            "notice_version": notice, "notice_date": notice_date, "confirm_new": "1"}
    _status, saved = posted(app, client, "/families/new", data)
    if notes == "Deux enfants 😀":
        assert saved, "the well-formed household must be saved"
    if saved:
        with app.app_context():
            family = _db.session.scalars(select(Family).order_by(Family.created_dt.desc())).first()
            guardian = _db.session.scalars(select(Guardian).where(Guardian.family_id == family.id)).one()
            assert same_text(guardian.last_name, last) and same_text(guardian.first_name, first)
            assert guardian.last_name == unicodedata.normalize("NFC", guardian.last_name)
            assert same_text(family.commune, without_controls(commune))
            assert same_text(family.notes, without_controls(notes))


@FUZZ
@given(last=TEXT, first=TEXT, phone=TEXT, adults=NUMBER, children=NUMBER, notice=st.booleans())
@example(last="Yılmaz", first="Ayşe", phone="", adults="2", children="1", notice=True)
def test_a_walk_in_at_the_door_is_checked_in_exactly_or_refused(app, client, desk, last, first, phone,
                                                                  adults, children, notice):
    data = {"last_name": last, "first_name": first, "phone": phone, "adults": adults,
            "children": children, "force": "1", **({"notice_given": "y"} if notice else {})}
    _status, saved = posted(app, client, f"/ateliers/{desk['workshop']}/checkin/walk-in", data)
    if last == "Yılmaz":
        assert saved, "the well-formed walk-in must be checked in"
    if saved:
        with app.app_context():
            guardian = _db.session.scalars(select(Guardian).order_by(Guardian.created_dt.desc())).first()
            assert same_text(guardian.last_name, last) and same_text(guardian.first_name, first)


@FUZZ
@given(title=TEXT, notes=TEXT, capacity=NUMBER, day=TEXT, start=TEXT, end=TEXT)
@example(title="Parents et numérique", notes="", capacity="12", day=SOON, start="18:00",
         end="20:00")
@example(title="ورشة", notes="\u202e", capacity="9" * 30, day=SOON, start="18:00", end="20:00")
def test_the_atelier_form_saves_exactly_or_refuses(app, client, desk, title, notes, capacity, day,
                                                   start, end):
    data = {"kind": "e_parentalite", "title": title, "day": day, "start_time": start, "end_time": end,
            "venue_id": str(desk["venue"]), "structure_id": str(desk["home"]), "capacity": capacity,
            "languages": ["fr"], "level": "", "notes": notes}
    _status, saved = posted(app, client, "/ateliers/new", data)
    if title == "Parents et numérique":
        assert saved, "the well-formed atelier must be saved"
    if saved:
        with app.app_context():
            workshop = _db.session.scalars(select(Workshop).order_by(Workshop.created_dt.desc())).first()
            assert same_text(workshop.title, title) and same_text(workshop.notes or "", notes)


@FUZZ
@given(tag=TEXT, brand=TEXT, notes=TEXT, ram=NUMBER, refurbished=TEXT)
@example(tag="LR-1", brand="Lenovo", notes="", ram="8", refurbished="2025-05-15")
@example(tag="LR-2", brand="Dell", notes="", ram="9" * 30, refurbished="")
@example(tag="LR-3", brand="\x00\x01\x1f\x7f\x85", notes="Martin\x00", ram="", refurbished="")
def test_the_machine_form_saves_exactly_or_refuses(app, client, desk, tag, brand, notes, ram, refurbished):
    data = {"asset_tag": tag, "structure_id": str(desk["home"]), "kind": "laptop", "brand": brand,
            "ram_gb": ram, "notes": notes, "refurbished_on": refurbished, "grade": ""}
    _status, saved = posted(app, client, "/materiel/new", data)
    if tag == "LR-1":
        assert saved, "the well-formed machine must be saved"
    if saved:
        with app.app_context():
            machine = _db.session.scalars(select(Equipment).order_by(Equipment.created_dt.desc())).first()
            assert same_text(machine.brand, without_controls(brand))
            assert same_text(machine.notes, without_controls(notes))
