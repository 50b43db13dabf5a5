"""An erased household that had absorbed another one (merge): a backup taken before the merge
holds them apart, so the ledger and the backup scrub take every id of the household."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.backup import services
from workshops.extensions import db as _db
from workshops.families import merge_services
from workshops.families import services as family_services
from workshops.families.models import Family, Guardian
from workshops.families.services import FamilyData, GuardianData
from workshops.sync import erasure_ledger
from workshops.sync.erasure_services import erase_family

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
T1 = datetime(2026, 1, 6, 8, tzinfo=UTC)


def _two_households(app):
    structure = auth_services.save_structure(_db.session, auth_services.StructureData("Centre"))
    actor = User(id=uuid.uuid4(), username="w", display_name="W", role="conseiller",
                 structure_id=structure.id, password_hash="-")
    _db.session.add(actor)
    keep = family_services.create_family(_db.session, FamilyData(
        guardians=(GuardianData("Paul", "Quintard"),)), actor)
    other = family_services.create_family(_db.session, FamilyData(
        guardians=(GuardianData("Amina", "Zerguini", "06 12 34 56 78"),)), actor)
    _db.session.commit()
    return actor, keep, other


def test_the_scrub_takes_the_merged_household_out_of_older_backups_too(app):
    with app.app_context():
        actor, keep, other = _two_households(app)
        folder = services.backup_dir(app)
        backup = services.create_backup(_db.engine, folder, T0, "manual")  # before the merge
        assert b"Zerguini" in backup.read_bytes()
        merge_services.merge_families(_db.session, keep, other, actor)
        _db.session.commit()
        count = erase_family(_db.session, _db.session.get(Family, keep.id), actor.id, T1)
        _db.session.commit()
        assert set(count.family_ids) == {keep.id, other.id}
        services.scrub_after_erasure(app, count.family_ids)  # what the erase view does
    data = backup.read_bytes()
    assert b"Quintard" not in data, "the scrub ran on this backup (the surviving id is gone)"
    # The household (both its ids) was erased; the backup must not hold its guardian any more.
    assert b"Zerguini" not in backup.read_bytes()


def test_a_restore_does_not_bring_back_the_merged_household_of_an_erased_one(app, tmp_path):
    with app.app_context():
        actor, keep, other = _two_households(app)
        other_id = other.id
        backup = services.create_backup(_db.engine, tmp_path, T0, "manual")  # before the merge
        merge_services.merge_families(_db.session, keep, other, actor)
        _db.session.commit()
        erase_family(_db.session, _db.session.get(Family, keep.id), actor.id, T1)
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()
        services.restore_backup(backup, tmp_path / "test.sqlite", backup_dir=tmp_path / "b", now=T1)
        erasure_ledger.reapply(_db.session, erasure_ledger.ledger_path(app.instance_path))
        _db.session.commit()
        names = [g.last_name for g in _db.session.query(Guardian).filter_by(family_id=other_id)]
        alias = _db.session.get(Family, other_id)
        # Amina Zerguini belonged to the erased household: she must not be back.
        assert alias.is_purged and "Zerguini" not in names, names
