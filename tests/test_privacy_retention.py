"""Retention (R37) and the staff pages and commands of the data-subject rights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.test_privacy_seed import files_holding, seed_canary_family
from workshops.audit.models import AuditEntry
from workshops.backup.services import backup_dir, create_backup
from workshops.extensions import db as _db
from workshops.families.models import Family, Guardian
from workshops.privacy import retention_services
from workshops.privacy.jobs import run_daily_retention
from workshops.privacy.retention_services import months_before, purge

# The household's last activity: the atelier of the seed, on that day.
LAST = datetime(2026, 3, 10, 14, tzinfo=UTC)


def _seed_inactive(db, tag: str = "RETENTQ"):
    """A household whose every row last changed at LAST."""
    seeded = seed_canary_family(db, tag=tag, when=LAST)
    db.commit()
    family = db.get(Family, seeded.family_id)
    for row in (family, *family.guardians, *family.children):
        row.updated_dt = LAST
    db.commit()
    return seeded


@pytest.mark.parametrize("offset, erased", [(timedelta(days=-1), False), (timedelta(days=1), True)])
def test_a_household_is_anonymised_only_once_24_months_have_passed(app, offset, erased):
    with app.app_context():
        db = _db.session()
        seeded = _seed_inactive(db)
        now = months_before(LAST, -24) + offset
        result = purge(db, now, 24, Path(app.instance_path) / "logs", 365)
        db.commit()
        assert result.families == int(erased)
        assert db.get(Family, seeded.family_id).is_purged is erased
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "retention_purge")).one()
        assert entry.details["families"] == int(erased)
        assert not [c for c in seeded.canaries if c.lower() in str(entry.details).lower()]


def test_a_later_registration_keeps_the_household(app):
    with app.app_context():
        db = _db.session()
        seeded = _seed_inactive(db)
        db.scalars(select(Guardian).where(Guardian.family_id == seeded.family_id)).one().updated_dt = (
            LAST + timedelta(days=200))
        db.commit()
        assert retention_services.purge_inactive(db, months_before(LAST, -24) + timedelta(days=1), 24) == 0


def test_the_daily_run_removes_old_log_files_and_backups_and_a_dry_run_changes_nothing(app, runner):
    logs = Path(app.instance_path) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    old, recent = logs / "workshops-2024-01-01.log", logs / "workshops-2026-05-30.log"
    old.write_text("x\n")
    recent.write_text("y\n")
    with app.app_context():
        seeded = _seed_inactive(_db.session())
        # A manual backup past BACKUP_RETENTION_DAYS (90) goes, a recent one and the rotated
        # automatic ones stay.
        stale = create_backup(_db.engine, backup_dir(app), datetime(2026, 2, 1, tzinfo=UTC))
        fresh = create_backup(_db.engine, backup_dir(app), datetime(2026, 5, 1, tzinfo=UTC))
        auto = create_backup(_db.engine, backup_dir(app), datetime(2026, 1, 1, tzinfo=UTC), kind="auto")
    app.config["RETENTION_MONTHS"] = 2
    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "Would anonymise 1 household(s), remove 1 log file(s)" in dry.output, dry.output
    assert old.exists() and stale.exists()
    result = run_daily_retention(app, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert (result.families, result.log_files, result.backups) == (1, 1, 1)
    assert not old.exists() and recent.exists()
    assert not stale.exists() and fresh.exists() and auto.exists()
    assert files_holding(seeded.canaries, fresh) == [], "the kept backup no longer holds the household"
    with app.app_context():
        assert _db.session.get(Family, seeded.family_id).is_purged


def test_months_before_keeps_the_last_day_of_a_shorter_month():
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 10, tzinfo=UTC), 24) == datetime(2024, 3, 10, tzinfo=UTC)


def test_commands_export_erase_and_register(app, runner, tmp_path):
    with app.app_context():
        seeded = _seed_inactive(_db.session(), tag="CLIQQ")
    out = tmp_path / "family.json"
    result = runner.invoke(args=["privacy", "export", str(seeded.family_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "NomfamCLIQQw" in out.read_text(encoding="utf-8")
    result = runner.invoke(args=["privacy", "erase", str(seeded.family_id), "--yes"])
    assert result.exit_code == 0 and "kept 1 registration(s)" in result.output, result.output
    result = runner.invoke(args=["privacy", "erase", str(seeded.family_id), "--yes"])
    assert result.exit_code == 1 and "erased" in result.output
    register = tmp_path / "register.md"
    assert runner.invoke(args=["privacy", "register", "--out", str(register)]).exit_code == 0
    assert "`guardians`" in register.read_text(encoding="utf-8")
