"""Declarative base, column types and the mixins every table builds on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from workshops.core import clock

# Stable constraint names, so Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Aware UTC now; used as a column default callable, never at import."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC, always hands back aware UTC datetimes (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """When a row was created and last changed on this device (UTC)."""

    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncMixin:
    """Columns of a table that travels between laptop and hub (shared/sync.md C3).

    `id` is made on the device; `version` is the hub version this row is based
    on (0 until the hub accepts it); `hlc` is the hybrid logical clock stamp of
    the last change, set at flush; `deleted_dt` is the tombstone; `is_purged`
    marks a row whose personal data was erased.
    """

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    hlc: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    deleted_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_purged: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class DeviceState(Base):
    """This installation's identity and hybrid logical clock (one row, never synced)."""

    __tablename__ = "device_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4, nullable=False)
    hlc_physical: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    hlc_counter: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    def last_stamp(self) -> clock.Stamp:
        return clock.Stamp(self.hlc_physical, self.hlc_counter, self.device_id.hex)


class BulkWriteRefused(RuntimeError):
    """A bulk UPDATE or DELETE on a synced table would bypass change tracking."""


def get_device_state(session: Session) -> DeviceState:
    """The single DeviceState row (id 1), created on first use (flushes nothing itself).

    Read through the identity map: once loaded in a transaction, later flushes
    of that transaction stamp without another query.
    """
    with session.no_autoflush:
        state = session.get(DeviceState, 1)
    if state is None:
        state = DeviceState(id=1, device_id=uuid.uuid4(), hlc_physical=0, hlc_counter=0)
        session.add(state)
    return state


@event.listens_for(Session, "before_flush")
def _stamp_synced_changes(session: Session, flush_context, instances) -> None:
    """Give every new or changed synced row the next HLC stamp of this device; rows written by
    the sync itself (session.info["sync_applying"]) keep the stamps they arrived with."""
    if session.info.get("sync_applying"):
        return
    changed = [obj for obj in session.new if isinstance(obj, SyncMixin)]
    changed += [
        obj for obj in session.dirty
        if isinstance(obj, SyncMixin) and session.is_modified(obj, include_collections=False)
    ]
    if not changed:
        return
    state = get_device_state(session)
    stamp = clock.tick(state.last_stamp(), state.device_id.hex)
    state.hlc_physical, state.hlc_counter = stamp.physical, stamp.counter
    encoded = stamp.encode()
    for obj in changed:
        obj.hlc = encoded


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes_on_synced(orm_execute_state) -> None:
    """Bulk UPDATE/DELETE skip the flush events that track changes: refuse them."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    mapper = orm_execute_state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, SyncMixin):
        raise BulkWriteRefused(
            f"bulk write on synced table {mapper.local_table.name}: load and change the rows"
        )


# Namespace of ids derived from natural keys: the same record made on two
# devices (or seeded apart) gets the same id and merges instead of duplicating.
DERIVED_ID_NAMESPACE = uuid.UUID("5b0e4a2c-2f4e-4c55-9a43-0d6f3f1f8a10")


def derived_id(kind: str, *keys: object) -> uuid.UUID:
    """A deterministic UUID for `kind` and its natural key, e.g.
    derived_id("registration", workshop_id, family_id)."""
    return uuid.uuid5(DERIVED_ID_NAMESPACE, ":".join([kind, *map(str, keys)]))
