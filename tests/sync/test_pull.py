"""Pull pages from the hub's change log (sync-anchors C7; section (d) test 8)."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tests.sync.test_ingest import T0, batch, change, enrolled, new_family, other_structure, push
from workshops.core.db import begin_write
from workshops.extensions import db as _db
from workshops.families.models import Family
from workshops.sync import pull_queries
from workshops.sync.models import ChangeLog, Device, HubState


def pull_all(hub, dev, limit: int = 500, max_bytes: int = 1 << 20) -> tuple[list[dict], int]:
    with hub.app_context():
        device = _db.session.get(Device, dev.id)
        entries, since, pages = [], 0, 0
        while True:
            page = pull_queries.page(_db.session, device, since, limit, max_bytes)
            pages += 1
            entries += page["changes"]
            assert page["next_since"] >= since
            since = page["next_since"]
            if not page["more"]:
                return entries, pages


def partition_seqs(session, structure_id) -> list[int]:
    mine = or_(ChangeLog.structure_id.is_(None), ChangeLog.structure_id == structure_id)
    return list(session.scalars(select(ChangeLog.seq).where(mine).order_by(ChangeLog.seq)))


def test_a_laptop_pulls_reference_data_and_its_structure_only(hub):
    mine = enrolled(hub, "Mine")
    theirs = enrolled(hub, "Theirs", structure_id=other_structure(hub, mine.structure_id))
    my_family, created = new_family(mine, notes="ours")
    push(hub, mine, batch(mine, 1, [created]))
    their_family, created = new_family(theirs, notes="not ours")
    push(hub, theirs, batch(theirs, 1, [created]))
    entries, _ = pull_all(hub, mine)
    ids = {entry["id"] for entry in entries}
    assert str(my_family) in ids and str(their_family) not in ids
    assert {"structures", "venues", "resources"} <= {entry["table"] for entry in entries}
    mine_entry = next(entry for entry in entries if entry["id"] == str(my_family))
    assert mine_entry["fields"]["notes"] == "ours" and mine_entry["version"] == 1
    assert mine_entry["hlc"] == mine.stamp(T0)
    seqs = [entry["seq"] for entry in entries]
    assert seqs == sorted(set(seqs))
    with hub.app_context():
        state = _db.session.get(HubState, 1)
        page = pull_queries.page(_db.session, _db.session.get(Device, mine.id), seqs[-1])
        assert page == {"hub_id": str(state.hub_id), "hub_epoch": str(state.epoch),
                        "last_seq": state.last_seq, "next_since": seqs[-1], "more": False, "changes": []}
        assert seqs == partition_seqs(_db.session, mine.structure_id)


def test_a_guardian_made_with_its_family_goes_to_the_familys_structure_only(hub):
    mine = enrolled(hub, "Mine")
    theirs = enrolled(hub, "Theirs", structure_id=other_structure(hub, mine.structure_id))
    family_id, created = new_family(mine)
    guardian_id = uuid.uuid4()
    fields = {"family_id": str(family_id), "first_name": "Awa"}
    guardian = change("guardians", guardian_id, fields, mine.stamp(T0))
    assert push(hub, mine, batch(mine, 1, [guardian, created]))[1]["counts"]["applied"] == 2
    mine_entries, _ = pull_all(hub, mine)
    ours = [entry["table"] for entry in mine_entries if entry["id"] in (str(family_id), str(guardian_id))]
    assert ours == ["families", "guardians"]
    assert str(guardian_id) not in {entry["id"] for entry in pull_all(hub, theirs)[0]}


def test_pages_are_bounded_by_count_and_by_bytes(hub):
    dev = enrolled(hub)
    everything, pages = pull_all(hub, dev)
    assert pages == 1
    small, pages = pull_all(hub, dev, limit=10)
    assert small == everything and pages == -(-len(everything) // 10)
    with hub.app_context():
        device = _db.session.get(Device, dev.id)
        first = pull_queries.page(_db.session, device, 0, limit=500, max_bytes=2000)
        assert 1 <= len(first["changes"]) < len(everything) and first["more"] is True
        assert first["next_since"] == first["changes"][-1]["seq"]
        one = pull_queries.page(_db.session, device, 0, limit=500, max_bytes=1)
        assert len(one["changes"]) == 1  # a page always moves on, even past the budget
    tight, _ = pull_all(hub, dev, max_bytes=2000)
    assert tight == everything


def test_pages_read_while_writers_commit_add_up_to_the_whole_log(hub):
    """Writers commit families while a reader pages with `since`: no entry skipped or repeated
    (seq order is commit order). Matters on PostgreSQL, where writers really overlap."""
    dev = enrolled(hub)
    writers, per_writer, errors = 3, 15, []
    done = threading.Event()

    def write(number: int) -> None:
        try:
            with hub.app_context():
                session = Session(_db.engine)
                try:
                    for n in range(per_writer):
                        begin_write(session)
                        session.add(Family(id=uuid.uuid4(), structure_id=dev.structure_id,
                                           commune=f"W{number}-{n}"))
                        session.commit()
                finally:
                    session.close()
        except Exception as failure:  # noqa: BLE001 - reported below
            errors.append(failure)

    seen: list[int] = []

    def read() -> None:
        try:
            with hub.app_context():
                session = Session(_db.engine)
                try:
                    device = session.get(Device, dev.id)
                    since = 0
                    while True:
                        finished = done.is_set()
                        page = pull_queries.page(session, device, since, limit=4)
                        session.rollback()  # a new snapshot for the next page (SQLite)
                        seen.extend(entry["seq"] for entry in page["changes"])
                        since = page["next_since"]
                        if finished and not page["more"]:
                            return
                finally:
                    session.close()
        except Exception as failure:  # noqa: BLE001 - reported below
            errors.append(failure)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    reader.join(timeout=120)
    assert errors == []
    with hub.app_context():
        expected = partition_seqs(_db.session, dev.structure_id)
        families = _db.session.scalars(select(Family.id).where(Family.commune.like("W%"))).all()
    assert len(families) == writers * per_writer
    assert seen == expected
