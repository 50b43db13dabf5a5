"""Applying pull pages on a laptop, with hand-made pages (sync-anchors (d) 7, 13, 18)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from tests.sync.conftest import first_structure
from tests.sync.test_outbox import connect
from workshops.core import clock
from workshops.core.models import get_device_state
from workshops.extensions import db
from workshops.families.models import Family, Guardian
from workshops.sync import apply_services, device_services, outbox_services, registry
from workshops.sync.models import SyncExtra, SyncPending

HUB = "f" * 32
NOW_MS = clock.wall_ms()


def stamp(ms: int, counter: int = 0) -> str:
    return clock.Stamp(ms, counter, HUB).encode()


def family_fields(structure_id, **values) -> dict:
    fields = {"structure_id": str(structure_id), "commune": "Lens", "computer_wanted": None,
              "origin": "other", "notice_version": None, "notice_date": None, "has_follow_up_consent": False,
              "has_photo_consent": False, "notes": "", "search_key": "", "merged_into_id": None,
              "deleted_dt": None, "is_purged": False}
    return {**fields, **values}


def guardian_fields(family_id, **values) -> dict:
    fields = {"family_id": str(family_id), "position": 0, "first_name": "Lina", "last_name": "Martin",
              "phone": None, "email": None, "language": "fr", "relation": "guardian", "deleted_dt": None,
              "is_purged": False}
    return {**fields, **values}


def change(seq, table, record_id, fields, version=1, hlc=None) -> dict:
    return {"seq": seq, "table": table, "id": str(record_id), "version": version,
            "hlc": hlc or stamp(NOW_MS, seq), "fields": fields}


def page(changes, since=0, more=False, epoch=None) -> dict:
    last = changes[-1]["seq"] if changes else since
    return {"hub_id": str(uuid.uuid4()), "hub_epoch": epoch or str(EPOCH), "last_seq": last,
            "next_since": last, "more": more, "changes": changes}


EPOCH = uuid.uuid4()


def set_laptop_clock(monkeypatch, now_ms) -> None:
    """The laptop's wall clock, for every stamp it makes (edits and pulls)."""
    monkeypatch.setattr(clock.tick, "__defaults__", (lambda: now_ms(),))
    monkeypatch.setattr(clock.receive, "__defaults__", (lambda: now_ms(),))


@pytest.fixture
def laptop(make_laptop):
    app = make_laptop("a")
    connect(app)
    with app.app_context():
        yield app


def test_a_page_inserts_rows_with_hub_versions_and_stamps_and_saves_its_cursor(laptop):
    structure_id = first_structure(None).id
    family_id, guardian_id = uuid.uuid4(), uuid.uuid4()
    # A child before its parent in one page still applies (the check waits for the commit).
    applied = apply_services.apply_page(db.session, page([
        change(7, "guardians", guardian_id, guardian_fields(family_id), version=2),
        change(8, "families", family_id, family_fields(structure_id, notes="Bus"), version=3)]))
    db.session.commit()
    assert applied == 2
    family = db.session.get(Family, family_id)
    assert (family.notes, family.version, family.hlc) == ("Bus", 3, stamp(NOW_MS, 8))
    assert db.session.get(Guardian, guardian_id).first_name == "Lina"
    state = device_services.sync_state(db.session)
    assert state.pull_cursor == 8 and state.hub_epoch == EPOCH
    assert db.session.scalars(select(SyncPending)).all() == [], "pulled rows are not local edits"


def test_local_dirty_fields_are_kept_and_the_base_version_waits(laptop):
    structure_id = first_structure(None).id
    family_id = uuid.uuid4()
    apply_services.apply_page(db.session, page([change(1, "families", family_id,
                                                       family_fields(structure_id, notes="hub 1"))]))
    db.session.commit()
    family = db.session.get(Family, family_id)
    family.notes = "typed here"
    db.session.commit()
    apply_services.apply_page(db.session, page([change(2, "families", family_id, family_fields(
        structure_id, notes="hub 2", commune="Arras"), version=2)], since=1))
    db.session.commit()
    family = db.session.get(Family, family_id)
    assert (family.notes, family.commune, family.version) == ("typed here", "Arras", 1)
    batch = outbox_services.freeze_batch(db.session)
    db.session.commit()
    sent = json.loads(batch.body)["changes"][0]
    assert sent["fields"] == {"notes": "typed here"} and sent["base_version"] == 1
    # Once nothing is dirty, the row takes the hub's version and values.
    apply_services.apply_page(db.session, page([change(3, "families", family_id, family_fields(
        structure_id, notes="typed here", commune="Arras"), version=3)], since=2))
    db.session.commit()
    assert db.session.get(Family, family_id).version == 3


def test_a_purge_wins_over_local_edits(laptop):
    structure_id = first_structure(None).id
    family_id = uuid.uuid4()
    apply_services.apply_page(db.session, page([change(1, "families", family_id,
                                                       family_fields(structure_id, notes="secret"))]))
    db.session.commit()
    db.session.get(Family, family_id).notes = "more secret"
    db.session.commit()
    wiped = family_fields(structure_id, commune="", notes="", search_key="", is_purged=True,
                          deleted_dt="2026-01-02T03:04:05+00:00")
    apply_services.apply_page(db.session, page([change(2, "families", family_id, wiped, version=5)], since=1))
    db.session.commit()
    family = db.session.get(Family, family_id)
    assert (family.notes, family.commune, family.is_purged, family.version) == ("", "", True, 5)
    assert family.deleted_dt is not None
    assert db.session.get(SyncPending, ("families", family_id)) is None
    assert outbox_services.freeze_batch(db.session) is None


def test_unknown_tables_and_fields_are_kept_aside_and_never_sent_back(laptop):
    structure_id = first_structure(None).id
    family_id, other_id = uuid.uuid4(), uuid.uuid4()
    apply_services.apply_page(db.session, page([
        change(1, "families", family_id, family_fields(structure_id, bus_pass="yes")),
        change(2, "carpools", other_id, {"seats": 3})]))
    db.session.commit()
    assert db.session.get(SyncExtra, ("families", family_id)).fields == {"bus_pass": "yes"}
    assert db.session.get(SyncExtra, ("carpools", other_id)).fields == {"seats": 3}
    db.session.get(Family, family_id).notes = "edited"
    db.session.commit()
    sent = json.loads(outbox_services.freeze_batch(db.session).body)["changes"]
    assert sent == [{"table": "families", "id": str(family_id), "base_version": 1,
                     "fields": {"notes": "edited"}, "hlc": sent[0]["hlc"]}]


def test_a_crash_in_or_after_a_page_loses_nothing_when_pulled_again(laptop, monkeypatch):
    structure_id = first_structure(None).id
    ids = [uuid.uuid4() for _ in range(30)]
    first = page([change(seq, "families", ids[seq - 1], family_fields(structure_id, commune=f"C{seq}"))
                  for seq in range(1, 16)], more=True)
    second = page([change(seq, "families", ids[seq - 1], family_fields(structure_id, commune=f"C{seq}"))
                   for seq in range(16, 31)], since=15)
    apply_services.apply_page(db.session, first)
    db.session.commit()
    # Crash in the middle of the second page: nothing of it stays, the cursor neither.
    real = registry.from_json
    calls = iter(range(10_000))

    def failing(table, field, value):
        if next(calls) == 60:
            raise OSError("disk went away")
        return real(table, field, value)

    monkeypatch.setattr(registry, "from_json", failing)
    with pytest.raises(OSError):
        apply_services.apply_page(db.session, second)
    db.session.rollback()
    monkeypatch.setattr(registry, "from_json", real)
    assert device_services.sync_state(db.session).pull_cursor == 15
    # Crash after the apply but before the commit: same.
    apply_services.apply_page(db.session, second)
    db.session.rollback()
    assert device_services.sync_state(db.session).pull_cursor == 15
    assert db.session.scalar(select(Family).where(Family.id == ids[20])) is None
    # Pulled again (and the first page once more): every row, once.
    apply_services.apply_page(db.session, first)
    apply_services.apply_page(db.session, second)
    db.session.commit()
    found = db.session.scalars(select(Family).where(Family.id.in_(ids))).all()
    assert sorted(family.commune for family in found) == sorted(f"C{seq}" for seq in range(1, 31))
    assert device_services.sync_state(db.session).pull_cursor == 30


@pytest.mark.parametrize("offset_ms", [-3_600_000, 365 * 86_400_000])
def test_an_edit_after_a_pull_sorts_after_what_was_pulled_whatever_the_laptop_clock(laptop, monkeypatch,
                                                                                    offset_ms):
    set_laptop_clock(monkeypatch, lambda: clock.wall_ms() + offset_ms)
    structure_id = first_structure(None).id
    family_id = uuid.uuid4()
    pulled = stamp(clock.wall_ms() + 60_000, 3)  # another laptop a minute ahead
    apply_services.apply_page(db.session, page([change(1, "families", family_id,
                                                       family_fields(structure_id), hlc=pulled)]))
    db.session.commit()
    family = db.session.get(Family, family_id)
    family.notes = "later"
    db.session.commit()
    assert family.hlc > pulled
    pending = db.session.get(SyncPending, ("families", family_id))
    assert pending.fields["notes"] == family.hlc


def test_the_local_clock_never_goes_down_when_the_wall_clock_jumps_back(laptop, monkeypatch):
    wall = [clock.wall_ms() + 365 * 86_400_000]
    set_laptop_clock(monkeypatch, lambda: wall[0])
    family = Family(structure_id=first_structure(None).id)
    db.session.add(family)
    db.session.commit()
    stamps = [family.hlc]
    for jump in (-365 * 86_400_000, -3_600_000, 0):
        wall[0] += jump
        family.notes = f"edit {len(stamps)}"
        db.session.commit()
        stamps.append(family.hlc)
        apply_services.apply_page(db.session, page([change(len(stamps), "families", uuid.uuid4(),
                                                           family_fields(family.structure_id),
                                                           hlc=stamp(wall[0] - 1000))]))
        db.session.commit()
        device = get_device_state(db.session)
        assert device.last_stamp().encode() >= stamps[-1]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
