"""Bad input on the hub's sync API (issue 8 item 8): whatever a laptop or a stranger sends to
enrol, hello, push or pull, the answer is JSON with an error code, never a 500 or an HTML page,
and the hub's data is as it was. A push whose shape is right but whose changes are wrong is
applied as a batch of refusals (the wire format's per-change `rejected`): no data row moves.

Runs on a SQLite hub: the inputs are refused before any SQL a database would treat apart."""

# ruff: noqa: F811  (the `hub` fixture is imported, then named as a test argument)
from __future__ import annotations

import gzip
import json
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.sync.conftest import hub, hub_database  # noqa: F401 (fixtures used below)
from tests.sync.test_api import auth
from tests.sync.test_ingest import Dev, batch, enrolled, new_family
from workshops.core.models import Base
from workshops.extensions import db as _db
from workshops.families.models import Family
from workshops.sync import registry
from workshops.sync.models import Device

pytestmark = pytest.mark.parametrize("hub_database", ["sqlite"], indirect=True)
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
# Columns a refused call may still touch: the device's last contact (a gap or an old version
# writes only that, on purpose), and the batch bookkeeping of a batch of refused changes.
CONTACT = {"sync_devices": {"last_seen_dt"}}
BOOKKEEPING = {"sync_devices": {"last_seen_dt", "last_batch_seq", "clock_offset_ms"},
               "sync_applied_batches": None}
HELLO = {"sync_devices": {"last_seen_dt", "app_version", "schema_version", "clock_offset_ms",
                          "reported_cursor"}}


def dump(app, skip: dict) -> dict:
    """Every row of every table, without the columns (None: the whole table) in `skip`."""
    with app.app_context():
        _db.session.remove()
        found = {}
        for table in Base.metadata.sorted_tables:
            if table.name in skip and skip[table.name] is None:
                continue
            columns = [c for c in table.columns if c.key not in (skip.get(table.name) or ())]
            rows = _db.session.execute(select(*columns)).all()
            found[table.name] = sorted(map(repr, rows))
        return found


def refused(response, *codes: int) -> dict:
    """A 4xx JSON answer with an error code (one of `codes` when given)."""
    head = response.get_data()[:300]
    assert 400 <= response.status_code < 500, (response.status_code, head)
    assert response.is_json, head
    answer = response.get_json()
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], head
    assert not codes or response.status_code in codes, (response.status_code, head)
    return answer


def post(app, path: str, data: bytes, token: str | None = None, **headers):
    headers = {"Content-Type": "application/json", **(auth(token) if token else {}), **headers}
    return app.test_client().post(path, data=data, headers=headers)


@pytest.fixture
def dev(hub) -> Dev:
    # Wrong pairing codes count against the address: a fuzz run sends hundreds.
    hub.config["LOGIN_IP_MAX_FAILURES"] = 10**9
    return enrolled(hub)


def valid_batch(hub, dev: Dev, changes: list) -> dict:
    """A push body the hub would take as the device's next batch."""
    with hub.app_context():
        seq = _db.session.get(Device, dev.id).last_batch_seq + 1
    return batch(dev, seq, changes)


def encoded(body) -> bytes:
    return json.dumps(body).encode()


# ---------- enrol ----------

@FUZZ
@given(body=JSON)
@example(body={"code": "ABCD-EFGH", "verify_key": ""})
@example(body={"code": "\x00" * 50, "verify_key": "\u202e" * 50})
def test_enrol_refuses_any_json_with_a_code_and_changes_nothing(hub, dev, body):
    before = dump(hub, CONTACT)
    refused(post(hub, "/api/sync/enrol", encoded(body)), 400)
    assert dump(hub, CONTACT) == before


@FUZZ
@given(code=st.text(max_size=60), verify_key=st.text(max_size=200), extra=JSON)
def test_enrol_refuses_unknown_codes_whatever_their_text(hub, dev, code, verify_key, extra):
    before = dump(hub, CONTACT)
    body = {"code": code, "verify_key": verify_key, "app_version": extra, "schema_version": extra,
            "device_time_ms": extra}
    assert refused(post(hub, "/api/sync/enrol", encoded(body)), 400)["error"] == "bad_code"
    assert dump(hub, CONTACT) == before


# ---------- hello ----------

@FUZZ
@given(body=JSON)
def test_hello_without_a_token_is_refused_whatever_the_body(hub, dev, body):
    before = dump(hub, CONTACT)
    assert refused(post(hub, "/api/sync/hello", encoded(body)), 401)["error"] == "unknown_device"
    assert dump(hub, CONTACT) == before


@FUZZ
@given(body=JSON | st.fixed_dictionaries({}, optional=dict.fromkeys(
    ("app_version", "schema_version", "device_time_ms", "cursor"), JSON)))
@example(body={"cursor": 2**70})
@example(body={"device_time_ms": -(2**70)})
@example(body={"app_version": "\ud800"})  # sent as the JSON escape "\\ud800"
def test_hello_never_fails_and_keeps_only_well_typed_contact_values(hub, dev, body):
    """Hello's body is optional by design (an old laptop sends {}): a wrong value is ignored,
    never stored, and the hub's data does not move."""
    before = dump(hub, HELLO)
    response = post(hub, "/api/sync/hello", encoded(body), dev.token)
    assert response.status_code == 200 and response.is_json, response.get_data()[:300]
    assert dump(hub, HELLO) == before
    with hub.app_context():
        device = _db.session.get(Device, dev.id)
        assert device.schema_version is None or type(device.schema_version) is int
        assert device.reported_cursor is None or type(device.reported_cursor) is int
        assert device.app_version is None or len(device.app_version) <= 40


# ---------- push: the body ----------

@FUZZ
@given(body=JSON)
def test_push_refuses_any_json_that_is_not_a_batch(hub, dev, body):
    before = dump(hub, CONTACT)
    refused(post(hub, "/api/sync/push", encoded(body), dev.token))
    assert dump(hub, CONTACT) == before


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"\xff\xfe{\x00}")
@example(data=b'{"protocol": 1')
@example(data=b"")
def test_push_refuses_bytes_that_are_not_json(hub, dev, data):
    before = dump(hub, CONTACT)
    refused(post(hub, "/api/sync/push", data, dev.token), 400)
    assert dump(hub, CONTACT) == before


@FUZZ
@given(data=st.binary(max_size=2048), pack=st.booleans())
@example(data=b"\x1f\x8b\x08\x00", pack=False)  # a gzip header and nothing after it
@example(data=gzip.compress(b"\x00" * 64)[:-4], pack=False)  # cut short
def test_push_refuses_gzip_garbage(hub, dev, data, pack):
    before = dump(hub, CONTACT)
    response = post(hub, "/api/sync/push", gzip.compress(data) if pack else data, dev.token,
                    **{"Content-Encoding": "gzip"})
    refused(response, 400, 413)
    assert dump(hub, CONTACT) == before


def test_push_refuses_a_gzip_bomb_as_too_large(hub, dev):
    before = dump(hub, CONTACT)
    bomb = gzip.compress(b" " * (40 * 1024 * 1024))
    response = post(hub, "/api/sync/push", bomb, dev.token, **{"Content-Encoding": "gzip"})
    assert refused(response, 413)["error"] == "too_large"
    assert dump(hub, CONTACT) == before


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_push_refuses_deeply_nested_json(hub, dev, depth):
    before = dump(hub, CONTACT)
    refused(post(hub, "/api/sync/push", ("[" * depth + "]" * depth).encode(), dev.token), 400)
    refused(post(hub, "/api/sync/push", ('{"a":' * depth + "1" + "}" * depth).encode(), dev.token), 400)
    assert dump(hub, CONTACT) == before


# The type each key of a push body must have; any other JSON value there is a refusal.
BATCH_KEYS = {"protocol": int, "schema_version": int, "batch_seq": int, "device_id": str, "batch_id": str,
              "changes": list}


def wrong_type(key: str, value) -> bool:
    if BATCH_KEYS[key] is int:
        return type(value) is not int
    return not isinstance(value, BATCH_KEYS[key])


@FUZZ
@given(key=st.sampled_from(sorted(BATCH_KEYS)), value=JSON, drop=st.booleans())
def test_push_refuses_a_wrong_value_in_any_batch_field(hub, dev, key, value, drop):
    body = valid_batch(hub, dev, [])
    if drop:
        del body[key]
    elif wrong_type(key, value):
        body[key] = value
    elif key != "changes":
        body[key] = {"wrapped": value}
    else:
        # A list is a batch: its items are changes, each refused on its own (tests below).
        body[key] = value
        before = dump(hub, BOOKKEEPING)
        response = post(hub, "/api/sync/push", encoded(body), dev.token)
        assert response.status_code == 200, response.get_data()[:300]
        assert all(r["outcome"] == "rejected" and r["reason"] for r in response.get_json()["results"])
        assert dump(hub, BOOKKEEPING) == before
        return
    before = dump(hub, CONTACT)
    assert refused(post(hub, "/api/sync/push", encoded(body), dev.token), 400)["error"] == "bad_request"
    assert dump(hub, CONTACT) == before


@FUZZ
@given(key=st.sampled_from(("protocol", "schema_version", "batch_seq")),
       value=st.integers(min_value=2**63) | st.integers(max_value=-(2**63) - 1))
@example(key="batch_seq", value=2**63)
@example(key="batch_seq", value=2**70)
def test_push_refuses_numbers_no_database_column_holds(hub, dev, key, value):
    body = valid_batch(hub, dev, [])
    body[key] = value
    before = dump(hub, CONTACT)
    refused(post(hub, "/api/sync/push", encoded(body), dev.token))
    assert dump(hub, CONTACT) == before


@FUZZ
@given(where=st.sampled_from(("batch_id", "extra", "notes", "hlc", "field_name", "table")),
       surrogate=st.integers(min_value=0xD800, max_value=0xDFFF))
@example(where="extra", surrogate=0xD800)
def test_push_refuses_lone_surrogates_json_can_escape(hub, dev, where, surrogate):
    """JSON may carry "\\ud800" escapes; no text column can store one."""
    marker = "LONE-SURROGATE"
    family_id, change = new_family(dev, notes="")
    body = valid_batch(hub, dev, [change])
    if where in ("batch_id", "extra"):
        body[where] = marker
    elif where == "notes":
        change["fields"]["notes"] = marker
    elif where == "hlc":
        change["hlc"]["notes"] = marker
    elif where == "field_name":
        change["fields"][marker] = "x"
    else:
        change["table"] = marker
    data = json.dumps(body).replace(marker, f"\\u{surrogate:04x}").encode()
    before, kept = dump(hub, CONTACT), dump(hub, BOOKKEEPING)
    response = post(hub, "/api/sync/push", data, dev.token)
    assert response.status_code != 500, response.get_data()[:300]
    if response.status_code == 200:
        assert response.get_json()["results"][0]["outcome"] == "rejected"
        assert dump(hub, BOOKKEEPING) == kept
    else:
        refused(response)
        assert dump(hub, CONTACT) == before


# ---------- push: the changes ----------

FAMILY_FIELDS = registry.fields_of("families")
CHANGE_KEYS = ("table", "id", "base_version", "fields", "hlc")


@st.composite
def broken_changes(draw, dev: Dev) -> dict:
    """A family's creation with one part made wrong (the whole change, a key, a field's value
    or stamp), the value sent kept for the check."""
    _, change = new_family(dev, notes="fuzz")
    how = draw(st.sampled_from(("whole", "key", "field", "stamp", "unknown_field")))
    if how == "whole":
        return draw(JSON.filter(lambda value: not isinstance(value, dict)))
    if how == "key":
        key = draw(st.sampled_from(CHANGE_KEYS))
        change[key] = draw(JSON.filter(lambda value: not (
            (key == "base_version" and type(value) is int and value >= 0)
            or (key == "fields" and isinstance(value, dict)))))
        return change
    if how == "unknown_field":
        local = registry.local_only("families")
        name = draw(st.text(min_size=1, max_size=30).filter(
            lambda n: n not in FAMILY_FIELDS and n not in local))
        change["fields"][name] = draw(JSON)
        change["hlc"][name] = change["hlc"]["notes"]
        return change
    name = draw(st.sampled_from(("structure_id", "commune", "notes")))
    if how == "field":
        change["fields"][name] = draw(JSON.filter(lambda v: v is not None and not isinstance(v, str)))
    else:
        change["hlc"][name] = draw(JSON | st.text(alphabet="0123456789abcdef-:", max_size=60))
    return change


@FUZZ
@given(data=st.data())
def test_every_broken_change_is_rejected_and_writes_no_row(hub, dev, data):
    changes = data.draw(st.lists(broken_changes(dev), min_size=1, max_size=5))
    body = valid_batch(hub, dev, changes)
    before = dump(hub, BOOKKEEPING)
    response = post(hub, "/api/sync/push", encoded(body), dev.token)
    assert response.status_code == 200 and response.is_json, response.get_data()[:300]
    results = response.get_json()["results"]
    assert len(results) == len(changes)
    assert all(result["outcome"] == "rejected" and result["reason"] for result in results), results
    assert dump(hub, BOOKKEEPING) == before


@FUZZ
@given(notes=st.text(max_size=3000), commune=st.text(max_size=200))
@example(notes="x" * 1_000_000, commune="Poitiers")
@example(notes="\x00\u202e\u200f\ufeff", commune="\u0645\u0635\u0631")
def test_any_text_in_a_field_is_stored_exactly_or_rejected(hub, dev, notes, commune):
    family_id, change = new_family(dev, notes=notes, commune=commune)
    response = post(hub, "/api/sync/push", encoded(valid_batch(hub, dev, [change])), dev.token)
    assert response.status_code == 200 and response.is_json, response.get_data()[:300]
    [result] = response.get_json()["results"]
    with hub.app_context():
        row = _db.session.get(Family, family_id)
        if result["outcome"] == "rejected":
            assert row is None and result["reason"] == "bad_value"
        else:
            assert (row.notes, row.commune) == (notes, commune)


@FUZZ
@given(field=st.sampled_from(("base_version", "version_field")),
       value=st.integers(min_value=2**63) | st.integers(max_value=-(2**63) - 1))
def test_a_change_with_a_number_no_column_holds_is_rejected(hub, dev, field, value):
    """base_version is compared, never stored; an integer field of a row is stored."""
    family_id, change = new_family(dev)
    if field == "base_version":
        change["base_version"] = value
    else:
        fields = {"structure_id": str(dev.structure_id), "asset_tag": "FUZZ-1", "kind": "laptop",
                  "ram_gb": value}
        change = {"table": "equipment", "id": str(uuid.uuid4()), "base_version": 0, "fields": fields,
                  "hlc": dict.fromkeys(fields, change["hlc"]["notes"])}
    before = dump(hub, BOOKKEEPING)
    response = post(hub, "/api/sync/push", encoded(valid_batch(hub, dev, [change])), dev.token)
    assert response.status_code != 500, response.get_data()[:300]
    if response.status_code == 200:
        [result] = response.get_json()["results"]
        assert result["outcome"] == "rejected" or field == "base_version"
        if result["outcome"] == "rejected":
            assert dump(hub, BOOKKEEPING) == before
    else:
        refused(response)


# ---------- pull ----------

@FUZZ
@given(since=st.text(max_size=30) | INT64.map(str), limit=st.text(max_size=30) | INT64.map(str))
@example(since="9" * 30, limit="10")
@example(since="10", limit="9" * 30)
@example(since="1e3", limit="")
def test_pull_answers_json_whatever_the_query(hub, dev, since, limit):
    before = dump(hub, CONTACT)
    response = hub.test_client().get("/api/sync/pull", query_string={"since": since, "limit": limit},
                                     headers=auth(dev.token))
    if response.status_code != 200:
        assert refused(response, 400)["error"] == "bad_request"
    assert response.is_json
    assert dump(hub, CONTACT) == before
