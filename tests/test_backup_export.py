"""Backups that leave the computer are encrypted (R47): round trip, wrong passphrase, tampering."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nacl.pwhash
import pytest
from sqlalchemy import select

from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.backup import export
from workshops.extensions import db as _db

PASSPHRASE = "cheval agrafe pile correcte"
CHEAP = {"opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN, "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN}


def db_file(app) -> Path:
    with app.app_context():
        return Path(_db.engine.url.database)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_structure(app, name):
    with app.app_context():
        auth_services.save_structure(_db.session, auth_services.StructureData(name))
        _db.session.commit()


def structures(app) -> list[str]:
    with app.app_context():
        return sorted(row.name for row in _db.session.scalars(select(auth_services.Structure)))


@pytest.fixture
def passphrase_file(tmp_path):
    def make(text):
        path = tmp_path / f"pass-{len(text)}-{hashlib.md5(text.encode()).hexdigest()[:6]}.txt"  # noqa: S324
        path.write_text(text + "\n", encoding="utf-8")
        return str(path)
    return make


def test_export_then_restore_round_trip_through_the_commands(app, runner, tmp_path, passphrase_file):
    add_structure(app, "Centre social du Lac")
    stick = tmp_path / "usb" / "workshops.backup"
    stick.parent.mkdir()
    made = runner.invoke(args=["backup", "export", "--out", str(stick),
                               "--passphrase-file", passphrase_file(PASSPHRASE)])
    assert made.exit_code == 0, made.output
    sealed = stick.read_bytes()
    assert not sealed.startswith(b"SQLite format 3")
    assert b"Centre social du Lac" not in sealed
    with app.app_context():
        assert list(_db.session.scalars(select(AuditEntry.action))) == ["export"]
    add_structure(app, "After the export")
    checked = runner.invoke(args=["backup", "verify", str(stick),
                                  "--passphrase-file", passphrase_file(PASSPHRASE)])
    assert checked.exit_code == 0, checked.output
    restored = runner.invoke(args=["backup", "restore", str(stick), "--yes",
                                   "--passphrase-file", passphrase_file(PASSPHRASE)])
    assert restored.exit_code == 0, restored.output
    assert structures(app) == ["Centre social du Lac"]
    assert not list(Path(app.instance_path, "backups").glob("incoming-*"))  # no plain copy left


def test_a_wrong_passphrase_is_refused_and_changes_nothing(app, runner, tmp_path, passphrase_file):
    add_structure(app, "Centre")
    stick = tmp_path / "export.backup"
    assert runner.invoke(args=["backup", "export", "--out", str(stick),
                               "--passphrase-file", passphrase_file(PASSPHRASE)]).exit_code == 0
    add_structure(app, "Kept")
    before = structures(app)
    result = runner.invoke(args=["backup", "restore", str(stick), "--yes",
                                 "--passphrase-file", passphrase_file("not the right passphrase")])
    assert result.exit_code != 0
    assert "Wrong passphrase" in result.output
    assert structures(app) == before
    assert not list(Path(app.instance_path, "backups").glob("before-restore-*"))


def test_a_short_passphrase_is_refused(app, runner, tmp_path, passphrase_file):
    result = runner.invoke(args=["backup", "export", "--out", str(tmp_path / "x"),
                                 "--passphrase-file", passphrase_file("short")])
    assert result.exit_code != 0 and "at least 12" in result.output
    assert not (tmp_path / "x").exists()


def test_the_passphrase_is_asked_twice_when_not_given(app, runner, tmp_path):
    result = runner.invoke(args=["backup", "export", "--out", str(tmp_path / "x")],
                           input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert export.is_encrypted(tmp_path / "x")


@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_a_changed_or_cut_file_is_refused(tmp_path, damage):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 9000)  # more than two chunks
    sealed = export.encrypt_file(plain, tmp_path / "sealed", PASSPHRASE, **CHEAP)
    data = bytearray(sealed.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 1
    elif damage == "truncate":
        data = data[: len(data) - export._LENGTH.size - 100]
    else:
        data += b"more"
    sealed.write_bytes(bytes(data))
    out = tmp_path / "out.bin"
    with pytest.raises(export.ExportError):
        export.decrypt_file(sealed, out, PASSPHRASE)
    assert not out.exists()


def test_service_round_trip_is_exact(tmp_path):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(bytes(range(256)) * 5000)
    sealed = export.encrypt_file(plain, tmp_path / "sealed", PASSPHRASE, **CHEAP)
    assert digest(export.decrypt_file(sealed, tmp_path / "back.bin", PASSPHRASE)) == digest(plain)
