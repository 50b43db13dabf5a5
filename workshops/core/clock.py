"""Hybrid logical clock: stamps that order changes across devices without trusting wall clocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def wall_ms() -> int:
    """Current wall-clock time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, order=True)
class Stamp:
    """One HLC reading: physical milliseconds, then a counter, then the device."""

    physical: int
    counter: int
    device: str

    def encode(self) -> str:
        """Sortable text form `physical-counter-device` (fixed-width numbers)."""
        return f"{self.physical:015d}-{self.counter:05d}-{self.device}"

    @classmethod
    def decode(cls, text: str) -> Stamp:
        """Parse the text form; raises ValueError when it is malformed."""
        physical, counter, device = text.split("-", 2)
        return cls(int(physical), int(counter), device)


def tick(last: Stamp, device: str, now: Callable[[], int] = wall_ms) -> Stamp:
    """Next stamp for a local change: never lower than the last one."""
    wall = now()
    if wall > last.physical:
        return Stamp(wall, 0, device)
    return Stamp(last.physical, last.counter + 1, device)


def receive(last: Stamp, remote: Stamp, device: str, now: Callable[[], int] = wall_ms) -> Stamp:
    """Merge a stamp seen from elsewhere so later local stamps sort after it."""
    wall = now()
    physical = max(wall, last.physical, remote.physical)
    if physical == last.physical == remote.physical:
        counter = max(last.counter, remote.counter) + 1
    elif physical == last.physical:
        counter = last.counter + 1
    elif physical == remote.physical:
        counter = remote.counter + 1
    else:
        counter = 0
    return Stamp(physical, counter, device)
