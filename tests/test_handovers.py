"""Handing machines over at an atelier, over HTTP as a conseiller: the tag typed or scanned,
gift and loan with the exact terms shown, void, return, renewal, overdue loans, scope; and
two concurrent handovers of the same machine (one wins, the other is refused)."""

from __future__ import annotations

import hashlib
import html
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from tests.test_registrations import build_world, new_family, new_workshop
from workshops import create_app
from workshops.auth.models import User
from workshops.core.db import begin_write
from workshops.equipment import services
from workshops.equipment.handover_queries import paris_today
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.services import EquipmentData, TransitionRefused
from workshops.equipment.terms import terms_for
from workshops.extensions import db as _db
from workshops.families import registration_services
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, create_family


@dataclass
class Desk:
    """Ids of what the tests need (rows would be detached once the setup context ends)."""

    app: object
    workshop: uuid.UUID
    other_workshop: uuid.UUID
    martin: uuid.UUID
    smith: uuid.UUID
    laptop: uuid.UUID
    desktop: uuid.UUID
    foreign: uuid.UUID

    @property
    def base(self) -> str:
        return f"/ateliers/{self.workshop}/remises"

    def read(self, how):
        with self.app.app_context():
            return how(_db.session)

    def item(self, equipment_id) -> Equipment:
        return self.read(lambda db: db.get(Equipment, equipment_id))

    def handovers(self, equipment_id) -> list[Handover]:
        return self.read(lambda db: list(db.scalars(
            select(Handover).where(Handover.equipment_id == equipment_id).order_by(Handover.handed_dt))))


def _machine(db, world, tag, kind, structure=None):
    return services.add_equipment(db, EquipmentData(
        asset_tag=tag, structure_id=(structure or world.home).id, kind=kind, brand="Dell",
        model="Latitude 5490" if kind == "laptop" else "OptiPlex 7060", grade="good"), world.manager)


@pytest.fixture
def desk(app, create_user, auth, client) -> Desk:
    """A conseiller of the home structure logged in, in English; a handover atelier with
    Martin (French, present) and Smith (English, registered); a laptop and a desktop in
    stock, and a machine of another structure."""
    with app.app_context():
        db = _db.session
        world = build_world(db)
        workshop = new_workshop(db, world, title="Remise d'ordinateurs")
        workshop.kind = "remise_equipement"
        other_workshop = new_workshop(db, world, structure=world.other, title="Ailleurs")
        martin = new_family(db, world, "Martin", "Élodie")
        smith = create_family(db, FamilyData(
            guardians=(GuardianData(first_name="John", last_name="Smith", language="en"),),
            structure_id=world.home.id, notice_version="2026-01", computer_wanted="laptop"), world.manager)
        registration_services.register_family(db, workshop, smith, world.manager)
        registration_services.check_in(db, workshop, martin, world.manager)
        laptop = _machine(db, world, "LR-2025-0001", "laptop")
        desktop = _machine(db, world, "LR-2025-0002", "desktop")
        foreign = _machine(db, world, "LP-0001", "laptop", structure=world.other)
        db.commit()
        desk = Desk(app, workshop.id, other_workshop.id, martin.id, smith.id, laptop.id, desktop.id,
                    foreign.id)
        home_id = world.home.id
    username = create_user("conseiller", structure_id=home_id)
    assert auth.login(username).status_code == 302
    client.post("/language/en", data={"next": "/"})
    return desk


def _shown_terms(page: str) -> str:
    match = re.search(r'<p id="terms-text">(.*?)</p>', page, flags=re.S)
    assert match, "the page shows no terms"
    return html.unescape(match.group(1))


def _check(client, desk, *, family, tag, mode, due_on=None):
    data = {"family_id": str(family), "asset_tag": tag, "mode": mode, "step": "check"}
    if due_on is not None:
        data["due_on"] = due_on
    return client.post(desk.base, data=data)


def _filled_in(page: str) -> list[tuple[str, str]]:
    """What the browser sends back from the page's handover form, as it is filled in:
    hidden and text inputs, the chosen radio and option, the notes."""
    form = page.split('class="narrow handover-form"')[1].split("</form>")[0]
    sent = []
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and ('type="radio"' not in tag or " checked" in tag):
            sent.append((name.group(1), html.unescape(value.group(1)) if value else ""))
    chosen = re.search(r'<option selected value="([^"]*)"', form)
    sent.append(("family_id", chosen.group(1) if chosen else ""))
    return sent


def _hand_over(client, desk, *, family, tag, mode, due_on=None):
    """The screen's two steps, as a conseiller does them: check, then press Confirm on the
    page shown; returns (shown terms, response)."""
    page = _check(client, desk, family=family, tag=tag, mode=mode, due_on=due_on).get_data(as_text=True)
    assert 'name="step" value="confirm"' in page
    data = MultiDict([*_filled_in(page), ("step", "confirm")])
    return _shown_terms(page), client.post(desk.base, data=data)


# ---------- The screen ----------

def test_the_screen_offers_the_atelier_families_present_first_and_a_scanner_ready_tag_field(client, desk):
    page = client.get(desk.base).get_data(as_text=True)
    options = re.findall(r'<option value="([0-9a-f-]+)">([^<]*)</option>', page)
    assert [value for value, _label in options] == [str(desk.martin), str(desk.smith)]
    assert "present" in options[0][1] and "asked for: Laptop" in options[1][1]
    tag_input = re.search(r'<input[^>]*name="asset_tag"[^>]*>', page).group(0)
    assert "autofocus" in tag_input and 'autocomplete="off"' in tag_input and 'inputmode="text"' in tag_input
    a_year_later = services.default_due_date(paris_today()).isoformat()
    assert re.search(rf'name="due_on" type="date" value="{a_year_later}"', page)


def test_a_tag_typed_in_lower_case_with_spaces_finds_the_machine_and_shows_it_with_the_terms(client, desk):
    response = _check(client, desk, family=desk.martin, tag=" lr-2025 -0001 ", mode="gift")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "LR-2025-0001" in page and "Laptop" in page and "Latitude 5490" in page and "Good" in page
    assert _shown_terms(page) == terms_for("gift", "fr").text
    assert 'value="confirm"' in page
    assert desk.handovers(desk.laptop) == [], "nothing is recorded before the confirm"


def test_an_unknown_tag_says_so_and_keeps_what_was_typed(client, desk):
    response = _check(client, desk, family=desk.martin, tag="lr-9999", mode="gift")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "No machine has the asset tag LR-9999" in page
    assert re.search(r'<input[^>]*name="asset_tag"[^>]*value="lr-9999"', page)
    assert 'value="confirm"' not in page


def test_another_structures_machine_is_unknown_here(client, desk):
    page = _check(client, desk, family=desk.martin, tag="LP-0001", mode="gift").get_data(as_text=True)
    assert "No machine has the asset tag LP-0001" in page
    assert desk.item(desk.foreign).status == "in_stock"


def test_a_gift_stores_exactly_the_terms_shown_with_their_sha256(client, desk):
    shown, response = _hand_over(client, desk, family=desk.martin, tag="lr-2025-0001", mode="gift")
    assert response.status_code == 302
    [handover] = desk.handovers(desk.laptop)
    assert handover.terms_text == shown
    assert handover.terms_sha256 == hashlib.sha256(shown.encode("utf-8")).hexdigest()
    assert handover.mode == "gift" and handover.family_id == desk.martin
    assert handover.workshop_id == desk.workshop
    assert desk.item(desk.laptop).status == "handed_over"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "handed over to Élodie Martin" in page and handover.terms_sha256 in page
    assert _shown_terms(page) == shown
    assert "LR-2025-0001" in client.get(desk.base).get_data(as_text=True)


def test_a_loan_is_due_a_year_later_by_default_with_the_terms_in_the_familys_language(client, desk):
    shown, response = _hand_over(client, desk, family=desk.smith, tag="LR-2025-0001", mode="loan")
    assert response.status_code == 302
    [handover] = desk.handovers(desk.laptop)
    assert handover.due_on == services.default_due_date(paris_today())
    assert shown == terms_for("loan", "en").text and handover.terms_language == "en"
    assert handover.terms_text == shown
    item = desk.item(desk.laptop)
    assert item.status == "on_loan" and item.loan_due_on == handover.due_on


def test_a_loan_due_today_is_refused_before_the_confirm(client, desk):
    response = _check(client, desk, family=desk.smith, tag="LR-2025-0001", mode="loan",
                      due_on=paris_today().isoformat())
    assert response.status_code == 422
    assert "The return date must be after today." in response.get_data(as_text=True)


def test_a_machine_already_given_cannot_be_handed_over_again(client, desk):
    _hand_over(client, desk, family=desk.martin, tag="LR-2025-0001", mode="gift")
    response = _check(client, desk, family=desk.smith, tag="LR-2025-0001", mode="gift")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This machine was given to a family. It cannot be handed over now." in page
    assert len(desk.handovers(desk.laptop)) == 1


def test_a_machine_reserved_for_one_family_goes_to_it_and_not_to_another(client, desk):
    with desk.app.app_context():
        manager = _db.session.scalar(select(User).where(User.username == "alex"))
        services.reserve(_db.session, _db.session.get(Equipment, desk.laptop),
                         _db.session.get(Family, desk.smith), manager)
        _db.session.commit()
    refused = _check(client, desk, family=desk.martin, tag="LR-2025-0001", mode="gift")
    assert refused.status_code == 422
    assert "This machine is reserved for another family." in refused.get_data(as_text=True)
    _shown, response = _hand_over(client, desk, family=desk.smith, tag="LR-2025-0001", mode="gift")
    assert response.status_code == 302
    assert [handover.family_id for handover in desk.handovers(desk.laptop)] == [desk.smith]


def test_a_confirm_without_the_terms_shown_records_nothing(client, desk):
    response = client.post(desk.base, data={"family_id": str(desk.martin), "asset_tag": "LR-2025-0001",
                                            "mode": "gift", "step": "confirm", "shown_sha256": "0" * 64})
    assert response.status_code == 200 and 'value="confirm"' in response.get_data(as_text=True)
    assert desk.handovers(desk.laptop) == []


# ---------- Void, return, renew ----------

def _given(client, desk, mode="gift", family=None):
    _shown, response = _hand_over(client, desk, family=family or desk.martin, tag="LR-2025-0001", mode=mode)
    return response.headers["Location"]


def test_void_with_a_reason_puts_the_machine_back_and_keeps_the_handover(client, desk):
    url = _given(client, desk)
    response = client.post(f"{url}/annuler", data={"reason": "Wrong family chosen"})
    assert response.status_code == 302
    assert desk.item(desk.laptop).status == "in_stock"
    [handover] = desk.handovers(desk.laptop)
    assert handover.terms_text == terms_for("gift", "fr").text, "the handover itself is never changed"
    page = client.get(url).get_data(as_text=True)
    assert "Cancelled" in page and "Wrong family chosen" in page
    assert "Cancel this handover" not in page
    # The machine can now go to the right family.
    _shown, again = _hand_over(client, desk, family=desk.smith, tag="LR-2025-0001", mode="gift")
    assert again.status_code == 302 and len(desk.handovers(desk.laptop)) == 2


def test_void_without_a_reason_is_refused(client, desk):
    url = _given(client, desk)
    response = client.post(f"{url}/annuler", data={"reason": "  "})
    assert response.status_code == 422
    assert "Say why this handover is cancelled." in response.get_data(as_text=True)
    assert desk.item(desk.laptop).status == "handed_over"
    assert desk.read(lambda db: db.scalar(select(func.count()).select_from(EquipmentEvent).where(
        EquipmentEvent.kind == "voided"))) == 0


def test_a_loan_is_renewed_then_returned(client, desk):
    url = _given(client, desk, mode="loan", family=desk.smith)
    first_due = desk.item(desk.laptop).loan_due_on
    response = client.post(f"/materiel/{desk.laptop}/renouveler", data={})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert desk.item(desk.laptop).loan_due_on == services.default_due_date(first_due)
    assert "Loan renewed" in client.get(url).get_data(as_text=True)

    response = client.post(f"/materiel/{desk.laptop}/retour", data={"remark": "Charger missing"})
    assert response.status_code == 302
    item = desk.item(desk.laptop)
    assert item.status == "returned" and item.current_handover_id is None and item.loan_due_on is None
    page = client.get(url).get_data(as_text=True)
    assert "Returned" in page and "Charger missing" in page and "Renew the loan" not in page


def test_a_gift_cannot_be_renewed(client, desk):
    url = _given(client, desk)
    response = client.post(f"/materiel/{desk.laptop}/renouveler", data={})
    assert response.status_code == 302
    assert "Only a loan can be renewed." in client.get(url).get_data(as_text=True)


def test_overdue_loans_come_first_on_the_loans_page(client, desk):
    def lend_both(db):
        manager = db.scalars(select(User).where(User.role == "manager")).first()
        two_years_ago = datetime.now(UTC) - timedelta(days=730)
        services.hand_over(db, db.get(Equipment, desk.desktop), db.get(Family, desk.smith), manager,
                           mode="loan")
        services.hand_over(db, db.get(Equipment, desk.laptop), db.get(Family, desk.martin), manager,
                           mode="loan", now=two_years_ago)
        db.commit()
    desk.read(lend_both)
    page = client.get("/materiel/prets").get_data(as_text=True)
    assert page.index("LR-2025-0001") < page.index("LR-2025-0002"), "the overdue loan is first"
    assert page.count("badge--error") == 1 and "Overdue" in page
    assert "1 loan is overdue" in page


# ---------- Scope and append-only ----------

def test_another_structures_atelier_and_handover_are_not_found(client, desk):
    assert client.get(f"/ateliers/{desk.other_workshop}/remises").status_code == 404
    assert client.post(f"/ateliers/{desk.other_workshop}/remises",
                       data={"family_id": str(desk.martin), "asset_tag": "LR-2025-0001", "mode": "gift",
                             "step": "confirm"}).status_code == 404

    def lend_elsewhere(db):
        manager = db.scalars(select(User).where(User.role == "manager")).first()
        elsewhere = db.get(Equipment, desk.foreign).structure
        family = new_family(db, SimpleNamespace(home=elsewhere, manager=manager), "Autre", "Anne")
        handover = services.hand_over(db, db.get(Equipment, desk.foreign), family, manager, mode="loan")
        db.commit()
        return handover.id
    foreign_handover = desk.read(lend_elsewhere)
    assert client.get(f"/remises/{foreign_handover}").status_code == 404
    assert client.post(f"/remises/{foreign_handover}/annuler", data={"reason": "x"}).status_code == 404
    assert client.post(f"/materiel/{desk.foreign}/retour", data={}).status_code == 404
    assert client.post(f"/materiel/{desk.foreign}/renouveler", data={}).status_code == 404
    assert desk.item(desk.foreign).status == "on_loan"
    assert "LP-0001" not in client.get("/materiel/prets").get_data(as_text=True)


def test_no_route_changes_a_handover(app, client, desk):
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if "handover_id" in rule.arguments
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    # Reading it (its page, its printed receipt) and voiding it: nothing else takes a handover.
    assert routes == {("handovers.handover", "GET"), ("handovers.void", "POST"), ("printing.receipt", "GET")}
    url = _given(client, desk)
    assert client.post(url, data={"mode": "loan"}).status_code == 405
    [handover] = desk.handovers(desk.laptop)
    assert handover.mode == "gift"


def test_the_atelier_page_shows_the_handover_panel(client, desk):
    _given(client, desk)
    page = client.get(f"/ateliers/{desk.workshop}").get_data(as_text=True)
    assert "Hand over a computer" in page and f'href="{desk.base}"' in page
    panel = page.split('class="panel handovers-panel"')[1].split("</section>")[0]
    assert re.search(r'counter__value">1</span>\s*<span class="counter__label">computer given', panel)


# ---------- Two handovers of the same machine at the same time ----------

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(params=DATABASES)
def race_app(request, tmp_path, monkeypatch):
    """An app on a database file (or on PostgreSQL when WORKSHOPS_TEST_POSTGRES_URL is set):
    each thread below opens its own connection to it."""
    if request.param == "postgresql":
        url = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    else:
        url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": url,
                      "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        if request.param == "postgresql":
            _db.drop_all()
        _db.engine.dispose()


def test_two_concurrent_handovers_of_one_machine_end_with_one_success_and_one_refusal(race_app):
    with race_app.app_context():
        db = _db.session
        world = build_world(db)
        families = [new_family(db, world, "Martin", "Élodie").id, new_family(db, world, "Petit", "Paul").id]
        machine = _machine(db, world, "LR-2025-0100", "laptop").id
        actor = world.conseiller.id
        db.commit()
    barrier = threading.Barrier(2)
    outcomes: dict[uuid.UUID, object] = {}

    def attempt(family_id):
        with race_app.app_context():
            session = Session(_db.engine)
            try:
                barrier.wait(timeout=10)
                begin_write(session)
                services.hand_over(session, session.get(Equipment, machine), session.get(Family, family_id),
                                   session.get(User, actor), mode="gift")
                time.sleep(0.3)  # hold the machine while the other thread tries
                session.commit()
                outcomes[family_id] = "handed over"
            except TransitionRefused as refused:
                session.rollback()
                outcomes[family_id] = refused
            finally:
                session.close()

    threads = [threading.Thread(target=attempt, args=(family_id,)) for family_id in families]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(str, outcomes.values())).count("handed over") == 1, outcomes
    [refusal] = [value for value in outcomes.values() if isinstance(value, TransitionRefused)]
    assert "This machine was given to a family." in refusal.reasons[0][1]
    [winner] = [family_id for family_id, value in outcomes.items() if value == "handed over"]
    with race_app.app_context():
        db = _db.session
        handovers = list(db.scalars(select(Handover).where(Handover.equipment_id == machine)))
        assert [h.family_id for h in handovers] == [winner]
        item = db.get(Equipment, machine)
        assert item.status == "handed_over" and item.current_handover_id == handovers[0].id
