"""The hub applies push batches: once, whole, by the merge rules (sync-anchors C5, C6; tests of
section (d): 2-6, 9-15, 25). Runs on SQLite and PostgreSQL (the `hub` fixture)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.sync.conftest import first_structure
from workshops.auth.models import Structure, User
from workshops.core import clock
from workshops.core.db import begin_write
from workshops.core.models import derived_id
from workshops.equipment.models import Equipment
from workshops.extensions import db as _db
from workshops.families.models import Family, Registration
from workshops.scheduling.models import Venue
from workshops.sync import device_services, keys, registry
from workshops.sync.ingest_services import ingest
from workshops.sync.merge_rules import CLOCK_SKEW_MS
from workshops.sync.models import AppliedBatch, ChangeLog, Conflict, Device, FieldMeta, HubState, SyncPending

T0 = 1_800_000_000_000  # a fixed "now" for stamps (2027)


@dataclass(frozen=True)
class Dev:
    id: uuid.UUID
    token: str
    structure_id: uuid.UUID

    def stamp(self, ms: int, counter: int = 0) -> str:
        return clock.Stamp(ms, counter, self.id.hex).encode()


def enrolled(hub, name: str = "Laptop", structure_id=None) -> Dev:
    """A device enrolled on the hub the way `pair` does it, without a laptop app."""
    with hub.app_context():
        structure_id = structure_id or first_structure(hub).id
        device, code = device_services.create_device(_db.session, name, structure_id, None)
        enrolment = device_services.enrol(_db.session, code, keys.verify_key(keys.new_signing_key()),
                                          app_version="test", schema_version=1)
        _db.session.commit()
        return Dev(device.id, enrolment.token, structure_id)


def other_structure(hub, structure_id) -> uuid.UUID:
    with hub.app_context():
        return _db.session.scalars(select(Structure.id).where(Structure.id != structure_id)
                                   .order_by(Structure.name)).first()


def change(table: str, row_id, fields: dict, hlc: str, base: int = 0) -> dict:
    return {"table": table, "id": str(row_id), "base_version": base, "fields": fields,
            "hlc": dict.fromkeys(fields, hlc)}


def batch(dev: Dev, seq: int, changes: list, batch_id=None, schema_version: int = 1) -> dict:
    return {"protocol": registry.PROTOCOL, "schema_version": schema_version, "device_id": str(dev.id),
            "batch_seq": seq, "batch_id": str(batch_id or uuid.uuid4()), "created_hlc": dev.stamp(T0),
            "changes": changes}


def push(hub, dev: Dev, body: dict, now_ms: int = T0) -> tuple[int, dict]:
    with hub.app_context():
        device = _db.session.get(Device, dev.id)
        status, answer = ingest(_db.session, device, body, now_ms=now_ms)
        _db.session.commit()
        return status, answer


def new_family(dev: Dev, ms: int = T0, **fields) -> tuple[uuid.UUID, dict]:
    family_id = uuid.uuid4()
    values = {"structure_id": str(dev.structure_id), "commune": "Poitiers", "notes": "", **fields}
    return family_id, change("families", family_id, values, dev.stamp(ms))


def hub_row(hub, model, row_id) -> dict | None:
    with hub.app_context():
        row = _db.session.get(model, row_id)
        return None if row is None else {**registry.snapshot(row), "version": row.version, "hlc": row.hlc}


def count(hub, query) -> int:
    with hub.app_context():
        return _db.session.scalar(query)


def log_state(hub) -> tuple[int, list]:
    with hub.app_context():
        last = _db.session.scalar(select(HubState.last_seq))
        entries = _db.session.execute(select(ChangeLog.seq, ChangeLog.record_id, ChangeLog.version)
                                      .order_by(ChangeLog.seq)).all()
        return last, [tuple(entry) for entry in entries]


def conflicts(hub, record_id) -> list[Conflict]:
    with hub.app_context():
        found = _db.session.scalars(select(Conflict).where(Conflict.record_id == record_id)).all()
        _db.session.expunge_all()
        return list(found)


# ---------- Basics ----------

def test_a_new_family_is_applied_at_version_1_and_logged(hub):
    dev = enrolled(hub)
    family_id, created = new_family(dev, notes="Needs a laptop")
    status, answer = push(hub, dev, batch(dev, 1, [created]))
    assert status == 200 and answer["status"] == "applied"
    assert answer["results"] == [{"table": "families", "id": str(family_id), "outcome": "applied",
                                  "version": 1, "reason": None}]
    assert answer["counts"]["applied"] == 1
    row = hub_row(hub, Family, family_id)
    assert row["notes"] == "Needs a laptop" and row["version"] == 1 and row["hlc"] == dev.stamp(T0)
    with hub.app_context():
        meta = _db.session.get(FieldMeta, ("families", family_id)).meta
        entry = _db.session.scalars(select(ChangeLog).where(ChangeLog.record_id == family_id)).one()
        assert meta["notes"] == [1, dev.stamp(T0)]
        assert (entry.version, entry.device_id, entry.structure_id) == (1, dev.id, dev.structure_id)
        assert _db.session.get(Device, dev.id).last_batch_seq == 1


def test_a_laptops_own_changes_pushed_from_its_pending_rows(hub, make_laptop, pair):
    """A body made from a laptop's SyncPending rows, as the outbox makes it: its new family is
    applied, and the reference data it seeded like every laptop comes back unchanged."""
    laptop = make_laptop("a")
    answer = pair(laptop, "Laptop A")
    with laptop.app_context():
        family = Family(structure_id=uuid.UUID(answer["structure_id"]), commune="Vouneuil", notes="Two kids")
        _db.session.add(family)
        _db.session.commit()
        changes = []
        for pending in _db.session.scalars(select(SyncPending)):
            row = _db.session.get(registry.MODELS[pending.table_name], pending.record_id)
            changes.append({"table": pending.table_name, "id": str(pending.record_id),
                            "base_version": pending.base_version,
                            "fields": {name: registry.to_json(pending.table_name, name, getattr(row, name))
                                       for name in pending.fields},
                            "hlc": pending.fields})
        family_id = family.id
    changes.sort(key=lambda item: registry.ORDER[item["table"]])
    dev = Dev(uuid.UUID(answer["device_id"]), answer["token"], uuid.UUID(answer["structure_id"]))
    status, result = push(hub, dev, batch(dev, 1, changes), now_ms=clock.wall_ms())
    assert status == 200
    outcomes = {(item["table"], item["outcome"]) for item in result["results"]}
    assert ("families", "applied") in outcomes
    assert result["counts"]["rejected"] == 0, [item for item in result["results"] if item["reason"]]
    assert hub_row(hub, Family, family_id)["notes"] == "Two kids"


# ---------- Idempotency (d2, d3, d4, d5, d6) ----------

@pytest.mark.parametrize("repeats", [1, 3])
def test_replaying_a_batch_changes_nothing_and_gives_the_same_answer(hub, repeats):
    dev = enrolled(hub)
    _, created = new_family(dev, notes="first")
    body = batch(dev, 1, [created])
    status, first = push(hub, dev, body)
    state = log_state(hub)
    row = hub_row(hub, Family, uuid.UUID(created["id"]))
    for _ in range(repeats):
        status, again = push(hub, dev, body)
        assert status == 200
        assert again == {**first, "status": "duplicate"}
    assert log_state(hub) == state
    assert hub_row(hub, Family, uuid.UUID(created["id"])) == row
    assert count(hub, select(func.count()).select_from(AppliedBatch)) == 1


def test_a_lost_answer_is_sent_again_as_duplicate_without_a_new_seq(hub):
    dev = enrolled(hub)
    _, first_family = new_family(dev)
    push(hub, dev, batch(dev, 1, [first_family]))
    before, _ = log_state(hub)
    _, second_family = new_family(dev, ms=T0 + 10)
    body = batch(dev, 2, [second_family])
    push(hub, dev, body)  # the hub committed; the answer never reached the laptop
    last_seq, entries = log_state(hub)
    status, answer = push(hub, dev, body)
    assert status == 200 and answer["status"] == "duplicate" and answer["batch_seq"] == 2
    assert log_state(hub) == (last_seq, entries) and last_seq == before + 1


def test_two_concurrent_posts_of_one_batch_apply_it_once(hub):
    dev = enrolled(hub)
    family_id, created = new_family(dev)
    body = batch(dev, 1, [created])
    barrier, answers, errors = threading.Barrier(2), [], []

    def send():
        try:
            with hub.app_context():
                session = Session(_db.engine)
                try:
                    barrier.wait(timeout=10)
                    begin_write(session)
                    answers.append(ingest(session, session.get(Device, dev.id), body, now_ms=T0))
                    session.commit()
                finally:
                    session.close()
        except Exception as failure:  # noqa: BLE001 - reported below
            errors.append(failure)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(answer["status"] for _, answer in answers) == ["applied", "duplicate"]
    assert count(hub, select(func.count()).select_from(ChangeLog)
                 .where(ChangeLog.record_id == family_id)) == 1
    assert count(hub, select(func.count()).select_from(AppliedBatch)) == 1


def test_another_batch_under_an_applied_number_is_device_rewound(hub):
    dev = enrolled(hub)
    _, created = new_family(dev, notes="kept")
    applied = batch(dev, 1, [created])
    push(hub, dev, applied)
    state = log_state(hub)
    _, other = new_family(dev, notes="from a restored copy")
    status, answer = push(hub, dev, batch(dev, 1, [other]))
    assert (status, answer["error"]) == (409, "device_rewound")
    same_id_other_content = batch(dev, 1, [other], batch_id=applied["batch_id"])
    status, answer = push(hub, dev, same_id_other_content)
    assert (status, answer["error"]) == (409, "device_rewound")
    assert log_state(hub) == state
    assert hub_row(hub, Family, uuid.UUID(other["id"])) is None


def test_a_batch_redacted_by_an_erasure_after_a_lost_answer_is_a_duplicate(hub):
    dev = enrolled(hub)
    family_id, created = new_family(dev, notes="canary-note")
    body = batch(dev, 1, [created])
    status, first = push(hub, dev, body)  # applied; the answer never reached the laptop
    state = log_state(hub)
    redacted = {**body, "changes": [{**created, "fields": {**created["fields"], "notes": ""}}],
                "redacted": True}
    status, answer = push(hub, dev, redacted)
    assert (status, answer) == (200, {**first, "status": "duplicate"})
    assert log_state(hub) == state


def test_a_gap_names_the_expected_batch_and_the_laptop_recovers(hub):
    dev = enrolled(hub)
    families = [new_family(dev, ms=T0 + n) for n in range(3)]
    bodies = [batch(dev, n + 1, [created]) for n, (_, created) in enumerate(families)]
    push(hub, dev, bodies[0])
    status, answer = push(hub, dev, bodies[2])
    assert (status, answer["error"], answer["expected_seq"]) == (409, "gap", 2)
    assert hub_row(hub, Family, families[2][0]) is None
    assert [push(hub, dev, body)[1]["status"] for body in bodies[1:]] == ["applied", "applied"]
    assert all(hub_row(hub, Family, family_id) for family_id, _ in families)
    with hub.app_context():
        seqs = _db.session.scalars(select(AppliedBatch.batch_seq).order_by(AppliedBatch.batch_seq)).all()
    assert seqs == [1, 2, 3]


# ---------- Merge (d9, d10, d11, d12) ----------

def two_devices_and_a_family(hub) -> tuple[Dev, Dev, uuid.UUID]:
    a = enrolled(hub, "A")
    b = enrolled(hub, "B", structure_id=a.structure_id)
    family_id, created = new_family(a, notes="start", commune="Poitiers")
    push(hub, a, batch(a, 1, [created]))
    return a, b, family_id


def test_two_laptops_editing_different_fields_both_win_without_conflict(hub):
    a, b, family_id = two_devices_and_a_family(hub)
    push(hub, a, batch(a, 2, [change("families", family_id, {"notes": "from A"}, a.stamp(T0 + 100), base=1)]))
    status, answer = push(hub, b, batch(b, 1, [change("families", family_id, {"commune": "Lusignan"},
                                                      b.stamp(T0 + 50), base=1)]))
    assert answer["results"][0]["outcome"] == "merged" and answer["results"][0]["version"] == 3
    row = hub_row(hub, Family, family_id)
    assert (row["notes"], row["commune"]) == ("from A", "Lusignan")
    assert conflicts(hub, family_id) == []


@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_the_same_field_has_the_same_winner_whatever_the_push_order(hub, order):
    a, b, family_id = two_devices_and_a_family(hub)
    from_a = change("families", family_id, {"notes": "from A"}, a.stamp(T0 + 100), 1)
    from_b = change("families", family_id, {"notes": "from B"}, b.stamp(T0 + 200), 1)
    edits = {"a": (a, batch(a, 2, [from_a])), "b": (b, batch(b, 1, [from_b]))}
    first, second = ("a", "b") if order == "a_first" else ("b", "a")
    push(hub, *edits[first])
    status, answer = push(hub, *edits[second])
    assert answer["results"][0]["outcome"] == "conflict"
    assert hub_row(hub, Family, family_id)["notes"] == "from B"
    [conflict] = conflicts(hub, family_id)
    assert (conflict.field, conflict.kept_value, conflict.other_value) == ("notes", "from B", "from A")
    assert (conflict.kept_hlc, conflict.other_hlc) == (b.stamp(T0 + 200), a.stamp(T0 + 100))


def test_a_stale_edit_never_brings_a_deleted_family_back(hub):
    a, b, family_id = two_devices_and_a_family(hub)
    deleted = datetime(2027, 1, 15, 10, 0, tzinfo=UTC).isoformat()
    push(hub, a, batch(a, 2, [change("families", family_id, {"deleted_dt": deleted}, a.stamp(T0 + 100), 1)]))
    stale = batch(b, 1, [change("families", family_id, {"notes": "edited offline", "deleted_dt": None},
                                b.stamp(T0 + 500), 1)])
    status, answer = push(hub, b, stale)
    assert answer["results"][0]["outcome"] == "conflict"
    row = hub_row(hub, Family, family_id)
    assert row["deleted_dt"] == deleted and row["notes"] == "start"
    logged = {conflict.field: conflict.other_value for conflict in conflicts(hub, family_id)}
    assert logged == {"notes": "edited offline", "deleted_dt": None}
    # The same stale edit again, in a later batch (a re-enrolled copy, say): still deleted, logged once.
    again = batch(b, 2, stale["changes"])
    push(hub, b, again)
    assert hub_row(hub, Family, family_id)["deleted_dt"] == deleted
    assert len(conflicts(hub, family_id)) == 2


def test_one_registration_made_on_two_laptops_is_one_row(hub):
    a = enrolled(hub, "A")
    b = enrolled(hub, "B", structure_id=a.structure_id)
    with hub.app_context():
        venue_id = _db.session.scalars(select(Venue.id).order_by(Venue.name)).first()
    workshop_id, family_id = uuid.uuid4(), uuid.uuid4()
    setup = [change("families", family_id, {"structure_id": str(a.structure_id)}, a.stamp(T0)),
             change("workshops", workshop_id, {"title": "Atelier", "structure_id": str(a.structure_id),
                                               "venue_id": str(venue_id),
                                               "start_dt": "2027-02-01T09:00:00+00:00",
                                               "end_dt": "2027-02-01T11:00:00+00:00"}, a.stamp(T0))]
    assert push(hub, a, batch(a, 1, setup))[1]["counts"]["applied"] == 2
    registration_id = derived_id("registration", workshop_id, family_id)

    def check_in(dev: Dev, seq: int, ms: int, adults: int) -> dict:
        fields = {"workshop_id": str(workshop_id), "family_id": str(family_id), "status": "attended",
                  "adults_present": adults}
        body = batch(dev, seq, [change("registrations", registration_id, fields, dev.stamp(ms))])
        return push(hub, dev, body)[1]

    assert check_in(a, 2, T0 + 10, 1)["results"][0]["outcome"] == "applied"
    answer = check_in(b, 1, T0 + 20, 2)
    assert answer["results"][0]["outcome"] == "conflict"
    assert count(hub, select(func.count()).select_from(Registration)) == 1
    assert hub_row(hub, Registration, registration_id)["adults_present"] == 2
    assert [(c.field, c.other_value) for c in conflicts(hub, registration_id)] == [("adults_present", 1)]


# ---------- Clocks, versions (d13, d14, d15) ----------

def test_a_stamp_from_the_future_is_clamped_and_the_device_flagged(hub):
    dev = enrolled(hub)
    year_ahead = T0 + 365 * 24 * 3600 * 1000
    family_id, created = new_family(dev, ms=year_ahead)
    push(hub, dev, batch(dev, 1, [created]), now_ms=T0)
    with hub.app_context():
        meta = _db.session.get(FieldMeta, ("families", family_id)).meta
        device = _db.session.get(Device, dev.id)
        assert meta["notes"][1] == dev.stamp(T0)
        assert device.clock_offset_ms == T0 - year_ahead
    # A later honest edit by another laptop still wins over the clamped stamp.
    b = enrolled(hub, "B", structure_id=dev.structure_id)
    push(hub, b, batch(b, 1, [change("families", family_id, {"notes": "later"}, b.stamp(T0 + 1000), 0)]))
    assert hub_row(hub, Family, family_id)["notes"] == "later"
    within = enrolled(hub, "C", structure_id=dev.structure_id)
    _, fine = new_family(within, ms=T0 + CLOCK_SKEW_MS - 1)
    push(hub, within, batch(within, 1, [fine]), now_ms=T0)
    with hub.app_context():
        assert _db.session.get(Device, within.id).clock_offset_ms is None


def test_an_old_laptop_without_a_field_leaves_it_untouched(hub):
    a, old, family_id = two_devices_and_a_family(hub)
    on_hub = change("families", family_id, {"notice_version": "2027-01"}, a.stamp(T0 + 5), 1)
    push(hub, a, batch(a, 2, [on_hub]))
    # The old laptop's schema has no notice_version: its change carries only what it knows.
    old_change = change("families", family_id, {"commune": "Chauvigny"}, old.stamp(T0 + 9), 1)
    push(hub, old, batch(old, 1, [old_change], schema_version=registry.SCHEMA_VERSION))
    row = hub_row(hub, Family, family_id)
    assert (row["commune"], row["notice_version"], row["notes"]) == ("Chauvigny", "2027-01", "start")


def test_a_laptop_newer_than_the_hub_is_told_the_hub_is_too_old(hub, monkeypatch):
    dev = enrolled(hub)
    family_id, created = new_family(dev)
    status, answer = push(hub, dev, batch(dev, 1, [created], schema_version=registry.SCHEMA_VERSION + 1))
    assert (status, answer["error"]) == (409, "hub_too_old")
    monkeypatch.setattr(registry, "MIN_SCHEMA_VERSION", registry.SCHEMA_VERSION)
    status, answer = push(hub, dev, batch(dev, 1, [created], schema_version=registry.SCHEMA_VERSION - 1))
    assert (status, answer["error"]) == (426, "client_too_old")
    assert hub_row(hub, Family, family_id) is None
    with hub.app_context():
        assert _db.session.get(Device, dev.id).last_batch_seq == 0


# ---------- Refusals (d25), partitions, purge ----------

def test_a_nul_character_or_a_huge_number_is_a_bad_value_not_a_crash(hub):
    """PostgreSQL stores no NUL in text and no integer past 64 bits: such a change is rejected
    with its reason, on either hub, and the batch goes through."""
    a = enrolled(hub)
    family_id, created = new_family(a, notes="avant\x00après")
    machine = change("equipment", uuid.uuid4(), {"asset_tag": "TNE-0002", "structure_id": str(a.structure_id),
                                                  "ram_gb": 2**70}, a.stamp(T0 + 1))
    status, answer = push(hub, a, batch(a, 1, [created, machine]))
    assert status == 200
    assert [(item["outcome"], item["reason"]) for item in answer["results"]] == [
        ("rejected", "bad_value"), ("rejected", "bad_value")]
    assert hub_row(hub, Family, family_id) is None


def test_a_duplicate_asset_tag_is_rejected_and_the_rest_of_the_batch_applied(hub):
    a = enrolled(hub, "A")
    b = enrolled(hub, "B", structure_id=a.structure_id)
    first = uuid.uuid4()
    machine = {"asset_tag": "TNE-0001", "structure_id": str(a.structure_id)}
    push(hub, a, batch(a, 1, [change("equipment", first, machine, a.stamp(T0))]))
    family_id, created = new_family(b)
    second = uuid.uuid4()
    body = batch(b, 1, [created, change("equipment", second, machine, b.stamp(T0 + 1))])
    status, answer = push(hub, b, body)
    outcomes = [(item["table"], item["outcome"], item["reason"]) for item in answer["results"]]
    assert outcomes == [("families", "applied", None), ("equipment", "rejected", "duplicate_value")]
    assert hub_row(hub, Family, family_id) is not None and hub_row(hub, Equipment, second) is None
    assert count(hub, select(func.count()).select_from(ChangeLog).where(ChangeLog.record_id == second)) == 0
    assert push(hub, b, body)[1] == {**answer, "status": "duplicate"}


def test_changes_a_laptop_may_not_make_are_rejected(hub):
    a = enrolled(hub, "A")
    b = enrolled(hub, "B", structure_id=other_structure(hub, a.structure_id))
    family_id, created = new_family(a)
    push(hub, a, batch(a, 1, [created]))
    with hub.app_context():
        structure = _db.session.get(Structure, a.structure_id)
        same = {"name": structure.name, "kind": structure.kind}
    body = batch(b, 1, [
        change("families", family_id, {"notes": "not mine"}, b.stamp(T0 + 1), 1),
        change("structures", a.structure_id, same, b.stamp(T0 + 1)),
        change("structures", a.structure_id, {"name": "Renamed"}, b.stamp(T0 + 2)),
        change("guardians", uuid.uuid4(), {"family_id": str(uuid.uuid4())}, b.stamp(T0 + 1)),
        change("families", uuid.uuid4(), {"nickname": "x"}, b.stamp(T0 + 1)),
        change("nowhere", uuid.uuid4(), {"x": 1}, b.stamp(T0 + 1)),
        change("families", uuid.uuid4(), {"has_photo_consent": "yes"}, b.stamp(T0 + 1)),
    ])
    results = push(hub, b, body)[1]["results"]
    assert [(item["outcome"], item["reason"]) for item in results] == [
        ("rejected", "other_structure"), ("unchanged", None), ("rejected", "reference_data"),
        ("rejected", "missing_parent"), ("rejected", "unknown_field"), ("rejected", "unknown_table"),
        ("rejected", "bad_value")]
    assert hub_row(hub, Family, family_id)["notes"] == ""
    with hub.app_context():
        assert _db.session.get(Structure, a.structure_id).name == same["name"]


def test_an_erasure_wins_and_wipes_the_personal_fields(hub):
    a, b, family_id = two_devices_and_a_family(hub)
    push(hub, b, batch(b, 1, [change("families", family_id, {"notes": "private", "commune": "Ligugé"},
                                     b.stamp(T0 + 900), 1)]))
    purge = change("families", family_id, {"is_purged": True}, a.stamp(T0 + 100), 1)
    answer = push(hub, a, batch(a, 2, [purge]))[1]
    assert answer["results"][0]["outcome"] in ("applied", "merged")
    row = hub_row(hub, Family, family_id)
    assert row["is_purged"] is True and row["notes"] == "" and row["commune"] == ""
    with hub.app_context():
        payloads = _db.session.scalars(select(ChangeLog.payload)
                                       .where(ChangeLog.record_id == family_id)).all()
    assert all(payload["notes"] in ("", None) for payload in payloads)
    back = change("families", family_id, {"notes": "back"}, b.stamp(T0 + 999), 3)
    later = push(hub, b, batch(b, 2, [back]))
    assert later[1]["results"][0]["outcome"] == "purged"
    assert hub_row(hub, Family, family_id)["notes"] == ""


def test_a_hub_edit_and_a_stale_laptop_edit_of_one_field_make_a_conflict(hub):
    a, _, family_id = two_devices_and_a_family(hub)
    with hub.app_context():
        family = _db.session.get(Family, family_id)
        family.notes = "edited on the hub"
        _db.session.commit()
        hub_stamp = family.hlc
    # The laptop's clock was behind the hub's edit: the hub's value stays, the laptop's is kept aside.
    stale = change("families", family_id, {"notes": "laptop"}, a.stamp(1000), 1)
    answer = push(hub, a, batch(a, 2, [stale]))[1]
    assert answer["results"][0]["outcome"] == "conflict" and answer["results"][0]["version"] == 2
    assert hub_row(hub, Family, family_id)["notes"] == "edited on the hub"
    [conflict] = conflicts(hub, family_id)
    assert (conflict.kept_value, conflict.other_value) == ("edited on the hub", "laptop")
    assert conflict.kept_hlc == hub_stamp


def test_a_username_taken_by_an_edit_is_rejected_and_the_other_edits_kept(hub):
    dev = enrolled(hub)
    alice, bob = uuid.uuid4(), uuid.uuid4()

    def user(username: str) -> dict:
        return {"username": username, "display_name": username.title(), "password_hash": "x",
                "role": "conseiller", "structure_id": str(dev.structure_id)}

    push(hub, dev, batch(dev, 1, [change("users", alice, user("alice"), dev.stamp(T0)),
                                  change("users", bob, user("bob"), dev.stamp(T0))]))
    answer = push(hub, dev, batch(dev, 2, [
        change("users", bob, {"username": "alice"}, dev.stamp(T0 + 5), 1),
        change("users", alice, {"display_name": "Alice M."}, dev.stamp(T0 + 5), 1)]))[1]
    assert [(item["outcome"], item["reason"], item["version"]) for item in answer["results"]] == [
        ("rejected", "duplicate_value", None), ("applied", None, 2)]
    assert hub_row(hub, User, bob)["username"] == "bob"
    assert hub_row(hub, User, alice)["display_name"] == "Alice M."
    with hub.app_context():
        assert _db.session.get(FieldMeta, ("users", bob)).meta["username"][0] == 1


# ---------- A household merged into one made in the same batch ----------

def _merged_into_a_new_household(dev: Dev, known_id: uuid.UUID, seq: int, extra: list = (),
                                 before: list = ()) -> tuple[uuid.UUID, dict]:
    """A batch where the laptop merged a household the hub knows into one it made offline: the
    known household's change comes first (after `before`), as it does when its id sorts first in
    the outbox."""
    keep_id, created = new_family(dev, T0 + 10, notes="made offline")
    merged = {"merged_into_id": str(keep_id), "deleted_dt": datetime(2027, 1, 15, tzinfo=UTC).isoformat()}
    body = batch(dev, seq, [*before, change("families", known_id, merged, dev.stamp(T0 + 20), 1), created,
                            *extra])
    return keep_id, body


def _merge_outcomes(hub, answer: dict, known_id: uuid.UUID, keep_id: uuid.UUID) -> None:
    families = [(item["id"], item["outcome"]) for item in answer["results"] if item["table"] == "families"]
    assert families == [(str(known_id), "applied"), (str(keep_id), "applied")]
    known = hub_row(hub, Family, known_id)
    assert known["merged_into_id"] == str(keep_id) and known["deleted_dt"] is not None
    assert hub_row(hub, Family, keep_id)["notes"] == "made offline"


def test_a_household_merged_into_one_made_offline_reaches_the_hub(hub):
    """Merging a known household into a walk-in registered offline: before the fix the hub's
    batch hit the foreign key (the merge was flushed before the new household was inserted) and
    the merge was rejected, so the merged household stayed alive on the hub."""
    dev = enrolled(hub)
    known_id, created = new_family(dev)
    push(hub, dev, batch(dev, 1, [created]))
    keep_id, body = _merged_into_a_new_household(dev, known_id, 2)
    status, answer = push(hub, dev, body)
    assert status == 200 and answer["counts"]["rejected"] == 0
    _merge_outcomes(hub, answer, known_id, keep_id)


def test_the_merge_survives_a_batch_applied_change_by_change(hub):
    """The same merge in a batch that a duplicate asset tag sends change by change: only the
    machine is rejected."""
    a = enrolled(hub, "A")
    b = enrolled(hub, "B", structure_id=a.structure_id)
    machine = {"asset_tag": "TNE-0002", "structure_id": str(a.structure_id)}
    push(hub, a, batch(a, 1, [change("equipment", uuid.uuid4(), machine, a.stamp(T0))]))
    known_id, created = new_family(b)
    push(hub, b, batch(b, 1, [created]))
    second = uuid.uuid4()
    keep_id, body = _merged_into_a_new_household(
        b, known_id, 2, [change("equipment", second, machine, b.stamp(T0 + 30))])
    status, answer = push(hub, b, body)
    rejected = [item["reason"] for item in answer["results"] if item["outcome"] == "rejected"]
    assert rejected == ["duplicate_value"]
    _merge_outcomes(hub, answer, known_id, keep_id)
    assert hub_row(hub, Equipment, second) is None


def test_an_asset_tag_given_to_a_new_machine_in_the_same_batch_is_kept(hub):
    """The laptop re-labelled a machine and gave its old tag to a new one: the new machine comes
    first in the batch, the tag is still taken on the hub until the other change is written."""
    dev = enrolled(hub)
    old_id, new_id = uuid.uuid4(), uuid.uuid4()
    tagged = {"asset_tag": "TNE-0003", "structure_id": str(dev.structure_id)}
    push(hub, dev, batch(dev, 1, [change("equipment", old_id, tagged, dev.stamp(T0))]))
    status, answer = push(hub, dev, batch(dev, 2, [
        change("equipment", new_id, tagged, dev.stamp(T0 + 10)),
        change("equipment", old_id, {"asset_tag": "TNE-0004"}, dev.stamp(T0 + 20), 1)]))
    assert [item["outcome"] for item in answer["results"]] == ["applied", "applied"]
    assert hub_row(hub, Equipment, new_id)["asset_tag"] == "TNE-0003"
    assert hub_row(hub, Equipment, old_id)["asset_tag"] == "TNE-0004"


def test_two_changes_of_one_household_in_a_batch_are_both_answered(hub):
    """A hand-made batch edits a household, then merges it into one made later in the batch:
    both changes of the one row get an answer (ordering them once lost one, and the hub
    answered 500)."""
    dev = enrolled(hub)
    known_id, created = new_family(dev)
    push(hub, dev, batch(dev, 1, [created]))
    keep_id, body = _merged_into_a_new_household(
        dev, known_id, 2, before=[change("families", known_id, {"notes": "edited"}, dev.stamp(T0 + 5), 1)])
    status, answer = push(hub, dev, body)
    assert status == 200
    assert [item["outcome"] for item in answer["results"]] == ["applied", "merged", "applied"]
    assert str(hub_row(hub, Family, known_id)["merged_into_id"]) == str(keep_id)
