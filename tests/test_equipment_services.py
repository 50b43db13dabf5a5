"""Equipment services without HTTP: the inventory, reservations, handovers (gift and loan),
voids, returns, renewals and the checks after a return; every refusal writes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.test_registrations import build_world, new_workshop
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.equipment import services
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.equipment.services import EquipmentData, TransitionRefused
from workshops.equipment.terms import CURRENT_VERSION, terms_for
from workshops.families.services import FamilyData, GuardianData, create_family

NOW = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)  # an atelier on a Saturday afternoon in Poitiers
TODAY = date(2026, 3, 14)


@pytest.fixture
def world(db):
    return build_world(db)


def machine(db, world, tag="LR-2025-0001", kind="desktop", structure=None, **description):
    """A committed machine in stock, added by the manager."""
    data = EquipmentData(asset_tag=tag, structure_id=(structure or world.home).id, kind=kind, **description)
    item = services.add_equipment(db, data, world.manager, now=NOW)
    db.commit()
    return item


def family(db, world, last_name="Martin", wanted=None, structure=None):
    data = FamilyData(guardians=(GuardianData(first_name="Élodie", last_name=last_name),),
                      structure_id=(structure or world.home).id, notice_version="2026-01",
                      computer_wanted=wanted)
    result = create_family(db, data, world.manager)
    db.commit()
    return result


def events(db, item):
    return db.scalars(select(EquipmentEvent).where(EquipmentEvent.equipment_id == item.id)
                      .order_by(EquipmentEvent.occurred_dt, EquipmentEvent.created_dt)).all()


def snapshot(db):
    """What a refusal must leave as it was: row counts and every machine's current state."""
    counts = tuple(db.scalar(select(func.count()).select_from(model))
                   for model in (Equipment, Handover, EquipmentEvent))
    states = db.execute(select(Equipment.asset_tag, Equipment.status, Equipment.reserved_family_id,
                               Equipment.reserved_workshop_id, Equipment.current_handover_id,
                               Equipment.loan_due_on).order_by(Equipment.asset_tag)).all()
    return counts, [tuple(row) for row in states]


def refused(db, call, error=ValidationFailed):
    """Run a call that must be refused; assert nothing was written; return the reasons."""
    before = snapshot(db)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(db) == before
    return getattr(caught.value, "reasons", None)


# ---------- Inventory ----------

def test_add_cleans_the_tag_and_records_who_added_it(db, world):
    item = machine(db, world, tag="lr-2025-0001 ", kind="laptop", brand="HP", ram_gb=8)

    assert item.asset_tag == "LR-2025-0001"
    assert item.status == "in_stock"
    assert services.find_by_tag(db, " lr-2025-0001") is item
    [added] = events(db, item)
    assert (added.kind, added.from_status, added.to_status) == ("added", None, "in_stock")
    assert added.actor_id == world.manager.id and added.occurred_dt == NOW


def test_a_duplicate_tag_is_refused_even_typed_differently(db, world):
    machine(db, world, tag="LR-2025-0001")
    data = EquipmentData(asset_tag=" lr-2025-0001\t", structure_id=world.home.id)

    reasons = refused(db, lambda: services.add_equipment(db, data, world.manager))

    assert [field for field, _ in reasons] == ["asset_tag"]


@pytest.mark.parametrize("change,field", [
    ({"asset_tag": "  "}, "asset_tag"),
    ({"structure_id": None}, "structure_id"),
    ({"kind": "fridge"}, "kind"),
    ({"grade": "A"}, "grade"),
    ({"ram_gb": 0}, "ram_gb"),
    ({"ram_gb": 4096}, "ram_gb"),
    ({"refurbished_on": date(1999, 12, 31)}, "refurbished_on"),
    ({"refurbished_on": datetime.now(UTC).date() + timedelta(days=2)}, "refurbished_on"),
])
def test_impossible_values_are_refused_with_their_field(db, world, change, field):
    data = replace(EquipmentData(asset_tag="LR-2025-0009", structure_id=world.home.id), **change)

    reasons = refused(db, lambda: services.add_equipment(db, data, world.manager))

    assert field in [name for name, _ in reasons]


def test_a_conseiller_cannot_add_to_another_structure(db, world):
    data = EquipmentData(asset_tag="LR-2025-0001", structure_id=world.other.id)
    refused(db, lambda: services.add_equipment(db, data, world.conseiller), NotAllowed)


def test_update_names_the_changed_fields_and_nothing_changed_writes_nothing(db, world):
    item = machine(db, world, brand="HP", ram_gb=4)
    data = EquipmentData(asset_tag="lr-2025-0001", structure_id=world.home.id, brand="Dell", ram_gb=8)

    assert services.update_equipment(db, item, data, world.conseiller) == ["brand", "ram_gb"]
    edited = events(db, item)[-1]
    assert edited.kind == "edited" and "brand" in edited.reason and "ram_gb" in edited.reason
    assert (edited.from_status, edited.to_status) == ("in_stock", "in_stock")
    assert (item.brand, item.ram_gb, item.asset_tag) == ("Dell", 8, "LR-2025-0001")

    assert services.update_equipment(db, item, data, world.conseiller) == []
    assert len(events(db, item)) == 2


def test_update_refuses_another_machines_tag_and_another_structures_conseiller(db, world):
    machine(db, world, tag="LR-2025-0001")
    second = machine(db, world, tag="LR-2025-0002")
    taken = EquipmentData(asset_tag="LR-2025-0001", structure_id=world.home.id)

    reasons = refused(db, lambda: services.update_equipment(db, second, taken, world.conseiller))
    assert [field for field, _ in reasons] == ["asset_tag"]

    same = EquipmentData(asset_tag="LR-2025-0002", structure_id=world.home.id, brand="HP")
    refused(db, lambda: services.update_equipment(db, second, same, world.outsider), NotAllowed)


# ---------- Reservation ----------

def test_reserve_checks_the_familys_need_unless_confirmed(db, world):
    desktop = machine(db, world, kind="desktop")
    wants_laptop = family(db, world, wanted="laptop")
    workshop = new_workshop(db, world)

    refused(db, lambda: services.reserve(db, desktop, wants_laptop, world.conseiller))

    event = services.reserve(db, desktop, wants_laptop, world.conseiller, workshop=workshop,
                             allow_other_kind=True, now=NOW)
    assert desktop.status == "reserved"
    assert (desktop.reserved_family_id, desktop.reserved_workshop_id) == (wants_laptop.id, workshop.id)
    assert (event.kind, event.from_status, event.to_status) == ("reserved", "in_stock", "reserved")
    assert (event.family_id, event.workshop_id, event.actor_id) == (wants_laptop.id, workshop.id,
                                                                    world.conseiller.id)


def test_a_matching_or_unstated_need_reserves_directly(db, world):
    laptop = machine(db, world, kind="laptop")
    services.reserve(db, laptop, family(db, world, wanted="laptop"), world.conseiller)
    assert laptop.status == "reserved"
    other = machine(db, world, tag="LR-2025-0002", kind="tablet")
    services.reserve(db, other, family(db, world, "Bernard"), world.conseiller)
    assert other.status == "reserved"


def test_reserve_is_refused_outside_the_actors_scope_or_twice(db, world):
    item = machine(db, world)
    theirs = family(db, world, "Dupuis", structure=world.other)
    ours = family(db, world)

    refused(db, lambda: services.reserve(db, item, ours, world.outsider), NotAllowed)
    refused(db, lambda: services.reserve(db, item, theirs, world.conseiller), NotAllowed)
    services.reserve(db, item, ours, world.conseiller)
    db.commit()
    refused(db, lambda: services.reserve(db, item, ours, world.conseiller), TransitionRefused)


def test_cancel_puts_the_machine_back_in_stock_and_only_a_reserved_one(db, world):
    item = machine(db, world)
    ours = family(db, world)
    refused(db, lambda: services.cancel_reservation(db, item, world.conseiller), TransitionRefused)
    services.reserve(db, item, ours, world.conseiller, workshop=new_workshop(db, world))

    event = services.cancel_reservation(db, item, world.conseiller, reason="famille absente")

    assert item.status == "in_stock"
    assert item.reserved_family_id is None and item.reserved_workshop_id is None
    assert (event.kind, event.from_status, event.to_status) == ("unreserved", "reserved", "in_stock")
    assert event.family_id == ours.id and event.reason == "famille absente"


# ---------- Handover ----------

def test_a_gift_stores_the_exact_terms_and_their_hash(db, world):
    item, ours, workshop = machine(db, world, kind="laptop"), family(db, world), new_workshop(db, world)

    handover = services.hand_over(db, item, ours, world.conseiller, mode="gift", workshop=workshop,
                                  language="en", now=NOW)

    terms = terms_for("gift", "en")
    assert (handover.terms_version, handover.terms_language) == (CURRENT_VERSION, "en")
    assert handover.terms_text == terms.text
    assert handover.terms_sha256 == hashlib.sha256(handover.terms_text.encode()).hexdigest()
    assert handover.due_on is None and handover.handed_dt == NOW
    assert item.status == "handed_over" and item.current_handover_id == handover.id
    assert item.loan_due_on is None
    event = events(db, item)[-1]
    assert (event.kind, event.from_status, event.to_status) == ("handed_over", "in_stock", "handed_over")
    assert (event.family_id, event.workshop_id, event.handover_id) == (ours.id, workshop.id, handover.id)
    assert event.actor_id == world.conseiller.id and event.occurred_dt == NOW


def test_terms_fall_back_to_french_for_a_language_without_text(db, world):
    handover = services.hand_over(db, machine(db, world), family(db, world), world.conseiller,
                                  mode="loan", language="ar", now=NOW)
    assert handover.terms_language == "fr"
    assert handover.terms_text == terms_for("loan", "fr").text
    assert handover.terms_sha256 == hashlib.sha256(handover.terms_text.encode()).hexdigest()


def test_a_loan_is_due_a_year_later_by_default(db, world):
    item = machine(db, world)
    handover = services.hand_over(db, item, family(db, world), world.conseiller, mode="loan", now=NOW)
    assert handover.due_on == item.loan_due_on == date(2027, 3, 14)
    assert item.status == "on_loan"
    assert events(db, item)[-1].kind == "lent" and events(db, item)[-1].due_on == date(2027, 3, 14)


def test_a_loan_made_on_29_february_is_due_on_28_february():
    assert services.default_due_date(date(2028, 2, 29)) == date(2029, 2, 28)


def test_the_loan_day_is_the_paris_day(db, world):
    late_evening = datetime(2028, 2, 29, 23, 30, tzinfo=UTC)  # 1 March at 00:30 in Paris
    handover = services.hand_over(db, machine(db, world), family(db, world), world.conseiller,
                                  mode="loan", now=late_evening)
    assert handover.due_on == date(2029, 3, 1)


@pytest.mark.parametrize("due_on", [TODAY, TODAY - timedelta(days=1)])
def test_a_due_date_not_after_today_is_refused(db, world, due_on):
    item, ours = machine(db, world), family(db, world)
    reasons = refused(db, lambda: services.hand_over(db, item, ours, world.conseiller, mode="loan",
                                                     due_on=due_on, now=NOW))
    assert [field for field, _ in reasons] == ["due_on"]


def test_an_unknown_mode_is_refused(db, world):
    item, ours = machine(db, world), family(db, world)
    reasons = refused(db, lambda: services.hand_over(db, item, ours, world.conseiller, mode="sale"))
    assert [field for field, _ in reasons] == ["mode"]


def test_a_machine_reserved_for_another_family_is_refused(db, world):
    item, first, second = machine(db, world), family(db, world), family(db, world, "Bernard")
    services.reserve(db, item, first, world.conseiller)
    db.commit()

    refused(db, lambda: services.hand_over(db, item, second, world.conseiller, mode="gift"),
            TransitionRefused)

    services.hand_over(db, item, first, world.conseiller, mode="gift")
    assert item.status == "handed_over" and item.reserved_family_id is None


@pytest.mark.parametrize("mode", ["gift", "loan"])
def test_a_machine_already_with_a_family_cannot_be_handed_over_again(db, world, mode):
    """The docstring's promise: refused, with nothing written (no Handover row left behind)."""
    item, first, second = machine(db, world), family(db, world), family(db, world, "Bernard")
    services.hand_over(db, item, first, world.conseiller, mode=mode, now=NOW)
    db.commit()

    refused(db, lambda: services.hand_over(db, item, second, world.conseiller, mode="gift", now=NOW),
            TransitionRefused)
    assert item.current_handover_id is not None


def test_handover_is_refused_for_another_structures_conseiller(db, world):
    item, ours = machine(db, world), family(db, world)
    refused(db, lambda: services.hand_over(db, item, ours, world.outsider, mode="gift"), NotAllowed)


# ---------- Void ----------

def test_void_puts_a_reserved_machine_back_to_its_reservation(db, world):
    item, ours, workshop = machine(db, world), family(db, world), new_workshop(db, world)
    services.reserve(db, item, ours, world.conseiller, workshop=workshop)
    handover = services.hand_over(db, item, ours, world.conseiller, mode="gift", workshop=workshop)

    event = services.void_handover(db, handover, world.conseiller, "mauvaise machine")

    assert item.status == "reserved" and item.reserved_family_id == ours.id
    assert item.current_handover_id is None
    assert (event.kind, event.from_status, event.to_status) == ("voided", "handed_over", "reserved")
    assert (event.reason, event.handover_id, event.family_id) == ("mauvaise machine", handover.id, ours.id)
    assert db.get(Handover, handover.id) is not None  # kept: a void is a new event


def test_void_puts_an_unreserved_machine_back_in_stock(db, world):
    item = machine(db, world)
    handover = services.hand_over(db, item, family(db, world), world.conseiller, mode="loan")
    services.void_handover(db, handover, world.conseiller, "erreur de saisie")
    assert item.status == "in_stock" and item.loan_due_on is None and item.current_handover_id is None


def test_void_needs_a_reason_and_happens_once(db, world):
    item = machine(db, world)
    handover = services.hand_over(db, item, family(db, world), world.conseiller, mode="gift")
    db.commit()

    reasons = refused(db, lambda: services.void_handover(db, handover, world.conseiller, "  "))
    assert [field for field, _ in reasons] == ["reason"]
    refused(db, lambda: services.void_handover(db, handover, world.outsider, "erreur"), NotAllowed)

    services.void_handover(db, handover, world.conseiller, "erreur")
    db.commit()
    refused(db, lambda: services.void_handover(db, handover, world.conseiller, "encore"), TransitionRefused)


def test_a_returned_handover_cannot_be_voided(db, world):
    item = machine(db, world)
    handover = services.hand_over(db, item, family(db, world), world.conseiller, mode="loan")
    services.record_return(db, item, world.conseiller)
    db.commit()
    refused(db, lambda: services.void_handover(db, handover, world.conseiller, "erreur"), TransitionRefused)


# ---------- Return, renewal, after a return ----------

def test_a_return_ends_the_loan_with_the_family_in_the_history(db, world):
    item, ours = machine(db, world), family(db, world)
    handover = services.hand_over(db, item, ours, world.conseiller, mode="loan", now=NOW)

    event = services.record_return(db, item, world.conseiller, place="MDS Châtellerault",
                                   now=NOW + timedelta(days=30))

    assert item.status == "returned" and item.current_handover_id is None and item.loan_due_on is None
    assert (event.kind, event.from_status, event.to_status) == ("returned", "on_loan", "returned")
    assert (event.family_id, event.handover_id, event.place) == (ours.id, handover.id, "MDS Châtellerault")


def test_only_a_machine_with_a_family_can_be_returned(db, world):
    item = machine(db, world)
    refused(db, lambda: services.record_return(db, item, world.conseiller), TransitionRefused)


def test_renewal_adds_a_year_to_the_due_date_when_it_is_later_than_today(db, world):
    item = machine(db, world)
    services.hand_over(db, item, family(db, world), world.conseiller, mode="loan", now=NOW)

    event = services.renew_loan(db, item, world.conseiller, now=NOW + timedelta(days=300))

    assert item.loan_due_on == event.due_on == date(2028, 3, 14)
    assert (event.kind, event.from_status, event.to_status) == ("renewed", "on_loan", "on_loan")


def test_renewal_of_an_overdue_loan_adds_a_year_to_today(db, world):
    item = machine(db, world)
    services.hand_over(db, item, family(db, world), world.conseiller, mode="loan", now=NOW)
    services.renew_loan(db, item, world.conseiller, now=datetime(2027, 6, 1, 10, tzinfo=UTC))
    assert item.loan_due_on == date(2028, 6, 1)


def test_renewal_refuses_a_gift_an_earlier_date_and_another_structure(db, world):
    loan, gift = machine(db, world), machine(db, world, tag="LR-2025-0002")
    services.hand_over(db, loan, family(db, world), world.conseiller, mode="loan", now=NOW)
    services.hand_over(db, gift, family(db, world, "Bernard"), world.conseiller, mode="gift", now=NOW)
    db.commit()

    refused(db, lambda: services.renew_loan(db, gift, world.conseiller), TransitionRefused)
    reasons = refused(db, lambda: services.renew_loan(db, loan, world.conseiller,
                                                      due_on=date(2027, 3, 14), now=NOW))
    assert [field for field, _ in reasons] == ["due_on"]
    refused(db, lambda: services.renew_loan(db, loan, world.outsider), NotAllowed)


def test_after_a_return_restock_faulty_and_recycled(db, world):
    item = machine(db, world)
    services.hand_over(db, item, family(db, world), world.conseiller, mode="gift")
    services.record_return(db, item, world.conseiller)

    refused(db, lambda: services.mark_faulty(db, item, world.conseiller, " "))
    services.mark_faulty(db, item, world.conseiller, "écran cassé")
    assert item.status == "faulty" and events(db, item)[-1].reason == "écran cassé"
    services.restock(db, item, world.conseiller, reason="écran changé")
    assert item.status == "in_stock"
    services.recycle(db, item, world.conseiller)
    assert item.status == "recycled"
    db.commit()

    for call in (lambda: services.restock(db, item, world.conseiller),
                 lambda: services.reserve(db, item, family(db, world, "Chevalier"), world.conseiller),
                 lambda: services.mark_faulty(db, item, world.conseiller, "x")):
        refused(db, call, TransitionRefused)
    assert [e.kind for e in events(db, item)] == ["added", "handed_over", "returned", "faulty", "restocked",
                                                 "recycled"]


def test_a_faulty_reserved_machine_loses_its_reservation(db, world):
    item, ours = machine(db, world), family(db, world)
    services.reserve(db, item, ours, world.conseiller)
    event = services.mark_faulty(db, item, world.conseiller, "ne démarre pas")
    assert item.status == "faulty" and item.reserved_family_id is None and event.family_id == ours.id


def test_a_restocked_reserved_machine_keeps_no_reservation(db, world):
    """A machine in stock is reserved for nobody, however it got back in stock."""
    item, ours = machine(db, world), family(db, world)
    services.reserve(db, item, ours, world.conseiller)
    try:
        services.restock(db, item, world.conseiller)
    except TransitionRefused:
        return
    assert item.status == "in_stock"
    assert item.reserved_family_id is None and item.reserved_workshop_id is None


def test_a_reserved_machine_cannot_be_recycled_directly(db, world):
    item = machine(db, world)
    services.reserve(db, item, family(db, world), world.conseiller)
    db.commit()
    refused(db, lambda: services.recycle(db, item, world.conseiller), TransitionRefused)


def test_checks_after_a_return_are_refused_outside_the_scope(db, world):
    item = machine(db, world)
    for call in (lambda: services.restock(db, item, world.outsider),
                 lambda: services.mark_faulty(db, item, world.outsider, "x"),
                 lambda: services.recycle(db, item, world.outsider),
                 lambda: services.cancel_reservation(db, item, world.outsider),
                 lambda: services.record_return(db, item, world.outsider)):
        refused(db, call, NotAllowed)


def test_a_manager_acts_on_every_structure(db, world):
    item = machine(db, world, structure=world.other)
    services.hand_over(db, item, family(db, world, structure=world.other), world.manager, mode="gift")
    assert item.status == "handed_over"


@pytest.mark.parametrize("status", ["returned", "faulty"])
def test_only_a_reserved_machine_can_have_its_reservation_cancelled(db, world, status):
    item = machine(db, world)
    services.hand_over(db, item, family(db, world), world.conseiller, mode="gift")
    services.record_return(db, item, world.conseiller)
    if status == "faulty":
        services.mark_faulty(db, item, world.conseiller, "ne démarre pas")
    db.commit()

    refused(db, lambda: services.cancel_reservation(db, item, world.conseiller), TransitionRefused)
    assert item.status == status
