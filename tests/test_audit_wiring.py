"""Imports write exactly one audit entry each, with counts and no personal data (R41).
The sync run and the hub's devices: tests/sync/test_audit_sync.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from workshops.audit.models import AuditEntry
from workshops.audit.services import verify_chain
from workshops.auth.models import Structure, User
from workshops.extensions import db as _db
from workshops.families.models import Family, Guardian
from workshops.seed.reference import LA_POSTE

FAMILIES = Path(__file__).parent / "fixtures" / "import" / "familles-exemple.csv"
EQUIPMENT = Path("/work/shared/samples/inventaire-exemple.csv")
if not EQUIPMENT.exists():
    EQUIPMENT = Path(__file__).resolve().parents[2] / "shared" / "samples" / "inventaire-exemple.csv"


@pytest.fixture
def poste(app, runner, create_user):
    """La Poste's id, with a conseiller "cons" there."""
    assert runner.invoke(args=["seed", "reference"]).exit_code == 0
    with app.app_context():
        structure_id = _db.session.scalar(select(Structure.id).where(Structure.name == LA_POSTE))
    create_user("conseiller", username="cons", structure_id=structure_id)
    return structure_id


def journal(action: str = "import") -> list[AuditEntry]:
    """The entries of `action` (accounts made by the fixtures have entries of their own)."""
    _db.session.expire_all()
    return list(_db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)))


def journal_text() -> str:
    """Every column of every entry, as one text to search."""
    return json.dumps([[str(getattr(entry, column.key)) for column in AuditEntry.__table__.columns]
                       for entry in _db.session.scalars(select(AuditEntry))], ensure_ascii=False).lower()


def personal_values() -> set[str]:
    """Names, phones, e-mails and notes the households imported hold (phones also bare)."""
    values = set()
    for guardian in _db.session.scalars(select(Guardian)):
        for value in (guardian.last_name, guardian.first_name, guardian.phone, guardian.email):
            if value and len(value) >= 3:
                digits = "".join(ch for ch in value if ch.isdigit())
                values |= {value.lower(), *([digits] if len(digits) >= 8 else [])}
    values |= {family.notes.lower() for family in _db.session.scalars(select(Family)) if family.notes}
    return values


def test_a_families_import_writes_one_entry_with_its_counts(app, runner, poste):
    dry = runner.invoke(args=["families", "import", str(FAMILIES), "--as", "cons", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    with app.app_context():
        assert journal() == [], "a dry run records nothing"
    done = runner.invoke(args=["families", "import", str(FAMILIES), "--as", "cons"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        cons = _db.session.scalar(select(User.id).where(User.username == "cons"))
        [entry] = journal()
        assert (entry.action, entry.actor_id, entry.object_type, entry.object_ref) == \
            ("import", cons, "families", str(poste))
        assert entry.details == {"created": 38, "registered": 0, "skipped": 2, "workshop": None}
        text, personal = journal_text(), personal_values()
        assert len(personal) > 50, "the sample's households hold names, phones and e-mails"
        assert [value for value in personal if value in text] == []
        assert verify_chain(_db.session).ok


def test_a_refused_families_import_records_nothing(app, runner, poste):
    unknown = runner.invoke(args=["families", "import", str(FAMILIES), "--as", "cons",
                                  "--workshop", str(uuid.uuid4())])
    assert unknown.exit_code == 1
    with app.app_context():
        assert journal() == []


def test_an_equipment_import_writes_one_entry_per_committed_run(app, runner, poste):
    first = runner.invoke(args=["equipment", "import", str(EQUIPMENT), "--as", "cons"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["equipment", "import", str(EQUIPMENT), "--as", "cons"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        cons = _db.session.scalar(select(User.id).where(User.username == "cons"))
        entries = journal()
        assert [(e.action, e.actor_id, e.object_type, e.object_ref) for e in entries] == \
            [("import", cons, "equipment", str(poste))] * 2
        assert [e.details for e in entries] == [{"created": 30, "skipped": 0}, {"created": 0, "skipped": 30}]
        assert verify_chain(_db.session).ok
