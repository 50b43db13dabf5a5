"""What a laptop pulls from the hub (sync-anchors C7): change_log pages after its cursor.

A page holds the entries of the laptop's partition (reference data, whose `structure_id` is
NULL, and its own structure's rows) with seq > since, in seq order, at most `limit` entries
and about `max_bytes` of JSON (always at least one entry). The counter row of HubState stays
locked by a writing transaction until it commits, so a seq visible here means every lower seq
is committed too: paging by `since` never skips an entry. Read only.

Accounts of no structure (the hub's managers and administrators) reach every laptop, so rows
pointing at them stay valid there, but without their password hash: they cannot log in on a
laptop, and no laptop holds their hash to attack. Accounts of the laptop's structure keep it.
"""

from __future__ import annotations

import json

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workshops.sync.models import ChangeLog, Device, HubState

MAX_LIMIT = 500


def page(db: Session, device: Device, since: int, limit: int = MAX_LIMIT, max_bytes: int = 1 << 20) -> dict:
    """One pull page for a device; see the module's docstring and the wire format."""
    limit = max(1, min(limit, MAX_LIMIT))
    state = db.get(HubState, 1)
    found = db.execute(
        select(ChangeLog.seq, ChangeLog.table_name, ChangeLog.record_id, ChangeLog.version, ChangeLog.hlc,
               ChangeLog.payload, ChangeLog.structure_id)
        .where(ChangeLog.seq > since,
               or_(ChangeLog.structure_id.is_(None), ChangeLog.structure_id == device.structure_id))
        .order_by(ChangeLog.seq).limit(limit + 1)).all()
    changes, size, more = [], 0, len(found) > limit
    for seq, table_name, record_id, version, hlc, payload, structure_id in found[:limit]:
        if table_name == "users" and structure_id is None and "password_hash" in payload:
            payload = {**payload, "password_hash": ""}  # accounts of no structure: no hash leaves the hub
        entry = {"seq": seq, "table": table_name, "id": str(record_id), "version": version, "hlc": hlc,
                 "fields": payload}
        size += len(json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if changes and size > max_bytes:
            more = True
            break
        changes.append(entry)
    return {"hub_id": str(state.hub_id) if state else None, "hub_epoch": str(state.epoch) if state else None,
            "last_seq": max(state.last_seq if state else 0, changes[-1]["seq"] if changes else 0),
            "next_since": changes[-1]["seq"] if changes else since, "more": more, "changes": changes}
