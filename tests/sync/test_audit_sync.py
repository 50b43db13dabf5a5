"""The audit journal of sync (R41): a laptop's run writes one "sync_push" and one "sync_pull"
entry with counts; a failed run that moved nothing writes none; the hub records a device
paired and revoked once. No personal data in any entry. Hub on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import uuid

from sqlalchemy import select

from tests.sync.conftest import first_structure
from tests.sync.test_client import laptop, on_hub, on_laptop, sync, transport_of  # noqa: F401 (fixture)
from workshops.audit.models import AuditEntry
from workshops.audit.services import verify_chain
from workshops.auth import services as auth_services
from workshops.extensions import db
from workshops.families.models import Guardian
from workshops.sync import device_services, keys
from workshops.sync.models import Device
from workshops.sync.transport import HttpTransport, TransportError

NAME, PHONE, EMAIL = "Kowalczyk", "0612345678", "anna.kowalczyk@example.org"


def entries(app, *actions: str) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        if actions:
            query = query.where(AuditEntry.action.in_(actions))
        found = list(db.session.scalars(query))
        assert verify_chain(db.session).ok
        db.session.expunge_all()
        return found


def journal_text(app) -> str:
    return json.dumps([[str(getattr(entry, column.key)) for column in AuditEntry.__table__.columns]
                       for entry in entries(app)], ensure_ascii=False).lower()


def with_guardian(app, family_id: uuid.UUID) -> None:
    with app.app_context():
        db.session.add(Guardian(family_id=family_id, last_name=NAME, first_name="Anna", phone=PHONE,
                                email=EMAIL))
        db.session.commit()


def test_a_sync_run_records_one_push_and_one_pull_with_counts(hub, laptop):  # noqa: F811
    family = on_laptop(laptop, commune="Lens", notes=f"{NAME} {PHONE}")
    with_guardian(laptop, family)
    on_hub(hub, commune="Arras", notes="Marie Dupont")
    result = sync(laptop, transport_of(hub, laptop))
    assert result.ok and result.sent >= 2
    push, pull = entries(laptop)
    assert (push.action, push.object_type, pull.action) == ("sync_push", "hub", "sync_pull")
    assert push.details == {"result": "ok", "sent": result.sent, "conflicts": 0, "rejected": 0}
    assert pull.details == {"result": "ok", "received": result.received, "pages": result.pages}
    assert sync(laptop, transport_of(hub, laptop)).ok
    assert [e.action for e in entries(laptop)] == ["sync_push", "sync_pull"] * 2
    for app in (laptop, hub):
        text = journal_text(app)
        assert [value for value in (NAME.lower(), PHONE, EMAIL, "dupont") if value in text] == []


def test_a_failed_run_records_only_what_it_moved(hub, laptop):  # noqa: F811
    on_laptop(laptop, notes="waiting")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    offline = sync(laptop, HttpTransport(f"http://127.0.0.1:{port}", laptop.config["TEST_TOKEN"], timeout=5))
    assert offline.error == "network"
    assert entries(laptop) == [], "an offline laptop does not fill the journal"

    class PullFails:
        """Pushes go through; the pull finds the network gone."""

        def __init__(self, inner):
            self.inner = inner

        def post(self, path, payload):
            return self.inner.post(path, payload)

        def get(self, path, params):
            raise TransportError("gone")

    half = sync(laptop, PullFails(transport_of(hub, laptop)))
    assert half.error == "network" and half.sent == 1
    push, pull = entries(laptop)
    assert push.details["result"] == pull.details["result"] == "network" and push.details["sent"] == 1


def test_the_hub_records_a_device_paired_then_revoked_once(hub, make_laptop):
    with hub.app_context():
        admin = auth_services.create_user(db.session, auth_services.NewUser(
            username="chef", display_name="Chef", password="une phrase de passe assez longue", role="admin"))
        device, code = device_services.create_device(db.session, "Laptop B", first_structure(hub).id, admin)
        db.session.commit()
        device_id, admin_id = device.id, admin.id
    assert entries(hub, "sync_device_paired") == [], "a device made is not yet paired"
    with hub.app_context():
        device_services.enrol(db.session, code, keys.verify_key(keys.new_signing_key()))
        db.session.commit()
    [paired] = entries(hub, "sync_device_paired")
    assert (paired.object_type, paired.object_ref, paired.details) == ("device", str(device_id), {})
    for _ in range(2):
        with hub.app_context():
            device_services.revoke(db.session, db.session.get(Device, device_id), actor=admin)
            db.session.commit()
    [revoked] = entries(hub, "sync_device_revoked")
    assert (revoked.actor_id, revoked.object_ref) == (admin_id, str(device_id))
    assert "laptop b" not in journal_text(hub), "the device's name stays out"
