"""The hub's JSON API for laptops: enrol, hello, push, pull, roll, and every error answer."""

from __future__ import annotations

import gzip
import json
import time

from tests.conftest import PASSWORD
from tests.login_helpers import log_in
from tests.sync.conftest import first_structure
from tests.sync.test_ingest import T0, batch, enrolled, new_family
from workshops.auth import services as auth_services
from workshops.extensions import db as _db
from workshops.sync import device_services, keys, registry
from workshops.sync.models import Device


def auth(token: str) -> dict:
    return {"Authorization": f"Device {token}"}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_enrol_exchanges_a_code_once_for_a_working_token(hub):
    with hub.app_context():
        device, code = device_services.create_device(_db.session, "Laptop A", first_structure(hub).id, None)
        _db.session.commit()
        device_id = device.id
    client = hub.test_client()
    request = {"code": code.lower().replace("-", " "), "verify_key": keys.verify_key(keys.new_signing_key()),
               "app_version": "1.0", "schema_version": registry.SCHEMA_VERSION, "device_time_ms": 123}
    response = client.post("/api/sync/enrol", json=request)
    assert response.status_code == 200 and response.is_json
    answer = response.get_json()
    assert answer["device_id"] == str(device_id) and answer["device_time_ms"] == 123 and answer["token"]
    assert client.post("/api/sync/hello", json={}, headers=auth(answer["token"])).status_code == 200
    again = client.post("/api/sync/enrol", json=request)
    assert again.status_code == 400 and again.get_json()["error"] == "bad_code"
    assert client.post("/api/sync/enrol", json={"code": 5}).get_json()["error"] == "bad_request"


def test_hello_records_the_contact_and_tells_the_laptop_where_it_stands(hub):
    dev = enrolled(hub)
    sent = now_ms() - 60_000
    response = hub.test_client().post("/api/sync/hello", headers=auth(dev.token), json={
        "app_version": "1.2", "schema_version": 1, "device_time_ms": sent, "cursor": 17, "acked_seq": 0})
    answer = response.get_json()
    assert response.status_code == 200
    assert answer["device_id"] == str(dev.id) and answer["structure_id"] == str(dev.structure_id)
    assert answer["last_batch_seq"] == 0 and answer["protocol"] == registry.PROTOCOL
    assert answer["min_schema_version"] == registry.MIN_SCHEMA_VERSION
    with hub.app_context():
        device = _db.session.get(Device, dev.id)
        assert device.app_version == "1.2" and device.reported_cursor == 17
        assert 59_000 <= device.clock_offset_ms <= 120_000


def test_push_then_pull_over_http_even_with_csrf_on_and_gzip(hub):
    hub.config["WTF_CSRF_ENABLED"] = True
    dev = enrolled(hub)
    client = hub.test_client()
    family_id, created = new_family(dev, ms=now_ms(), notes="via http")
    response = client.post("/api/sync/push", json=batch(dev, 1, [created]), headers=auth(dev.token))
    assert response.status_code == 200 and response.get_json()["status"] == "applied"
    _, second = new_family(dev, ms=now_ms())
    packed = gzip.compress(json.dumps(batch(dev, 2, [second])).encode())
    headers = {**auth(dev.token), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    response = client.post("/api/sync/push", data=packed, headers=headers)
    assert response.status_code == 200 and response.get_json()["counts"]["applied"] == 1
    page = client.get("/api/sync/pull", query_string={"since": 0, "limit": 500}, headers=auth(dev.token))
    assert page.status_code == 200
    assert str(family_id) in {entry["id"] for entry in page.get_json()["changes"]}
    bad = client.get("/api/sync/pull", query_string={"since": "x"}, headers=auth(dev.token))
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_request"


def test_every_push_error_has_its_code(hub, monkeypatch):
    dev = enrolled(hub)
    client = hub.test_client()

    def send(body, headers=None):
        headers = auth(dev.token) if headers is None else headers
        response = client.post("/api/sync/push", json=body, headers=headers)
        assert response.is_json
        return response.status_code, response.get_json()

    _, created = new_family(dev)
    assert send(batch(dev, 1, [created]), headers={})[0:1] == (401,)
    assert send(batch(dev, 1, [created]), headers=auth("made-up"))[1]["error"] == "unknown_device"
    assert send({"changes": "none"})[0] == 400
    status, answer = send(batch(dev, 2, [created]))
    assert (status, answer["error"], answer["expected_seq"]) == (409, "gap", 1)
    status, answer = send(batch(dev, 1, [created], schema_version=registry.SCHEMA_VERSION + 1))
    assert (status, answer["error"]) == (409, "hub_too_old")
    monkeypatch.setattr(registry, "MIN_SCHEMA_VERSION", registry.SCHEMA_VERSION)
    status, answer = send(batch(dev, 1, [created], schema_version=registry.SCHEMA_VERSION - 1))
    assert (status, answer["error"]) == (426, "client_too_old")
    with hub.app_context():
        device_services.revoke(_db.session, _db.session.get(Device, dev.id))
        _db.session.commit()
    status, answer = send(batch(dev, 1, [created]))
    assert (status, answer["error"]) == (403, "revoked") and "enrol" in answer["message"]
    assert client.get("/api/sync/pull", headers=auth(dev.token)).status_code == 403
    assert client.post("/api/sync/hello", json={}, headers=auth(dev.token)).status_code == 403


def test_a_body_over_the_size_limit_gets_a_json_413(hub):
    dev = enrolled(hub)
    _, created = new_family(dev, notes="x" * (hub.config["MAX_CONTENT_LENGTH"] + 1))
    body = batch(dev, 1, [created])
    response = hub.test_client().post("/api/sync/push", json=body, headers=auth(dev.token))
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"


def test_roll_gives_a_new_token_and_the_old_one_stops_working(hub):
    dev = enrolled(hub)
    client = hub.test_client()
    response = client.post("/api/sync/roll", headers=auth(dev.token))
    token = response.get_json()["token"]
    assert response.status_code == 200 and token != dev.token
    assert client.post("/api/sync/hello", json={}, headers=auth(dev.token)).status_code == 401
    assert client.post("/api/sync/hello", json={}, headers=auth(token)).status_code == 200


def test_a_laptop_does_not_serve_the_hub_api(make_laptop):
    laptop = make_laptop("a")
    client = laptop.test_client()
    for method, path in (("post", "/api/sync/hello"), ("post", "/api/sync/enrol"), ("get", "/api/sync/pull"),
                         ("post", "/api/sync/push")):
        response = getattr(client, method)(path, json={} if method == "post" else None)
        assert response.status_code == 404


def test_the_push_answer_carries_the_hubs_clock(hub):
    """From it the laptop measures its own skew."""
    dev = enrolled(hub)
    _, created = new_family(dev, ms=T0)
    body = batch(dev, 1, [created])
    response = hub.test_client().post("/api/sync/push", json=body, headers=auth(dev.token))
    assert abs(response.get_json()["hub_time_ms"] - now_ms()) < 60_000


def test_the_api_takes_only_the_device_header_and_pages_only_the_staff_session(hub):
    """R30: a staff cookie opens no sync route; a device token opens no page."""
    dev = enrolled(hub)
    with hub.app_context():
        auth_services.create_user(_db.session, auth_services.NewUser(
            username="staff-r30", display_name="Staff", password=PASSWORD, role="conseiller",
            structure_id=first_structure(hub).id))
        _db.session.commit()
    staff = hub.test_client()
    assert log_in(hub, staff, "staff-r30").status_code == 302
    assert staff.get("/").status_code == 200, "the cookie works on pages"
    refused = staff.post("/api/sync/hello", json={})
    assert refused.status_code == 401 and refused.is_json
    page = hub.test_client().get("/", headers=auth(dev.token))
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_guessing_pairing_codes_is_stopped_per_address(hub):
    """R29: wrong codes count per address like wrong passwords; past the limit even the right
    code waits, so a 10-minute code cannot be found by trying them all."""
    hub.config["LOGIN_IP_MAX_FAILURES"] = 3
    with hub.app_context():
        _device, code = device_services.create_device(_db.session, "Laptop B", first_structure(hub).id, None)
        _db.session.commit()
    client = hub.test_client()
    request = {"verify_key": keys.verify_key(keys.new_signing_key()), "app_version": "1.0",
               "schema_version": registry.SCHEMA_VERSION}
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC"):
        answer = client.post("/api/sync/enrol", json={**request, "code": guess}).get_json()
        assert answer["error"] == "bad_code"
    refused = client.post("/api/sync/enrol", json={**request, "code": code})
    assert refused.status_code == 429 and refused.get_json()["error"] == "too_many_attempts"
    other = client.post("/api/sync/enrol", json={**request, "code": code},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200, "another address is not held back"
