"""The laptop's sync page: what waits to be sent, connecting with a pairing code, "Sync now"
with its result in plain words, and never "synced" after a failure."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.sync import device_services, transport
from workshops.sync import views as sync_views
from workshops.sync.models import RejectedChange, SyncState

from .conftest import first_structure

SUCCESS = "everything went through"


def login(laptop: Flask, role: str = "conseiller") -> FlaskClient:
    with laptop.app_context():
        username = f"{role}-{uuid.uuid4().hex[:6]}"
        auth_services.create_user(db.session, auth_services.NewUser(
            username=username, display_name="Camille", password=PASSWORD, role=role,
            structure_id=first_structure(laptop).id))
        db.session.commit()
    client = laptop.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def add_families(laptop: Flask, *names: str) -> None:
    with laptop.app_context():
        actor = db.session.scalars(select(User)).first()
        for name in names:
            create_family(db.session, FamilyData(guardians=(GuardianData(first_name="Ada", last_name=name),),
                                                 structure_id=first_structure(laptop).id), actor)
        db.session.commit()


def pending_shown(page: str) -> int:
    """The number of changes waiting, as the page says it."""
    return int(re.search(r"(\d+) changes? not yet received by the hub", page)[1])


def use_hub(monkeypatch, hub: Flask) -> None:
    """The laptop's pages reach this hub app in the same process."""
    monkeypatch.setattr(sync_views, "make_transport",
                        lambda hub_url, token, timeout=30: transport.AppTransport(hub, token))


def sync_and_wait(client: FlaskClient) -> str:
    """Press "Sync now", follow the progress until the run ends, then read the page."""
    assert client.post("/sync/run").status_code == 303
    deadline = time.monotonic() + 60
    while client.get("/sync/progress").get_json()["state"] == "running":
        assert time.monotonic() < deadline, "the sync never ended"
        time.sleep(0.05)
    return client.get("/sync").get_data(as_text=True)


@pytest.fixture
def laptop(make_laptop) -> Flask:
    return make_laptop("laptop")


def test_the_page_shows_the_changes_waiting_and_the_connect_form(laptop):
    client = login(laptop)
    before = pending_shown(client.get("/sync").get_data(as_text=True))
    add_families(laptop, "Martin", "Haddad")
    page = client.get("/sync").get_data(as_text=True)
    assert pending_shown(page) == before + 4, "two households and their guardians, not sent yet"
    assert "Connect to the hub" in page and "Pairing code" in page
    with laptop.app_context():
        assert db.session.get(SyncState, 1) is None, "opening the page writes nothing"


def test_a_bad_pairing_code_is_explained_and_nothing_is_kept(laptop, hub, monkeypatch):
    use_hub(monkeypatch, hub)
    client = login(laptop)
    page = client.post("/sync/connect", data={"hub_url": "https://hub.example.org", "code": "ABCD-EFGH"})
    assert page.status_code == 400
    assert "This pairing code is unknown, used or expired" in page.get_data(as_text=True)
    with laptop.app_context():
        state = db.session.get(SyncState, 1)
        assert state is None or state.token is None


def test_an_unreachable_hub_address_is_explained(laptop):
    client = login(laptop)
    page = client.post("/sync/connect", data={"hub_url": "http://127.0.0.1:9", "code": "ABCD-EFGH"})
    assert page.status_code == 400
    assert "The hub could not be reached" in page.get_data(as_text=True)


def test_a_plain_http_hub_address_is_refused_before_anything_is_sent(laptop, monkeypatch):
    sent = []
    monkeypatch.setattr(sync_views, "make_transport", lambda *args, **kwargs: sent.append(args))
    client = login(laptop)
    page = client.post("/sync/connect", data={"hub_url": "http://hub.example.org", "code": "ABCD-EFGH"})
    assert page.status_code == 400 and "must start with https://" in page.get_data(as_text=True)
    assert sent == [], "the enrolment never left the laptop"


def test_a_good_code_connects_the_laptop(laptop, hub, monkeypatch):
    use_hub(monkeypatch, hub)
    with hub.app_context():
        _device, code = device_services.create_device(db.session, "PC Ronsard", first_structure(hub).id, None)
        db.session.commit()
    client = login(laptop)
    page = client.post("/sync/connect", data={"hub_url": "https://hub.example.org/", "code": code},
                       follow_redirects=True).get_data(as_text=True)
    assert "Connected to the hub https://hub.example.org as PC Ronsard." in page
    assert "Sync now" in page


def test_a_sync_with_an_unreachable_hub_says_why_and_never_success(laptop, hub, pair, monkeypatch):
    pair(laptop, "PC Ronsard")
    monkeypatch.setattr(sync_views, "make_transport", lambda hub_url, token, timeout=30:
                        transport.HttpTransport("http://127.0.0.1:9", token, timeout=2))
    client = login(laptop)
    add_families(laptop, "Martin")
    before = pending_shown(client.get("/sync").get_data(as_text=True))
    page = sync_and_wait(client)
    assert "The sync failed" in page and "The hub could not be reached" in page
    assert SUCCESS not in page
    assert pending_shown(page) == before > 0, "nothing is lost"


def test_a_successful_sync_shows_what_went_through(laptop, hub, pair, monkeypatch):
    pair(laptop, "PC Ronsard")
    use_hub(monkeypatch, hub)
    client = login(laptop)
    add_families(laptop, "Martin")
    page = sync_and_wait(client)
    assert SUCCESS in page, page
    assert "changes sent to the hub" in page and "0 conflicts" in page
    assert "0 changes not yet received by the hub" in page
    assert "Last successful sync" in page and "The sync failed" not in page


def test_a_revoked_laptop_is_told_what_to_do(laptop, hub, pair, monkeypatch):
    answer = pair(laptop, "Lost laptop")
    with hub.app_context():
        device_services.revoke(db.session, device_services.authenticate(db.session, answer["token"]))
        db.session.commit()
    use_hub(monkeypatch, hub)
    page = sync_and_wait(login(laptop))
    assert "it was revoked" in page and SUCCESS not in page


def test_the_hub_pages_are_not_found_on_a_laptop(laptop):
    client = login(laptop, "admin")
    assert client.get("/hub/devices").status_code == 404
    assert client.get("/hub/conflicts").status_code == 404
    assert "/sync" in client.get("/").get_data(as_text=True), "the menu leads to the sync page"


def test_the_page_warns_of_a_wrong_clock_and_lists_refused_changes(laptop, hub, pair):
    pair(laptop, "PC Ronsard")
    with laptop.app_context():
        state = db.session.get(SyncState, 1)
        state.clock_offset_ms = 12 * 60 * 1000
        state.last_failure_dt, state.last_error = utcnow(), "client_too_old"
        db.session.add(RejectedChange(batch_seq=1, table_name="families", record_id=uuid.uuid4(),
                                      reason="duplicate_value", fields={"commune": "Poitiers"}))
        db.session.commit()
    page = login(laptop).get("/sync").get_data(as_text=True)
    assert "clock is more than 5 minutes off the hub" in page and "12 minutes behind the hub" in page
    assert "Update the application on this laptop" in page and SUCCESS not in page
    assert "Changes the hub refused" in page and "another record on the hub already has this value" in page
