"""The laptop's outbox: every edit tracked, frozen batches, answers and refusals
(sync-anchors (d) 17, 24, 25)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy import select, update

from tests.sync.conftest import first_structure
from workshops.core.models import BulkWriteRefused
from workshops.extensions import db
from workshops.families.models import Family, Guardian
from workshops.sync import device_services, outbox_services, registry
from workshops.sync.models import OutboxBatch, RejectedChange, SyncPending

DEVICE_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")


def forget_seeded_reference() -> None:
    """The fixture seeds reference data on the laptop, which a real laptop gets from the hub:
    it is not this laptop's edit to push."""
    db.session.query(SyncPending).delete()
    db.session.commit()


def connect(laptop) -> None:
    """Give a laptop a hub connection without a hub (enough to freeze batches)."""
    with laptop.app_context():
        forget_seeded_reference()
        answer = {"device_id": str(DEVICE_ID), "device_name": "A", "token": "t",
                  "structure_id": str(first_structure(laptop).id), "hub_id": str(uuid.uuid4()),
                  "hub_epoch": str(uuid.uuid4()), "hub_box_key": "00", "hub_verify_key": "00"}
        device_services.save_connection(db.session, "http://hub.test", answer, "00")
        db.session.commit()


@pytest.fixture
def laptop(make_laptop):
    app = make_laptop("a")
    connect(app)
    with app.app_context():
        yield app


def new_family(commune="Lens", notes="", guardian=None) -> Family:
    family = Family(structure_id=first_structure(None).id, commune=commune, notes=notes)
    db.session.add(family)
    if guardian:
        db.session.add(Guardian(family=family, first_name=guardian, last_name="Martin"))
    db.session.commit()
    return family


def test_an_edit_is_pending_in_its_own_transaction_and_bulk_updates_are_refused(laptop):
    family = new_family()
    forget_seeded_reference()
    family.notes = "Needs a laptop"
    db.session.flush()
    pending = db.session.get(SyncPending, ("families", family.id))
    assert pending is not None and set(pending.fields) == {"notes"}
    db.session.rollback()
    assert db.session.get(SyncPending, ("families", family.id)) is None
    assert db.session.get(Family, family.id).notes == ""
    with pytest.raises(BulkWriteRefused):
        db.session.execute(update(Family).values(notes="x"))
    db.session.rollback()


def test_a_frozen_batch_holds_the_pending_changes_parents_first(laptop):
    family = new_family(commune="Arras", guardian="Lina")
    guardian = family.guardians[0]
    batch = outbox_services.freeze_batch(db.session)
    db.session.commit()
    body = json.loads(batch.body)
    assert batch.batch_seq == 1 and body["batch_seq"] == 1 and body["batch_id"] == str(batch.batch_id)
    assert body["device_id"] == str(DEVICE_ID)
    assert body["schema_version"] == registry.SCHEMA_VERSION and body["protocol"] == registry.PROTOCOL
    assert batch.body == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert batch.sha256 == hashlib.sha256(batch.body.encode()).hexdigest()
    assert [change["table"] for change in body["changes"]] == ["families", "guardians"]
    family_change, guardian_change = body["changes"]
    assert family_change["id"] == str(family.id) and family_change["base_version"] == 0
    assert family_change["fields"]["commune"] == "Arras"
    assert family_change["fields"]["structure_id"] == str(family.structure_id)
    assert set(family_change["hlc"]) == set(family_change["fields"]) == set(registry.fields_of("families"))
    assert family_change["hlc"]["commune"] == family.hlc
    assert guardian_change["fields"]["first_name"] == "Lina" and guardian_change["id"] == str(guardian.id)
    assert db.session.scalars(select(SyncPending)).all() == []
    assert outbox_services.freeze_batch(db.session) is None


def test_a_frozen_batch_never_changes_and_a_later_edit_makes_a_new_batch(laptop):
    family = new_family(notes="first")
    first = outbox_services.freeze_batch(db.session)
    db.session.commit()
    frozen, sha = first.body, first.sha256
    family.notes = "second"
    family.version = 4  # as if a pull had given it a hub version meanwhile
    db.session.commit()
    second = outbox_services.freeze_batch(db.session)
    db.session.commit()
    assert db.session.get(OutboxBatch, 1).body == frozen and db.session.get(OutboxBatch, 1).sha256 == sha
    assert json.loads(frozen)["changes"][0]["fields"]["notes"] == "first"
    assert second.batch_seq == 2 and second.batch_id != first.batch_id
    change = json.loads(second.body)["changes"][0]
    assert change["fields"] == {"notes": "second"} and change["base_version"] == 4
    assert [batch.batch_seq for batch in outbox_services.unacked(db.session)] == [1, 2]


def test_batches_are_bounded_and_freezing_again_empties_the_pending(laptop, monkeypatch):
    monkeypatch.setattr(outbox_services, "MAX_CHANGES", 10)
    for index in range(25):
        db.session.add(Family(structure_id=first_structure(None).id, commune=f"C{index}"))
    db.session.commit()
    sizes = []
    while (batch := outbox_services.freeze_batch(db.session)) is not None:
        sizes.append(batch.changes)
        db.session.commit()
    assert sizes == [10, 10, 5]
    sent = {change["id"] for batch in outbox_services.unacked(db.session)
            for change in json.loads(batch.body)["changes"]}
    assert len(sent) == 25


def test_a_byte_bound_splits_large_changes(laptop, monkeypatch):
    monkeypatch.setattr(outbox_services, "MAX_BYTES", 3000)
    for _ in range(4):
        db.session.add(Family(structure_id=first_structure(None).id, notes="x" * 1000))
    db.session.commit()
    first = outbox_services.freeze_batch(db.session)
    assert 1 <= first.changes < 4 and len(first.body) < 3000 + 1000


def test_an_answer_acks_the_batch_forgets_its_body_and_keeps_refusals_in_view(laptop):
    kept = new_family(commune="Liévin")
    refused = new_family(commune="Douai", notes="Same as another family")
    batch = outbox_services.freeze_batch(db.session)
    db.session.commit()
    answer = {"status": "applied", "batch_seq": 1, "batch_id": str(batch.batch_id),
              "results": [{"table": "families", "id": str(kept.id), "outcome": "applied", "version": 1,
                           "reason": None},
                          {"table": "families", "id": str(refused.id), "outcome": "rejected", "version": None,
                           "reason": "duplicate_value"}],
              "counts": {"applied": 1, "merged": 0, "unchanged": 0, "conflicts": 0, "rejected": 1,
                         "purged": 0},
              "hub_time_ms": 0}
    outbox_services.record_answer(db.session, batch, answer)
    outbox_services.record_answer(db.session, batch, {**answer, "status": "duplicate"})
    db.session.commit()
    batch = db.session.get(OutboxBatch, 1)
    assert batch.status == "acked" and batch.acked_dt is not None and batch.body is None
    assert batch.result["rejected"] == 1 and batch.result["applied"] == 1
    assert outbox_services.unacked(db.session) == []
    rejected = db.session.scalars(select(RejectedChange)).all()
    assert len(rejected) == 1
    assert rejected[0].record_id == refused.id and rejected[0].reason == "duplicate_value"
    assert rejected[0].fields["notes"] == "Same as another family" and rejected[0].dismissed_dt is None


def test_nothing_is_frozen_before_the_laptop_is_connected(make_laptop):
    app = make_laptop("b")
    with app.app_context():
        forget_seeded_reference()
        new_family()
        assert outbox_services.freeze_batch(db.session) is None
        assert outbox_services.pending_count(db.session) == 1


def test_edits_after_a_fast_forwarded_change_are_based_on_its_hub_version(laptop):
    family = new_family(notes="one")
    batch = outbox_services.freeze_batch(db.session)
    db.session.commit()
    family.notes = "two"
    other = new_family(notes="other")
    other.notes = "other, edited"
    db.session.commit()
    results = [{"table": "families", "id": str(family.id), "outcome": "applied", "version": 1,
                "reason": None}]
    outbox_services.record_answer(db.session, batch, {"status": "applied", "results": results, "counts": {}})
    db.session.commit()
    assert db.session.get(SyncPending, ("families", family.id)).base_version == 1
    assert db.session.get(SyncPending, ("families", other.id)).base_version == 0
