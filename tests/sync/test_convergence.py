"""Sync proofs of section (d): test 1 (the convergence state machine), test 22 (a first sync
interrupted on random pages resumes, reduced size) and test 23 (aborted syncs leave no growing
buffer). The harness and the invariants I1-I5 are in harness.py."""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlalchemy import func, select, text

from tests.sync import harness
from tests.sync.conftest import postgres_url
from tests.sync.harness import HUB, Faults
from workshops.extensions import db
from workshops.families.models import Child, Family, Guardian
from workshops.sync.models import ChangeLog, OutboxBatch, SyncPending, SyncState

# Two laptops of one structure (they edit the same families) and one of another (partitions).
LAYOUT = {"a": 0, "b": 0, "c": 1}
# Edits go to the oldest few households, so that laptops often edit the same ones.
PICK = st.integers(0, 3)
FAULTS = st.builds(
    Faults,
    drop_request=st.sampled_from([0.0, 0.15]),
    drop_response=st.sampled_from([0.0, 0.25]),
    duplicate=st.sampled_from([0.0, 0.3]),
    delay=st.sampled_from([0.0, 0.2]),
    crash=st.sampled_from([0.0, 0.1]),
)


class SyncMachine(RuleBasedStateMachine):
    """Random create/edit/delete/purge/register on random laptops (and edits and purges on the
    hub), syncs through a transport with random faults; at the end (and now and then) every
    laptop syncs cleanly until quiet, then I1-I5 must hold."""

    # A PostgreSQL URL, or None: SQLite copies of `template` (files in `template_folder`).
    hub_url: str | None = None
    template: harness.Cluster | None = None
    template_folder: Path | None = None

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="sync-machine-")
        self.monkeypatch = pytest.MonkeyPatch()
        folder = Path(self.folder.name)
        if self.hub_url is None:
            self.cluster = harness.clone_cluster(self.template, self.template_folder, folder,
                                                 self.monkeypatch)
        else:
            self.cluster = harness.build_cluster(self.hub_url, folder, self.monkeypatch, LAYOUT)
            first_syncs(self.cluster)

    def teardown(self) -> None:
        try:
            harness.quiesce(self.cluster)
            harness.check_invariants(self.cluster)
        finally:
            self.cluster.close()
            self.monkeypatch.undo()
            self.folder.cleanup()

    def _family(self, where: str, pick: int) -> uuid.UUID | None:
        ids = harness.live_family_ids(self.cluster, where)
        return ids[pick % len(ids)] if ids else None

    @rule(where=st.sampled_from(sorted(LAYOUT)))
    def create(self, where: str) -> None:
        harness.create(self.cluster, where)

    @rule(where=st.sampled_from(sorted(LAYOUT) + [HUB]), pick=PICK,
          name=st.sampled_from(harness.FAMILY_FIELDS))
    def edit_family(self, where: str, pick: int, name: str) -> None:
        family_id = self._family(where, pick)
        if family_id is not None:
            harness.edit_family(self.cluster, where, family_id, name)

    @rule(pick=PICK, name=st.sampled_from(harness.FAMILY_FIELDS + harness.GUARDIAN_FIELDS))
    def edit_on_both(self, pick: int, name: str) -> None:
        """Laptops a and b change the same field of one household, each offline."""
        shared = [family_id for family_id in harness.live_family_ids(self.cluster, "a")
                  if family_id in harness.live_family_ids(self.cluster, "b")]
        if shared:
            edit = harness.edit_family if name in harness.FAMILY_FIELDS else harness.edit_guardian
            for where in ("a", "b"):
                edit(self.cluster, where, shared[pick % len(shared)], name)

    @rule(where=st.sampled_from(sorted(LAYOUT)), pick=PICK,
          name=st.sampled_from(harness.GUARDIAN_FIELDS))
    def edit_guardian(self, where: str, pick: int, name: str) -> None:
        family_id = self._family(where, pick)
        if family_id is not None:
            harness.edit_guardian(self.cluster, where, family_id, name)

    @rule(where=st.sampled_from(sorted(LAYOUT)), pick=PICK)
    def delete(self, where: str, pick: int) -> None:
        family_id = self._family(where, pick)
        if family_id is not None:
            harness.delete_family(self.cluster, where, family_id)

    @rule(where=st.sampled_from(["a", HUB]), pick=PICK, people=st.booleans())
    def purge(self, where: str, pick: int, people: bool) -> None:
        """An erasure on the hub, or on laptop a (with or without the household's people: the
        hub purges them when the batch arrives)."""
        family_id = self._family(where, pick)
        if family_id is not None:
            harness.purge_family(self.cluster, where, family_id, people=people or where == HUB)

    @rule(where=st.sampled_from(["a", "b", HUB]), pick=PICK, other=st.integers(1, 99))
    def merge(self, where: str, pick: int, other: int) -> None:
        ids = [family_id for family_id in harness.live_family_ids(self.cluster, where)
               if where != HUB or family_id in harness.live_family_ids(self.cluster, "a")]
        keep, gone = pick % max(len(ids), 1), (pick + other) % max(len(ids), 1)
        if keep != gone:
            harness.merge(self.cluster, where, ids[keep], ids[gone])

    @rule(where=st.sampled_from(sorted(LAYOUT)), pick=PICK)
    def register(self, where: str, pick: int) -> None:
        family_id = self._family(where, pick)
        if family_id is not None:
            harness.register(self.cluster, where, family_id)

    @rule(where=st.sampled_from(sorted(LAYOUT)), faults=FAULTS, seed=st.integers(0, 2**16))
    def sync(self, where: str, faults: Faults, seed: int) -> None:
        result = harness.sync(self.cluster, where, faults, seed)
        if faults.clean:
            assert result.ok, result

    @rule(now=st.integers(0, 5))
    def quiet_then_check(self, now: int) -> None:
        """Now and then (one draw in six) the checks of the end, mid-run."""
        if now:
            return
        harness.quiesce(self.cluster)
        harness.check_invariants(self.cluster)


def first_syncs(cluster: harness.Cluster) -> None:
    """Three households made on laptop a, then every laptop syncs: each has the hub's reference
    data and its structure's atelier, and a and b share those households."""
    for _ in range(3):
        harness.create(cluster, "a")
    for name in cluster.laptops:
        result = harness.sync(cluster, name)
        assert result.ok, result


@pytest.fixture(scope="module")
def machine_template(tmp_path_factory):
    """The SQLite hub and laptops every example starts from, paired and synced once."""
    folder = tmp_path_factory.mktemp("sync-template")
    with pytest.MonkeyPatch.context() as monkeypatch:
        cluster = harness.build_cluster(f"sqlite:///{folder / 'hub.sqlite'}", folder, monkeypatch, LAYOUT)
        first_syncs(cluster)
        harness.freeze_files(cluster)
    return cluster, folder


MACHINE_SETTINGS = settings(max_examples=int(os.environ.get("WORKSHOPS_SYNC_EXAMPLES", "20")),
                            stateful_step_count=20, deadline=None, derandomize=False,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_laptops_converge_with_the_hub_whatever_the_faults(machine_template):
    class SqliteMachine(SyncMachine):
        template, template_folder = machine_template

    run_state_machine_as_test(SqliteMachine, settings=MACHINE_SETTINGS)


def test_laptops_converge_with_a_postgresql_hub():
    url = postgres_url()

    class PostgresMachine(SyncMachine):
        hub_url = url

    run_state_machine_as_test(PostgresMachine, settings=settings(MACHINE_SETTINGS, max_examples=4))


# ---------- Test 23: aborted syncs leave nothing growing ----------

def _laptop_file_kb(cluster, name: str) -> float:
    with cluster.laptops[name].app.app_context():
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        pages = db.session.scalar(text("PRAGMA page_count"))
        pages -= db.session.scalar(text("PRAGMA freelist_count"))
        size = db.session.scalar(text("PRAGMA page_size"))
        return pages * size / 1024


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def pair_of_laptops(tmp_path, monkeypatch):
    """Laptop "aborted" and laptop "clean", of two structures, synced once."""
    cluster = harness.build_cluster(f"sqlite:///{tmp_path / 'hub.sqlite'}", tmp_path, monkeypatch,
                                    {"aborted": 0, "clean": 1})
    for name in cluster.laptops:
        assert harness.sync(cluster, name).ok
    yield cluster
    cluster.close()


@pytest.fixture
def one_laptop(tmp_path, monkeypatch):
    """A hub and laptop "a", synced once."""
    cluster = harness.build_cluster(f"sqlite:///{tmp_path / 'hub.sqlite'}", tmp_path, monkeypatch, {"a": 0})
    assert harness.sync(cluster, "a").ok
    yield cluster
    cluster.close()


def test_twenty_aborted_syncs_leave_no_buffer_and_no_extra_rows(pair_of_laptops):
    cluster = pair_of_laptops
    for name in cluster.laptops:
        for _ in range(3):
            harness.create(cluster, name)
        assert harness.sync(cluster, name).ok
    rng = random.Random(23)
    for attempt in range(20):
        for name in cluster.laptops:
            family_id = harness.live_family_ids(cluster, name)[attempt % 3]
            harness.edit_family(cluster, name, family_id, "notes")
        # The aborted laptop's sync dies at a random call: before sending, after the hub
        # committed (answer lost), or by a crash of the client; the other one syncs cleanly.
        call = rng.randint(1, 3)  # hello, push, pull
        kind = rng.choice(["fail", "crash", "drop_response"])
        faults = Faults(fail_calls=frozenset({call}) if kind == "fail" else frozenset(),
                        crash_calls=frozenset({call}) if kind == "crash" else frozenset(),
                        drop_response=1.0 if kind == "drop_response" else 0.0)
        result = harness.sync(cluster, "aborted", faults, seed=attempt)
        assert result is None or not result.ok
        assert harness.sync(cluster, "clean").ok
        rows, batches = harness.pending(cluster, "aborted")
        assert rows <= 3 and batches <= attempt + 1, (rows, batches)
    harness.quiesce(cluster)
    harness.check_invariants(cluster)
    with cluster.hub.app_context():
        logged = {name: _count(ChangeLog, ChangeLog.device_id == laptop.device_id)
                  for name, laptop in cluster.laptops.items()}
    # Every change of the aborted laptop reached the hub once: never more log entries than the
    # laptop that synced each edit cleanly.
    assert logged["aborted"] <= logged["clean"], logged
    for name in cluster.laptops:
        with cluster.laptops[name].app.app_context():
            assert _count(SyncPending) == 0
            assert _count(OutboxBatch, OutboxBatch.body.is_not(None)) == 0  # buffer emptied at ack
    assert _laptop_file_kb(cluster, "aborted") <= 1.25 * _laptop_file_kb(cluster, "clean") + 64


# ---------- Test 22, reduced size: an interrupted first sync resumes ----------

def _hub_families(hub, structure_id: uuid.UUID, count: int) -> None:
    """`count` households (family, guardian, child) written on the hub in bulk (untimed)."""
    with hub.app_context():
        rows = []
        for number in range(count):
            family = Family(id=uuid.uuid4(), structure_id=structure_id, commune="Tulle",
                            notes=f"Note {number}", search_key=f"nom{number}")
            rows += [family, Guardian(id=uuid.uuid4(), family=family, first_name="Prenom",
                                      last_name=f"Nom{harness.letters(number)}"),
                     Child(id=uuid.uuid4(), family=family, first_name="Enfant", level="4e")]
        db.session.add_all(rows)
        db.session.commit()


def _cursor(cluster, name: str) -> int:
    with cluster.laptops[name].app.app_context():
        return db.session.get(SyncState, 1).pull_cursor


FULL_SIZE = os.environ.get("WORKSHOPS_SYNC_LOAD") == "1"


@pytest.mark.parametrize("households", [
    1000,
    pytest.param(17_000, marks=pytest.mark.skipif(not FULL_SIZE, reason="full size: WORKSHOPS_SYNC_LOAD=1")),
])
def test_interrupted_first_sync_resumes_where_it_stopped(tmp_path, monkeypatch, households):
    cluster = harness.build_cluster(f"sqlite:///{tmp_path / 'hub.sqlite'}", tmp_path, monkeypatch, {"new": 0})
    try:
        _hub_families(cluster.hub, cluster.laptops["new"].structure_id, households)
        rng = random.Random(22)
        runs: list[tuple[int | None, int]] = []  # (first `since` asked, cursor saved after)
        pages = 0
        for _attempt in range(200):
            call = frozenset({rng.randint(2, 4)})  # after hello: a push or one of the next pages
            faults = Faults(crash_calls=call) if rng.random() < 0.4 else Faults(fail_calls=call)
            before = _cursor(cluster, "new")
            result, pulls = _sync_recording(cluster, "new", faults)
            runs.append((pulls[0] if pulls else None, _cursor(cluster, "new")))
            pages += len(pulls)
            assert runs[-1][1] >= before
            if result is not None and result.ok:
                break
        else:
            pytest.fail("the first sync never finished")
        interruptions = len(runs) - 1
        assert interruptions >= 3, runs
        # Each run after an interruption asked from the cursor the one before had saved.
        for (first, _saved), (_, previous) in zip(runs[1:], runs, strict=False):
            assert first is None or int(first) == previous, runs
        assert max(cursor for _first, cursor in runs[:-1]) > 0, runs
        rows = 3 * households
        assert pages <= rows // 500 + 3 + interruptions, (pages, runs)
        with cluster.laptops["new"].app.app_context():
            assert _count(Family) == households
        harness.quiesce(cluster)
        assert not harness.check_i1(cluster)
    finally:
        cluster.close()


def _sync_recording(cluster, name: str, faults: Faults):
    """One faulty sync: (its result or None after a crash, the `since` of each pull it asked)."""
    laptop = cluster.laptops[name]
    with laptop.app.app_context():
        transport = harness.FaultyTransport(harness.transport_for(cluster, name), random.Random(0), faults)
        try:
            result = harness.client.run(db.session, transport)
        except harness.ClientCrash:
            db.session.rollback()
            result = None
    return result, [since for _n, method, _path, since in transport.requests if method == "get"]


def test_a_household_merged_on_a_laptop_before_any_sync_reaches_the_hub(one_laptop):
    """Two households made offline, then merged ("merge two households") before the laptop
    synced: the alias (merged_into_id) and the household it points to travel in one batch."""
    cluster = one_laptop
    first, second = harness.create(cluster, "a"), harness.create(cluster, "a")
    # The alias sorts before its target, as it would half the time with random ids.
    keep, other = max(first, second), min(first, second)
    harness.merge(cluster, "a", keep, other)
    harness.quiesce(cluster)
    harness.check_invariants(cluster)
    with cluster.hub.app_context():
        assert db.session.get(Family, other).merged_into_id == keep


@pytest.mark.parametrize("where", ["a", HUB])
def test_guardians_and_children_moved_by_a_merge_travel(one_laptop, where):
    """A merge moves the other household's guardian and child to the kept one (their
    family_id changes): the hub and the laptop must agree on where they are."""
    cluster = one_laptop
    keep, other = harness.create(cluster, "a"), harness.create(cluster, "a")
    assert harness.sync(cluster, "a").ok
    harness.merge(cluster, where, keep, other)
    harness.quiesce(cluster)
    problems = harness.check_i1(cluster)
    for app in (cluster.hub, cluster.laptops["a"].app):
        with app.app_context():
            for model in (Guardian, Child):
                moved = db.session.scalars(select(model.family_id)
                                           .where(model.family_id.in_([keep, other])))
                if sorted(map(str, moved)) != [str(keep)] * 2:
                    problems.append(f"{app.config['ROLE']}: {model.__tablename__} not all moved "
                                    "to the kept household")
    assert not problems, "\n".join(problems)
