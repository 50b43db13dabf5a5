"""A laptop's sync run against a real hub app (sync-anchors (d) 13, 18, 20, 21, 25; network failures)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from tests.sync.conftest import first_structure
from tests.sync.test_apply import set_laptop_clock
from tests.sync.test_outbox import forget_seeded_reference
from workshops.core import clock
from workshops.extensions import db
from workshops.families.models import Family, Guardian
from workshops.sync import client, device_services, outbox_services, registry
from workshops.sync.models import AppliedBatch, Device, OutboxBatch, RejectedChange, SyncPending
from workshops.sync.transport import AppTransport, HttpTransport


@pytest.fixture
def laptop(make_laptop, pair, hub):
    app = make_laptop("a")
    answer = pair(app, "Laptop A")
    with app.app_context():
        forget_seeded_reference()
    app.config["TEST_TOKEN"] = answer["token"]
    app.config["TEST_DEVICE_ID"] = uuid.UUID(answer["device_id"])
    return app


def transport_of(hub, laptop) -> AppTransport:
    return AppTransport(hub, laptop.config["TEST_TOKEN"])


def sync(laptop, transport, progress=None) -> client.SyncResult:
    with laptop.app_context():
        return client.run(db.session, transport, progress)


def families(app) -> dict[uuid.UUID, tuple]:
    """Every family of the laptop's structure: its synced fields and hub version."""
    with app.app_context():
        structure_id = first_structure(app).id
        rows = db.session.scalars(select(Family).where(Family.structure_id == structure_id))
        return {row.id: (registry.snapshot(row), row.version) for row in rows}


def on_laptop(laptop, **fields) -> uuid.UUID:
    with laptop.app_context():
        family = Family(structure_id=first_structure(laptop).id, **fields)
        db.session.add(family)
        db.session.commit()
        return family.id


def on_hub(hub, count=1, **fields) -> list[uuid.UUID]:
    with hub.app_context():
        made = [Family(structure_id=first_structure(hub).id, **fields) for _ in range(count)]
        db.session.add_all(made)
        db.session.commit()
        return [family.id for family in made]


def edit(app, family_id, **fields) -> None:
    with app.app_context():
        family = db.session.get(Family, family_id)
        for name, value in fields.items():
            setattr(family, name, value)
        db.session.commit()


class Recording:
    """A transport that records calls and can act before one (an edit, a lost answer)."""

    def __init__(self, inner, before=None, lose_answer_of=None):
        self.inner, self.before, self.lose_answer_of = inner, before, lose_answer_of
        self.calls: list[str] = []
        self.pulls: list[int] = []

    def post(self, path, payload):
        self.calls.append(path)
        if self.before:
            self.before(path)
        answer = self.inner.post(path, payload)
        if self.lose_answer_of == path:
            raise client.TransportError("answer lost")
        return answer

    def get(self, path, params):
        self.calls.append(path)
        self.pulls.append(params["since"])
        if self.before:
            self.before(path)
        return self.inner.get(path, params)


def test_a_sync_sends_local_changes_and_receives_the_hubs(hub, laptop):
    mine = on_laptop(laptop, commune="Lens", notes="from the laptop")
    theirs = on_hub(hub, commune="Arras")[0]
    steps = []
    result = sync(laptop, transport_of(hub, laptop), lambda step, done, total: steps.append(step))
    assert result.ok and result.error is None and result.sent == 1 and result.received >= 2
    assert {"push", "pull"} <= set(steps)
    with hub.app_context():
        assert db.session.get(Family, mine).notes == "from the laptop"
    assert families(laptop) == families(hub) and theirs in families(laptop)
    with laptop.app_context():
        state = device_services.sync_state(db.session)
        assert state.last_success_dt is not None and state.last_error is None
        assert state.last_result["sent"] == 1 and state.clock_offset_ms is not None
        assert outbox_services.unacked(db.session) == []
        assert db.session.scalars(select(SyncPending)).all() == []
    assert families(laptop)[mine][1] >= 1, "the laptop learns the hub's version of its own row"


def test_an_unreachable_hub_is_a_network_failure_and_never_a_success(hub, laptop):
    on_laptop(laptop)
    assert sync(laptop, transport_of(hub, laptop)).ok
    with laptop.app_context():
        before = device_services.sync_state(db.session).last_success_dt
    on_laptop(laptop, notes="waiting")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = sync(laptop, HttpTransport(f"http://127.0.0.1:{port}", laptop.config["TEST_TOKEN"], timeout=5))
    assert not result.ok and result.error == "network"
    with laptop.app_context():
        state = device_services.sync_state(db.session)
        assert state.last_success_dt == before and state.last_error == "network"
        assert state.last_failure_dt is not None and state.last_failure_dt >= state.last_attempt_dt
        assert outbox_services.pending_count(db.session) + len(outbox_services.unacked(db.session)) >= 1


def test_a_revoked_laptop_stops_with_that_reason(hub, laptop):
    with hub.app_context():
        device_services.revoke(db.session, db.session.get(Device, laptop.config["TEST_DEVICE_ID"]))
        db.session.commit()
    on_laptop(laptop)
    result = sync(laptop, transport_of(hub, laptop))
    assert not result.ok and result.error == "revoked"
    with laptop.app_context():
        state = device_services.sync_state(db.session)
        assert state.last_error == "revoked" and state.last_success_dt is None


def test_edits_made_during_a_sync_are_neither_overwritten_nor_lost(hub, laptop):
    family_id = on_laptop(laptop, notes="before")
    assert sync(laptop, transport_of(hub, laptop)).ok
    edit(hub, family_id, commune="Béthune")
    edited = []

    def edit_between_push_and_pull(path):
        if path == "/api/sync/pull" and not edited:
            edit(laptop, family_id, notes="typed during the sync")
            edited.append(path)

    result = sync(laptop, Recording(transport_of(hub, laptop), before=edit_between_push_and_pull))
    assert result.ok and edited
    with laptop.app_context():
        family = db.session.get(Family, family_id)
        assert (family.notes, family.commune) == ("typed during the sync", "Béthune")
    with hub.app_context():
        assert db.session.get(Family, family_id).notes == "typed during the sync"
    assert families(laptop) == families(hub)


def test_a_lost_answer_and_a_new_hub_epoch_repush_without_duplicates(hub, laptop):
    on_hub(hub, commune="Arras")
    assert sync(laptop, transport_of(hub, laptop)).ok
    family_id = on_laptop(laptop, notes="first")
    result = sync(laptop, Recording(transport_of(hub, laptop), lose_answer_of="/api/sync/push"))
    assert not result.ok and result.error == "network"
    with hub.app_context():
        device_services.new_epoch(db.session)
        db.session.commit()
    edit(laptop, family_id, notes="second")
    with laptop.app_context():
        assert device_services.sync_state(db.session).pull_cursor > 0
    recording = Recording(transport_of(hub, laptop))
    result = sync(laptop, recording)
    assert result.ok and recording.pulls[0] == 0, "a new hub epoch pulls again from the start"
    with laptop.app_context():
        assert outbox_services.unacked(db.session) == []
        assert [batch.batch_seq for batch in db.session.scalars(select(OutboxBatch))] == [1, 2]
    with hub.app_context():
        assert db.session.get(Family, family_id).notes == "second"
        device = db.session.get(Device, laptop.config["TEST_DEVICE_ID"])
        assert device.last_batch_seq == 2
    assert families(laptop) == families(hub)


def test_a_hub_restored_without_the_laptops_acked_batches_takes_the_unacked_ones(hub, laptop):
    first = on_laptop(laptop, notes="acked before the restore")
    assert sync(laptop, transport_of(hub, laptop)).ok
    second = on_laptop(laptop, notes="sent after the restore")
    with hub.app_context():
        # The backup predates batch 1: the hub no longer knows it.
        device = db.session.get(Device, laptop.config["TEST_DEVICE_ID"])
        device.last_batch_seq = 0
        for applied in db.session.scalars(select(AppliedBatch).where(AppliedBatch.device_id == device.id)):
            db.session.delete(applied)
        device_services.new_epoch(db.session)
        db.session.commit()
    result = sync(laptop, transport_of(hub, laptop))
    assert result.ok, result.error
    with hub.app_context():
        assert db.session.get(Family, second).notes == "sent after the restore"
        assert db.session.get(Family, first) is not None
    assert families(laptop) == families(hub)


def test_a_laptop_long_offline_converges_and_its_old_batches_are_still_known(hub, laptop):
    on_laptop(laptop, notes="old")
    assert sync(laptop, transport_of(hub, laptop)).ok
    with laptop.app_context():
        old = db.session.get(OutboxBatch, 1)
    ids = on_hub(hub, 600, commune="Liévin", notes="n")
    with hub.app_context():
        rows = [db.session.get(Family, family_id) for family_id in ids]
        for row in rows[:150]:
            row.notes = "edited"
        for row in rows[150:250]:
            row.deleted_dt = datetime(2026, 1, 5, tzinfo=UTC)
        for row in rows[250:350]:
            row.commune, row.notes, row.search_key = "", "", ""
            row.is_purged, row.deleted_dt = True, datetime(2026, 1, 6, tzinfo=UTC)
        db.session.commit()
    result = sync(laptop, transport_of(hub, laptop))
    assert result.ok and result.pages >= 2 and result.received >= 950
    assert families(laptop) == families(hub)
    with laptop.app_context():
        purged = db.session.scalars(select(Family).where(Family.is_purged.is_(True))).all()
        assert len(purged) == 100 and {row.notes for row in purged} == {""}
    assert old.batch_seq == 1
    device_id = str(laptop.config["TEST_DEVICE_ID"])
    status, answer = transport_of(hub, laptop).post("/api/sync/push", {
        "protocol": 1, "schema_version": registry.SCHEMA_VERSION, "device_id": device_id, "batch_seq": 1,
        "batch_id": str(old.batch_id), "created_hlc": "", "changes": []})
    assert status == 409 and answer["error"] == "device_rewound", "batch 1 is still known by its id and bytes"


def test_a_change_the_hub_refuses_stays_in_view_on_the_laptop(hub, laptop):
    with laptop.app_context():
        family = Family(structure_id=first_structure(laptop).id)
        db.session.add(family)
        db.session.commit()
        # The family never reaches the hub (as if refused earlier): its guardian has no parent there.
        db.session.delete(db.session.get(SyncPending, ("families", family.id)))
        guardian = Guardian(family_id=family.id, first_name="Nora", last_name="Ali")
        db.session.add(guardian)
        db.session.commit()
        guardian_id = guardian.id
    result = sync(laptop, transport_of(hub, laptop))
    assert result.rejected == 1
    with laptop.app_context():
        rejected = db.session.scalars(select(RejectedChange)).all()
        assert [(row.record_id, row.fields.get("first_name")) for row in rejected] == [(guardian_id, "Nora")]
        assert rejected[0].reason
        assert db.session.get(Guardian, guardian_id) is not None


def test_a_slow_laptop_edit_made_after_a_pull_wins_on_the_hub(hub, laptop, monkeypatch):
    family_id = on_laptop(laptop, notes="start")
    assert sync(laptop, transport_of(hub, laptop)).ok
    edit(hub, family_id, notes="hub edit")
    set_laptop_clock(monkeypatch, lambda: clock.wall_ms() - 3_600_000)
    assert sync(laptop, transport_of(hub, laptop)).ok
    edit(laptop, family_id, notes="laptop edit after the pull")
    assert sync(laptop, transport_of(hub, laptop)).ok
    with hub.app_context():
        assert db.session.get(Family, family_id).notes == "laptop edit after the pull"
    assert families(laptop) == families(hub)


def test_the_pushed_body_is_the_frozen_text(hub, laptop):
    on_laptop(laptop, notes="x")
    sent = []

    class Spy(Recording):
        def post(self, path, payload):
            if path == "/api/sync/push":
                sent.append(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
            return super().post(path, payload)

    with laptop.app_context():
        outbox_services.freeze_batch(db.session)
        db.session.commit()
        frozen = db.session.get(OutboxBatch, 1).body
    assert sync(laptop, Spy(transport_of(hub, laptop))).ok
    assert sent == [frozen]


class JsonHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"error": "gap", "expected_seq": 3, "auth": self.headers["Authorization"]}).encode()
        self.send_response(409)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_http_error_answers_are_read_as_json():
    server = HTTPServer(("127.0.0.1", 0), JsonHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        transport = HttpTransport(f"http://127.0.0.1:{server.server_port}", "secret-token", timeout=5)
        status, answer = transport.post("/api/sync/push", {"batch_seq": 5})
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert (status, answer["error"], answer["expected_seq"]) == (409, "gap", 3)
    assert answer["auth"] == "Device secret-token"
