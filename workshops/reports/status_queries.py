"""Collection status (read only): what has not reached the hub yet. Ateliers that took
place with no attendance recorded, laptops that have not synced for days, open conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure
from workshops.families.models import AnonymousHeadcount, Registration
from workshops.reports.queries import PRESENT, Filters, workshop_conditions
from workshops.scheduling.models import Venue, Workshop
from workshops.sync.models import Device
from workshops.sync.queries import count_open_conflicts

SHOWN = 50


@dataclass(frozen=True)
class Missing:
    """An atelier that took place with nobody recorded present."""

    id: object
    title: str
    start_dt: datetime
    venue: str


@dataclass(frozen=True)
class StaleDevice:
    name: str
    structure: str
    last_seen_dt: datetime | None


def _no_attendance():
    # `status || ''` keeps SQLite off the status index here: with it, SQLite walked every
    # attended registration for each atelier (seconds on the volume data) instead of using
    # the index on workshop_id. PostgreSQL plans it on workshop_id either way.
    present = exists().where(Registration.workshop_id == Workshop.id,
                             Registration.status.concat("") == PRESENT, Registration.deleted_dt.is_(None))
    counted = exists().where(AnonymousHeadcount.workshop_id == Workshop.id, AnonymousHeadcount.count > 0,
                             AnonymousHeadcount.deleted_dt.is_(None))
    return and_(~present, ~counted)


def list_missing_attendance(db: Session, filters: Filters, now: datetime) -> list[Missing]:
    """The ateliers held in the period with no family present and no headcount, the most
    recent first (all of them: the page shows the first SHOWN and counts the rest)."""
    rows = db.execute(select(Workshop.id, Workshop.title, Workshop.start_dt, Venue.name)
                      .join(Venue, Venue.id == Workshop.venue_id)
                      .where(*workshop_conditions(filters, now), _no_attendance())
                      .order_by(Workshop.start_dt.desc()))
    return [Missing(*row) for row in rows]


def list_stale_devices(db: Session, now: datetime, days: int) -> list[StaleDevice]:
    """Enrolled, not revoked laptops whose last sync is older than `days` days (or that never
    synced though enrolled longer ago than that), the never synced first, then the oldest."""
    limit = now - timedelta(days=days)
    rows = db.execute(select(Device.name, Structure.name, Device.last_seen_dt)
                      .join(Structure, Structure.id == Device.structure_id)
                      .where(Device.revoked_dt.is_(None), Device.enrolled_dt.is_not(None),
                             or_(Device.last_seen_dt < limit,
                                 and_(Device.last_seen_dt.is_(None), Device.enrolled_dt < limit)))
                      .order_by(Device.last_seen_dt.is_not(None), Device.last_seen_dt, Device.name))
    return [StaleDevice(*row) for row in rows]


def count_conflicts(db: Session) -> int:
    """Open sync conflicts waiting for a manager."""
    return count_open_conflicts(db)
