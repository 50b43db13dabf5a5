"""The two La Coop exports (issue 7, part 4): the activity report of each atelier held ("cra",
XLSX and CSV) and the beneficiaries workbook in La Coop's import layout (XLSX only).

On the world of tests/test_reports_queries.py (its docstring gives the figures), where F1 (Awa
Martin, one guardian, here a mother with a phone and an e-mail, household in Poitiers) agreed
to be named; every other family did not. Counted by hand (named guardians are the family's first
`adults_present` guardians; every other adult and child is anonymous, children "scolarise",
nobody's age bracket or gender known but the headcounts' brackets and statuses):

- W1, 10 March, 2 h, Collège Jules Verne (Poitiers), home structure, Camille: F1 2 adults +
  1 child, F2 1 adult, headcounts 3 × (40-59, en_emploi) + 2 × (70+, retraite). Named: MARTIN Awa
  (F1 has one guardian). Anonymous 8: F1's second adult and child, F2's adult, the 5 counted;
  by age 40-59 3, 70+ 2, non communiqué 3; by status en_emploi 3, retraite 2, scolarise 1,
  non communiqué 2; gender non communiqué 8. Already accompanied 0 (everybody's first time:
  F3's earlier visit, W6, is not this atelier's). Participants 1 + 8 = 9 = people present
  (3 adults + 1 child + 5 counted).
- W2, 14 April, Médiathèque de Civray, title HOSTILE: F1 1 adult (named again), F4 1 adult +
  2 children (F4 was absent at W1: first time). Named 1, anonymous 3 (age non communiqué 3;
  scolarise 2, non communiqué 1), already accompanied 0. Participants 4. Without F1's consent:
  named 0, anonymous 4 and already accompanied 1 (F1's adult was present at W1).
- W3, 20 April, La Poste, remise d'équipement: F2 1 adult (present at W1 before), F5 2 adults
  (first time), 1 × (40-59, en_emploi). Named 0, anonymous 4 (40-59 1, non communiqué 3;
  en_emploi 1, non communiqué 3), already accompanied 1, matériel "ordinateur". Participants 4.
- W5, 5 May: held, nobody recorded: a row of zeros. W4 (cancelled) and W6 (December) absent.
- Total participants 9 + 4 + 4 + 0 = 17 = the dashboard's people present.
- Beneficiaries, as the manager or Camille: one row, Martin / Awa / commune Poitiers / phone
  "06 12 34 56 78" / awa.martin@example.org / "F". As a conseiller of La Poste (W3 only): none.
"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import time_machine
from sqlalchemy import select

from tests.test_reports_exports import read_csv, xlsx_text_cells
from tests.test_reports_queries import HOSTILE, NOW, PERIOD, TODAY, build_reports_world
from tests.test_reports_queries import db as db  # noqa: F401  (SQLite, then PostgreSQL)
from tests.test_reports_views import PERIOD_ARGS, _login
from workshops.auth.models import User
from workshops.extensions import db as _db
from workshops.families.models import Guardian
from workshops.reports import exports

COOP_HEADERS = ["Nom", "Prénom", "Année de naissance", "Nom de la commune", "Code INSEE", "Code postal",
                "N° de téléphone", "E-mail", "Genre", "Notes supplémentaires"]
# The counters' headers as a user reads them (English UI): label, then national code.
GENDERS = {"masculin": "Male", "feminin": "Female", "non_communique": "Not given"}
AGES = {"moins_de_douze": "Under 12", "douze_dix_huit": "12 - 17", "dix_huit_vingt_quatre": "18 - 24",
        "vingt_cinq_trente_neuf": "25 - 39", "quarante_cinquante_neuf": "40 - 59",
        "soixante_soixante_neuf": "60 - 69", "soixante_dix_plus": "70 and over",
        "non_communique": "Not given"}
STATUSES = {"retraite": "Retired", "sans_emploi": "Out of work", "en_emploi": "In work",
            "scolarise": "In school", "non_communique": "Not given or mixed"}


def agree_to_be_named(session, **guardian) -> None:
    """F1 agrees to be named; its guardian becomes a mother with a phone and an e-mail."""
    awa = session.scalars(select(Guardian).where(Guardian.last_name == "Martin")).one()
    awa.family.has_naming_consent = True
    awa.family.commune = "Poitiers"
    for name, value in {"relation": "mother", "phone": "+33612345678", "email": "awa.martin@example.org",
                        **guardian}.items():
        setattr(awa, name, value)
    session.commit()


@pytest.fixture
def world(db):
    return build_reports_world(db)


def _user(session, world, name="manager"):
    return session.get(User, world[name])


def _la_poste_conseiller(session, world) -> User:
    user = User(username="lea", display_name="Léa", role="conseiller", structure_id=world["other"],
                password_hash="-")
    session.add(user)
    session.commit()
    return user


def _export(session, user, kind, fmt):
    return exports.export(kind, fmt, session, user, PERIOD, NOW, TODAY)[0]


def read_sheet(body: bytes) -> tuple[list[str], list[list]]:
    """(sheet names, rows of the first sheet, each as wide as the sheet)."""
    book = openpyxl.load_workbook(io.BytesIO(body))
    names = book.sheetnames
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return names, rows


def cra_rows(body: bytes, fmt: str) -> list[dict]:
    """The CRA export as one dict per atelier, numbers as int whatever the format."""
    rows = read_csv(body) if fmt == "csv" else read_sheet(body)[1]
    header, *lines = rows
    found = []
    for line in lines:
        row = dict(zip(header, line, strict=True))
        for key, value in row.items():
            if fmt == "csv" and isinstance(value, str) and value.isdigit():
                row[key] = int(value)
        found.append(row)
    return found


def counters(row: dict, prefix: str, labels: dict[str, str]) -> dict[str, int]:
    """The non-zero counters of a row, by national code."""
    found = {code: row[f"{prefix}{label} ({code})"] for code, label in labels.items()}
    return {code: number for code, number in found.items() if number}


def by_age(row):
    return counters(row, "Anonymous ", AGES)


def by_status(row):
    return counters(row, "Anonymous ", STATUSES)


def by_gender(row):
    return counters(row, "Anonymous, gender: ", GENDERS)


def test_the_cra_columns_are_la_coop_fields_in_its_order(db, world):
    header = read_sheet(_export(db, _user(db, world), "cra", "xlsx"))[1][0]
    assert header == [
        "Date", "Type", "Atelier name", "Duration (min)", "Place type", "Place name", "Address", "Commune",
        "Postcode", "Support themes", "Digital equipment used", "Atelier level", "Structure", "Conseillers",
        "Participants", "Followed beneficiaries", "Followed beneficiaries (names)", "Anonymous participants",
        "Already accompanied", *(f"Anonymous, gender: {label} ({code})" for code, label in GENDERS.items()),
        *(f"Anonymous {label} ({code})" for code, label in AGES.items()),
        *(f"Anonymous {label} ({code})" for code, label in STATUSES.items())]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_each_atelier_held_is_one_row_of_la_coop_fields(db, world, fmt):
    agree_to_be_named(db)
    rows = cra_rows(_export(db, _user(db, world), "cra", fmt), fmt)
    assert [row["Atelier name"] for row in rows] == [
        "Parents et numérique", "'" + HOSTILE if fmt == "csv" else HOSTILE, "Remise d'ordinateurs",
        "Sans feuille"]  # no W4, no W6
    w1, w2, w3, w5 = rows
    assert {row["Type"] for row in rows} == {"collectif"} and {row["Place type"] for row in rows} == {"autre"}
    assert str(w1["Date"])[:10] == "2026-03-10" and w1["Duration (min)"] == 120
    assert (w1["Place name"], w1["Commune"], w1["Support themes"]) == (
        "Collège Jules Verne", "Poitiers", "parentalite")
    assert (w1["Structure"], w1["Conseillers"]) == ("Département de la Vienne - DAS", "Camille")
    assert (w3["Structure"], w3["Digital equipment used"]) == ("La Poste", "ordinateur")
    assert w1["Digital equipment used"] in ("", None)
    assert [(r["Participants"], r["Followed beneficiaries"], r["Anonymous participants"],
             r["Already accompanied"]) for r in rows] == [
        (9, 1, 8, 0), (4, 1, 3, 0), (4, 0, 4, 1), (0, 0, 0, 0)]
    assert (w1["Followed beneficiaries (names)"], w2["Followed beneficiaries (names)"]) == (
        "MARTIN Awa", "MARTIN Awa")
    assert w3["Followed beneficiaries (names)"] in ("", None)
    assert by_age(w1) == {"quarante_cinquante_neuf": 3, "soixante_dix_plus": 2, "non_communique": 3}
    assert by_status(w1) == {"en_emploi": 3, "retraite": 2, "scolarise": 1, "non_communique": 2}
    assert by_gender(w1) == {"non_communique": 8}
    assert (by_age(w2), by_status(w2)) == ({"non_communique": 3}, {"scolarise": 2, "non_communique": 1})
    assert by_age(w3) == {"quarante_cinquante_neuf": 1, "non_communique": 3}
    assert by_status(w3) == {"en_emploi": 1, "non_communique": 3} and by_gender(w3) == {"non_communique": 4}
    assert by_age(w5) == by_status(w5) == by_gender(w5) == {}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_participants_are_the_people_present_of_the_ateliers_export(db, world, fmt):
    agree_to_be_named(db)
    manager = _user(db, world)
    cra = cra_rows(_export(db, manager, "cra", fmt), fmt)
    ateliers = [row for row in cra_rows(_export(db, manager, "ateliers", fmt), fmt)
                if row["Status"] != "Cancelled"]
    present = [int(row["People present"]) for row in ateliers]
    assert [row["Participants"] for row in cra] == present == [9, 4, 4, 0]
    assert sum(row["Participants"] for row in cra) == 17


def test_without_consent_nobody_is_named_and_f1_is_already_accompanied_at_w2(db, world):
    rows = cra_rows(_export(db, _user(db, world), "cra", "xlsx"), "xlsx")
    assert [(r["Followed beneficiaries"], r["Anonymous participants"], r["Already accompanied"])
            for r in rows] == [(0, 9, 0), (0, 4, 1), (0, 4, 1), (0, 0, 0)]
    names, sheet = read_sheet(_export(db, _user(db, world), "beneficiaries", "xlsx"))
    assert names == ["Bénéficiaires"] and len(sheet) == 3  # the three header rows, nobody


def test_the_beneficiaries_workbook_has_la_coop_import_layout(db, world):
    agree_to_be_named(db)
    names, rows = read_sheet(_export(db, _user(db, world), "beneficiaries", "xlsx"))
    assert names == ["Bénéficiaires"]
    assert rows[0][0] == "Beneficiaries to import into La Coop, ateliers from Jan 1, 2026 to Jun 30, 2026"
    assert rows[1][0].startswith("Families who agreed to be named.")
    assert rows[2] == COOP_HEADERS  # row 3: La Coop's French headers, in English UI too
    assert rows[3:] == [["Martin", "Awa", None, "Poitiers", None, None, "06 12 34 56 78",
                         "awa.martin@example.org", "F", None]]  # from row 4; no notes ever


def test_a_conseiller_gets_the_beneficiaries_of_their_structure_only(db, world):
    agree_to_be_named(db)
    camille = _export(db, _user(db, world, "camille"), "beneficiaries", "xlsx")
    assert [row[:2] for row in read_sheet(camille)[1][3:]] == [["Martin", "Awa"]]
    la_poste = _export(db, _la_poste_conseiller(db, world), "beneficiaries", "xlsx")
    assert len(read_sheet(la_poste)[1]) == 3  # W3 only: F2 and F5 did not agree
    cells = [cell for row in read_sheet(la_poste)[1] for cell in row]
    assert not any(isinstance(cell, str) and "Martin" in cell for cell in cells)


@pytest.mark.parametrize("relation,letter", [("father", "M"), ("guardian", "N")])
def test_the_gender_letter_follows_the_relation(db, world, relation, letter):
    agree_to_be_named(db, relation=relation, phone=None, email=None)
    row = read_sheet(_export(db, _user(db, world), "beneficiaries", "xlsx"))[1][3]
    assert (row[6], row[7], row[8]) == (None, None, letter)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_hostile_name_stays_text_in_both_la_coop_files(db, world, fmt):
    agree_to_be_named(db, last_name=HOSTILE, first_name="@Awa")
    cra = cra_rows(_export(db, _user(db, world), "cra", fmt), fmt)
    names = HOSTILE.upper() + " @Awa"
    assert cra[0]["Followed beneficiaries (names)"] == ("'" + names if fmt == "csv" else names)
    if fmt == "xlsx":  # text cells, exactly as typed: never a formula
        body = _export(db, _user(db, world), "beneficiaries", "xlsx")
        row = read_sheet(body)[1][3]
        assert row[:2] == [HOSTILE, "@Awa"]
        assert xlsx_text_cells(body)[HOSTILE] == "s"


def test_the_cra_csv_and_xlsx_give_the_same_numbers(db, world):
    agree_to_be_named(db)
    manager = _user(db, world)
    xlsx = cra_rows(_export(db, manager, "cra", "xlsx"), "xlsx")
    raw = list(csv.reader(io.StringIO(_export(db, manager, "cra", "csv").decode("utf-8-sig"), newline=""),
                          delimiter=";"))
    assert raw[1][0] == "2026-03-10"  # dates as ISO text
    numbers = [[value for value in row.values() if isinstance(value, int)] for row in xlsx]
    assert numbers == [[int(v) for v in line if v.isdigit()] for line in raw[1:]]


def test_the_beneficiaries_export_has_no_csv():
    with pytest.raises(ValueError, match="XLSX only"):
        exports.export("beneficiaries", "csv", None, None, PERIOD, NOW, TODAY)


# The web and the command line, on the application of tests/conftest.py.

@pytest.fixture
def site(app):
    with time_machine.travel(NOW, tick=True):
        with app.app_context():  # closed before the requests: each has its own
            world = build_reports_world(_db.session)
            agree_to_be_named(_db.session)
            _la_poste_conseiller(_db.session, world)
        yield world


def test_the_dashboard_offers_the_la_coop_files_in_their_formats(app, client, site):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    assert "kind=cra&amp;format=xlsx" in html and "kind=cra&amp;format=csv" in html
    assert "kind=beneficiaries&amp;format=xlsx" in html and "kind=beneficiaries&amp;format=csv" not in html
    assert 'aria-describedby="export-help-beneficiaries"' in html
    assert "delete it after the import" in html and "to enter each atelier in La Coop" in html


def test_the_web_downloads_of_the_la_coop_files(app, client, site):
    assert client.get("/rapports/export", query_string={"kind": "cra", "format": "xlsx"}).status_code == 302
    _login(app, client, "manager")
    response = client.get("/rapports/export", query_string={"kind": "beneficiaries", "format": "xlsx",
                                                            **PERIOD_ARGS})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="beneficiaries-2026-01-01-2026-06-30.xlsx"'
    assert read_sheet(response.data)[1][3][:2] == ["Martin", "Awa"]
    assert client.get("/rapports/export", query_string={"kind": "beneficiaries", "format": "csv",
                                                        **PERIOD_ARGS}).status_code == 404
    cra = client.get("/rapports/export", query_string={"kind": "cra", "format": "csv", **PERIOD_ARGS})
    assert sum(row["Participants"] for row in cra_rows(cra.data, "csv")) == 17


def test_a_conseiller_of_la_poste_downloads_no_beneficiary(app, client, site):
    _login(app, client, "conseiller", structure_id=site["other"])
    response = client.get("/rapports/export", query_string={"kind": "beneficiaries", "format": "xlsx",
                                                            **PERIOD_ARGS})
    assert response.status_code == 200 and len(read_sheet(response.data)[1]) == 3
    cra = client.get("/rapports/export", query_string={"kind": "cra", "format": "xlsx", **PERIOD_ARGS})
    assert [row["Participants"] for row in cra_rows(cra.data, "xlsx")] == [4]  # W3


def test_the_command_line_writes_both_files_and_refuses_a_beneficiaries_csv(app, runner, site, tmp_path):
    def export(kind, *options):
        return runner.invoke(args=["reports", "export", kind, "--from", "2026-01-01", "--to", "2026-06-30",
                                   "--as", "alex", *options])

    with time_machine.travel(NOW, tick=False):
        cra = export("cra", "--format", "csv", "--out", str(tmp_path / "c.csv"))
        people = export("beneficiaries", "--out", str(tmp_path / "b.xlsx"))
        refused = export("beneficiaries", "--format", "csv", "--out", str(tmp_path / "b.csv"))
    assert cra.exit_code == 0 and people.exit_code == 0, cra.output + people.output
    assert [row["Participants"] for row in cra_rows((tmp_path / "c.csv").read_bytes(), "csv")] == [9, 4, 4, 0]
    assert read_sheet((tmp_path / "b.xlsx").read_bytes())[1][3][8] == "F"
    assert refused.exit_code == 1 and "XLSX only" in refused.output
    assert not (tmp_path / "b.csv").exists()


def test_a_foreign_phone_reaches_la_coop_exactly_as_written(db, world):
    """A Belgian guardian's number is text "+32 470 12 34 56" in the workbook, with no
    apostrophe for La Coop's import to keep."""
    agree_to_be_named(db, phone="+32470123456")
    _, rows = read_sheet(_export(db, _user(db, world), "beneficiaries", "xlsx"))
    assert rows[3][6] == "+32 470 12 34 56"
