"""Local backups (R47) and the restore drill (R48): made with SQLite's backup API, checked,
restored (migrations, erasure ledger, journal), refused while the app serves."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, select

from tests.conftest import PASSWORD
from tests.test_upgrade import previous_head
from workshops import create_app
from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.backup import serverlock, services
from workshops.backup import upgrade as safe_upgrade
from workshops.core.db import migration_head
from workshops.extensions import db as _db
from workshops.families import services as family_services
from workshops.families.models import Family
from workshops.families.services import ChildData, FamilyData, GuardianData
from workshops.sync import erasure_ledger
from workshops.sync.erasure_services import erase_family

PACKAGE = Path(__file__).resolve().parent.parent / "workshops"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def add_family(app):
    """add_family(last_name) -> id: a household (one guardian, one child), committed."""
    with app.app_context():
        structure = auth_services.save_structure(_db.session, auth_services.StructureData("Grand Poitiers"))
        actor = User(id=uuid.uuid4(), username="writer", display_name="W", role="conseiller",
                     structure_id=structure.id, password_hash="-")
        _db.session.add(actor)
        _db.session.commit()
        actor_id = actor.id

    def add(last_name):
        with app.app_context():
            family = family_services.create_family(_db.session, FamilyData(
                guardians=(GuardianData("Amina", last_name, "06 12 34 56 78"),),
                children=(ChildData("Yanis"),)), _db.session.get(User, actor_id))
            _db.session.commit()
            return family.id

    return add


def db_path(app) -> Path:
    with app.app_context():
        return Path(_db.engine.url.database)


def families_in(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM families").fetchone()[0]
    finally:
        connection.close()


def content_hash(path: Path) -> str:
    """A hash of every row of the tables people fill (not the file's bytes)."""
    connection = sqlite3.connect(path)
    digest = hashlib.sha256()
    for table in ("users", "structures", "families", "guardians", "children"):
        for row in connection.execute(f"SELECT * FROM {table} ORDER BY id"):  # noqa: S608
            digest.update(repr(row).encode())
    connection.close()
    return digest.hexdigest()


def test_no_database_file_is_ever_copied_byte_by_byte():
    pattern = re.compile(r"shutil\.copy|copyfile|copy2|copyfileobj")
    offenders = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_a_backup_holds_the_rows_still_in_the_wal(app, add_family, tmp_path):
    ids = [add_family(name) for name in ("Martin", "Durand", "Bernard", "Petit", "Robert")]
    live = db_path(app)
    wal = live.with_name(live.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # committed rows sit in the WAL, not the file
    path = services.create_backup(live, tmp_path / "backups", NOW)
    assert path.name == "manual-20260302T093000Z.sqlite"
    assert not list((tmp_path / "backups").glob("*.partial"))
    result = services.verify_backup(path)
    assert result.is_ok and result.revision == migration_head()
    assert result.row_counts["families"] == len(ids) and result.row_counts["guardians"] == len(ids)
    assert not path.with_name(path.name + "-wal").exists()  # a single self-contained file


def test_a_backup_during_continuous_writes_is_a_consistent_snapshot(app, tmp_path):
    committed, stop = [0], threading.Event()

    def write():
        with app.app_context():
            while not stop.is_set():
                auth_services.save_structure(_db.session, auth_services.StructureData(f"S{committed[0]:05d}"))
                _db.session.commit()
                committed[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while committed[0] < 20:
            threading.Event().wait(0.01)
        before = committed[0]
        with app.app_context():
            path = services.create_backup(_db.engine, tmp_path / "b", NOW)
        after = committed[0]
    finally:
        stop.set()
        writer.join()
    assert services.verify_backup(path).integrity == ["ok"]
    connection = sqlite3.connect(path)
    names = sorted(row[0] for row in connection.execute("SELECT name FROM structures"))
    connection.close()
    # Every row committed before the backup started, and a prefix of the writes: no hole.
    assert before <= len(names) <= after + 1
    assert names == [f"S{n:05d}" for n in range(len(names))]


def test_verify_refuses_a_damaged_file_a_stranger_and_a_missing_one(app, add_family, tmp_path):
    add_family("Martin")
    path = services.create_backup(db_path(app), tmp_path / "b", NOW)
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(1, len(data) // page_size):
        data[page * page_size] ^= 0xFF  # every page's type byte after the first
    damaged.write_bytes(bytes(data))
    stranger = tmp_path / "stranger.sqlite"
    sqlite3.connect(stranger).execute("CREATE TABLE t (x)").connection.close()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    for bad in (damaged, stranger, text_file, tmp_path / "absent.sqlite"):
        assert not services.verify_backup(bad).is_ok, bad.name


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, **kwargs):
        result = runner.invoke(args=list(args), **kwargs)
        return result

    return run


def test_the_restore_drill_brings_the_content_back_and_keeps_the_previous_database(app, add_family, cli,
                                                                                   create_user):
    username = create_user("admin")
    add_family("Martin")
    made = cli("backup", "create")
    assert made.exit_code == 0, made.output
    backup = services.list_backups(services.backup_dir(app))[0].path
    before = content_hash(db_path(app))
    add_family("Durand")  # after the backup: gone after the restore
    assert cli("backup", "verify", str(backup)).exit_code == 0
    restored = cli("backup", "restore", str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    assert content_hash(db_path(app)) == before
    kept = [b for b in services.list_backups(services.backup_dir(app)) if b.kind == "before-restore"]
    assert len(kept) == 1 and families_in(kept[0].path) == 2
    # The app works on the restored file (an account logs in, the list is the backup's) and
    # journals the restore.
    with app.app_context():
        actions = list(_db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "backup_restored"
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    families = client.get("/families").get_data(as_text=True)
    assert "Martin" in families and "Durand" not in families


def test_restore_upgrades_an_older_backup(app, tmp_path, cli):
    old = tmp_path / "old.sqlite"
    old_app = create_app({"TESTING": True, "SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{old}"})
    with old_app.app_context():
        upgrade(revision="a31b0e8fb2f1")  # the migration before the journal's
        _db.engine.dispose()
    checked = services.verify_backup(old)
    assert checked.is_ok and checked.revision == "a31b0e8fb2f1"
    result = cli("backup", "restore", str(old), "--yes")
    assert result.exit_code == 0, result.output
    assert services.verify_backup(db_path(app)).revision == migration_head()
    with app.app_context():  # the journal table came with the upgrade, and holds it and the restore
        actions = list(_db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["schema_upgraded", "backup_restored"]


def test_restore_reapplies_the_erasure_ledger(app, add_family, cli):
    erased_id = add_family("Martin")
    backup = services.create_backup(db_path(app), services.backup_dir(app), NOW)
    with app.app_context():
        erasure_ledger.append(erasure_ledger.ledger_path(app.instance_path), erased_id, NOW)
    result = cli("backup", "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert "erased again" in result.output
    with app.app_context():
        family = _db.session.get(Family, erased_id)
        assert family.is_purged
        assert all(guardian.last_name != "Martin" for guardian in family.guardians)


def test_restore_refuses_while_the_app_serves_and_changes_nothing(app, add_family, cli):
    add_family("Martin")
    backup = services.create_backup(db_path(app), services.backup_dir(app), NOW)
    add_family("Durand")
    before = content_hash(db_path(app))
    serving = create_app({"TESTING": True, "SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{db_path(app)}"})
    serverlock.hold(serving, db_path(app))
    try:
        result = cli("backup", "restore", str(backup), "--yes")
    finally:
        serverlock.release(serving)
    assert result.exit_code != 0 and "stop it" in result.output
    assert content_hash(db_path(app)) == before
    assert [b.kind for b in services.list_backups(services.backup_dir(app))] == ["manual"]


def test_restore_refuses_a_damaged_backup_and_changes_nothing(app, add_family, cli, tmp_path):
    add_family("Martin")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    before = content_hash(db_path(app))
    result = cli("backup", "restore", str(bad), "--yes")
    assert result.exit_code != 0 and "Nothing was changed" in result.output
    assert content_hash(db_path(app)) == before


def test_list_shows_the_backups_newest_first(app, add_family, cli):
    folder = services.backup_dir(app)
    services.create_backup(db_path(app), folder, datetime(2026, 3, 1, tzinfo=UTC), kind="auto")
    services.create_backup(db_path(app), folder, NOW)
    lines = cli("backup", "list").output.splitlines()
    assert "manual" in lines[0] and "auto" in lines[1] and len(lines) == 2


def test_a_hub_is_not_backed_up_here(tmp_path):
    with pytest.raises(services.BackupError, match="pg_dump"):
        services.database_path(create_engine("postgresql+psycopg://u@localhost/x"))


@pytest.fixture
def older_backup_erased_since(app, add_family):
    """A backup whose schema is at the previous version (as if an older version made it), and a
    household in it erased since (ledger written): (backup, live database, erased id)."""
    erased_id = add_family("Zerguinizy")
    add_family("Martin")
    backup = services.create_backup(db_path(app), services.backup_dir(app), NOW)
    with app.app_context():
        actor = _db.session.scalars(select(User)).first()
        erase_family(_db.session, _db.session.get(Family, erased_id), actor.id, NOW,
                     ledger=erasure_ledger.ledger_path(app.instance_path))
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()
    with sqlite3.connect(backup) as copy:
        copy.execute("UPDATE alembic_version SET version_num = ?", (previous_head(),))
    return backup, db_path(app), erased_id


def dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def guardians_in(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT last_name FROM guardians")]


def test_a_restore_whose_migration_fails_does_not_bring_back_an_erased_household(
        app, older_backup_erased_since, cli, monkeypatch):
    backup, live, _erased_id = older_backup_erased_since

    def failing_migration(app):
        raise RuntimeError("migration left 1 broken references")

    monkeypatch.setattr(safe_upgrade, "run_migrations", failing_migration)
    cli("backup", "restore", str(backup), "--yes")
    assert "Zerguinizy" not in guardians_in(live), "the erased household is back in the live database"


def test_a_restore_whose_migration_fails_leaves_the_database_as_it_was(
        app, older_backup_erased_since, cli, monkeypatch):
    backup, live, _erased_id = older_backup_erased_since
    before = dump(live)
    real = safe_upgrade.run_migrations

    def migrate_then_fail(app):
        real(app)  # whatever the migration did must go, and the old backup's rows with it
        raise RuntimeError("a data migration failed")

    monkeypatch.setattr(safe_upgrade, "run_migrations", migrate_then_fail)
    result = cli("backup", "restore", str(backup), "--yes")

    assert result.exit_code == 1
    assert dump(live) == before  # the database from before the restore: same schema, same rows
    assert "was not restored" in result.output and "put back as it was before the restore" in result.output
    assert "nothing is lost" in result.output and previous_head() in result.output
    assert "Traceback" not in result.output and "RuntimeError" not in result.output
    # The backup stays where it was; no copy of the failed state or of the old backup is left.
    kinds = sorted(b.kind for b in services.list_backups(services.backup_dir(app)))
    assert backup.is_file() and kinds == ["before-restore", "manual"]
    with app.app_context():
        actions = list(_db.session.scalars(select(AuditEntry.action)))
    assert "backup_restored" not in actions


def test_a_restore_that_cannot_put_the_database_back_says_how(app, older_backup_erased_since, cli,
                                                              monkeypatch):
    backup, _live, _erased_id = older_backup_erased_since
    monkeypatch.setattr(safe_upgrade, "run_migrations", lambda app: 1 / 0)
    real_restore = services.restore_backup
    calls = []

    def restore_once(*args, **kwargs):
        calls.append(args[0])
        if len(calls) > 1:
            raise services.BackupError("disk full")
        return real_restore(*args, **kwargs)

    monkeypatch.setattr(services, "restore_backup", restore_once)
    result = cli("backup", "restore", str(backup), "--yes")
    assert result.exit_code == 1
    [kept] = [b.path for b in services.list_backups(services.backup_dir(app)) if b.kind == "before-restore"]
    assert "Do not use the application" in result.output
    assert f'flask backup restore "{kept}" --yes' in result.output


def test_a_restore_whose_migration_succeeds_erases_again_and_keeps_no_older_copy(
        app, older_backup_erased_since, cli, monkeypatch):
    backup, live, erased_id = older_backup_erased_since

    def migration(app):  # the backup's schema is already the head's: only the revision moves
        with sqlite3.connect(live) as connection:
            connection.execute("UPDATE alembic_version SET version_num = ?", (migration_head(),))

    monkeypatch.setattr(safe_upgrade, "run_migrations", migration)
    result = cli("backup", "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert "erased again" in result.output
    assert "Zerguinizy" not in guardians_in(live) and "Martin" in guardians_in(live)
    # The copy the upgrade took of the old backup held the erased household: it is gone.
    folder = services.backup_dir(app)
    assert not any("Zerguinizy" in guardians_in(b.path) for b in services.list_backups(folder))
    with app.app_context():
        actions = list(_db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["schema_upgraded", "backup_restored"]
