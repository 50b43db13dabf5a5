"""Privacy of households merged in a chain or with activity left on a merged duplicate.

A chain A -> B -> C arises when a laptop merges A into B offline while B was already merged
into C elsewhere: the pull brings A.merged_into_id = B. Erasing or exporting C must reach A.
After a merge, handovers stay on the merged-away household: retention must count them for the
household it was merged into.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.test_equipment_services import machine
from tests.test_registrations import build_world
from workshops.audit.services import record
from workshops.core.models import utcnow
from workshops.equipment import services as equipment_services
from workshops.families import merge_services
from workshops.families.consent_queries import consent_history
from workshops.families.consent_services import ACTION
from workshops.families.merge_queries import household_ids
from workshops.families.models import Guardian
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.privacy import export_services, retention_services
from workshops.sync.erasure_services import erase_family

NOW = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    return build_world(db)


def _household(db, world, first, last, notes=""):
    family = create_family(db, FamilyData(guardians=(GuardianData(first, last, "06 12 34 56 78"),),
                                          structure_id=world.home.id, commune="Chasseneuil",
                                          notes=notes), world.manager)
    db.commit()
    return family


def _chain(db, world):
    a = _household(db, world, "Amina", "Zerguini", notes="Mme Zerguini rappelle mardi")
    b = _household(db, world, "Amina", "Zerguini")
    c = _household(db, world, "Amina", "Benali")
    merge_services.merge_families(db, c, b, world.manager)  # here: B into C
    db.commit()
    # What a pull brings from the laptop that merged A into B before hearing of B -> C.
    a.merged_into_id, a.deleted_dt = b.id, utcnow()
    db.commit()
    return a, b, c


def test_erasing_the_surviving_household_erases_a_household_merged_two_steps_before(db, world):
    a, b, c = _chain(db, world)
    erase_family(db, c, world.manager.id, NOW, ledger=None)
    db.commit()
    db.refresh(a)
    guardians = [(g.first_name, g.last_name, g.phone) for g in
                 db.query(Guardian).filter(Guardian.family_id == a.id)]
    assert a.is_purged and not a.search_key and not a.notes
    assert guardians and not any(any(g) for g in guardians)


def test_the_export_of_the_surviving_household_holds_the_household_merged_two_steps_before(db, world):
    a, b, c = _chain(db, world)
    data = export_services.family_data(db, c)
    ids = {row["id"] for row in data["families"]}
    assert {str(a.id), str(b.id), str(c.id)} <= ids
    assert any(row.get("notes") == "Mme Zerguini rappelle mardi" for row in data["families"])


def test_the_consent_history_of_the_surviving_household_holds_the_household_merged_two_steps_before(
        db, world):
    a, b, c = _chain(db, world)
    record(db, ACTION, object_type="family", object_ref=str(a.id),
           details={"purpose": "photos", "given": True, "notice_version": "chain-7", "way": "form"}, now=NOW)
    db.commit()
    assert "chain-7" in {event.notice_version for event in consent_history(db, c)}


def test_household_ids_survives_a_cycle_of_merges(db, world):
    a, b, c = _chain(db, world)
    c.merged_into_id = a.id  # corrupt data: A -> B -> C -> A
    db.commit()
    assert sorted(household_ids(db, c.id)) == sorted([a.id, b.id, c.id])
    assert household_ids(db, c.id)[0] == c.id


def test_a_household_with_a_recent_loan_under_its_duplicate_is_not_erased_as_inactive(db, world):
    def entry():
        family = create_family(db, FamilyData(guardians=(GuardianData("Amina", "Zerguini", "0612345678"),),
                                              structure_id=world.home.id), world.manager)
        db.commit()
        return family
    keep, other = entry(), entry()  # the same family entered twice
    run = utcnow() + timedelta(days=31 * 25)  # the retention run, 25 months on (24 months kept)
    item = machine(db, world)
    equipment_services.hand_over(db, item, other, world.manager, mode="loan",
                                 now=run - timedelta(days=60), due_on=(run + timedelta(days=300)).date())
    db.commit()
    merge_services.merge_families(db, keep, other, world.manager)
    db.commit()
    assert keep.id not in retention_services.inactive_families(db, run, 24)
    assert retention_services.purge_inactive(db, run, 24) == 0
    db.commit()
    db.refresh(keep)
    assert not keep.is_purged


def test_a_household_inactive_even_through_its_duplicate_is_still_erased(db, world):
    keep = _household(db, world, "Amina", "Zerguini")
    other = _household(db, world, "Amina", "Zerguini")
    merge_services.merge_families(db, keep, other, world.manager)
    db.commit()
    run = utcnow() + timedelta(days=31 * 25)
    assert retention_services.inactive_families(db, run, 24) == [keep.id]


def test_an_erased_household_keeps_no_consent_and_no_notice(db, world):
    """The erase page says the household's consents are lost: none survives the erasure."""
    family = create_family(db, FamilyData(guardians=(GuardianData("Amina", "Zerguini", language="ar"),),
                                          structure_id=world.home.id, notice_version="2026-01",
                                          notice_date=NOW.date(), has_naming_consent=True,
                                          has_photo_consent=True, has_follow_up_consent=True), world.manager)
    db.commit()
    erase_family(db, family, world.manager.id, NOW, ledger=None)
    db.commit()
    assert not (family.has_naming_consent or family.has_photo_consent or family.has_follow_up_consent)
    assert (family.notice_version, family.notice_date) == (None, None)
    assert family.guardians[0].language == "ar", "the anonymous indicators keep the language"
