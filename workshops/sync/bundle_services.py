"""USB bundles end to end (sync-anchors C8): the laptop exports its frozen batches, the hub
imports them through the same ingest as the online push and answers with a bundle, the
laptop imports the answer like an online answer and pull.

Exported batches stay in the outbox until an answer acknowledges them: importing a bundle
twice, or importing it and then syncing online, applies each batch once (the hub answers a
repeat with the stored answer). Nothing here commits: the command does.
"""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy.orm import Session, scoped_session

from workshops.sync import (
    apply_services,
    device_services,
    ingest_services,
    outbox_services,
    pull_queries,
    registry,
)
from workshops.sync.bundle import AnswerBundle, BundleRefused, open_answer, open_push, seal_answer, seal_push
from workshops.sync.models import Device, OutboxBatch
from workshops.sync.tracking_services import hub_state

# Answer statuses that acknowledge a batch (anything else: the batch stays in the outbox).
ACKED = ("applied", "duplicate")


# ---------- Laptop ----------

def export_bundle(db: Session) -> bytes:
    """Freeze every pending change, then seal every unacknowledged batch (its stored body, byte
    for byte) with the pull cursor. BundleRefused("unknown_device") when not connected."""
    state = device_services.sync_state(db)
    if state.device_id is None or not state.signing_key or not state.hub_box_key:
        raise BundleRefused("unknown_device")
    while outbox_services.freeze_batch(db) is not None:
        pass
    batches = sorted(outbox_services.unacked(db), key=lambda batch: batch.batch_seq)
    return seal_push([(batch.batch_seq, batch.body) for batch in batches], state.device_id, state.hub_id,
                     state.signing_key, state.hub_box_key, cursor=state.pull_cursor,
                     hub_epoch=state.hub_epoch, schema_version=registry.SCHEMA_VERSION)


def import_answer(db: Session, data: bytes) -> dict[str, int]:
    """Apply the hub's answer bundle: acknowledge the answered batches, apply the pull pages.
    Importing it twice changes nothing the second time."""
    state = device_services.sync_state(db)
    if state.device_id is None or not state.signing_key or not state.hub_verify_key:
        raise BundleRefused("unknown_device")
    bundle = open_answer(data, state.signing_key, state.hub_verify_key, device_id=state.device_id,
                         hub_id=state.hub_id)
    counts = {"acked": 0, "refused": 0, "conflicts": 0, "rejected": 0, "received": 0, "pages": 0}
    _record_answers(db, bundle, counts)
    if bundle.hub_epoch is not None and bundle.hub_epoch != state.hub_epoch:
        # The hub was restored: its pages start again from the beginning.
        state.hub_epoch = bundle.hub_epoch
        state.pull_cursor = 0
    for page in bundle.pages:
        if page.get("hub_epoch") not in (None, str(state.hub_epoch)):
            continue
        if int(page.get("next_since") or 0) <= state.pull_cursor:
            continue  # already applied (this bundle imported before, or an online sync since)
        counts["received"] += apply_services.apply_page(db, page)
        counts["pages"] += 1
    db.flush()
    return counts


def _record_answers(db: Session, bundle: AnswerBundle, counts: dict[str, int]) -> None:
    for entry in bundle.answers:
        answer = entry.get("answer") or {}
        batch = db.get(OutboxBatch, int(entry["batch_seq"]))
        if entry.get("http_status") != 200 or answer.get("status") not in ACKED:
            counts["refused"] += 1
            continue
        if batch is None or batch.status == "acked":
            continue
        outbox_services.record_answer(db, batch, answer)
        counts["acked"] += 1
        counts["conflicts"] += int((answer.get("counts") or {}).get("conflicts", 0))
        counts["rejected"] += int((answer.get("counts") or {}).get("rejected", 0))


# ---------- Hub ----------

def _lookup(db: Session):
    def verify_key_of(device_id: uuid.UUID) -> str | None:
        device = db.get(Device, device_id)
        if device is None or not device.verify_key:
            return None
        if device.revoked_dt is not None:
            raise BundleRefused("revoked")
        return device.verify_key
    return verify_key_of


def import_bundle(db: Session, data: bytes, now_ms: int | None = None) -> bytes:
    """Ingest a laptop's push bundle, batch after batch in seq order, through the online push's
    ingest, and return the sealed answer bundle (each batch's answer, then the pull pages
    since the cursor the laptop wrote in its bundle). Stops at the first batch not applied
    (a gap: the laptop sends the missing ones next time). All in the caller's transaction."""
    if isinstance(db, scoped_session):
        db = db()  # the session itself (ingest asks whether a transaction is open)
    state = hub_state(db)
    bundle = open_push(data, state.box_key, _lookup(db), hub_id=state.hub_id)
    device = db.get(Device, bundle.device_id)
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    answers = []
    for seq, body in bundle.batches:
        try:
            payload = json.loads(body)
        except ValueError:
            raise BundleRefused("unreadable") from None
        status, answer = ingest_services.ingest(db, device, payload, now_ms=now_ms)
        answers.append({"batch_seq": seq, "http_status": status, "answer": answer})
        if status != 200:
            break
    db.flush()
    device_services.record_contact(db, device, app_version=device.app_version,
                                   schema_version=bundle.schema_version or device.schema_version,
                                   device_time_ms=None, hub_time_ms=now_ms, cursor=bundle.cursor)
    since = bundle.cursor if bundle.hub_epoch == state.epoch else 0
    pages = []
    while True:
        page = pull_queries.page(db, device, since)
        pages.append(page)
        if not page.get("more") or page["next_since"] == since:
            break
        since = page["next_since"]
    return seal_answer(answers, pages, device.id, state.hub_id, state.signing_key, device.verify_key,
                       hub_epoch=state.epoch, schema_version=bundle.schema_version)
