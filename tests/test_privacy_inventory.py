"""The data inventory, the export of a household and the register (R34, R38, R39, R40)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from tests.test_privacy_seed import seed_canary_family
from workshops.audit.models import AuditEntry
from workshops.auth.models import User
from workshops.core.models import Base
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, update_family
from workshops.privacy import export_services
from workshops.privacy.inventory import CLASSES, DATA_INVENTORY, PERSONAL, family_tables, personal_columns
from workshops.privacy.register import register_markdown
from workshops.reports.cra_queries import list_cra_sheets
from workshops.reports.queries import Filters
from workshops.sync import registry

ROOT = Path(__file__).resolve().parent.parent


def test_every_column_of_every_table_is_classified_and_nothing_else(app):
    unclassified, unknown = [], []
    for table in Base.metadata.sorted_tables:
        entry = DATA_INVENTORY.get(table.name)
        columns = entry.columns if entry else {}
        unclassified += [f"{table.name}.{c.name}" for c in table.columns if c.name not in columns]
        unknown += [f"{table.name}.{name}" for name in columns if name not in table.columns]
    assert unclassified == [], "classify these columns in workshops/privacy/inventory.py"
    assert unknown == [], "the inventory names columns that no longer exist"
    assert {kind for entry in DATA_INVENTORY.values() for kind in entry.columns.values()} <= set(CLASSES)


def test_every_personal_field_of_the_models_is_classified_personal(app):
    # The models do declare their personal fields (an emptied list would make the loop vacuous).
    assert {"last_name", "phone", "email"} <= set(registry.all_personal_fields("guardians"))
    assert {"commune", "notes"} <= set(registry.all_personal_fields("families"))
    for table_name in registry.MODELS:
        for field in registry.all_personal_fields(table_name):
            assert DATA_INVENTORY[table_name].columns[field] == PERSONAL, f"{table_name}.{field}"


def test_the_export_holds_every_personal_value_of_a_household_with_rows_in_every_family_table(db):
    seeded = seed_canary_family(db)
    db.commit()
    family = db.get(Family, seeded.family_id)
    data = json.loads(export_services.export_family(db, family, None, "json"))
    db.commit()
    assert set(family_tables()) <= set(data)
    text = export_services.to_csv(export_services.family_data(db, family)).decode("utf-8")
    for name, entry in family_tables().items():
        table = Base.metadata.tables[name]
        key = table.columns[entry.family_key]
        rows = db.execute(select(table).where(key == family.id)).mappings().all()
        assert rows, f"the seed has no {name} row"
        for row in rows:
            exported = next(r for r in data[name] if r["id"] == str(row["id"]))
            for column in entry.of_class(PERSONAL):
                if row[column] is not None and row[column] != "":
                    assert exported[column] == export_services._value(row[column]), f"{name}.{column}"
    assert all(canary in text for canary in seeded.canaries), "the CSV holds every canary too"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "family_export")).one()
    assert entry.object_ref == str(family.id)


def test_the_csv_export_opens_in_excel_and_neutralises_formulas(db):
    seeded = seed_canary_family(db)
    family = db.get(Family, seeded.family_id)
    family.notes = "=HYPERLINK(\"http://x\")"
    db.commit()
    data = export_services.export_family(db, family, None, "csv")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["table", "row", "column", "value"]
    notes = next(r for r in rows if r[0] == "families" and r[2] == "notes")
    assert notes[3].startswith("'=")


def test_the_register_names_every_personal_column_and_the_controller(app):
    with app.test_request_context():
        text = register_markdown("Conseil départemental TEST", 24)
    assert "Conseil départemental TEST" in text and "24 months" in text
    for table, column in personal_columns():
        assert f"`{table}`" in text and f"`{column}`" in text, f"{table}.{column}"
    assert "docs/security.md" in text


def test_withdrawn_naming_consent_removes_the_guardians_from_the_cra_named_list(db):
    """R39: unticking the naming consent on the family form stops naming its guardians."""
    seeded = seed_canary_family(db)
    db.commit()
    filters = Filters(date(2026, 3, 1), date(2026, 3, 31))
    now = datetime(2026, 6, 1, tzinfo=UTC)
    named = [p for s in list_cra_sheets(db, filters, now) for p in s.named]
    assert [p.last_name for p in named] == ["NomfamCANARYZQw"]
    family = db.get(Family, seeded.family_id)
    guardian = family.guardians[0]
    actor = db.scalars(select(User)).first()
    actor.role = "admin"
    update_family(db, family, FamilyData(
        guardians=(GuardianData(guardian.first_name, guardian.last_name, guardian.phone or "",
                                guardian.email or ""),),
        commune=family.commune, notice_version=family.notice_version, notice_date=family.notice_date,
        has_naming_consent=False, structure_id=family.structure_id), actor)
    db.commit()
    sheets = list_cra_sheets(db, filters, now)
    assert [p for s in sheets for p in s.named] == []
    assert sum(s.anonymous for s in sheets) >= 1, "still counted, anonymously"


# R40: no field may hold a family's password. Allowed: the staff password hash, the TOTP secret
# table, config keys (SECRET_KEY...), sync keys and tokens that are not passwords (their own names).
PASSWORD_LIKE = re.compile(r"pass|mdp|mot.?de.?passe|secret", re.IGNORECASE)
ALLOWED_COLUMNS = {("users", "password_hash"), ("users", "password_changed_dt"), ("user_totps", "secret")}
ALLOWED_FILES = {"workshops/config.py", "workshops/auth/forms.py", "workshops/auth/services.py"}


def test_no_column_form_field_or_json_key_could_hold_a_family_password(app):
    columns = [(table.name, column.name) for table in Base.metadata.sorted_tables for column in table.columns
               if PASSWORD_LIKE.search(column.name) or PASSWORD_LIKE.search(table.name)]
    assert set(columns) <= ALLOWED_COLUMNS, set(columns) - ALLOWED_COLUMNS
    fields, keys = [], []
    for path in sorted((ROOT / "workshops").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        text = path.read_text(encoding="utf-8")
        if relative.endswith("forms.py") and relative not in ALLOWED_FILES:
            fields += [f"{relative}: {m}" for m in re.findall(r"^\s*(\w+)\s*=\s*\w*Field\(", text, re.M)
                       if PASSWORD_LIKE.search(m)]
        keys += [f"{relative}: {m}" for m in re.findall(r"[\"'](\w+)[\"']\s*:", text)
                 if PASSWORD_LIKE.search(m) and relative not in ALLOWED_FILES and not m.isupper()
                 and m not in {"signing_key", "password_hash"}]
    assert fields == []
    assert keys == []
