"""A household merged into another keeps its machines: the kept household's page shows what the
merged record had reserved or received, and the reserved machine can be handed over to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.test_equipment_services import family, machine
from tests.test_registrations import build_world
from workshops.equipment import queries as equipment_queries
from workshops.equipment import services as equipment_services
from workshops.extensions import db as _db
from workshops.families import merge_services

NOW = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    return build_world(db)


def _merged(db, world, before):
    """Two records of one family, `before(other)` done on the second, then merged into the first."""
    keep = family(db, world, last_name="Martin", wanted="desktop")
    other = family(db, world, last_name="Martin-Durand", wanted="desktop")
    before(other)
    db.commit()
    merge_services.merge_families(db, keep, other, world.manager)
    db.commit()
    return keep, other


def test_a_machine_reserved_for_the_merged_record_is_shown_and_handed_to_the_household(db, world):
    item = machine(db, world)
    keep, other = _merged(db, world, lambda other: equipment_services.reserve(db, item, other, world.manager,
                                                                             now=NOW))
    assert equipment_queries.list_reserved_for(db, keep.id) == [item]
    another = machine(db, world, "LR-2025-0002")
    assert keep not in equipment_queries.list_families_to_reserve(db, world.manager, another)
    equipment_services.hand_over(db, item, keep, world.manager, mode="gift", now=NOW)
    db.commit()
    assert equipment_queries.list_reserved_for(db, keep.id) == []
    assert [received.handover.equipment_id
            for received in equipment_queries.list_received(db, keep.id, NOW.date())] == [item.id]


def test_a_machine_lent_to_the_merged_record_stays_on_the_household_page(db, world):
    item = machine(db, world)
    keep, _ = _merged(db, world, lambda other: equipment_services.hand_over(db, item, other, world.manager,
                                                                           mode="loan", now=NOW))
    received = equipment_queries.list_received(db, keep.id, NOW.date())
    assert [(entry.handover.equipment_id, entry.state) for entry in received] == [(item.id, "on_loan")]
    another = machine(db, world, "LR-2025-0002")
    assert keep not in equipment_queries.list_families_to_reserve(db, world.manager, another)


def test_a_merge_elsewhere_leaves_other_families_on_the_reserve_list(db, world):
    unrelated = family(db, world, last_name="Benali", wanted="desktop")
    spare = machine(db, world, "LR-2025-0002")
    lent = machine(db, world)
    _merged(db, world, lambda other: equipment_services.hand_over(db, lent, other, world.manager, mode="loan",
                                                                 now=NOW))
    assert unrelated in equipment_queries.list_families_to_reserve(db, world.manager, spare)


def test_a_machine_reserved_two_merges_back_keeps_the_household_off_the_reserve_list(db, world):
    """A merged into B on one laptop, B into C on another: C holds A's reservation."""
    first, middle, kept = (family(db, world, last_name=name, wanted="desktop") for name in ("A", "B", "C"))
    item = machine(db, world)
    equipment_services.reserve(db, item, first, world.manager, now=NOW)
    db.commit()
    merge_services.merge_families(db, kept, middle, world.manager)
    db.commit()
    first.merged_into_id, first.deleted_dt = middle.id, NOW  # as a pull from the hub brings it
    db.commit()
    assert equipment_queries.list_reserved_for(db, kept.id) == [item]
    spare = machine(db, world, "LR-2025-0002")
    assert kept not in equipment_queries.list_families_to_reserve(db, world.manager, spare)


def _merged_over_http(app, before):
    """`_merged` in the app's database; returns (machine id, kept id, merged record id)."""
    with app.app_context():
        db = _db.session
        world = build_world(db)
        item = machine(db, world)
        keep, other = _merged(db, world, lambda other: before(db, world, item, other))
        return item.id, keep.id, other.id


def test_the_machine_page_names_and_links_the_household_kept_for_a_reservation(app, client, logged_in):
    item_id, keep_id, other_id = _merged_over_http(
        app, lambda db, world, item, other: equipment_services.reserve(db, item, other, world.manager,
                                                                      now=NOW))
    logged_in("manager")
    page = client.get(f"/materiel/{item_id}").get_data(as_text=True)
    reserved_for = page.split('id="reserved-for"')[1].split("</p>")[0]
    assert f'href="/families/{keep_id}"' in reserved_for and "Élodie Martin" in reserved_for
    assert f"/families/{other_id}" not in page  # nor in the machine's history


def test_the_loans_list_names_and_links_the_household_kept(app, client, logged_in):
    item_id, keep_id, other_id = _merged_over_http(
        app, lambda db, world, item, other: equipment_services.hand_over(db, item, other, world.manager,
                                                                        mode="loan", now=NOW))
    logged_in("manager")
    page = client.get("/materiel/prets").get_data(as_text=True)
    assert f'<a href="/families/{keep_id}">Élodie Martin</a>' in page
    assert f"/families/{other_id}" not in page


def test_an_old_link_to_a_merged_record_leads_to_the_household_kept(app, client, logged_in):
    _item_id, keep_id, other_id = _merged_over_http(
        app, lambda db, world, item, other: equipment_services.reserve(db, item, other, world.manager,
                                                                      now=NOW))
    logged_in("manager")
    response = client.get(f"/families/{other_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/families/{keep_id}"
