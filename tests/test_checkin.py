"""The attendance pages over HTTP: check-in, undo, walk-ins, registrations, headcount, paper sheet,
resources shown, the atelier panel; and another structure's atelier is "not found" with the
database unchanged. The browser journey is in tests/browser/test_checkin_browser.py."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from flask import g
from sqlalchemy import func, select

from tests.test_registrations import build_world, new_family, new_workshop
from workshops.auth.models import Structure, User
from workshops.core.models import derived_id
from workshops.extensions import db as _db
from workshops.families import registration_services as services
from workshops.families import registration_views
from workshops.families.models import AnonymousHeadcount, Family, FamilyResource, Registration
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop
from workshops.scheduling.panels import Panel


@dataclass
class Door:
    """Ids of what the tests need (rows would be detached once the setup context ends)."""

    app: object
    workshop: uuid.UUID
    martin: uuid.UUID
    ndiaye: uuid.UUID
    home: uuid.UUID
    other: uuid.UUID

    @property
    def base(self) -> str:
        return f"/ateliers/{self.workshop}"

    def read(self, how):
        """`how(session)` in a fresh app context: requests write in their own."""
        with self.app.app_context():
            return how(_db.session)

    def registration(self, family_id):
        row_id = derived_id("registration", self.workshop, family_id)
        return self.read(lambda db: db.get(Registration, row_id))

    def count(self, model, *where) -> int:
        return self.read(lambda db: db.scalar(select(func.count()).select_from(model).where(*where)))

    def add_family(self, last_name, first_name, *, other=False):
        def make(db):
            world = SimpleNamespace(home=db.get(Structure, self.home), other=db.get(Structure, self.other),
                                    manager=db.scalars(select(User).where(User.role == "manager")).first())
            return new_family(db, world, last_name, first_name, structure=world.other if other else None).id
        return self.read(make)


@pytest.fixture
def door(app, create_user, auth, client) -> Door:
    """A conseiller of the atelier's structure logged in, in English; an atelier of
    capacity 3 with two families on its list."""
    with app.app_context():
        db = _db.session
        world = build_world(db)
        workshop = new_workshop(db, world, capacity=3)
        martin = new_family(db, world, "Martin", "Élodie", phone="0601020304")
        ndiaye = new_family(db, world, "N’Diaye", "Awa")
        for family in (martin, ndiaye):
            services.register_family(db, workshop, family, world.manager)
        db.commit()
        door = Door(app, workshop.id, martin.id, ndiaye.id, world.home.id, world.other.id)
    username = create_user("conseiller", structure_id=door.home)
    assert auth.login(username).status_code == 302
    client.post("/language/en", data={"next": "/"})
    return door


def test_checkin_page_shows_counters_search_and_the_list(client, door):
    page = client.get(f"{door.base}/checkin").get_data(as_text=True)
    assert 'id="checkin-counters"' in page and 'aria-live="polite"' in page
    assert re.search(r'<input[^>]*autofocus[^>]*name="q"|<input[^>]*name="q"[^>]*autofocus', page)
    assert "Martin Élodie" in page and "N’Diaye Awa" in page
    assert "js/checkin.js" in page and "css/checkin.css" in page


def test_search_without_javascript_lists_families_with_one_tap_buttons(client, door):
    page = client.get(f"{door.base}/checkin", query_string={"q": "elo"}).get_data(as_text=True)
    results = page.split('class="checkin-results"')[1].split("</ul>")[0]
    assert f'name="family_id" value="{door.martin}"' in results
    assert str(door.ndiaye) not in results


def test_results_fragment_is_just_the_list(client, door):
    response = client.get(f"{door.base}/checkin/results", query_string={"q": "n'diaye"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and '<ul class="checkin-results"' in html
    assert f'value="{door.ndiaye}"' in html and 'name="csrf_token"' in html


def test_check_in_then_undo(client, door):
    response = client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{door.base}/checkin")
    registration = door.registration(door.martin)
    assert registration.status == "attended" and registration.checked_in_dt is not None

    page = client.get(f"{door.base}/checkin").get_data(as_text=True)
    assert "Élodie Martin is checked in" in page
    assert 'name="previous" value="registered"' in page

    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    assert "already checked in" in client.get(f"{door.base}/checkin").get_data(as_text=True)
    assert door.count(Registration, Registration.status == "attended") == 1

    client.post(f"{door.base}/checkin/undo", data={"registration_id": str(registration.id),
                                                  "previous": "registered"})
    registration = door.registration(door.martin)
    assert registration.status == "registered" and registration.checked_in_dt is None
    assert "was undone" in client.get(f"{door.base}/checkin").get_data(as_text=True)


def test_counts_are_corrected_from_the_list(client, door):
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.ndiaye)})
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.ndiaye), "adults": "2",
                                                     "children": "3"})
    registration = door.registration(door.ndiaye)
    assert (registration.adults_present, registration.children_present) == (2, 3)
    page = client.get(f"{door.base}/checkin").get_data(as_text=True)
    assert re.search(r'counter__value">2</span>\s*<span class="counter__label">adults', page)


def test_walk_in_needs_the_notice_then_is_checked_in(client, door):
    typed = {"last_name": "Nguyen", "first_name": "Thi", "phone": "06 12 34 56 78", "adults": "1",
             "children": "2"}
    refused = client.post(f"{door.base}/checkin/walk-in", data=typed)
    assert refused.status_code == 422
    assert "Give the privacy notice" in refused.get_data(as_text=True)
    assert door.count(Family) == 2

    assert client.post(f"{door.base}/checkin/walk-in", data={**typed, "notice_given": "y"}).status_code == 302
    family = door.read(lambda db: db.scalars(select(Family).where(Family.origin == "walk_in")).one())
    assert family.notice_version == services.NOTICE_VERSION
    registration = door.registration(family.id)
    assert registration.status == "attended" and registration.children_present == 2
    assert "Thi Nguyen was added and checked in" in client.get(f"{door.base}/checkin").get_data(as_text=True)


def test_walk_in_that_looks_known_asks_first(client, door):
    typed = {"last_name": "martin", "first_name": "elodie", "phone": "", "notice_given": "y",
             "adults": "1", "children": "0"}
    asked = client.post(f"{door.base}/checkin/walk-in", data=typed)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Is elodie martin already known?" in page
    assert f'name="family_id" value="{door.martin}"' in page, "yes: check in that family"
    assert 'name="force" type="hidden" value="1"' in page, "no: a new family"
    assert door.count(Family) == 2

    client.post(f"{door.base}/checkin/walk-in", data={**typed, "force": "1"})
    assert door.count(Family) == 3


def test_registrations_ask_before_over_booking(client, door):
    third, fourth = door.add_family("Arnaud", "Anne"), door.add_family("Bernard", "Lucie")
    page = client.get(f"{door.base}/registrations", query_string={"q": "arnaud"}).get_data(as_text=True)
    assert f'value="{third}"' in page
    assert client.post(f"{door.base}/registrations/add",
                       data={"family_id": str(third), "status": "registered"}).status_code == 302

    full = client.post(f"{door.base}/registrations/add", data={"family_id": str(fourth),
                                                               "status": "registered"})
    assert full.status_code == 409
    assert "The atelier is full (3 places)" in full.get_data(as_text=True)
    assert door.registration(fourth) is None

    client.post(f"{door.base}/registrations/add", data={"family_id": str(fourth), "status": "registered",
                                                        "allow_overbooking": "1"})
    assert door.registration(fourth).status == "registered"

    registration = door.registration(door.martin)
    client.post(f"{door.base}/registrations/status", data={"registration_id": str(registration.id),
                                                           "status": "excused"})
    assert door.registration(door.martin).status == "excused"


def test_headcount_grid_and_the_one_tap_count(client, door):
    page = client.get(f"{door.base}/headcount").get_data(as_text=True)
    assert page.count('type="number"') == 8 * 5
    client.post(f"{door.base}/headcount", data={"c-quarante_cinquante_neuf-en_emploi": "3",
                                                "c-moins_de_douze-scolarise": "2"})
    client.post(f"{door.base}/headcount/add", data={"delta": "1"})
    rows = door.read(lambda db: db.scalars(select(AnonymousHeadcount)).all())
    assert {(r.age_bracket, r.social_status): r.count for r in rows} == {
        ("quarante_cinquante_neuf", "en_emploi"): 3, ("moins_de_douze", "scolarise"): 2,
        ("non_communique", "non_communique"): 1}
    refused = client.post(f"{door.base}/headcount", data={"c-moins_de_douze-scolarise": "-4"})
    assert refused.status_code == 200 and 'aria-invalid="true"' in refused.get_data(as_text=True)


def test_paper_sheet_has_the_printed_order_and_records_marks_and_walk_ins(client, door):
    page = client.get(f"{door.base}/sheet").get_data(as_text=True)
    assert page.index("Martin Élodie") < page.index("N’Diaye Awa")
    assert 'name="walk_ins-7-last_name"' in page, "blank rows for walk-ins"
    martin, ndiaye = (door.registration(f) for f in (door.martin, door.ndiaye))
    form = {"marks-0-registration_id": str(martin.id), "marks-0-status": "attended",
            "marks-0-adults": "2", "marks-0-children": "1", "marks-0-is_signed_on_paper": "y",
            "marks-1-registration_id": str(ndiaye.id), "marks-1-status": "excused",
            "walk_ins-0-last_name": "Nguyen", "walk_ins-0-first_name": "Thi",
            "walk_ins-0-notice_given": "y", "walk_ins-0-adults": "1", "walk_ins-0-children": "0"}
    assert client.post(f"{door.base}/sheet", data=form).status_code == 302
    martin, ndiaye = (door.registration(f) for f in (door.martin, door.ndiaye))
    assert (martin.status, martin.adults_present, martin.is_signed_on_paper) == ("attended", 2, True)
    assert ndiaye.status == "excused"
    assert door.count(Family, Family.origin == "walk_in") == 1


def test_paper_sheet_refuses_a_row_without_the_notice(client, door):
    form = {"walk_ins-2-last_name": "Nguyen", "walk_ins-2-adults": "1"}
    page = client.post(f"{door.base}/sheet", data=form).get_data(as_text=True)
    assert 'id="walk_ins-2-notice_given"' in page and "Give the privacy notice" in page
    assert door.count(Family) == 2


def test_paper_sheet_offers_duplicates_for_rows_written_by_hand(client, door):
    form = {"walk_ins-0-last_name": "Martin", "walk_ins-0-first_name": "Elodie",
            "walk_ins-0-phone": "0601020304", "walk_ins-0-notice_given": "y"}
    page = client.post(f"{door.base}/sheet", data=form).get_data(as_text=True)
    assert f'name="walk_ins-0-family_choice" type="radio" value="{door.martin}"' in page
    assert door.count(Family) == 2
    client.post(f"{door.base}/sheet", data={**form, "walk_ins-0-family_choice": str(door.martin)})
    assert door.registration(door.martin).status == "attended"
    assert door.count(Family) == 2


def test_resources_shown_are_ticked_per_family(client, door):
    def add(db):
        resources = Resource(name="Lire en Vienne", needs_account=True), Resource(name="PIX")
        db.add_all(resources)
        db.commit()
        return [r.id for r in resources]

    lire, pix = door.read(add)
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    page = client.get(f"{door.base}/resources-shown").get_data(as_text=True)
    assert f'name="shown-{door.martin.hex}"' in page and f'name="opened-{door.martin.hex}"' in page
    assert f"shown-{door.ndiaye.hex}" not in page, "only families present"
    client.post(f"{door.base}/resources-shown", data={f"shown-{door.martin.hex}": [str(lire), str(pix)],
                                                      f"opened-{door.martin.hex}": [str(lire)]})
    rows = door.read(lambda db: db.scalars(select(FamilyResource)).all())
    assert {(r.resource_id, r.has_opened_account) for r in rows} == {(lire, True), (pix, False)}


def test_the_atelier_panel(app, door):
    with app.test_request_context():
        user = _db.session.scalars(select(User).where(User.role == "conseiller")).first()
        g.user = user
        workshop = _db.session.get(Workshop, door.workshop)
        panel = registration_views.attendance_panel(workshop, user)
        assert isinstance(panel, Panel) and panel.context["counters"].registered == 2
        html = app.jinja_env.get_template(panel.template).render(ctx=panel.context, workshop=workshop)
    assert f"/ateliers/{door.workshop}/checkin" in html and "Martin Élodie" in html


# ---------- Scope: another structure's atelier is "not found" ----------

GETS = ["checkin", "checkin/results?q=mar", "registrations", "headcount", "sheet", "resources-shown"]


def _posts(door):
    registration = str(derived_id("registration", door.workshop, door.martin))
    return [("checkin/family", {"family_id": str(door.martin)}),
            ("checkin/undo", {"registration_id": registration, "previous": "registered"}),
            ("checkin/walk-in", {"last_name": "Intrus", "notice_given": "y"}),
            ("registrations/add", {"family_id": str(door.martin), "status": "registered"}),
            ("registrations/status", {"registration_id": registration, "status": "absent"}),
            ("headcount", {"c-moins_de_douze-scolarise": "4"}),
            ("headcount/add", {"delta": "1"}),
            ("sheet", {"marks-0-registration_id": registration, "marks-0-status": "absent"}),
            ("resources-shown", {})]


def _snapshot(door) -> tuple:
    def take(db):
        counts = tuple(db.scalar(select(func.count()).select_from(model)) for model in
                       (Family, Registration, AnonymousHeadcount, FamilyResource))
        return counts + tuple((r.status, r.adults_present, r.hlc)
                              for r in db.scalars(select(Registration).order_by(Registration.id)))
    return door.read(take)


def test_another_structures_atelier_is_not_found_and_nothing_changes(client, door, auth, create_user):
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    auth.logout()
    auth.login(create_user("conseiller", structure_id=door.other))
    before = _snapshot(door)
    for path in GETS:
        assert client.get(f"{door.base}/{path}").status_code == 404, path
    for path, data in _posts(door):
        assert client.post(f"{door.base}/{path}", data=data).status_code == 404, path
    assert _snapshot(door) == before


def test_a_family_of_another_structure_is_not_found_on_my_atelier(client, door):
    foreign = door.add_family("Diallo", "Awa", other=True)
    response = client.post(f"{door.base}/checkin/family", data={"family_id": str(foreign)})
    assert response.status_code == 404
    assert door.registration(foreign) is None


def test_an_unknown_atelier_is_not_found(client, door):
    assert client.get(f"/ateliers/{uuid.uuid4()}/checkin").status_code == 404


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_renders_in_both_languages_without_writing(client, door, lang):
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    client.post(f"/language/{lang}", data={"next": "/"})
    before = _snapshot(door)
    for path in GETS + ["checkin?q=martin", "registrations?q=awa"]:
        response = client.get(f"{door.base}/{path}")
        assert response.status_code == 200, path
        if not path.startswith("checkin/results"):
            assert f'<html lang="{lang}"'.encode() in response.data, path
    assert _snapshot(door) == before


def test_the_atelier_page_shows_the_families_panel(client, door):
    client.post(f"{door.base}/checkin/family", data={"family_id": str(door.martin)})
    page = client.get(door.base).get_data(as_text=True)
    assert f'href="{door.base}/checkin"' in page and f'href="{door.base}/sheet"' in page
    assert "Martin Élodie" in page
    assert re.search(r'counter__value">1</span>\s*<span class="counter__label">family present', page)
