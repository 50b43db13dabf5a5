"""USB bundles (sync-anchors (d) test 16): sealed so only the hub reads them, signed by the
laptop, refused when altered, forged or from a revoked laptop; through the same ingest as the
online push, so importing twice or importing then syncing online duplicates nothing."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from nacl.encoding import HexEncoder
from nacl.public import PrivateKey, PublicKey, SealedBox
from sqlalchemy import func, select

from workshops.extensions import db
from workshops.families.models import Family
from workshops.sync import bundle, bundle_services, client, device_services, keys
from workshops.sync.bundle import BundleRefused
from workshops.sync.models import AppliedBatch, ChangeLog, Device, HubState, OutboxBatch
from workshops.sync.transport import AppTransport

from .conftest import first_structure

DEVICE = uuid.uuid4()
HUB = uuid.uuid4()
BODY = json.dumps({"protocol": 1, "batch_seq": 1, "changes": [{"table": "families", "note": "é"}]},
                  sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def hub_keys() -> dict[str, str]:
    return keys.new_hub_keys()


@pytest.fixture
def laptop_key() -> str:
    return keys.new_signing_key()


def push_bytes(hub_keys, laptop_key, batches=((1, BODY), (2, "{}"))) -> bytes:
    return bundle.seal_push(list(batches), DEVICE, HUB, laptop_key, keys.box_public(hub_keys["box_key"]),
                            cursor=42)


def open_it(data, hub_keys, laptop_key, hub_id=HUB):
    return bundle.open_push(data, hub_keys["box_key"], {DEVICE: keys.verify_key(laptop_key)}.get,
                            hub_id=hub_id)


def reseal(data: bytes, hub_keys, change) -> bytes:
    """Open the zip inside a push bundle with the hub's key, let `change` alter its members,
    seal it again to the hub (what anyone holding the hub's public key can do)."""
    archive = SealedBox(PrivateKey(hub_keys["box_key"], HexEncoder)).decrypt(data)
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    return SealedBox(PublicKey(keys.box_public(hub_keys["box_key"]), HexEncoder)).encrypt(buffer.getvalue())


def test_a_push_bundle_carries_the_exact_batch_bodies(hub_keys, laptop_key):
    opened = open_it(push_bytes(hub_keys, laptop_key), hub_keys, laptop_key)
    assert opened.batches == [(1, BODY), (2, "{}")]
    assert (opened.device_id, opened.hub_id, opened.cursor) == (DEVICE, HUB, 42)


def test_only_the_hub_can_read_a_push_bundle(hub_keys, laptop_key):
    data = push_bytes(hub_keys, laptop_key)
    assert b"families" not in data
    with pytest.raises(BundleRefused) as refused:
        open_it(data, keys.new_hub_keys(), laptop_key)
    assert refused.value.reason == "unreadable"


@pytest.mark.parametrize("data", [b"", b"not a bundle at all", bytes(200)])
def test_garbage_is_unreadable(hub_keys, laptop_key, data):
    with pytest.raises(BundleRefused) as refused:
        open_it(data, hub_keys, laptop_key)
    assert refused.value.reason == "unreadable"


def test_a_sealed_file_that_is_no_zip_is_unreadable(hub_keys, laptop_key):
    data = SealedBox(PublicKey(keys.box_public(hub_keys["box_key"]), HexEncoder)).encrypt(b"hello")
    with pytest.raises(BundleRefused) as refused:
        open_it(data, hub_keys, laptop_key)
    assert refused.value.reason == "unreadable"


def test_a_changed_batch_is_refused_as_tampered(hub_keys, laptop_key):
    def change(members):
        members["batches/1.json"] = members["batches/1.json"].replace(b"families", b"children")
    with pytest.raises(BundleRefused) as refused:
        open_it(reseal(push_bytes(hub_keys, laptop_key), hub_keys, change), hub_keys, laptop_key)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("change", [lambda m: m.pop("batches/2.json"),
                                    lambda m: m.__setitem__("batches/3.json", b"{}")])
def test_a_missing_or_added_batch_is_refused_as_tampered(hub_keys, laptop_key, change):
    with pytest.raises(BundleRefused) as refused:
        open_it(reseal(push_bytes(hub_keys, laptop_key), hub_keys, change), hub_keys, laptop_key)
    assert refused.value.reason == "tampered"


def test_a_changed_manifest_breaks_the_signature(hub_keys, laptop_key):
    def change(members):
        members["manifest.json"] = members["manifest.json"].replace(b'"cursor":42', b'"cursor":0')
    with pytest.raises(BundleRefused) as refused:
        open_it(reseal(push_bytes(hub_keys, laptop_key), hub_keys, change), hub_keys, laptop_key)
    assert refused.value.reason == "bad_signature"


def test_a_bundle_signed_by_another_key_is_refused(hub_keys, laptop_key):
    forged = push_bytes(hub_keys, keys.new_signing_key())
    with pytest.raises(BundleRefused) as refused:
        open_it(forged, hub_keys, laptop_key)
    assert refused.value.reason == "bad_signature"


def test_a_bundle_for_another_hub_or_from_an_unknown_laptop_is_refused(hub_keys, laptop_key):
    data = push_bytes(hub_keys, laptop_key)
    with pytest.raises(BundleRefused) as refused:
        open_it(data, hub_keys, laptop_key, hub_id=uuid.uuid4())
    assert refused.value.reason == "wrong_hub"
    with pytest.raises(BundleRefused) as refused:
        bundle.open_push(data, hub_keys["box_key"], lambda device_id: None, hub_id=HUB)
    assert refused.value.reason == "unknown_device"


def test_an_answer_bundle_is_read_by_its_laptop_only(hub_keys, laptop_key):
    answers = [{"batch_seq": 1, "http_status": 200, "answer": {"status": "applied"}}]
    pages = [{"changes": [{"seq": 1}], "next_since": 1, "more": True}, {"changes": [], "more": False}]
    data = bundle.seal_answer(answers, pages, DEVICE, HUB, hub_keys["signing_key"],
                              keys.verify_key(laptop_key))
    opened = bundle.open_answer(data, laptop_key, keys.verify_key(hub_keys["signing_key"]),
                                device_id=DEVICE, hub_id=HUB)
    assert (opened.answers, opened.pages) == (answers, pages)
    with pytest.raises(BundleRefused) as refused:
        bundle.open_answer(data, keys.new_signing_key(), keys.verify_key(hub_keys["signing_key"]))
    assert refused.value.reason == "unreadable"
    with pytest.raises(BundleRefused) as refused:
        bundle.open_answer(data, laptop_key, keys.verify_key(keys.new_hub_keys()["signing_key"]))
    assert refused.value.reason == "bad_signature"


# ---------- With a hub and a laptop ----------

@pytest.fixture
def laptop(hub, make_laptop, pair):
    app = make_laptop("a")
    app.config["PAIRING"] = pair(app, "Laptop A")
    return app


def add_family(app, commune: str) -> uuid.UUID:
    with app.app_context():
        family = Family(structure_id=first_structure(app).id, commune=commune)
        db.session.add(family)
        db.session.commit()
        return family.id


def export(laptop) -> bytes:
    with laptop.app_context():
        data = bundle_services.export_bundle(db.session)
        db.session.commit()
        return data


def hub_import(hub, data: bytes) -> bytes:
    with hub.app_context():
        try:
            answer = bundle_services.import_bundle(db.session, data)
        except BundleRefused:
            db.session.rollback()
            raise
        db.session.commit()
        return answer


def laptop_import(laptop, data: bytes) -> dict:
    with laptop.app_context():
        counts = bundle_services.import_answer(db.session, data)
        db.session.commit()
        return counts


def read_answer(laptop, data: bytes) -> bundle.AnswerBundle:
    with laptop.app_context():
        state = device_services.sync_state(db.session)
        return bundle.open_answer(data, state.signing_key, state.hub_verify_key)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def hub_log(hub) -> list[tuple]:
    with hub.app_context():
        return list(db.session.execute(select(ChangeLog.seq, ChangeLog.record_id, ChangeLog.version)
                                       .order_by(ChangeLog.seq)))


def test_the_bundle_carries_the_outbox_bodies_byte_for_byte(hub, laptop):
    add_family(laptop, "Loudun")
    data = export(laptop)
    with laptop.app_context():
        stored = [(batch.batch_seq, batch.body) for batch in db.session.scalars(select(OutboxBatch))]
    with hub.app_context():
        state = db.session.get(HubState, 1)
        opened = bundle.open_push(data, state.box_key, lambda device_id: db.session.get(
            Device, device_id).verify_key)
    assert opened.batches == stored and len(stored) == 1


def test_importing_a_bundle_twice_applies_it_once(hub, laptop):
    family_id = add_family(laptop, "Loudun")
    data = export(laptop)
    first = read_answer(laptop, hub_import(hub, data))
    log = hub_log(hub)
    second_bytes = hub_import(hub, data)
    second = read_answer(laptop, second_bytes)
    assert hub_log(hub) == log
    assert count(hub, Family, Family.id == family_id) == 1
    assert count(hub, AppliedBatch) == 1
    assert [a["answer"]["status"] for a in first.answers] == ["applied"]
    assert [a["answer"]["status"] for a in second.answers] == ["duplicate"]
    assert first.answers[0]["answer"]["results"] == second.answers[0]["answer"]["results"]
    assert laptop_import(laptop, second_bytes)["acked"] == 1
    assert laptop_import(laptop, second_bytes)["acked"] == 0
    assert count(laptop, OutboxBatch, OutboxBatch.status != "acked") == 0


def test_a_bundle_then_an_online_sync_duplicates_nothing(hub, laptop):
    family_id = add_family(laptop, "Loudun")
    hub_import(hub, export(laptop))  # the answer never comes back to the laptop
    with laptop.app_context():
        result = client.run(db.session, AppTransport(hub, laptop.config["PAIRING"]["token"]))
    assert result.ok, result.error
    assert count(hub, Family, Family.commune == "Loudun") == 1
    assert count(hub, AppliedBatch) == 1
    assert count(laptop, OutboxBatch, OutboxBatch.status != "acked") == 0
    with hub.app_context():
        version = db.session.get(Family, family_id).version
    with laptop.app_context():
        assert db.session.get(Family, family_id).version == version


def test_the_answer_bundle_brings_the_hubs_changes(hub, laptop):
    family_id = add_family(hub, "Chauvigny")
    add_family(laptop, "Loudun")
    counts = laptop_import(laptop, hub_import(hub, export(laptop)))
    assert counts["acked"] == 1 and counts["received"] >= 1
    with laptop.app_context():
        assert db.session.get(Family, family_id).commune == "Chauvigny"
        assert device_services.sync_state(db.session).pull_cursor > 0
    # Importing it again changes nothing and an online sync afterwards has nothing to send.
    with laptop.app_context():
        result = client.run(db.session, AppTransport(hub, laptop.config["PAIRING"]["token"]))
    assert result.ok and result.sent == 0
    assert count(hub, Family, Family.commune == "Loudun") == 1


def refused(hub, data: bytes) -> str:
    log = hub_log(hub)
    with pytest.raises(BundleRefused) as caught:
        hub_import(hub, data)
    assert hub_log(hub) == log and count(hub, AppliedBatch) == 0
    return caught.value.reason


def test_a_tampered_bundle_is_refused_and_nothing_is_written(hub, laptop):
    add_family(laptop, "Loudun")
    with hub.app_context():
        box_key = db.session.get(HubState, 1).box_key

    def change(members):
        name = next(name for name in members if name.startswith("batches/"))
        members[name] = members[name].replace(b"Loudun", b"Poitiers")
    assert refused(hub, reseal(export(laptop), {"box_key": box_key}, change)) == "tampered"


def test_the_hub_refuses_a_bundle_signed_by_another_key(hub, laptop):
    add_family(laptop, "Loudun")
    with laptop.app_context():
        state = device_services.sync_state(db.session)
        forged = bundle.seal_push([(1, "{}")], state.device_id, state.hub_id, keys.new_signing_key(),
                                  state.hub_box_key, hub_epoch=state.hub_epoch)
    assert refused(hub, forged) == "bad_signature"


def test_a_bundle_from_a_revoked_laptop_is_refused(hub, laptop):
    add_family(laptop, "Loudun")
    data = export(laptop)
    with hub.app_context():
        device_id = uuid.UUID(laptop.config["PAIRING"]["device_id"])
        device_services.revoke(db.session, db.session.get(Device, device_id))
        db.session.commit()
    assert refused(hub, data) == "revoked"
