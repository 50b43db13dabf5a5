"""`flask sync ...` from the terminal: what a user reads and the exit status."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.extensions import db
from workshops.families.models import Family, Guardian
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.sync import cli, device_services, erasure_ledger
from workshops.sync.models import Device, HubState, OutboxBatch
from workshops.sync.transport import AppTransport

from .conftest import first_structure

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
STATUS_KEYS = {"role", "connected", "hub_url", "device_id", "pending_changes", "unacked_batches",
               "rejected_changes", "last_attempt", "last_success", "last_failure", "last_error", "cursor",
               "clock_offset_ms", "clock_warning"}


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["sync", *args])


@pytest.fixture
def laptop(make_laptop):
    return make_laptop("a")


@pytest.fixture
def hub_transport(hub, monkeypatch):
    """The commands' HTTP transport replaced by calls to the hub app in this process."""
    monkeypatch.setattr(cli, "HttpTransport", lambda url, token, timeout=30: AppTransport(hub, token))


def structure_name(app) -> str:
    with app.app_context():
        return first_structure(app).name


def create_device(hub, name="Laptop A") -> tuple[str, str]:
    result = invoke(hub, "device", "create", name, "--structure", structure_name(hub))
    assert result.exit_code == 0, result.output
    with hub.app_context():
        device_id = db.session.scalar(select(Device.id).where(Device.name == name))
    return str(device_id), CODE.search(result.output).group(0)


def test_device_create_prints_a_pairing_code_and_how_long_it_lasts(hub):
    result = invoke(hub, "device", "create", "Laptop A", "--structure", structure_name(hub))
    assert result.exit_code == 0, result.output
    assert CODE.search(result.output) and "10 minutes" in result.output
    listed = invoke(hub, "device", "list")
    assert "Laptop A" in listed.output and "not paired" in listed.output


def test_device_create_refuses_an_unknown_structure(hub):
    result = invoke(hub, "device", "create", "Laptop A", "--structure", "Nowhere")
    assert result.exit_code == 1 and "No structure" in result.output
    with hub.app_context():
        assert db.session.scalar(select(Device.id)) is None


def test_a_new_code_and_revoking(hub):
    device_id, first = create_device(hub)
    again = invoke(hub, "device", "code", device_id)
    assert again.exit_code == 0 and CODE.search(again.output).group(0) != first
    revoked = invoke(hub, "device", "revoke", device_id)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in invoke(hub, "device", "list").output
    refused = invoke(hub, "device", "code", device_id)
    assert refused.exit_code == 1 and "revoked" in refused.output
    assert invoke(hub, "device", "revoke", str(uuid.uuid4())).exit_code == 1


def test_new_epoch_changes_the_hubs_epoch(hub):
    with hub.app_context():
        before = device_services.new_epoch(db.session)
        db.session.commit()
    result = invoke(hub, "new-epoch")
    assert result.exit_code == 0, result.output
    with hub.app_context():
        assert db.session.get(HubState, 1).epoch != before


def test_new_epoch_erases_again_the_households_erased_since_the_backup(hub):
    """A hub restored from last night's dump has a household back that a manager erased this
    morning: the ledger in the instance folder (not in the dump) erases it again."""
    with hub.app_context():
        manager = auth_services.create_user(db.session, auth_services.NewUser(
            username="manager-restore", display_name="Manager", password=PASSWORD, role="manager",
            structure_id=first_structure(hub).id))
        family = create_family(db.session, FamilyData(guardians=(GuardianData("Awa", "Restauree"),)), manager)
        db.session.commit()
        erasure_ledger.append(erasure_ledger.ledger_path(hub.instance_path), family.id, datetime.now(UTC))
    result = invoke(hub, "new-epoch")
    assert result.exit_code == 0 and "1 household(s) erased since the backup" in result.output, result.output
    with hub.app_context():
        assert db.session.get(Family, family.id).is_purged
        assert db.session.scalar(select(Guardian.last_name).where(Guardian.family_id == family.id)) == ""


def test_commands_of_one_role_refuse_on_the_other(hub, laptop):
    for args in (("device", "list"), ("new-epoch",), ("device", "create", "X", "--structure", "Y")):
        result = invoke(laptop, *args)
        assert result.exit_code == 1 and "runs on the hub" in result.output
    for args in (("run",), ("connect", "http://hub.test", "ABCD-EFGH"), ("export-bundle", "out.cnsync")):
        result = invoke(hub, *args)
        assert result.exit_code == 1 and "runs on a laptop" in result.output


def test_run_needs_a_connection(laptop):
    result = invoke(laptop, "run")
    assert result.exit_code == 1 and "not connected" in result.output
    assert invoke(laptop, "export-bundle", "out.cnsync").exit_code == 1


def test_run_against_an_unreachable_hub_fails_and_says_so(laptop, pair):
    pair(laptop)
    with laptop.app_context():
        device_services.sync_state(db.session).hub_url = "http://127.0.0.1:9"
        db.session.commit()
    result = invoke(laptop, "run")
    assert result.exit_code == 1
    assert "could not be reached" in result.output and "Synced" not in result.output
    status = json.loads(invoke(laptop, "status", "--json").output)
    assert status["last_error"] == "network" and status["last_success"] is None
    assert status["last_failure"] is not None


def test_status_json_keys(laptop, pair):
    before = json.loads(invoke(laptop, "status", "--json").output)
    assert set(before) == STATUS_KEYS and before["connected"] is False
    pair(laptop)
    with laptop.app_context():
        db.session.add(Family(structure_id=first_structure(laptop).id, commune="Loudun"))
        db.session.commit()
    result = invoke(laptop, "status", "--json")
    status = json.loads(result.output)
    assert set(status) == STATUS_KEYS
    assert status["connected"] is True and status["cursor"] == 0
    assert status["pending_changes"] == before["pending_changes"] + 1
    assert f"Pending changes: {status['pending_changes']}" in invoke(laptop, "status").output


def test_status_warns_about_a_clock_far_from_the_hubs(laptop, pair):
    pair(laptop)
    with laptop.app_context():
        device_services.sync_state(db.session).clock_offset_ms = 6 * 60 * 1000
        db.session.commit()
    assert json.loads(invoke(laptop, "status", "--json").output)["clock_warning"] is True
    assert "Warning" in invoke(laptop, "status").output


def test_connect_then_run(hub, laptop, hub_transport):
    _device_id, code = create_device(hub)
    plain = invoke(laptop, "connect", "http://hub.test", code)
    assert plain.exit_code == 1 and "must start with https://" in plain.output, plain.output
    bad = invoke(laptop, "connect", "https://hub.test", "AAAA-AAAA")
    assert bad.exit_code == 1 and "pairing code" in bad.output
    result = invoke(laptop, "connect", "https://hub.test", code)
    assert result.exit_code == 0, result.output
    assert "Connected" in result.output
    assert invoke(laptop, "connect", "https://hub.test", code).exit_code == 1
    with laptop.app_context():
        db.session.add(Family(structure_id=first_structure(laptop).id, commune="Loudun"))
        db.session.commit()
    pending = json.loads(invoke(laptop, "status", "--json").output)["pending_changes"]
    synced = invoke(laptop, "run")
    assert synced.exit_code == 0, synced.output
    assert f"Synced: sent {pending} change(s)" in synced.output
    assert json.loads(invoke(laptop, "status", "--json").output)["pending_changes"] == 0
    with hub.app_context():
        assert db.session.scalar(select(Family.id).where(Family.commune == "Loudun")) is not None


def test_connect_to_an_unreachable_hub(laptop):
    result = invoke(laptop, "connect", "http://127.0.0.1:9", "ABCD-EFGH")
    assert result.exit_code == 1 and "could not be reached" in result.output
    assert json.loads(invoke(laptop, "status", "--json").output)["connected"] is False


def test_usb_bundles_from_the_command_line(hub, laptop, pair, tmp_path):
    pair(laptop)
    with laptop.app_context():
        db.session.add(Family(structure_id=first_structure(laptop).id, commune="Loudun"))
        db.session.commit()
    out = tmp_path / "a.cnsync"
    exported = invoke(laptop, "export-bundle", str(out))
    assert exported.exit_code == 0, exported.output
    imported = invoke(hub, "import-bundle", str(out))
    assert imported.exit_code == 0, imported.output
    answer = tmp_path / "a.cnsync.answer"
    assert answer.exists()
    with hub.app_context():
        assert db.session.scalar(select(Family.id).where(Family.commune == "Loudun")) is not None
    back = invoke(laptop, "import-bundle", str(answer))
    assert back.exit_code == 0, back.output
    assert "1 batch(es) acknowledged" in back.output
    with laptop.app_context():
        assert db.session.scalar(select(OutboxBatch.status)) == "acked"
    wrong = invoke(hub, "import-bundle", str(answer))
    assert wrong.exit_code == 1 and "Bundle refused" in wrong.output
