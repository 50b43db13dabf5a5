"""The hub's merge rules, one change against one hub row (pure functions, no database)."""

from __future__ import annotations

import uuid

from workshops.core import clock
from workshops.sync import merge_rules
from workshops.sync.merge_rules import CLOCK_SKEW_MS, HubRow, clamp, decide, parse

A, B, HUB = "a" * 32, "b" * 32, "c" * 32
NOW = 1_800_000_000_000


def stamp(device: str, ms: int, counter: int = 0) -> str:
    return clock.Stamp(ms, counter, device).encode()


def family(**values) -> dict:
    return {"structure_id": uuid.uuid4(), "commune": "Poitiers", "notes": "start", "origin": "other",
            "deleted_dt": None, "is_purged": False, "search_key": "dupont", **values}


def hub_at(version: int, meta: dict, **values) -> HubRow:
    return HubRow(family(**values), version, meta)


def test_a_field_the_hub_did_not_change_since_the_base_is_applied():
    hub = hub_at(3, {"notes": [1, stamp(HUB, NOW)], "commune": [3, stamp(HUB, NOW + 5)]})
    decision = decide("families", hub, 1, {"notes": "new"}, {"notes": stamp(A, NOW - 99)}, A)
    assert decision.outcome == "merged" and decision.writes == {"notes": ("new", stamp(A, NOW - 99))}
    assert decision.conflicts == []
    fast_forward = decide("families", hub, 3, {"notes": "new"}, {"notes": stamp(A, NOW)}, A)
    assert fast_forward.outcome == "applied"


def test_the_same_value_on_both_sides_is_nothing_to_do():
    hub = hub_at(3, {"notes": [3, stamp(B, NOW)]}, notes="same")
    decision = decide("families", hub, 1, {"notes": "same"}, {"notes": stamp(A, NOW + 1)}, A)
    assert (decision.outcome, decision.writes, decision.conflicts) == ("unchanged", {}, [])


def test_the_devices_own_later_edit_wins_without_conflict():
    hub = hub_at(2, {"notes": [2, stamp(A, NOW)]}, notes="mine, pushed before")
    later = decide("families", hub, 1, {"notes": "mine, later"}, {"notes": stamp(A, NOW + 1)}, A)
    assert later.outcome == "merged" and later.conflicts == []
    older = decide("families", hub, 1, {"notes": "mine, older"}, {"notes": stamp(A, NOW - 1)}, A)
    assert older.outcome == "unchanged" and older.conflicts == []


def test_a_hard_conflict_keeps_the_later_stamp_in_the_row_whatever_the_order():
    base = family()
    # B's edit reached the hub first; A's later edit arrives.
    after_b = HubRow({**base, "notes": "B"}, 2, {"notes": [2, stamp(B, NOW)]})
    a_arrives = decide("families", after_b, 1, {"notes": "A"}, {"notes": stamp(A, NOW + 10)}, A)
    # A's edit reached the hub first; B's earlier edit arrives.
    after_a = HubRow({**base, "notes": "A"}, 2, {"notes": [2, stamp(A, NOW + 10)]})
    b_arrives = decide("families", after_a, 1, {"notes": "B"}, {"notes": stamp(B, NOW)}, B)
    assert a_arrives.writes == {"notes": ("A", stamp(A, NOW + 10))} and b_arrives.writes == {}
    for decision in (a_arrives, b_arrives):
        [note] = decision.conflicts
        assert decision.outcome == "conflict"
        assert (note.kept_value, note.other_value) == ("A", "B")
        assert (note.kept_hlc, note.other_hlc) == (stamp(A, NOW + 10), stamp(B, NOW))


def test_equal_physical_times_are_ordered_by_counter_then_device():
    hub = hub_at(2, {"notes": [2, stamp(A, NOW, 1)]}, notes="A")
    decision = decide("families", hub, 1, {"notes": "B"}, {"notes": stamp(B, NOW, 1)}, B)
    assert decision.writes == {"notes": ("B", stamp(B, NOW, 1))}
    decision = decide("families", hub, 1, {"notes": "B"}, {"notes": stamp(B, NOW, 0)}, B)
    assert decision.writes == {}


def test_a_stale_edit_does_not_resurrect_a_deleted_row():
    deleted = "2027-01-01"
    hub = hub_at(4, {"deleted_dt": [4, stamp(B, NOW)], "notes": [1, stamp(A, NOW - 9)]}, deleted_dt=deleted)
    decision = decide("families", hub, 2, {"notes": "edit", "deleted_dt": None},
                      {"notes": stamp(A, NOW + 9), "deleted_dt": stamp(A, NOW + 9)}, A)
    assert decision.outcome == "conflict" and decision.writes == {}
    assert {(n.field, n.kept_value, n.other_value) for n in decision.conflicts} == {
        ("notes", "start", "edit"), ("deleted_dt", deleted, None)}
    # A laptop that saw the deletion may undelete (an explicit new version).
    undelete = decide("families", hub, 4, {"deleted_dt": None}, {"deleted_dt": stamp(A, NOW + 9)}, A)
    assert undelete.writes == {"deleted_dt": (None, stamp(A, NOW + 9))}


def test_a_purged_row_drops_values_and_an_incoming_purge_wipes_personal_fields():
    purged = hub_at(5, {}, is_purged=True, notes="", commune="")
    assert decide("families", purged, 1, {"notes": "x"}, {"notes": stamp(A, NOW)}, A).outcome == "purged"
    hub = hub_at(3, {"notes": [3, stamp(B, NOW + 50)]}, notes="private")
    decision = decide("families", hub, 1, {"is_purged": True}, {"is_purged": stamp(A, NOW)}, A)
    assert decision.outcome == "merged" and decision.conflicts == []
    assert {name: value for name, (value, _) in decision.writes.items()} == {
        "is_purged": True, "notes": "", "commune": ""}


def test_a_new_row_takes_every_field_sent():
    decision = decide("families", HubRow(None), 0, {"notes": "n"}, {"notes": stamp(A, NOW)}, A)
    assert (decision.outcome, decision.writes) == ("applied", {"notes": ("n", stamp(A, NOW))})


def test_stamps_from_the_future_are_clamped_to_the_hubs_clock():
    ahead = stamp(A, NOW + CLOCK_SKEW_MS + 1, 7)
    assert clamp(ahead, NOW) == (stamp(A, NOW), -(CLOCK_SKEW_MS + 1))
    assert clamp(stamp(A, NOW + CLOCK_SKEW_MS), NOW) == (stamp(A, NOW + CLOCK_SKEW_MS), None)


def test_parse_gives_a_stable_reason_for_what_it_refuses():
    good = {"table": "families", "id": str(uuid.uuid4()), "base_version": 0,
            "fields": {"notes": "x", "notice_date": "2027-01-02"},
            "hlc": {"notes": stamp(A, NOW), "notice_date": stamp(A, NOW)}}
    change, skew = parse(0, good, NOW)
    assert change.reason is None and skew is None and str(change.values["notice_date"]) == "2027-01-02"
    cases = {
        "unknown_table": {**good, "table": "nope"},
        "unknown_field": {**good, "fields": {"version": 3}, "hlc": {"version": stamp(A, NOW)}},
        "bad_value": {**good, "hlc": {"notes": "not a stamp"}},
    }
    for reason, raw in cases.items():
        assert parse(0, raw, NOW)[0].reason == reason, reason
    wrong = (("notes", None), ("notes", 5), ("has_photo_consent", 1), ("commune", "x" * 121),
             ("notice_date", "soon"), ("structure_id", "nope"), ("deleted_dt", "2027-01-01T10:00"))
    for field, value in wrong:
        raw = {**good, "fields": {field: value}, "hlc": {field: stamp(A, NOW)}}
        assert parse(0, raw, NOW)[0].reason == "bad_value", (field, value)


def test_the_creator_of_a_row_is_the_writer_of_its_first_version():
    hub = hub_at(3, {"notes": [3, stamp(B, NOW)], "commune": [1, stamp(A, NOW - 5)]})
    assert merge_rules.creator_of(hub) == A
