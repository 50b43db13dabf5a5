"""The inventory pages as a conseiller uses them: list with filters and counters, add and
edit, a machine's page with its history and actions, reservations, the stock page and what
a family received (issue 4, items 1, 3, 4 and 6)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_of
from tests.test_registrations import build_world, new_workshop
from workshops.auth.models import User
from workshops.core.models import utcnow
from workshops.equipment import services
from workshops.equipment.models import Equipment, EquipmentEvent
from workshops.extensions import db as _db
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, create_family


@dataclass
class Stockroom:
    """Two structures, a conseiller of the home one logged in (English)."""

    app: object
    home: uuid.UUID
    other: uuid.UUID
    manager: uuid.UUID
    workshop: uuid.UUID

    def run(self, how):
        with self.app.app_context():
            result = how(_db.session)
            _db.session.commit()
            return result

    def add(self, tag, kind="desktop", *, other=False, grade=None, origin=""):
        def make(db):
            data = services.EquipmentData(asset_tag=tag, structure_id=self.other if other else self.home,
                                          kind=kind, grade=grade, origin=origin, brand="Dell")
            return services.add_equipment(db, data, self._manager(db)).id
        return self.run(make)

    def family(self, last_name, wanted=None, *, other=False):
        def make(db):
            data = FamilyData(guardians=(GuardianData(first_name="Awa", last_name=last_name),),
                              structure_id=self.other if other else self.home, computer_wanted=wanted,
                              notice_version="2026-01")
            return create_family(db, data, self._manager(db)).id
        return self.run(make)

    def act(self, how):
        """how(db, machine getter, family getter, manager)."""
        return self.run(lambda db: how(db, lambda i: db.get(Equipment, i), lambda i: db.get(Family, i),
                                       self._manager(db)))

    def machine(self, equipment_id) -> tuple[str, int]:
        """(status, number of events) of a machine."""
        def read(db):
            item = db.get(Equipment, equipment_id)
            events = db.scalar(select(func.count()).select_from(EquipmentEvent)
                               .where(EquipmentEvent.equipment_id == equipment_id))
            return item.status, events
        return self.run(read)

    def _manager(self, db):
        return db.get(User, self.manager)


@pytest.fixture
def room(app, create_user, auth, client) -> Stockroom:
    with app.app_context():
        world = build_world(_db.session)
        workshop = new_workshop(_db.session, world)
        room = Stockroom(app, world.home.id, world.other.id, world.manager.id, workshop.id)
    assert auth.login(create_user("conseiller", structure_id=room.home)).status_code == 302
    client.post("/language/en", data={"next": "/"})
    return room


def counter(page: str, name: str) -> int:
    match = re.search(rf'id="{name}">\s*<a[^>]*>\s*<span class="counter__value">(\d+)</span>', page)
    assert match, name
    return int(match.group(1))


def token(client, path="/materiel/new") -> str:
    return csrf_token_of(client.get(path).get_data(as_text=True))


def test_list_filters_and_counters_show_my_structures_machines(client, room):
    room.add("LR-0001", grade="good", origin="Collège Jules Verne")
    room.add("LR-0002", grade="fair")
    laptop = room.add("LR-0003", "laptop", grade="good")
    room.add("LR-0009", other=True)
    room.act(lambda db, m, f, u: services.mark_faulty(db, m(laptop), u, "Écran cassé"))
    page = client.get("/materiel").get_data(as_text=True)
    assert counter(page, "counter-in_stock") == 2 and counter(page, "counter-faulty") == 1
    assert counter(page, "counter-reserved") == 0
    assert "LR-0001" in page and "LR-0003" in page and "LR-0009" not in page, "another structure's"
    laptops = client.get("/materiel?kind=laptop").get_data(as_text=True)
    assert "LR-0003" in laptops and "LR-0001" not in laptops
    assert counter(laptops, "counter-in_stock") == 0 and counter(laptops, "counter-faulty") == 1
    assert "LR-0001" in client.get("/materiel?origin=Coll%C3%A8ge+Jules+Verne").get_data(as_text=True)
    fair = client.get("/materiel?grade=fair").get_data(as_text=True)
    assert "LR-0002" in fair and "LR-0001" not in fair
    faulty = client.get("/materiel?status=faulty").get_data(as_text=True)
    assert "LR-0003" in faulty and "LR-0002" not in faulty
    empty = client.get("/materiel?status=recycled").get_data(as_text=True)
    assert "No machine matches these filters." in empty


def test_the_list_has_pages_of_25(client, room):
    for number in range(27):
        room.add(f"LR-{number:04d}")
    first = client.get("/materiel").get_data(as_text=True)
    assert "LR-0024" in first and "LR-0025" not in first and "Next page" in first
    assert "LR-0026" in client.get("/materiel?page=2").get_data(as_text=True)


def test_add_a_machine_with_errors_next_to_their_fields(client, room):
    form = {"csrf_token": token(client), "structure_id": str(room.home), "kind": "laptop", "grade": "good",
            "brand": "Lenovo", "ram_gb": "8"}
    refused = client.post("/materiel/new", data={**form, "asset_tag": "  ", "refurbished_on": "2099-01-01"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Error: Enter the asset tag" in html
    assert "The refurbishing date cannot be in the future" in html
    saved = client.post("/materiel/new", data={**form, "asset_tag": "lr-2025 0042"})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "LR-20250042" in page and "Added by hand" in page and "Lenovo" in page


def test_a_duplicate_asset_tag_is_refused_and_nothing_is_added(client, room):
    room.add("LR-0001")
    response = client.post("/materiel/new", data={"csrf_token": token(client), "asset_tag": " lr-0001",
                                                  "structure_id": str(room.home), "kind": "desktop"})
    assert "Another machine already has this asset tag." in response.get_data(as_text=True)
    assert room.run(lambda db: db.scalar(select(func.count()).select_from(Equipment))) == 1


def test_errors_are_in_the_users_language(client, room):
    client.post("/language/fr", data={"next": "/"})
    response = client.post("/materiel/new", data={"csrf_token": token(client), "asset_tag": "",
                                                  "structure_id": str(room.home), "kind": "desktop"})
    html = response.get_data(as_text=True)
    assert '<html lang="fr"' in html and "Erreur" in html


def test_edit_keeps_the_change_in_the_history(client, room):
    item = room.add("LR-0001")
    path = f"/materiel/{item}/modifier"
    form = client.get(path).get_data(as_text=True)
    assert 'value="LR-0001"' in form
    response = client.post(path, data={"csrf_token": csrf_token_of(form), "asset_tag": "LR-0001",
                                       "structure_id": str(room.home), "kind": "desktop", "brand": "HP"})
    assert response.status_code == 302
    page = client.get(f"/materiel/{item}").get_data(as_text=True)
    assert "Description corrected" in page and "brand" in page and "HP" in page


def test_history_says_who_when_which_family_and_why(client, room):
    item = room.add("LR-0001")
    family = room.family("Diallo", "desktop")
    room.act(lambda db, m, f, u: services.reserve(db, m(item), f(family), u))
    room.act(lambda db, m, f, u: services.mark_faulty(db, m(item), u, "Ne démarre plus"))
    history = client.get(f"/materiel/{item}").get_data(as_text=True).split('id="history"')[1]
    assert "Found faulty" in history and "Ne démarre plus" in history
    assert "Reserved → Faulty" in history and "In stock → Reserved" in history
    assert "Awa Diallo" in history and "Alex" in history, "which family, and who"


def test_reserve_offers_the_families_who_asked_for_this_kind(client, room):
    laptop = room.add("LR-0001", "laptop")
    wants_laptop = room.family("Diallo", "laptop")
    room.family("Martin", None)  # asked for nothing: not offered
    page = client.get(f"/materiel/{laptop}").get_data(as_text=True)
    assert f'value="{wants_laptop}"' in page and "Martin" not in page
    response = client.post(f"/materiel/{laptop}/reserver", data={
        "csrf_token": csrf_token_of(page), "family_id": str(wants_laptop)}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "is reserved for this family" in html and "Reserved for:" in html
    assert room.machine(laptop)[0] == "reserved"
    family_page = client.get(f"/families/{wants_laptop}").get_data(as_text=True)
    assert "Reserved for this family" in family_page and "LR-0001" in family_page


def test_a_machine_of_another_kind_needs_a_confirmation(client, room):
    desktop = room.add("LR-0001", "desktop")
    wants_laptop = room.family("Diallo", "laptop")
    data = {"csrf_token": token(client), "family_id": str(wants_laptop)}
    refused = client.post(f"/materiel/{desktop}/reserver", data=data, follow_redirects=True)
    assert "This family asked for another kind of computer" in refused.get_data(as_text=True)
    assert room.machine(desktop) == ("in_stock", 1)
    client.post(f"/materiel/{desktop}/reserver", data={**data, "allow_other_kind": "y"})
    assert room.machine(desktop)[0] == "reserved"


def test_the_family_page_offers_machines_of_the_kind_asked_for(client, room):
    room.add("LR-0001", "desktop")
    laptop = room.add("LR-0002", "laptop")
    family = room.family("Diallo", "laptop")
    page = client.get(f"/families/{family}").get_data(as_text=True)
    assert "LR-0002" in page and "LR-0001" not in page
    response = client.post(f"/materiel/{laptop}/reserver", data={
        "csrf_token": csrf_token_of(page), "family_id": str(family), "back": "family"})
    assert response.headers["Location"].endswith(f"/families/{family}")
    assert room.machine(laptop)[0] == "reserved"


@pytest.mark.parametrize("setup,action,data,message", [
    (None, "remettre-en-stock", {}, "This machine is in stock. This change is not possible."),
    ("reserve", "recycler", {}, "This machine is reserved for a family. This change is not possible."),
    (None, "en-panne", {"faulty-reason": "  "}, "Say what is wrong with the machine."),
    (None, "annuler-reservation", {}, "This machine is in stock. This change is not possible."),
    ("recycle", "en-panne", {"faulty-reason": "Écran"}, "This machine was sent to recycling."),
])
def test_refused_changes_are_flashed_and_change_nothing(client, room, setup, action, data, message):
    item = room.add("LR-0001")
    family = room.family("Diallo", "desktop")
    if setup == "reserve":
        room.act(lambda db, m, f, u: services.reserve(db, m(item), f(family), u))
    if setup == "recycle":
        room.act(lambda db, m, f, u: services.recycle(db, m(item), u))
    before = room.machine(item)
    response = client.post(f"/materiel/{item}/{action}", data={"csrf_token": token(client), **data},
                           follow_redirects=True)
    assert message in response.get_data(as_text=True)
    assert room.machine(item) == before


def test_actions_move_the_machine_through_its_life(client, room):
    item = room.add("LR-0001")
    client.post(f"/materiel/{item}/en-panne", data={"csrf_token": token(client), "faulty-reason": "Écran"})
    assert room.machine(item)[0] == "faulty"
    page = client.post(f"/materiel/{item}/remettre-en-stock", data={"csrf_token": token(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "The machine is back in stock." in page and room.machine(item)[0] == "in_stock"
    client.post(f"/materiel/{item}/recycler", data={"csrf_token": token(client), "recycle-reason": "Vieux"})
    assert room.machine(item) == ("recycled", 4)


def test_stock_page_counts_every_status_and_overdue_loans(client, room):
    ids = [room.add(f"LR-{n:04d}", "laptop" if n < 3 else "desktop", origin="Collège Camille Guérin")
           for n in range(7)]
    family = room.family("Diallo", "laptop")
    long_ago = utcnow() - timedelta(days=60)

    def life(db, m, f, u):
        services.reserve(db, m(ids[0]), f(family), u)
        services.hand_over(db, m(ids[1]), f(family), u, mode="gift")
        services.hand_over(db, m(ids[2]), f(family), u, mode="loan", now=long_ago,
                           due_on=long_ago.date() + timedelta(days=10))
        services.hand_over(db, m(ids[3]), f(family), u, mode="loan")
        services.mark_faulty(db, m(ids[4]), u, "HS")
        services.recycle(db, m(ids[5]), u)
    room.act(life)
    page = client.get("/materiel/stock").get_data(as_text=True)
    expected = {"in_stock": 1, "reserved": 1, "handed_over": 1, "on_loan": 2, "faulty": 1, "recycled": 1,
                "overdue": 1}
    assert {name: counter(page, f"stock-{name}") for name in expected} == expected
    by_origin = page.split('id="by-origin"')[1]
    assert "Collège Camille Guérin" in by_origin
    by_kind = page.split('id="by-kind"')[1].split("</table>")[0]
    assert "Laptop" in by_kind and "Desktop computer" in by_kind


def test_the_family_page_shows_what_they_received(client, room):
    gift, loan, voided = room.add("LR-0001", "laptop"), room.add("LR-0002"), room.add("LR-0003")
    family = room.family("Diallo", "laptop")

    def life(db, m, f, u):
        services.hand_over(db, m(gift), f(family), u, mode="gift")
        services.hand_over(db, m(loan), f(family), u, mode="loan")
        mistake = services.hand_over(db, m(voided), f(family), u, mode="gift")
        services.void_handover(db, mistake, u, "Mauvaise famille")
    room.act(life)
    panel = client.get(f"/families/{family}").get_data(as_text=True).split('id="equipment"')[1]
    rows = {tag: panel.split(tag)[1].split("</tr>")[0] for tag in ("LR-0001", "LR-0002", "LR-0003")}
    assert "Given" in rows["LR-0001"]
    assert "On loan until" in rows["LR-0002"]
    assert "Cancelled on" in rows["LR-0003"]


def test_another_structures_machine_is_not_found_for_a_conseiller(client, room, auth, create_user):
    item = room.add("LR-0009", other=True)
    family = room.family("Diallo", "desktop")
    before = room.machine(item)
    for path in ("", "/modifier"):
        assert client.get(f"/materiel/{item}{path}").status_code == 404
    for action in ("reserver", "annuler-reservation", "remettre-en-stock", "en-panne", "recycler"):
        response = client.post(f"/materiel/{item}/{action}", data={
            "csrf_token": token(client), "family_id": str(family), "faulty-reason": "x"})
        assert response.status_code == 404, action
    assert room.machine(item) == before
    auth.logout()
    auth.login(create_user("manager"))
    assert "LR-0009" in client.get(f"/materiel/{item}").get_data(as_text=True)
    assert client.get(f"/materiel/{uuid.uuid4()}").status_code == 404
