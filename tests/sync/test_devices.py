"""Devices (sync-anchors C9): one-time, short-lived pairing codes, tokens kept only as hashes
on the hub, roll and revoke at once; and (d) test 19, reinstalling a laptop."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from workshops.core.errors import ValidationFailed
from workshops.core.models import Base, utcnow
from workshops.extensions import db
from workshops.families.models import Family
from workshops.sync import client, device_services, keys
from workshops.sync.models import Device
from workshops.sync.transport import AppTransport

from .conftest import first_structure
from .harness import _differences, synced_rows

CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")


def new_device(name: str = "Laptop A"):
    return device_services.create_device(db.session, name, first_structure(current_app).id, None)


def enrol(code: str, now=None):
    return device_services.enrol(db.session, code, keys.verify_key(keys.new_signing_key()),
                                 app_version="test", schema_version=1, now=now)


def test_a_new_device_gets_a_readable_pairing_code(hub):
    with hub.app_context():
        device, code = new_device()
        db.session.commit()
        assert CODE.match(code), code
        assert device.token_hash is None and device.enrolled_dt is None


def test_a_pairing_code_enrols_once(hub):
    with hub.app_context():
        device, code = new_device()
        enrolment = enrol(code.lower().replace("-", " "))
        db.session.commit()
        assert enrolment.device.id == device.id and enrolment.token
        assert device_services.authenticate(db.session, enrolment.token).id == device.id
        with pytest.raises(ValidationFailed):
            enrol(code)


def test_an_expired_pairing_code_is_refused(hub):
    with hub.app_context():
        _device, code = new_device()
        db.session.commit()
        later = utcnow() + timedelta(minutes=device_services.PAIRING_MINUTES, seconds=1)
        with pytest.raises(ValidationFailed):
            enrol(code, now=later)


def test_a_new_code_replaces_the_unused_one(hub):
    with hub.app_context():
        device, first = new_device()
        second = device_services.new_pairing_code(db.session, device)
        db.session.commit()
        with pytest.raises(ValidationFailed):
            enrol(first)
        assert enrol(second).device.id == device.id


def test_rolling_refuses_the_old_token_at_once(hub):
    with hub.app_context():
        _device, code = new_device()
        old = enrol(code).token
        db.session.commit()
        device = device_services.authenticate(db.session, old)
        new = device_services.roll_token(db.session, device)
        db.session.commit()
        assert device_services.authenticate(db.session, old) is None
        assert device_services.authenticate(db.session, new).id == device.id


def test_a_revoked_device_is_refused(hub):
    with hub.app_context():
        device, code = new_device()
        token = enrol(code).token
        device_services.revoke(db.session, device)
        db.session.commit()
        found = device_services.authenticate(db.session, token)
        assert found.revoked_dt is not None
        with pytest.raises(ValidationFailed):
            device_services.new_pairing_code(db.session, found)
        with pytest.raises(ValidationFailed):
            device_services.roll_token(db.session, found)


def test_a_revoked_device_cannot_enrol_with_a_code_given_before(hub):
    with hub.app_context():
        device, code = new_device()
        device_services.revoke(db.session, device)
        db.session.commit()
        with pytest.raises(ValidationFailed):
            enrol(code)


def test_the_hub_keeps_no_token_or_code_in_clear(hub):
    with hub.app_context():
        _device, code = new_device()
        token = enrol(code).token
        db.session.commit()
        stored = []
        for table in Base.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                stored.extend(str(value) for value in row)
        assert stored
        assert not [value for value in stored if token in value or code.replace("-", "") in value]


def test_a_reinstalled_laptop_rebuilds_the_hubs_data_and_the_old_token_is_refused(hub, make_laptop, pair):
    """(d) test 19: the old laptop synced then was lost; a new install enrols as a new device,
    a full pull gives exactly the hub's rows of its partition, the old token is refused."""
    old = make_laptop("old")
    old_answer = pair(old, "Laptop A")
    with old.app_context():
        db.session.add(Family(structure_id=first_structure(old).id, commune="Loudun", notes="first visit"))
        db.session.commit()
        assert client.run(db.session, AppTransport(hub, old_answer["token"])).ok
    with hub.app_context():
        db.session.add(Family(structure_id=first_structure(hub).id, commune="Chauvigny"))
        device_services.revoke(db.session, db.session.get(Device, uuid.UUID(old_answer["device_id"])))
        db.session.commit()
    status, answer = AppTransport(hub, old_answer["token"]).post("/api/sync/hello", {
        "app_version": "test", "schema_version": 1, "device_time_ms": 0, "cursor": 0, "acked_seq": 0})
    assert (status, answer["error"]) == (403, "revoked")
    with old.app_context():
        result = client.run(db.session, AppTransport(hub, old_answer["token"]))
    assert not result.ok and result.error == "revoked"

    new = make_laptop("new")
    new_answer = pair(new, "Laptop A (reinstalled)")
    assert new_answer["device_id"] != old_answer["device_id"]
    with new.app_context():
        result = client.run(db.session, AppTransport(hub, new_answer["token"]))
        assert result.ok, result.error
        structure_id = device_services.sync_state(db.session).structure_id
        laptop_rows = synced_rows(structure_id)
    with hub.app_context():
        hub_rows = synced_rows(structure_id)
    assert _differences(hub_rows, laptop_rows) == []
    communes = {fields["commune"] for (table, _id), (fields, _version) in laptop_rows.items()
                if table == "families"}
    assert communes == {"Loudun", "Chauvigny"}
