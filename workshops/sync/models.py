"""Tables of the sync between laptops and the hub (shared/sync.md; shared/research/sync-anchors.md C3-C11).

Both roles have every table (one set of migrations); each role uses its own half.

Laptop:
- `SyncPending`: which fields of which synced row changed here since they were last frozen
  into a batch, with the HLC stamp of each change and the hub version the row was based on.
  Written by a flush listener in the same transaction as the change (tracking_services.py).
- `OutboxBatch`: numbered, frozen push batches. Their bytes never change once made; the body is
  emptied when the hub acknowledges the batch (nothing personal is kept longer than needed).
- `RejectedChange`: a change the hub refused for good (a name already used there, say), kept in
  view until someone deals with it: never dropped silently.
- `SyncState`: the one row saying which hub this laptop talks to, its token, the pull cursor,
  the hub epoch, the keys of USB bundles and the last result.
- `SyncExtra`: fields the hub sent that this laptop's schema does not know yet (kept, never sent
  back).

Hub:
- `Device`: an enrolled laptop (token kept as a SHA-256 hash only), its structure, its last
  applied batch and what it said last time it called.
- `PairingCode`: one-time, short-lived enrolment codes (hashed).
- `AppliedBatch`: every batch applied, by (device, batch_seq), with its answer: a batch sent
  again, weeks later, gets the same answer and changes nothing. Kept forever.
- `ChangeLog`: every change the hub accepted, in commit order (`seq`), as a full snapshot of
  the row's synced fields; laptops pull it page by page. `structure_id` is the partition.
- `FieldMeta`: per synced row, for each field, the hub version that last changed it and the
  HLC stamp of that change (the base of field-level merges).
- `Conflict`: two different values given to one field from the same base; both kept until a
  manager confirms the winner or keeps the other value.
- `HubState`: the one row with the hub's id, its epoch (new after a restore), the seq counter
  (locked by each writing transaction, so seq order is commit order) and its bundle keys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from workshops.core.models import Base, UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "acked")
CONFLICT_STATUSES = ("open", "resolved")


# ---------- Laptop ----------

class SyncPending(Base):
    """Fields of one synced row changed here and not yet frozen into a batch.

    `fields` maps each changed field to the HLC stamp of its last local change; `base_version`
    is the hub version the row had when it was first changed (0 for a row made here).
    """

    __tablename__ = "sync_pending"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    base_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    first_hlc: Mapped[str] = mapped_column(String(64), default="", nullable=False)


class OutboxBatch(Base):
    """A frozen push batch. `body` is the exact JSON text sent (None once acknowledged)."""

    __tablename__ = "sync_outbox"

    batch_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    acked_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The hub's answer, counts only: {"applied": n, "merged": n, "conflicts": n, "rejected": n}.
    result: Mapped[dict | None] = mapped_column(JSON)


class RejectedChange(Base):
    """A change of this laptop that the hub refused for good, with the hub's reason."""

    __tablename__ = "sync_rejected"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    batch_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    fields: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    dismissed_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncState(Base):
    """The laptop's link to its hub (one row, id 1). Empty until "connect to the hub"."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_url: Mapped[str | None] = mapped_column(String(500))
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    device_name: Mapped[str | None] = mapped_column(String(200))
    token: Mapped[str | None] = mapped_column(String(200))
    structure_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    hub_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    hub_epoch: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    pull_cursor: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    # USB bundles: the hub's public keys (hex), and this laptop's signing key (hex, private).
    hub_box_key: Mapped[str | None] = mapped_column(String(128))
    hub_verify_key: Mapped[str | None] = mapped_column(String(128))
    signing_key: Mapped[str | None] = mapped_column(String(128))
    last_attempt_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A stable reason code of the last failure ("network", "revoked", "hub_too_old"...).
    last_error: Mapped[str | None] = mapped_column(String(64))
    # Counts of the last run: {"sent": n, "received": n, "conflicts": n, "rejected": n}.
    last_result: Mapped[dict | None] = mapped_column(JSON)
    # Hub clock minus laptop clock at the last contact, in milliseconds.
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)


class SyncExtra(Base):
    """Fields received from the hub that this version of the app does not know yet."""

    __tablename__ = "sync_extra"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)


# ---------- Hub ----------

class Device(Base):
    """A laptop enrolled with this hub."""

    __tablename__ = "sync_devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    structure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("structures.id"), nullable=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # SHA-256 (hex) of the device token; the token itself is never stored on the hub.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The laptop's Ed25519 public key (hex), given at enrolment: it signs USB bundles.
    verify_key: Mapped[str | None] = mapped_column(String(128))
    enrolled_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_batch_seq: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    last_seen_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    app_version: Mapped[str | None] = mapped_column(String(40))
    schema_version: Mapped[int | None] = mapped_column(Integer)
    # Hub clock minus the laptop's at its last contact (ms); large values are warned about.
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    # The pull cursor the laptop reported at its last contact.
    reported_cursor: Mapped[int | None] = mapped_column(BigInteger)


class PairingCode(Base):
    """A one-time enrolment code for a device (SHA-256 hash of the code), short-lived."""

    __tablename__ = "sync_pairing_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sync_devices.id"), nullable=False)
    expires_dt: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppliedBatch(Base):
    """A batch the hub applied, and the answer it gave (returned again for a repeat)."""

    __tablename__ = "sync_applied_batches"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sync_devices.id"), primary_key=True)
    batch_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    answer: Mapped[dict] = mapped_column(JSON, nullable=False)
    applied_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ChangeLog(Base):
    """One accepted change, as the full snapshot of the row's synced fields at `version`."""

    __tablename__ = "sync_change_log"
    __table_args__ = (Index("ix_sync_change_log_structure_seq", "structure_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    hlc: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    # The structure whose laptops receive it; None for reference data every laptop receives.
    structure_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    committed_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class FieldMeta(Base):
    """For one synced row on the hub: {field: [version that last changed it, HLC stamp]}."""

    __tablename__ = "sync_field_meta"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    meta: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)


class Conflict(Base):
    """One field given two different values from the same base. `kept_value` is the value the
    record holds (the later HLC stamp won); `other_value` the one set aside. A manager
    confirms or swaps them; a purge empties both."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_status", "status"),
                      UniqueConstraint("table_name", "record_id", "field", "other_hlc",
                                       name="uq_sync_conflicts_change"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    kept_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    other_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    kept_hlc: Mapped[str] = mapped_column(String(64), nullable=False)
    other_hlc: Mapped[str] = mapped_column(String(64), nullable=False)
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolved_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The manager's choice: "kept" (the record's value stays) or "other" (the value set aside).
    resolution: Mapped[str | None] = mapped_column(String(16))


class HubState(Base):
    """The hub's identity (one row, id 1): id, epoch, the change_log counter, bundle keys."""

    __tablename__ = "sync_hub_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4, nullable=False)
    epoch: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4, nullable=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    # Private keys of USB bundles (hex): X25519 to open bundles, Ed25519 to sign answers.
    box_key: Mapped[str] = mapped_column(String(128), nullable=False)
    signing_key: Mapped[str] = mapped_column(String(128), nullable=False)
