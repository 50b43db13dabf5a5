"""Harness of the sync proofs (shared/research/sync-anchors.md, section (d)).

- `FaultyTransport` wraps a transport (an `AppTransport` on the hub app) and drops requests,
  drops answers after the hub committed, delivers twice, delivers late (a request held back
  and sent after later ones), and crashes the client between steps (`ClientCrash`).
- `Cluster`: one hub app and N laptop apps (own SQLite files), paired through the real
  enrolment services, with a small "user" API writing through the app's own services
  (families.services, registration_services) inside each app's context, each action
  committed like a request. Every edit goes to the intent log, the oracle.
- `check_invariants` checks I1-I5 once the system is quiet (`quiesce`).

The invariants, as checked here:
- I1: each laptop's synced rows (every row of every synced table: fields and version) equal
  the hub's rows of its partition (reference rows and its structure's rows).
- I2: each edit in the intent log (unique values, read back after the commit) is the hub's
  current value or a value of a Conflict row of that field, unless a later edit of that field
  replaced it on a device that held it (its `replaced` is the edit's value: the user saw it and
  changed it), or the record ends purged (a purge wins). Every record created exists on the hub;
  every family deleted stays deleted.
- I3: no id shared by two rows (across every synced table), one registration per (workshop,
  family), and the hub holds exactly the families, guardians, children and registrations that
  users made (nothing duplicated, nothing lost).
- I4: change_log seqs are 1..last_seq with no gap; each device's applied batches are 1..n with
  n its last_batch_seq; each laptop's outbox is 1..n, all acknowledged.
- I5: purged rows hold only wiped personal fields on the hub and every laptop; no change_log
  payload or conflict of a purged row holds personal data; no value a user ever gave a purged
  record's personal fields appears in the hub's log, conflicts, rows, or a laptop's rows,
  outbox bodies, rejected changes or extras.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import stamp
from sqlalchemy import select, text

from tests.sync.conftest import _reset_postgres, first_structure, make_app
from workshops.auth.models import Structure, User
from workshops.core.clock import wall_ms
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families import queries as family_queries
from workshops.families import registration_services
from workshops.families.merge_services import merge_families
from workshops.families.models import Family, Registration
from workshops.families.services import (
    HOUSEHOLD_FIELDS,
    ChildData,
    FamilyData,
    GuardianData,
    create_family,
    update_family,
)
from workshops.scheduling.models import Venue, Workshop
from workshops.seed.reference import load_reference
from workshops.sync import client, device_services, keys, purge_services, registry
from workshops.sync.models import (
    AppliedBatch,
    ChangeLog,
    Conflict,
    Device,
    HubState,
    OutboxBatch,
    RejectedChange,
    SyncExtra,
    SyncPending,
    SyncState,
)
from workshops.sync.transport import AppTransport, TransportError

HUB = "hub"
# Edited fields, each given unique values so that I2 can tell edits apart.
FAMILY_FIELDS = ("notes", "commune", "notice_version")
GUARDIAN_FIELDS = ("first_name", "phone")
PEOPLE = ("families", "guardians", "children", "registrations")


# ---------- Transport with faults ----------

class ClientCrash(BaseException):  # noqa: N818 (a simulated crash, not an error of the code)
    """The laptop's process dies here: nothing after this point runs (not even the client's
    `except Exception` that records a failure), uncommitted work is lost."""


@dataclass(frozen=True)
class Faults:
    """Probabilities of each fault per call, and calls (1-based) that fail or crash for sure."""

    drop_request: float = 0.0
    drop_response: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    crash: float = 0.0
    fail_calls: frozenset[int] = frozenset()
    crash_calls: frozenset[int] = frozenset()

    @property
    def clean(self) -> bool:
        return self == Faults()


class FaultyTransport:
    """A transport that loses, repeats, delays and crashes around an inner one.

    - drop_request: TransportError before the hub sees anything;
    - drop_response: the hub handles the request (and commits), then TransportError;
    - duplicate: the request reaches the hub twice, the client gets the second answer;
    - delay: a POST is held back (the client gets TransportError) and reaches the hub later,
      before a later call or at `deliver_held()`: a late, out-of-order copy;
    - crash: the hub answered, then the client dies (`ClientCrash`, not a TransportError).
    """

    def __init__(self, inner, rng: random.Random, faults: Faults = Faults()) -> None:
        self.inner, self.rng, self.faults = inner, rng, faults
        self.calls = 0
        self.held: list[tuple[str, dict]] = []
        self.log: list[str] = []
        # (call number, method, path, `since` of a pull or `batch_seq` of a push)
        self.requests: list[tuple[int, str, str, Any]] = []

    def _roll(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        return self._call("post", path, payload)

    def get(self, path: str, params: dict) -> tuple[int, dict]:
        return self._call("get", path, params)

    def deliver_held(self) -> None:
        """The held requests reach the hub now; nobody reads the answers."""
        held, self.held = self.held, []
        for path, payload in held:
            self.log.append(f"late {path}")
            self.inner.post(path, payload)

    def _call(self, method: str, path: str, payload: dict) -> tuple[int, dict]:
        self.calls += 1
        number, faults = self.calls, self.faults
        self.requests.append((number, method, path, payload.get("since") if method == "get"
                              else payload.get("batch_seq")))
        if self.held and self._roll(0.5):
            self.deliver_held()
        if number in faults.fail_calls or self._roll(faults.drop_request):
            self.log.append(f"{number} drop request {path}")
            raise TransportError("request lost (test)")
        if method == "post" and self._roll(faults.delay):
            self.log.append(f"{number} delay {path}")
            self.held.append((path, copy.deepcopy(payload)))
            raise TransportError("request timed out (test)")
        send = getattr(self.inner, method)
        answer = send(path, payload)
        if self._roll(faults.duplicate):
            self.log.append(f"{number} duplicate {path}")
            answer = send(path, payload)
        if number in faults.crash_calls or self._roll(faults.crash):
            self.log.append(f"{number} crash after {path}")
            raise ClientCrash(path)
        if self._roll(faults.drop_response):
            self.log.append(f"{number} drop response {path}")
            raise TransportError("answer lost (test)")
        return answer


# ---------- Intent log ----------

@dataclass
class Intent:
    """One thing a user did. `value` is what the row held after the commit; `replaced` what it
    held before, on that device."""

    number: int
    device: str
    kind: str  # create | edit | delete | purge
    table: str
    record_id: uuid.UUID
    field: str | None = None
    value: Any = None
    replaced: Any = None


@dataclass
class IntentLog:
    intents: list[Intent] = field(default_factory=list)
    counter: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def add(self, device: str, kind: str, table: str, record_id: uuid.UUID, **values) -> None:
        self.intents.append(Intent(len(self.intents) + 1, device, kind, table, record_id, **values))

    def of_kind(self, kind: str) -> list[Intent]:
        return [intent for intent in self.intents if intent.kind == kind]


def letters(number: int, width: int = 6) -> str:
    """A fixed-width code of letters only ("aaaabc"), accepted by the name rules."""
    return "".join(chr(ord("a") + int(digit)) for digit in f"{number:0{width}d}")


def unique_value(table: str, field_name: str, number: int) -> str:
    code = letters(number)
    return {"notes": f"Note {code}", "commune": f"Commune {code}", "notice_version": f"v{number}",
            "first_name": f"Prenom{code}", "last_name": f"Nom{code}", "phone": f"06{number:08d}",
            "child": f"Enfant{code}"}[field_name]


# ---------- Apps ----------

@dataclass
class Laptop:
    name: str
    app: Flask
    structure_id: uuid.UUID
    device_id: uuid.UUID | None = None


@dataclass
class Cluster:
    hub: Flask
    laptops: dict[str, Laptop]
    workshops: dict[uuid.UUID, uuid.UUID]  # structure -> an open atelier made on the hub
    log: IntentLog = field(default_factory=IntentLog)

    def app(self, where: str) -> Flask:
        return self.hub if where == HUB else self.laptops[where].app

    def close(self) -> None:
        for app in [self.hub, *(laptop.app for laptop in self.laptops.values())]:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def new_hub(url: str, instance: Path, monkeypatch) -> Flask:
    app = make_app(url, str(instance), monkeypatch, ROLE="hub")
    with app.app_context():
        if url.startswith("postgresql"):
            _reset_postgres(url)
        else:
            db.create_all()
            stamp()
        load_reference(db.session)
        db.session.commit()
    return app


def new_laptop(path: Path, instance: Path, monkeypatch) -> Flask:
    app = make_app(f"sqlite:///{path}", str(instance), monkeypatch, ROLE="laptop")
    with app.app_context():
        db.create_all()
        stamp()
        load_reference(db.session)
        db.session.commit()
    return app


def pair(hub: Flask, laptop: Flask, name: str, structure_id: uuid.UUID) -> uuid.UUID:
    """As conftest.pair: a device made on the hub, its code exchanged, the connection kept."""
    with hub.app_context():
        device, code = device_services.create_device(db.session, name, structure_id, None)
        signing_key = keys.new_signing_key()
        enrolment = device_services.enrol(db.session, code, keys.verify_key(signing_key),
                                          app_version="test", schema_version=registry.SCHEMA_VERSION)
        answer = device_services.enrolment_answer(enrolment, hub_time_ms=wall_ms())
        db.session.commit()
    with laptop.app_context():
        device_services.save_connection(db.session, "http://hub.test", answer, signing_key)
        db.session.commit()
    return uuid.UUID(answer["device_id"])


def structures(hub: Flask, count: int) -> list[uuid.UUID]:
    """The first non-collège structure, then others, by name."""
    with hub.app_context():
        first = first_structure(hub)
        others = db.session.scalars(select(Structure.id).where(Structure.kind != "college",
                                                               Structure.id != first.id)
                                    .order_by(Structure.name)).all()
        return [first.id, *others][:count]


def open_workshop(hub: Flask, structure_id: uuid.UUID) -> uuid.UUID:
    """An atelier of the structure, made on the hub (the laptops receive it)."""
    with hub.app_context():
        venue = db.session.scalars(select(Venue).order_by(Venue.name)).first()
        start = utcnow().replace(microsecond=0)
        workshop = Workshop(id=uuid.uuid4(), title="Atelier sync", start_dt=start, end_dt=start,
                            venue_id=venue.id, structure_id=structure_id)
        db.session.add(workshop)
        db.session.commit()
        return workshop.id


def build_cluster(hub_url: str, folder: Path, monkeypatch, layout: dict[str, int]) -> Cluster:
    """A hub and laptops {name: structure number}, paired; nothing synced yet."""
    hub = new_hub(hub_url, folder / "hub-instance", monkeypatch)
    chosen = structures(hub, max(layout.values()) + 1)
    workshops = {structure_id: open_workshop(hub, structure_id) for structure_id in chosen}
    laptops = {}
    for name, number in layout.items():
        app = new_laptop(folder / f"{name}.sqlite", folder / f"{name}-instance", monkeypatch)
        laptops[name] = Laptop(name, app, chosen[number])
        laptops[name].device_id = pair(hub, app, f"Laptop {name}", chosen[number])
    return Cluster(hub, laptops, workshops)


def freeze_files(cluster: Cluster) -> None:
    """Every app's SQLite file made whole (WAL folded in) and closed, ready to be copied."""
    for app in [cluster.hub, *(laptop.app for laptop in cluster.laptops.values())]:
        with app.app_context():
            if db.engine.dialect.name == "sqlite":
                db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
            db.engine.dispose()


def clone_cluster(template: Cluster, source: Path, folder: Path, monkeypatch) -> Cluster:
    """A copy of a cluster whose SQLite files are in `source` (see freeze_files): same devices,
    tokens, structures and ateliers, its own files in `folder`, a fresh intent log."""
    laptops = {}
    shutil.copyfile(source / "hub.sqlite", folder / "hub.sqlite")
    hub = make_app(f"sqlite:///{folder / 'hub.sqlite'}", str(folder / "hub-instance"), monkeypatch,
                   ROLE="hub")
    for name, laptop in template.laptops.items():
        shutil.copyfile(source / f"{name}.sqlite", folder / f"{name}.sqlite")
        app = make_app(f"sqlite:///{folder / f'{name}.sqlite'}", str(folder / f"{name}-instance"),
                       monkeypatch, ROLE="laptop")
        laptops[name] = Laptop(name, app, laptop.structure_id, laptop.device_id)
    return Cluster(hub, laptops, dict(template.workshops), copy.deepcopy(template.log))


# ---------- What users do ----------

def actor(structure_id: uuid.UUID) -> User:
    """A manager account, never saved: the services only read its role and structure."""
    return User(id=uuid.uuid4(), username="harness", display_name="Harness", role="admin",
                structure_id=structure_id)


def family_data(family: Family, guardians: dict[int, dict] | None = None, **household) -> FamilyData:
    """The household as the edit form shows it, with some values changed."""
    given = []
    for index, guardian in enumerate(family_queries.live_guardians(family)):
        values = {"first_name": guardian.first_name, "last_name": guardian.last_name,
                  "phone": guardian.phone or "", "email": guardian.email or "",
                  "language": guardian.language, "relation": guardian.relation}
        given.append(GuardianData(**{**values, **(guardians or {}).get(index, {})}))
    children = tuple(ChildData(first_name=c.first_name, college_id=c.college_id, level=c.level)
                     for c in family_queries.live_children(family))
    values = {name: getattr(family, name) for name in HOUSEHOLD_FIELDS}
    return FamilyData(guardians=tuple(given), children=children, structure_id=family.structure_id,
                      **{**values, **household})


def live_family_ids(cluster: Cluster, where: str) -> list[uuid.UUID]:
    """Families a user of that device can open (not removed, merged or purged), oldest first."""
    with cluster.app(where).app_context():
        query = select(Family.id).where(Family.deleted_dt.is_(None), Family.merged_into_id.is_(None),
                                        Family.is_purged.is_(False)).order_by(Family.created_dt, Family.id)
        if where != HUB:
            query = query.where(Family.structure_id == cluster.laptops[where].structure_id)
        return list(db.session.scalars(query))


def _structure_of(cluster: Cluster, where: str, family: Family | None = None) -> uuid.UUID:
    if family is not None:
        return family.structure_id
    return cluster.laptops[where].structure_id


def create(cluster: Cluster, where: str) -> uuid.UUID:
    """A household with one guardian and one child, all values unique."""
    log = cluster.log
    number = log.next()
    with cluster.app(where).app_context():
        structure_id = _structure_of(cluster, where)
        data = FamilyData(
            guardians=(GuardianData(first_name=unique_value("guardians", "first_name", number),
                                    last_name=unique_value("guardians", "last_name", number),
                                    phone=unique_value("guardians", "phone", number)),),
            children=(ChildData(first_name=unique_value("children", "child", number), level="5e"),),
            commune=unique_value("families", "commune", number),
            notes=unique_value("families", "notes", number),
            notice_version=unique_value("families", "notice_version", number), structure_id=structure_id)
        family = create_family(db.session, data, actor(structure_id))
        db.session.commit()
        _log_created(log, where, family)
        return family.id


def _log_created(log: IntentLog, where: str, family: Family) -> None:
    log.add(where, "create", "families", family.id)
    for name in FAMILY_FIELDS:
        log.add(where, "edit", "families", family.id, field=name, value=getattr(family, name))
    for guardian in family.guardians:
        log.add(where, "create", "guardians", guardian.id)
        for name in GUARDIAN_FIELDS + ("last_name",):
            log.add(where, "edit", "guardians", guardian.id, field=name, value=getattr(guardian, name))
    for child in family.children:
        log.add(where, "create", "children", child.id)
        log.add(where, "edit", "children", child.id, field="first_name", value=child.first_name)


def edit_family(cluster: Cluster, where: str, family_id: uuid.UUID, name: str) -> None:
    number = cluster.log.next()
    with cluster.app(where).app_context():
        family = db.session.get(Family, family_id)
        before = getattr(family, name)
        data = family_data(family, **{name: unique_value("families", name, number)})
        update_family(db.session, family, data, actor(family.structure_id))
        db.session.commit()
        cluster.log.add(where, "edit", "families", family_id, field=name, value=getattr(family, name),
                        replaced=before)


def edit_guardian(cluster: Cluster, where: str, family_id: uuid.UUID, name: str) -> None:
    number = cluster.log.next()
    with cluster.app(where).app_context():
        family = db.session.get(Family, family_id)
        guardian = family_queries.live_guardians(family)[0]
        before = getattr(guardian, name)
        data = family_data(family, guardians={0: {name: unique_value("guardians", name, number)}})
        update_family(db.session, family, data, actor(family.structure_id))
        db.session.commit()
        cluster.log.add(where, "edit", "guardians", guardian.id, field=name, value=getattr(guardian, name),
                        replaced=before)


def delete_family(cluster: Cluster, where: str, family_id: uuid.UUID) -> None:
    """Remove a household: the tombstone (deleted_dt) travels."""
    with cluster.app(where).app_context():
        family = db.session.get(Family, family_id)
        family.deleted_dt = utcnow()
        db.session.commit()
    cluster.log.add(where, "delete", "families", family_id)


def purge_family(cluster: Cluster, where: str, family_id: uuid.UUID, people: bool = True) -> None:
    """Erase a household (RGPD) with purge_services.purge_row: it and the households merged into
    it (their search keys hold the names that moved), and with `people` their guardians and
    children (without: the hub must purge them when the batch arrives)."""
    with cluster.app(where).app_context():
        family = db.session.get(Family, family_id)
        aliases = db.session.scalars(select(Family).where(Family.merged_into_id == family_id))
        households = [family, *aliases]
        persons = [person for household in households
                   for person in (*household.guardians, *household.children)] if people else []
        for row in [*households, *persons]:
            purge_services.purge_row(row)
        db.session.commit()
    cluster.log.add(where, "purge", "families", family_id)


def merge(cluster: Cluster, where: str, keep_id: uuid.UUID, other_id: uuid.UUID) -> None:
    """"Merge two households": `other` becomes an alias of `keep`, its people and
    registrations move. The fields it changes on `keep` are logged as that device's edits."""
    with cluster.app(where).app_context():
        keep, other = db.session.get(Family, keep_id), db.session.get(Family, other_id)
        before = {name: getattr(keep, name) for name in FAMILY_FIELDS}
        merge_families(db.session, keep, other, actor(keep.structure_id))
        db.session.commit()
        for name, value in before.items():
            if getattr(keep, name) != value:
                cluster.log.add(where, "edit", "families", keep_id, field=name, value=getattr(keep, name),
                                replaced=value)
        for registration in db.session.scalars(select(Registration).where(Registration.family_id == keep_id)):
            cluster.log.add(where, "create", "registrations", registration.id)
    cluster.log.add(where, "delete", "families", other_id)


def register(cluster: Cluster, where: str, family_id: uuid.UUID) -> bool:
    """Register the household to its structure's atelier (False when that device does not
    have the atelier yet)."""
    with cluster.app(where).app_context():
        family = db.session.get(Family, family_id)
        workshop = db.session.get(Workshop, cluster.workshops[family.structure_id])
        if workshop is None:
            return False
        registration = registration_services.register_family(
            db.session, workshop, family, actor(family.structure_id), allow_overbooking=True)
        db.session.commit()
        cluster.log.add(where, "create", "registrations", registration.id)
        return True


# ---------- Syncing ----------

def transport_for(cluster: Cluster, name: str):
    """An AppTransport on the hub app with the laptop's token (inside the laptop's context)."""
    state = db.session.get(SyncState, 1)
    return AppTransport(cluster.hub, state.token)


def sync(cluster: Cluster, name: str, faults: Faults = Faults(), seed: int = 0):
    """One `client.run` of a laptop. Returns the SyncResult, or None when the client crashed
    (its uncommitted work is rolled back, as a dead process's would be)."""
    laptop = cluster.laptops[name]
    with laptop.app.app_context():
        transport = transport_for(cluster, name)
        faulty = None if faults.clean else FaultyTransport(transport, random.Random(seed), faults)
        try:
            result = client.run(db.session, faulty or transport)
        except ClientCrash:
            db.session.rollback()
            result = None
        finally:
            if faulty is not None and faulty.held and faulty.rng.random() < 0.7:
                faulty.deliver_held()
        return result


def pending(cluster: Cluster, name: str) -> tuple[int, int]:
    """(rows with local changes not yet frozen, batches not acknowledged) of a laptop."""
    with cluster.laptops[name].app.app_context():
        rows = len(db.session.scalars(select(SyncPending.record_id)).all())
        batches = len(db.session.scalars(select(OutboxBatch.batch_seq)
                                         .where(OutboxBatch.status != "acked")).all())
        return rows, batches


def quiesce(cluster: Cluster, max_rounds: int = 5) -> None:
    """Every laptop syncs with a clean transport until nothing is pending; rounds go on until
    a whole round sends nothing (then every laptop has pulled every other's changes)."""
    for round_number in range(max_rounds):
        sent = 0
        for name in cluster.laptops:
            for _attempt in range(4):
                result = sync(cluster, name)
                assert result is not None and result.ok, f"clean sync of {name} failed: {result}"
                sent += result.sent
                if pending(cluster, name) == (0, 0):
                    break
            else:
                pytest.fail(f"{name} still has pending changes after 4 clean syncs: {pending(cluster, name)}")
        if sent == 0 and round_number > 0:
            return
    pytest.fail(f"no quiet round after {max_rounds} rounds of clean syncs")


# ---------- Invariants ----------

Rows = dict[tuple[str, uuid.UUID], tuple[dict, int]]


def synced_rows(structure_id: uuid.UUID | None = None, *, everything: bool = False) -> Rows:
    """{(table, id): (snapshot, version)} of the current app's synced rows; with a structure,
    only the rows a laptop of that structure receives."""
    rows: Rows = {}
    owners: dict[uuid.UUID, uuid.UUID | None] = {}  # parent id -> its structure
    for table, model in registry.MODELS.items():
        for row in db.session.scalars(select(model)):
            snapshot = registry.snapshot(row)
            if registry.structure_column(table) == "structure_id":
                owners[row.id] = row.structure_id
            if not everything:
                partition = _partition(table, snapshot, owners)
                if partition is not None and partition != structure_id:
                    continue
            rows[(table, row.id)] = (snapshot, row.version)
    return rows


def _partition(table: str, snapshot: dict, owners: dict) -> uuid.UUID | None:
    """registry.partition_of, with parents read from `owners` (parents come first in MODELS)."""
    if registry.parent_of(table) is not None:
        _parent, key = registry.parent_of(table)
        parent_id = snapshot.get(key)
        if parent_id is not None and uuid.UUID(parent_id) in owners:
            return owners[uuid.UUID(parent_id)]
    return registry.partition_of(db.session, table, snapshot)


def _differences(hub_rows: Rows, laptop_rows: Rows, limit: int = 6) -> list[str]:
    found = []
    for key in sorted(hub_rows.keys() - laptop_rows.keys(), key=str)[:limit]:
        found.append(f"missing on laptop: {key[0]} {key[1]}")
    for key in sorted(laptop_rows.keys() - hub_rows.keys(), key=str)[:limit]:
        found.append(f"only on laptop: {key[0]} {key[1]}")
    for key in sorted(hub_rows.keys() & laptop_rows.keys(), key=str):
        (hub_fields, hub_version), (fields, version) = hub_rows[key], laptop_rows[key]
        changed = {name: (hub_fields[name], fields.get(name)) for name in hub_fields
                   if hub_fields[name] != fields.get(name)}
        if changed or hub_version != version:
            found.append(f"{key[0]} {key[1]}: (hub, laptop) fields {changed} "
                         f"version {(hub_version, version)}")
        if len(found) >= 3 * limit:
            break
    return found


def check_i1(cluster: Cluster) -> list[str]:
    problems = []
    for name, laptop in cluster.laptops.items():
        with cluster.hub.app_context():
            hub_rows = synced_rows(laptop.structure_id)
        with laptop.app.app_context():
            laptop_rows = synced_rows(everything=True)
        problems += [f"I1 {name}: {text}" for text in _differences(hub_rows, laptop_rows)]
    return problems


def check_i2(cluster: Cluster) -> list[str]:
    problems = []
    log = cluster.log
    replaced = {(i.table, i.record_id, i.field, json.dumps(i.replaced, default=str))
                for i in log.of_kind("edit") if i.replaced is not None}
    with cluster.hub.app_context():
        purged = _purged_records(db.session)
        conflict_values = defaultdict(list)
        for conflict in db.session.scalars(select(Conflict)):
            key = (conflict.table_name, conflict.record_id, conflict.field)
            conflict_values[key] += [conflict.kept_value, conflict.other_value]
        for intent in log.intents:
            model = registry.MODELS[intent.table]
            row = db.session.get(model, intent.record_id)
            if intent.kind == "create" and row is None:
                problems.append(f"I2 lost: {intent.table} {intent.record_id} made on {intent.device}")
            if row is None or intent.kind != "edit" and intent.kind != "delete":
                continue
            if (intent.table, intent.record_id) in purged or _family_purged(row, purged):
                continue
            if intent.kind == "delete":
                if row.deleted_dt is None:
                    problems.append(f"I2 resurrected: {intent.table} {intent.record_id} "
                                    f"deleted on {intent.device}")
                continue
            value = registry.to_json(intent.table, intent.field, intent.value)
            current = registry.to_json(intent.table, intent.field, getattr(row, intent.field))
            if value == current or value in conflict_values[(intent.table, intent.record_id, intent.field)]:
                continue
            if (intent.table, intent.record_id, intent.field,
                    json.dumps(intent.value, default=str)) in replaced:
                continue
            problems.append(f"I2 lost edit #{intent.number} on {intent.device}: "
                            f"{intent.table}.{intent.field} of {intent.record_id} = {value!r}; "
                            f"hub holds {current!r}, conflicts "
                            f"{conflict_values[(intent.table, intent.record_id, intent.field)]!r}")
    return problems


def _purged_records(session) -> set[tuple[str, uuid.UUID]]:
    return {(table, row_id) for table, model in registry.MODELS.items()
            for row_id in session.scalars(select(model.id).where(model.is_purged.is_(True)))}


def _family_purged(row, purged: set) -> bool:
    family_id = getattr(row, "family_id", None)
    return family_id is not None and ("families", family_id) in purged


def check_i3(cluster: Cluster) -> list[str]:
    problems = []
    made = {(i.table, i.record_id) for i in cluster.log.of_kind("create")}
    for where in [HUB, *cluster.laptops]:
        with cluster.app(where).app_context():
            ids = Counter(row_id for model in registry.MODELS.values()
                          for row_id in db.session.scalars(select(model.id)))
            problems += [f"I3 {where}: id {row_id} used {count} times"
                         for row_id, count in ids.items() if count > 1]
            pairs = Counter(db.session.execute(select(Registration.workshop_id,
                                                      Registration.family_id)).all())
            problems += [f"I3 {where}: {count} registrations of {pair}"
                         for pair, count in pairs.items() if count > 1]
            if where == HUB and made:
                held = {(table, row_id) for table in PEOPLE
                        for row_id in db.session.scalars(select(registry.MODELS[table].id))}
                problems += [f"I3 hub holds {table} {row_id} that nobody made"
                             for table, row_id in sorted(held - made, key=str)]
    return problems


def check_i4(cluster: Cluster) -> list[str]:
    problems = []
    with cluster.hub.app_context():
        seqs = list(db.session.scalars(select(ChangeLog.seq).order_by(ChangeLog.seq)))
        last = db.session.scalar(select(HubState.last_seq))
        if seqs != list(range(1, len(seqs) + 1)) or (seqs and seqs[-1] != last):
            problems.append(f"I4 change_log seqs not 1..{last}: {len(seqs)} entries, "
                            f"gaps {sorted(set(range(1, (last or 0) + 1)) - set(seqs))[:10]}")
        applied = {}
        for device in db.session.scalars(select(Device)):
            batches = list(db.session.scalars(select(AppliedBatch.batch_seq)
                                              .where(AppliedBatch.device_id == device.id)
                                              .order_by(AppliedBatch.batch_seq)))
            applied[device.id] = len(batches)
            if batches != list(range(1, len(batches) + 1)) or len(batches) != device.last_batch_seq:
                problems.append(f"I4 device {device.name}: applied batches {batches[:20]}, "
                                f"last_batch_seq {device.last_batch_seq}")
    for name, laptop in cluster.laptops.items():
        with laptop.app.app_context():
            outbox = db.session.execute(select(OutboxBatch.batch_seq, OutboxBatch.status)
                                        .order_by(OutboxBatch.batch_seq)).all()
            numbers = [seq for seq, _status in outbox]
            if numbers != list(range(1, len(numbers) + 1)) or len(numbers) != applied.get(laptop.device_id):
                problems.append(f"I4 {name}: outbox {numbers[:20]} against {applied.get(laptop.device_id)} "
                                f"batches applied on the hub")
            problems += [f"I4 {name}: batch {seq} still {status}"
                         for seq, status in outbox if status != "acked"]
    return problems


def _purged_values(cluster: Cluster, purged: set[tuple[str, uuid.UUID]]) -> set[str]:
    """Every text a user gave a personal field of a record that is now purged (lower case),
    but those a user also put in a record that lives on: "merge two households" done offline
    copies the merged household's notes into the kept one before the erasure of the merged
    one is known there; that copy is the kept household's data, which no erasure named."""
    values, kept = set(), []
    for intent in cluster.log.of_kind("edit"):
        if not isinstance(intent.value, str):
            continue
        if (intent.table, intent.record_id) not in purged:
            kept.append(intent.value.lower())
        elif intent.field in registry.personal_fields(intent.table) and len(intent.value) >= 6:
            values.add(intent.value.lower())
    return {value for value in values if not any(value in text for text in kept)}


def _leaks(texts: list[tuple[str, str]], values: set[str]) -> list[str]:
    return [f"{where} holds {value!r}" for where, text in texts for value in values if value in text.lower()]


def check_i5(cluster: Cluster) -> list[str]:
    problems = []
    with cluster.hub.app_context():
        purged = _purged_records(db.session)
        values = _purged_values(cluster, purged)
        for table, row_id in purged:
            row = db.session.get(registry.MODELS[table], row_id)
            problems += _unwiped("hub", table, row_id, registry.snapshot(row))
            for seq, payload in db.session.execute(select(ChangeLog.seq, ChangeLog.payload).where(
                    ChangeLog.table_name == table, ChangeLog.record_id == row_id)):
                problems += _unwiped(f"hub change_log #{seq}", table, row_id, payload)
            for conflict in db.session.scalars(select(Conflict).where(Conflict.table_name == table,
                                                                      Conflict.record_id == row_id)):
                if conflict.field in registry.personal_fields(table) and \
                        (conflict.kept_value or conflict.other_value):
                    problems.append(f"I5 hub conflict {conflict.id} of purged {table} {row_id} keeps a value")
        texts = [(f"hub change_log #{seq}", json.dumps(payload, ensure_ascii=False))
                 for seq, payload in db.session.execute(select(ChangeLog.seq, ChangeLog.payload))]
        texts += [(f"hub conflict {c.id}", json.dumps([c.kept_value, c.other_value], ensure_ascii=False))
                  for c in db.session.scalars(select(Conflict))]
        texts += [("hub rows", json.dumps(list(synced_rows(everything=True).values()), default=str,
                                          ensure_ascii=False))]
        problems += [f"I5 {text}" for text in _leaks(texts, values)]
    for name, laptop in cluster.laptops.items():
        with laptop.app.app_context():
            for table, row_id in purged:
                row = db.session.get(registry.MODELS[table], row_id)
                if row is not None:
                    problems += _unwiped(name, table, row_id, registry.snapshot(row))
            texts = [(f"{name} rows", json.dumps(list(synced_rows(everything=True).values()), default=str,
                                                 ensure_ascii=False))]
            texts += [(f"{name} outbox {b.batch_seq}", b.body or "")
                      for b in db.session.scalars(select(OutboxBatch))]
            texts += [(f"{name} rejected", json.dumps(r.fields, ensure_ascii=False))
                      for r in db.session.scalars(select(RejectedChange))]
            texts += [(f"{name} extra", json.dumps(e.fields, ensure_ascii=False))
                      for e in db.session.scalars(select(SyncExtra))]
            problems += [f"I5 {text}" for text in _leaks(texts, values)]
    return problems


def _unwiped(where: str, table: str, row_id: uuid.UUID, fields: dict) -> list[str]:
    return [f"I5 {where}: purged {table} {row_id} keeps {name}={fields.get(name)!r}"
            for name in registry.personal_fields(table)
            if fields.get(name) != registry.wiped_value(table, name)]


def check_invariants(cluster: Cluster) -> None:
    """I1-I5 at quiescence; fails with every problem found."""
    problems = [problem for check in (check_i1, check_i2, check_i3, check_i4, check_i5)
                for problem in check(cluster)]
    assert not problems, "\n".join(problems[:40])

