"""Erasure of a household (R35, R36): one transaction, counts kept, no copy left anywhere."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.test_privacy_seed import files_holding, seed_canary_family
from workshops.audit.models import AuditEntry
from workshops.backup.services import backup_dir, create_backup, list_backups
from workshops.equipment.models import EquipmentEvent, Handover
from workshops.extensions import db as _db
from workshops.families.models import Child, Family, FamilyResource, Guardian, Registration
from workshops.sync import apply_services, erasure_ledger, outbox_services, registry
from workshops.sync.device_services import sync_state
from workshops.sync.erasure_services import AlreadyErased, erase_family
from workshops.sync.models import OutboxBatch, SyncPending

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def _erase(db, family_id):
    count = erase_family(db, db.get(Family, family_id), None, NOW)
    db.commit()
    return count


def test_erasure_wipes_every_personal_field_and_keeps_the_counts(db):
    seeded = seed_canary_family(db)
    db.commit()
    count = _erase(db, seeded.family_id)
    family = db.get(Family, seeded.family_id)
    assert family.is_purged and family.deleted_dt is not None
    assert (family.commune, family.notes, family.search_key) == ("", "", "")
    guardian = db.scalars(select(Guardian).where(Guardian.family_id == family.id)).one()
    assert guardian.is_purged and (
        guardian.first_name,
        guardian.last_name,
        guardian.phone,
        guardian.email,
    ) == ("", "", None, None)
    assert db.scalars(select(Child).where(Child.family_id == family.id)).one().first_name == ""
    handover = db.get(Handover, seeded.handover_id)
    assert handover.notes == "" and handover.deleted_dt is None and handover.mode == "gift"
    event = db.scalars(select(EquipmentEvent).where(EquipmentEvent.handover_id == handover.id)).one()
    assert (event.place, event.reason, event.kind) == ("", "", "handed_over")
    registration = db.scalars(select(Registration).where(Registration.family_id == family.id)).one()
    assert (registration.status, registration.adults_present, registration.deleted_dt) == (
        "attended",
        1,
        None,
    )
    assert db.scalar(select(func.count()).select_from(FamilyResource)) == 1
    assert (count.families, count.guardians, count.children, count.handovers, count.registrations_kept) == (
        1,
        1,
        1,
        1,
        1,
    )


def test_one_journal_entry_with_the_id_and_counts_only_and_the_ledger_line(app, db):
    seeded = seed_canary_family(db)
    db.commit()
    _erase(db, seeded.family_id)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "erasure")).one()
    assert entry.object_ref == str(seeded.family_id) and entry.details["guardians"] == 1
    assert not [c for c in seeded.canaries if c.lower() in json.dumps(entry.details).lower()]
    ledger = erasure_ledger.ledger_path(app.instance_path)
    line = json.loads(ledger.read_text(encoding="utf-8").strip())
    assert line == {"table": "families", "id": str(seeded.family_id), "erased_dt": NOW.isoformat()}
    assert erasure_ledger.read(ledger) == [(seeded.family_id, NOW)]


def test_an_erased_household_cannot_be_erased_twice(db):
    seeded = seed_canary_family(db)
    db.commit()
    _erase(db, seeded.family_id)
    with pytest.raises(AlreadyErased):
        erase_family(db, db.get(Family, seeded.family_id), None, NOW)


def test_a_ledger_that_cannot_be_written_erases_nothing(app, db, monkeypatch):
    seeded = seed_canary_family(db)
    db.commit()
    monkeypatch.setattr(erasure_ledger, "append", _refuse)
    with pytest.raises(OSError):
        erase_family(db, db.get(Family, seeded.family_id), None, NOW)
    db.rollback()
    assert db.get(Family, seeded.family_id).commune.startswith("Commune")


def _refuse(*args):
    raise OSError("disk full")


def _connect(db) -> None:
    """As if paired with a hub: the outbox freezes batches."""
    state = sync_state(db)
    state.device_id, state.hub_url = uuid.uuid4(), "http://hub.test"
    db.flush()


def test_canary_no_personal_string_left_in_the_database_wal_logs_backups_ledger_or_outbox(app, db, tmp_path):
    """R35 canary: every personal field holds a unique string; the household is registered,
    given a machine, its changes frozen into an outbox batch and a backup taken; then erased with
    `flask privacy erase`. After a checkpoint and VACUUM no byte of the database, its -wal, the
    logs, the backups, the ledger or the outbox holds any."""
    _connect(db)
    seeded = seed_canary_family(db)
    db.commit()
    batch = outbox_services.freeze_batch(db)
    db.commit()
    assert any(c in batch.body for c in seeded.canaries), "the frozen batch holds the household"
    (Path(app.instance_path) / "logs").mkdir(parents=True, exist_ok=True)
    backup = create_backup(_db.engine, backup_dir(app), NOW)
    assert files_holding(seeded.canaries, backup), "the backup holds the household before"
    _db.session.remove()
    result = app.test_cli_runner().invoke(args=["privacy", "erase", str(seeded.family_id), "--yes"])
    assert result.exit_code == 0, result.output
    db = _db.session()
    assert list_backups(backup_dir(app))[0].path == backup, "the backup is kept, scrubbed"
    body = db.get(OutboxBatch, batch.batch_seq).body
    assert not [c for c in seeded.canaries if c.lower() in body.lower()]
    assert json.loads(body)["batch_id"] == str(batch.batch_id), "the batch keeps its number and id"
    # The purge itself waits to be sent, with the wiped values.
    assert db.get(SyncPending, ("families", seeded.family_id)) is not None
    _db.session.remove()
    _db.engine.dispose()
    database = tmp_path / "test.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("VACUUM")
    wal = Path(f"{database}-wal")
    leaks = files_holding(seeded.canaries, database, wal, Path(app.instance_path))
    assert leaks == []


def test_restoring_a_copy_taken_before_the_erasure_then_reapplying_the_ledger_erases_again(app, db, tmp_path):
    """R36: a backup from before the erasure brings the household back; the ledger erases it."""
    seeded = seed_canary_family(db)
    db.commit()
    _db.session.remove()
    _db.engine.dispose()
    database = tmp_path / "test.sqlite"
    with sqlite3.connect(database) as source, sqlite3.connect(tmp_path / "copy.sqlite") as target:
        source.backup(target)
    _erase(db, seeded.family_id)
    _db.session.remove()
    _db.engine.dispose()
    with sqlite3.connect(tmp_path / "copy.sqlite") as source, sqlite3.connect(database) as target:
        source.backup(target)  # the restore: the backup API, as the backup helper does
    db = _db.session()
    assert db.get(Family, seeded.family_id).is_purged is False
    erased = erasure_ledger.reapply(db, erasure_ledger.ledger_path(app.instance_path))
    db.commit()
    assert erased == 1
    family = db.get(Family, seeded.family_id)
    assert family.is_purged and family.commune == ""
    assert db.scalars(select(Guardian).where(Guardian.family_id == family.id)).one().last_name == ""
    assert erasure_ledger.reapply(db, erasure_ledger.ledger_path(app.instance_path)) == 0


def test_a_damaged_ledger_line_is_skipped(tmp_path):
    ledger = tmp_path / "erasure-ledger.jsonl"
    family_id = uuid.uuid4()
    erasure_ledger.append(ledger, family_id, NOW)
    with open(ledger, "a", encoding="utf-8") as handle:
        handle.write('{"table": "families", "id": "12')
    assert erasure_ledger.read(ledger) == [(family_id, NOW)]


def test_a_pulled_old_copy_of_an_erased_household_is_erased_again_and_the_purge_queued(app, db):
    """R36: the hub (restored from an old backup) sends the household as it was before."""
    seeded = seed_canary_family(db)
    db.commit()
    old = db.get(Family, seeded.family_id)
    change = {
        "table": "families",
        "id": str(old.id),
        "version": 3,
        "hlc": old.hlc,
        "fields": registry.snapshot(old),
    }
    guardian = old.guardians[0]
    change_guardian = {
        "table": "guardians",
        "id": str(guardian.id),
        "version": 3,
        "hlc": guardian.hlc,
        "fields": registry.snapshot(guardian),
    }
    _erase(db, seeded.family_id)
    db.query(SyncPending).delete()  # as if the purge had been sent already
    db.commit()
    apply_services.apply_page(db, {"changes": [change, change_guardian], "next_since": 7})
    db.commit()
    family = db.get(Family, seeded.family_id)
    assert family.is_purged and family.commune == "" and family.notes == ""
    assert db.get(Guardian, guardian.id).last_name == "" and db.get(Guardian, guardian.id).is_purged
    assert db.get(SyncPending, ("families", family.id)) is not None, "the purge is sent again"
