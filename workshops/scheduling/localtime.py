"""Local time of the ateliers: Paris wall-clock dates and times to aware UTC, and back.

Ateliers happen in the Vienne: the form speaks Europe/Paris, the database UTC.
Pages format with Flask-Babel (its timezone is Europe/Paris too); these helpers
serve the rules and the queries, which must not depend on a request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Europe/Paris")


def to_utc(day: date, at: time) -> datetime | None:
    """The aware UTC instant of a Paris wall-clock time, or None when that time
    does not exist that day (skipped when the clocks go forward).

    A time that happens twice (when the clocks go back) is taken the first time.
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=LOCAL_ZONE)
    moment = local.astimezone(UTC)
    if moment.astimezone(LOCAL_ZONE).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return moment


def to_local(moment: datetime) -> datetime:
    """An aware datetime as Paris wall-clock time (still aware)."""
    return moment.astimezone(LOCAL_ZONE)


def local_today(now: datetime) -> date:
    """The Paris date of an aware instant."""
    return to_local(now).date()


def day_start(day: date) -> datetime:
    """The UTC instant of midnight in Paris at the start of `day`."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)


def days_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds [start, end) covering the Paris days from `first` to `last` included."""
    return day_start(first), day_start(last + timedelta(days=1))


def monday_of(day: date) -> date:
    """The Monday of the week holding `day`."""
    return day - timedelta(days=day.weekday())


def parse_day(value: str | None) -> date | None:
    """A date from an ISO text (2026-03-29, as in a URL), or None when empty or malformed."""
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None
