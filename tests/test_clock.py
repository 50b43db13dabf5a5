"""Hybrid logical clock: stamps never go backwards and order across devices."""

from __future__ import annotations

from workshops.core.clock import Stamp, receive, tick


def fixed(ms):
    return lambda: ms


def test_tick_follows_the_wall_clock_when_it_moves_forward():
    assert tick(Stamp(1000, 3, "a"), "a", fixed(2000)) == Stamp(2000, 0, "a")


def test_tick_never_goes_back_when_the_wall_clock_does():
    last = Stamp(5000, 2, "a")
    after = tick(last, "a", fixed(1000))
    assert after > last and after.physical == 5000 and after.counter == 3


def test_receiving_a_future_stamp_makes_later_local_stamps_win():
    remote = Stamp(9000, 4, "b")
    merged = receive(Stamp(1000, 0, "a"), remote, "a", fixed(1000))
    assert merged > remote
    assert tick(merged, "a", fixed(1000)) > remote


def test_text_form_sorts_like_the_stamps():
    stamps = [Stamp(999, 10, "a"), Stamp(1000, 0, "a"), Stamp(1000, 1, "a"), Stamp(1000, 1, "b")]
    encoded = [s.encode() for s in stamps]
    assert sorted(encoded) == encoded
    assert [Stamp.decode(text) for text in encoded] == stamps
