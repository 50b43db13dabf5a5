"""What the sync pages show (read only): the laptop's state, the hub's devices and its open
conflicts. Nothing here writes, so the pages can be opened by GET."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure
from workshops.families.models import Guardian
from workshops.sync import registry
from workshops.sync.models import (
    ChangeLog,
    Conflict,
    Device,
    OutboxBatch,
    RejectedChange,
    SyncPending,
    SyncState,
)

# A clock further than this from the hub's is warned about (HLC stamps are clamped anyway).
SKEW_WARNING_MS = 5 * 60 * 1000
REJECTED_SHOWN = 50
CONFLICTS_SHOWN = 200


def is_skewed(offset_ms: int | None) -> bool:
    """True when a clock offset is large enough to warn about."""
    return offset_ms is not None and abs(offset_ms) > SKEW_WARNING_MS


# ---------- Laptop ----------

@dataclass(frozen=True)
class LaptopStatus:
    state: SyncState | None
    pending_records: int
    unacked_batches: int
    unacked_changes: int
    rejected: list[RejectedChange]

    @property
    def is_connected(self) -> bool:
        return self.state is not None and bool(self.state.token)

    @property
    def pending_changes(self) -> int:
        """Changes not yet accepted by the hub: not yet packed, and packed but not acknowledged."""
        return self.pending_records + self.unacked_changes

    @property
    def is_skewed(self) -> bool:
        return self.state is not None and is_skewed(self.state.clock_offset_ms)


def get_laptop_status(db: Session) -> LaptopStatus:
    """The laptop's link to its hub and what waits to be sent (never makes the state row)."""
    unacked = db.execute(select(func.count(), func.coalesce(func.sum(OutboxBatch.changes), 0))
                         .where(OutboxBatch.status != "acked")).one()
    rejected = db.scalars(select(RejectedChange).where(RejectedChange.dismissed_dt.is_(None))
                          .order_by(RejectedChange.created_dt.desc()).limit(REJECTED_SHOWN))
    return LaptopStatus(state=db.get(SyncState, 1),
                        pending_records=db.scalar(select(func.count()).select_from(SyncPending)) or 0,
                        unacked_batches=unacked[0] or 0, unacked_changes=int(unacked[1] or 0),
                        rejected=list(rejected))


# ---------- Hub: devices ----------

@dataclass(frozen=True)
class DeviceRow:
    device: Device
    structure_name: str
    waiting: int  # change log entries of its partition after the cursor it last reported

    @property
    def is_skewed(self) -> bool:
        return is_skewed(self.device.clock_offset_ms)


def waiting_for(db: Session, device: Device) -> int:
    """How many hub changes the laptop has not pulled yet, as far as the hub knows."""
    return db.scalar(select(func.count()).select_from(ChangeLog).where(
        ChangeLog.seq > (device.reported_cursor or 0),
        or_(ChangeLog.structure_id.is_(None), ChangeLog.structure_id == device.structure_id))) or 0


def list_devices(db: Session) -> list[DeviceRow]:
    """Every device, the ones in use first, then the revoked ones; by name."""
    rows = db.execute(select(Device, Structure.name).join(Structure, Structure.id == Device.structure_id)
                      .order_by(Device.revoked_dt.is_not(None), Device.name))
    return [DeviceRow(device, name, waiting_for(db, device)) for device, name in rows]


def get_device(db: Session, device_id: uuid.UUID) -> Device | None:
    return db.get(Device, device_id)


# ---------- Hub: conflicts ----------

@dataclass(frozen=True)
class ConflictRow:
    conflict: Conflict
    device_name: str | None
    is_personal: bool
    # The household to open (families and guardians): its page and "merge two households".
    family_id: uuid.UUID | None
    structure_id: uuid.UUID | None
    current_value: Any


def _family_of(db: Session, table_name: str, record_id: uuid.UUID) -> uuid.UUID | None:
    if table_name == "families":
        return record_id
    if table_name == "guardians":
        return db.scalar(select(Guardian.family_id).where(Guardian.id == record_id))
    return None


def _conflict_row(db: Session, conflict: Conflict, device_names: dict[uuid.UUID, str]) -> ConflictRow:
    model = registry.MODELS.get(conflict.table_name)
    row = db.get(model, conflict.record_id) if model is not None else None
    fields = registry.snapshot(row) if row is not None else {}
    return ConflictRow(
        conflict=conflict, device_name=device_names.get(conflict.device_id),
        is_personal=model is not None and conflict.field in registry.personal_fields(conflict.table_name),
        family_id=_family_of(db, conflict.table_name, conflict.record_id),
        structure_id=registry.partition_of(db, conflict.table_name, fields) if row is not None else None,
        current_value=fields.get(conflict.field))


def list_open_conflicts(db: Session) -> list[ConflictRow]:
    """Open conflicts, oldest first, with what is needed to show them."""
    conflicts = list(db.scalars(select(Conflict).where(Conflict.status == "open")
                                .order_by(Conflict.created_dt, Conflict.id).limit(CONFLICTS_SHOWN)))
    device_names = dict(db.execute(select(Device.id, Device.name)).all())
    return [_conflict_row(db, conflict, device_names) for conflict in conflicts]


def count_open_conflicts(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Conflict).where(Conflict.status == "open")) or 0


def get_conflict(db: Session, conflict_id: uuid.UUID) -> Conflict | None:
    return db.get(Conflict, conflict_id)
