"""The hub's pages: devices (create with a pairing code shown as text and QR, list with last
contact, revoke), conflicts (list, keep the other value), and who may open them."""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.login_helpers import log_in
from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.extensions import db
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.sync import device_services
from workshops.sync.models import ChangeLog, Conflict, Device

from .conftest import first_structure

CODE = re.compile(r"\b[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}\b")


def login(hub: Flask, role: str) -> FlaskClient:
    """A client logged in on the hub with a new account of this role."""
    with hub.app_context():
        username = f"{role}-{uuid.uuid4().hex[:6]}"
        auth_services.create_user(db.session, auth_services.NewUser(
            username=username, display_name=f"{role.title()} Hub", password=PASSWORD, role=role,
            structure_id=first_structure(hub).id))
        db.session.commit()
    client = hub.test_client()
    response = log_in(hub, client, username)  # managers and admins give a code on a hub
    assert response.status_code == 302, "login should redirect"
    return client


def create_device(client: FlaskClient, hub: Flask, name: str = "PC Ronsard 2") -> str:
    with hub.app_context():
        structure_id = first_structure(hub).id
    page = client.post("/hub/devices/new", data={"name": name, "structure_id": str(structure_id)})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_an_admin_creates_a_device_and_sees_its_code_as_text_and_qr(hub):
    client = login(hub, "admin")
    assert client.get("/hub/devices").status_code == 200
    html = create_device(client, hub)
    code = CODE.search(html)
    assert code, "the pairing code is shown"
    assert "<svg" in html and "10 minutes" in html
    with hub.app_context():
        assert db.session.scalar(select(Device.name)) == "PC Ronsard 2"


def test_the_devices_page_lists_each_laptop_with_its_last_contact(hub, make_laptop, pair):
    pair(make_laptop("a"), "Laptop of the médiathèque")
    page = login(hub, "manager").get("/hub/devices").get_data(as_text=True)
    assert "Laptop of the médiathèque" in page
    assert "never" not in page, "its last contact is the enrolment"
    assert "app test, schema 1" in page
    assert "New device" not in page, "managers only read the devices page"


def test_revoking_a_device_asks_first_then_the_hub_refuses_it(hub, make_laptop, pair):
    answer = pair(make_laptop("a"), "Lost laptop")
    client = login(hub, "admin")
    device_id = answer["device_id"]
    confirm = client.post(f"/hub/devices/{device_id}/revoke")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.get_data(as_text=True)
    with hub.app_context():
        assert db.session.get(Device, uuid.UUID(device_id)).revoked_dt is None, "nothing until confirmed"
    done = client.post(f"/hub/devices/{device_id}/revoke", data={"confirm": "yes"}, follow_redirects=True)
    assert "Revoked on" in done.get_data(as_text=True)
    with hub.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "sync_device_revoked")).one()
        admin = db.session.scalars(select(User).where(User.role == "admin")).first()
        assert (entry.object_ref, entry.actor_id) == (device_id, admin.id)
    refused = hub.test_client().post("/api/sync/hello", json={"app_version": "test", "schema_version": 1},
                                     headers={"Authorization": f"Device {answer['token']}"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "revoked"


def test_only_a_laptop_not_yet_connected_is_offered_a_new_pairing_code(hub, make_laptop, pair):
    pair(make_laptop("a"), "Connected laptop")
    with hub.app_context():
        device_services.create_device(db.session, "Waiting laptop", first_structure(hub).id, None)
        db.session.commit()
    page = login(hub, "admin").get("/hub/devices").get_data(as_text=True)
    assert "New pairing code for Waiting laptop" in page
    assert "New pairing code for Connected laptop" not in page


@pytest.mark.parametrize("path", ["/hub/devices", "/hub/devices/new", "/hub/conflicts"])
def test_a_conseiller_cannot_open_the_hub_pages(hub, path):
    assert login(hub, "conseiller").get(path).status_code == 403


def test_a_manager_cannot_create_or_revoke_devices(hub):
    client = login(hub, "manager")
    assert client.get("/hub/devices/new").status_code == 403
    with hub.app_context():
        structure_id = first_structure(hub).id
    client.post("/hub/devices/new", data={"name": "Intruder", "structure_id": str(structure_id)})
    with hub.app_context():
        assert db.session.scalar(select(func.count()).select_from(Device)) == 0


def test_the_laptop_pages_are_not_found_on_a_hub(hub):
    client = login(hub, "admin")
    assert client.get("/sync").status_code == 404
    assert "Conflicts" in client.get("/").get_data(as_text=True)


# ---------- Conflicts ----------

def _family_with_conflict(hub: Flask) -> tuple[uuid.UUID, uuid.UUID]:
    """A household on the hub whose commune was given two values; (family id, conflict id)."""
    with hub.app_context():
        actor = db.session.scalars(select(User).where(User.role.in_(("manager", "admin")))).first()
        family = create_family(db.session, FamilyData(
            guardians=(GuardianData(first_name="Zoé", last_name="Canary"),), commune="Poitiers",
            structure_id=first_structure(hub).id), actor)
        conflict = Conflict(table_name="families", record_id=family.id, field="commune",
                            kept_value="Poitiers", other_value="Châtellerault", kept_hlc="b", other_hlc="a")
        db.session.add(conflict)
        db.session.commit()
        return family.id, conflict.id


def test_the_conflicts_page_lists_a_conflict_with_both_values(hub):
    client = login(hub, "manager")
    family_id, _conflict_id = _family_with_conflict(hub)
    page = client.get("/hub/conflicts").get_data(as_text=True)
    assert "1 conflict to review." in page
    assert "Poitiers" in page and "Châtellerault" in page and "Household" in page
    assert f"/families/{family_id}/merge" in page, "a link to merge two households"


def test_keeping_the_other_value_writes_it_as_a_hub_change(hub):
    client = login(hub, "manager")
    family_id, conflict_id = _family_with_conflict(hub)
    with hub.app_context():
        version = db.session.get(Family, family_id).version
        last_seq = db.session.scalar(select(func.max(ChangeLog.seq)))
    page = client.post(f"/hub/conflicts/{conflict_id}/resolve", data={"keep": "other"}, follow_redirects=True)
    assert "No conflict to review." in page.get_data(as_text=True)
    with hub.app_context():
        family = db.session.get(Family, family_id)
        assert family.commune == "Châtellerault" and family.version == version + 1
        entry = db.session.scalars(select(ChangeLog).where(ChangeLog.seq > last_seq)).one()
        assert entry.record_id == family_id and entry.payload["commune"] == "Châtellerault"
        conflict = db.session.get(Conflict, conflict_id)
        assert conflict.status == "resolved" and conflict.resolved_by_id is not None


def test_keeping_the_records_value_changes_no_record(hub):
    client = login(hub, "manager")
    family_id, conflict_id = _family_with_conflict(hub)
    with hub.app_context():
        last_seq = db.session.scalar(select(func.max(ChangeLog.seq)))
    client.post(f"/hub/conflicts/{conflict_id}/resolve", data={"keep": "kept"})
    with hub.app_context():
        assert db.session.get(Family, family_id).commune == "Poitiers"
        assert db.session.scalar(select(func.max(ChangeLog.seq))) == last_seq
        assert db.session.get(Conflict, conflict_id).status == "resolved"
