"""Import of a collège's list: reading, columns, values, preview, confirmation, screens
and the `flask families import` command (issue 3 item 4; R25-R27)."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from workshops.auth.models import Structure, User
from workshops.core.models import utcnow
from workshops.extensions import db as _db
from workshops.families import import_rows, import_services, importers, queries
from workshops.families import services as family_services
from workshops.families.models import Child, Family, Guardian, ImportMapping, Registration
from workshops.scheduling.models import Venue, Workshop
from workshops.seed.reference import LA_POSTE, LE_RESSORT

FIXTURES = Path(__file__).parent / "fixtures" / "import"
SAMPLE = FIXTURES / "familles-exemple.csv"
CSV_FIXTURES = ["bom-utf8-semicolon.csv", "cp1252-semicolon.csv", "utf8-tab.csv", "utf8-comma.csv"]
EXPECTED_HEADERS = ("Nom", "Prénom", "Téléphone", "Courriel", "Commune", "Collège", "Niveau",
                    "Prénom de l'enfant", "Équipement souhaité", "Langue", "Consentement", "Remarques")


def _xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fixture_rows() -> list[list[str]]:
    table = importers.read_table((FIXTURES / "utf8-comma.csv").read_bytes())
    return [list(table.headers)] + [list(cells) for _line, cells in table.rows]


@pytest.fixture
def pending_folder(app):
    """Uploaded files wait in the test app's own instance folder."""
    return Path(app.instance_path) / "imports"


@pytest.fixture
def seeded(app, runner):
    result = runner.invoke(args=["seed", "reference"])
    assert result.exit_code == 0, result.output


def _structure_id(name: str) -> uuid.UUID:
    return _db.session.scalar(select(Structure.id).where(Structure.name == name))


@pytest.fixture
def people(app, seeded, create_user, pending_folder):
    """An admin, and a conseiller of La Poste, with their structures' ids."""
    with app.app_context():
        poste, ressort = _structure_id(LA_POSTE), _structure_id(LE_RESSORT)
    return {"admin": create_user("admin", username="admin", structure_id=poste),
            "conseiller": create_user("conseiller", username="cons", structure_id=poste),
            "poste": poste, "ressort": ressort}


def _user(username: str) -> User:
    return _db.session.scalar(select(User).where(User.username == username))


def _workshop(structure_id: uuid.UUID, capacity: int | None = None, *, days: int = 7) -> uuid.UUID:
    venue = _db.session.scalars(select(Venue)).first()
    start = utcnow() + timedelta(days=days)
    workshop = Workshop(id=uuid.uuid4(), title="Atelier e-parentalité", start_dt=start,
                        end_dt=start + timedelta(hours=2), venue_id=venue.id,
                        structure_id=structure_id, capacity=capacity)
    _db.session.add(workshop)
    _db.session.commit()
    return workshop.id


def _count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model).where(model.deleted_dt.is_(None)))


def _preview(data: bytes, username: str = "admin", structure_id=None) -> importers.Preview:
    table = importers.read_table(data)
    assert table.problem is None, table.problem
    mapping, _remembered = importers.proposed_mapping(_db.session, import_rows.KIND, table.headers,
                                                      import_rows.FIELDS)
    actor = _user(username)
    options = import_rows.FamilyImport(actor, structure_id or actor.structure_id)
    return import_rows.preview_families(_db.session, table, mapping, options)


# ---------- Reading ----------

@pytest.mark.parametrize("name", CSV_FIXTURES)
def test_every_encoding_and_delimiter_gives_the_same_rows(name):
    table = importers.read_table((FIXTURES / name).read_bytes())
    assert table.problem is None
    assert table.headers == EXPECTED_HEADERS
    assert [list(table.headers)] + [list(cells) for _line, cells in table.rows] == _fixture_rows()
    assert [line for line, _cells in table.rows] == [2, 3, 4, 5]
    assert table.rows[0][1][11] == "Rappeler après 18h, le mardi", "quoted delimiter kept in its cell"


def test_an_xlsx_workbook_gives_the_same_rows_found_by_content_not_name():
    rows = _fixture_rows()
    table = importers.read_table(_xlsx(rows))
    assert table.problem is None
    assert [list(table.headers)] + [list(cells) for _line, cells in table.rows] == rows


def test_every_format_gives_the_same_families(app, people):
    with app.app_context():
        files = [(FIXTURES / name).read_bytes() for name in CSV_FIXTURES] + [_xlsx(_fixture_rows())]
        previews = [_preview(data) for data in files]
        assert all(p.counts == {"ok": 4, "warning": 0, "refused": 0} for p in previews)
        families = [[row.data for row in p.rows] for p in previews]
        assert all(found == families[0] for found in families)
        first = families[0][0]
        assert (first.guardians[0].last_name, first.children[0].level, first.computer_wanted) == (
            "Martin", "6e", "laptop")


def test_xlsx_numbers_dates_and_blank_rows():
    table = importers.read_table(_xlsx([["Nom", "Tél."], [], ["Martin", 612345678], ["Petit", 6.0]]))
    assert table.headers == ("Nom", "Tél.")
    assert table.rows == ((3, ("Martin", "612345678")), (4, ("Petit", "6")))


@pytest.mark.parametrize("data,expected", [
    (b"", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" * 20, "neither a CSV nor an XLSX"),
    (b"PK\x03\x04garbage that is no zip", "workbook could not be read"),
    (b"Nom;Pr\xc3\xa9nom\r\n", "no rows"),
    (b"\r\n\r\n", "no header line"),
])
def test_unreadable_files_say_why_and_never_raise(data, expected):
    table = importers.read_table(data)
    assert expected in table.problem
    assert table.rows == ()


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "neither a CSV nor an XLSX" in importers.read_table(buffer.getvalue()).problem


def test_size_and_row_limits():
    big = b"Nom;Prenom\r\n" + b"Martin;Elodie\r\n" * 200_000
    assert "larger than 2 MB" in importers.read_table(big).problem
    many = b"Nom;Prenom\r\n" + b"Martin;Elodie\r\n" * (importers.MAX_ROWS + 1)
    assert "more than 5000 rows" in importers.read_table(many, max_bytes=10**8).problem
    assert len(importers.read_table(many[:-15], max_bytes=10**8).rows) == importers.MAX_ROWS


def test_line_numbers_follow_the_file_with_quoted_line_breaks_and_blank_lines():
    data = b'Nom;Remarques\r\nMartin;"deux\r\nlignes"\r\n\r\nPetit;x\r\n'
    table = importers.read_table(data)
    assert table.rows == ((2, ("Martin", "deux\r\nlignes")), (5, ("Petit", "x")))


@pytest.mark.parametrize("raw,expected", [
    ("=HYPERLINK(\"http://x\";\"y\")", "=HYPERLINK(\"http://x\";\"y\")"),
    ("'=SUM(A1:A3)", "=SUM(A1:A3)"),
    ("'+33601020304", "+33601020304"),
    ("'O'Brien", "'O'Brien"),
    ("  Martin ", "Martin"),
    (None, ""),
    (3.0, "3"),
])
def test_cells_are_plain_text_and_only_our_own_formula_guard_is_removed(raw, expected):
    assert importers.clean_cell(raw) == expected


# ---------- Columns ----------

def test_columns_of_the_real_sample_are_guessed():
    table = importers.read_table(SAMPLE.read_bytes())
    mapping = importers.guess_mapping(table.headers, import_rows.FIELDS)
    assert mapping == {"last_name": 0, "first_name": 1, "phone": 2, "email": 3, "commune": 4,
                       "college": 5, "child_level": 6, "child_first_name": 7, "computer_wanted": 8,
                       "language": 9, "consent": 10}


def test_column_synonyms_ignore_case_and_accents():
    headers = ["NOM DU RESPONSABLE", "prénom", "Portable", "E-mail", "Ville", "Établissement",
               "Classe", "Prénom de l'enfant", "Equipement", "Langue parlée à la maison",
               "Nom du responsable 2", "Tél. 2"]
    mapping = importers.guess_mapping(headers, import_rows.FIELDS)
    assert mapping == {"last_name": 0, "first_name": 1, "phone": 2, "email": 3, "commune": 4,
                       "college": 5, "child_level": 6, "child_first_name": 7, "computer_wanted": 8,
                       "language": 9, "g2_last_name": 10, "g2_phone": 11}


def test_mapping_problems_and_cleaning():
    fields = import_rows.FIELDS
    assert [key for key, _ in importers.mapping_problems({"first_name": 1}, fields)] == ["last_name"]
    twice = importers.mapping_problems({"last_name": 0, "first_name": 0}, fields)
    assert {key for key, _ in twice} == {"last_name", "first_name"}
    assert importers.clean_mapping({"last_name": 0, "phone": 9, "bogus": 1, "email": True},
                                   ["a", "b"], fields) == {"last_name": 0}


# ---------- Values ----------

@pytest.mark.parametrize("text,level,understood", [
    ("6e", "6e", True), ("6ème", "6e", True), ("6EME", "6e", True), ("sixième", "6e", True),
    ("5e B", "5e", True), ("4A", "4e", True), ("3°", "3e", True), ("", None, True),
    ("7e", None, False), ("CM2", None, False), ("seconde", None, False),
])
def test_levels(text, level, understood):
    assert import_rows.level_of(text) == (level, understood)


@pytest.mark.parametrize("text,expected", [
    ("ordinateur fixe", ("desktop", True)), ("Fixe", ("desktop", True)), ("tour", ("desktop", True)),
    ("portable", ("laptop", True)), ("Ordinateur portable", ("laptop", True)),
    ("aucun", (None, True)), ("", (None, True)), ("tablette", (None, False)),
])
def test_computer_wanted(text, expected):
    assert import_rows.computer_of(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("portugais", ("pt", True)), ("Arabe", ("ar", True)), ("vietnamien", ("vi", True)),
    ("turc", ("tr", True)), ("ukrainien", ("uk", True)), ("anglais", ("en", True)),
    ("français", ("fr", True)), ("", ("fr", True)), ("arabe / français", ("ar", True)),
    ("klingon", ("fr", False)),
])
def test_languages(text, expected):
    assert import_rows.language_of(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Oui", (True, True)), ("x", (True, True)), ("yes", (True, True)), ("1", (True, True)),
    ("o", (True, True)), ("", (False, True)), ("non", (False, True)), ("peut-être", (False, False)),
])
def test_consent(text, expected):
    assert import_rows.consent_of(text) == expected


def test_college_names_match_without_small_words():
    key = import_rows.college_key
    assert key("Collège du Jardin des Plantes") == key("Collège Jardin des Plantes") == "jardin plantes"
    assert key("COLLEGE RENÉ DESCARTES") == key("Collège René Descartes")


def test_the_duplicate_index_follows_the_rule_of_matched_criteria():
    # The importer's fast path must find exactly the pairs that queries.matched_criteria,
    # the definition of the rule, calls duplicates (two criteria or more).
    surnames = ["dupont", "dupond", "du-pont", "martin", "martine", "le gall", "legall", "n'diaye",
                "ndiaye", "", "a", "dupontel"]
    first_names = ["marie", "mario", "", "jean"]
    phones = ["+33612345678", "+33612345679", None, ""]
    emails = ["marie@example.org", "MARIE@Example.org", "jean@example.org", None, ""]
    keys = [queries.GuardianKey(last, first, phone, email)
            for index, (last, first, phone, email) in enumerate(
                (last, first, phone, email) for last in surnames for first in first_names
                for phone in phones for email in emails)
            if index % 7 in (0, 3, 5)]
    keys = [key for key in keys if any(key)]
    assert len(keys) > 300
    index = import_rows.DuplicateIndex()
    for number, key in enumerate(keys):
        index.record(number, key)
    compared = found = 0
    for typed in keys:
        expected = [number for number, known in enumerate(keys)
                    if len(queries.matched_criteria(typed, known)) >= 2]
        assert sorted(index.owners(typed)) == expected, typed
        compared += len(keys)
        found += len(expected)
    assert 0 < found < compared


# ---------- Preview ----------

def test_the_real_sample_preview(app, people):
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes())
        rows = {row.line: row for row in preview.rows}
        assert preview.counts == {"ok": 31, "warning": 7, "refused": 2}
        assert [row.line for row in preview.rows] == list(range(2, 42))
        # "pas de tel": an unreadable phone is a warning, the family is kept without it.
        assert rows[5].outcome == "warning" and rows[5].has("phone")
        assert rows[5].data.guardians[0].phone == ""
        assert rows[12].outcome == "refused" and rows[12].has("guardians-0-email")
        assert rows[19].outcome == "refused" and rows[19].has("guardians-0-last_name")
        assert rows[27].has("duplicate_in_file") and "26" in rows[27].messages[-1]
        # Ticked at first: the warned rows, but not the possible duplicates.
        assert 5 in preview.default_included() and 27 not in preview.default_included()
        assert rows[2].outcome == "ok"
        first = rows[2].data
        jardin = _structure_id("Collège Jardin des Plantes")
        assert first.children[0].college_id == jardin and first.children[0].level == "6e"
        assert first.guardians[0].language == "pt" and first.has_follow_up_consent
        assert first.origin == "college_list" and first.structure_id == people["poste"]
        assert rows[3].data.computer_wanted == "desktop" and rows[11].data.computer_wanted == "laptop"
        assert _count(Family) == 0, "a preview writes nothing"


def test_a_bad_row_in_the_middle_is_refused_with_its_line_and_the_others_are_written(app, people):
    with app.app_context():
        preview = _preview((FIXTURES / "bad-row-middle.csv").read_bytes())
        refused = [row for row in preview.rows if row.outcome == "refused"]
        assert [row.line for row in refused] == [4]
        assert refused[0].has("child_level") and refused[0].has("guardians-0-email")
        options = import_rows.FamilyImport(_user("admin"), people["poste"])
        done = import_services.confirm_family_import(_db.session, preview, options)
        _db.session.commit()
        assert (done.written, done.skipped) == (4, 1)
        assert _count(Family) == 4


def test_unknown_college_and_language_and_missing_consent_are_warnings(app, people):
    data = ("Nom;Prénom;Collège;Enfant;Langue;Consentement\r\n"
            "Martin;Élodie;Collège Imaginaire;Léa;klingon;\r\n").encode()
    with app.app_context():
        row = _preview(data).rows[0]
        assert row.outcome == "warning"
        assert {"college", "language", "consent"} <= {code for code, _ in row.reasons}
        assert row.data.children[0].college_id is None and row.data.guardians[0].language == "fr"


def test_every_row_of_a_second_import_is_a_possible_duplicate(app, people):
    with app.app_context():
        first = _preview(SAMPLE.read_bytes())
        options = import_rows.FamilyImport(_user("admin"), people["poste"])
        import_services.confirm_family_import(_db.session, first, options)
        _db.session.commit()
        again = _preview(SAMPLE.read_bytes())
        kept = [row for row in again.rows if row.outcome != "refused"]
        assert len(kept) == 38 and all(row.has("duplicate") for row in kept)


def test_an_error_on_the_third_row_writes_nothing(app, people, monkeypatch):
    real, calls = family_services.create_family, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(family_services, "create_family", failing)
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes())
        options = import_rows.FamilyImport(_user("admin"), people["poste"])
        with pytest.raises(RuntimeError):
            import_services.confirm_family_import(_db.session, preview, options)
        _db.session.rollback()
        assert _count(Family) == 0 and _count(Guardian) == 0


def test_formula_cells_are_stored_as_text_exactly(app, people):
    formula = '=HYPERLINK("http://exemple.fr";"clic")'
    csv_data = f'Nom;Prénom;Remarques\r\nMartin;Élodie;"{formula.replace(chr(34), chr(34) * 2)}"\r\n'
    sheet = openpyxl.Workbook()
    sheet.active.append(["Nom", "Prénom", "Remarques"])
    sheet.active.append(["Petit", "Jérôme", "'" + formula])  # our own export guard
    cell = sheet.active.cell(row=3, column=3, value=formula)
    cell.data_type = "s"  # a text cell that looks like a formula
    sheet.active.cell(row=3, column=1, value="Durand")
    sheet.active.cell(row=3, column=2, value="Paul")
    buffer = io.BytesIO()
    sheet.save(buffer)
    with app.app_context():
        for data in (csv_data.encode("cp1252"), buffer.getvalue()):
            preview = _preview(data)
            import_services.confirm_family_import(
                _db.session, preview, import_rows.FamilyImport(_user("admin"), people["poste"]))
        _db.session.commit()
        notes = _db.session.scalars(select(Family.notes)).all()
        assert sorted(notes) == [formula] * 3


def test_mapping_is_remembered_for_the_same_headers(app, people):
    headers = ["Colonne A", "Colonne B"]
    with app.app_context():
        assert importers.proposed_mapping(_db.session, "families", headers, import_rows.FIELDS) == ({}, False)
        import_services.remember_mapping(_db.session, "families", headers, {"last_name": 1, "first_name": 0})
        import_services.remember_mapping(_db.session, "families", headers, {"last_name": 0, "first_name": 1})
        _db.session.commit()
        assert importers.proposed_mapping(_db.session, "families", headers, import_rows.FIELDS) == (
            {"last_name": 0, "first_name": 1}, True)
        assert importers.proposed_mapping(_db.session, "families", ["colonne a", "COLONNE B"],
                                          import_rows.FIELDS)[1], "same headers, other case"
        assert _db.session.scalar(select(func.count()).select_from(ImportMapping)) == 1


def test_pending_uploads_belong_to_their_sender_and_expire(tmp_path):
    tmp_path = tmp_path / "pending"
    owner, other = uuid.uuid4(), uuid.uuid4()
    token = import_services.store_upload(tmp_path, b"data", {"user_id": str(owner)})
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{token}.bin", f"{token}.json"]
    assert oct((tmp_path / f"{token}.bin").stat().st_mode & 0o777) == "0o600"
    assert import_services.load_upload(tmp_path, token, owner).data == b"data"
    assert import_services.load_upload(tmp_path, token, other) is None
    assert import_services.load_upload(tmp_path, "../../etc/passwd", owner) is None
    old = time.time() - import_services.PENDING_MAX_AGE_SECONDS - 10
    for path in tmp_path.iterdir():
        os.utime(path, (old, old))
    assert import_services.load_upload(tmp_path, token, owner) is None
    assert import_services.purge_uploads(tmp_path) == 2 and not list(tmp_path.iterdir())


# ---------- Command line ----------

def _run(runner, *args):
    return runner.invoke(args=["families", "import", *map(str, args)])


def test_cli_dry_run_of_the_real_sample_writes_nothing_and_reports_every_row(app, runner, people, tmp_path):
    out = tmp_path / "report.json"
    result = _run(runner, SAMPLE, "--dry-run", "--report-json", out)
    assert result.exit_code == 0, result.output
    assert "Rows: 40; ok: 31; with a warning: 7; refused: 2." in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["file"] == str(SAMPLE) and report["dry_run"] is True and report["written"] == 0
    assert report["counts"] == {"ok": 31, "warning": 7, "refused": 2}
    lines = {row["line"]: row for row in report["rows"]}
    assert len(lines) == 40 and lines[12]["outcome"] == "refused" and lines[12]["reasons"]
    assert lines[5]["outcome"] == "warning" and lines[2] == {"line": 2, "outcome": "ok", "reasons": []}
    with app.app_context():
        assert _count(Family) == 0


def test_cli_real_run_writes_the_rows_kept_in_one_transaction(app, runner, people, tmp_path):
    out = tmp_path / "report.json"
    result = _run(runner, SAMPLE, "--as", "CONS", "--report-json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["written"] == 38
    with app.app_context():
        assert _count(Family) == 38
        assert set(_db.session.scalars(select(Family.structure_id))) == {people["poste"]}
        jardin = _structure_id("Collège Jardin des Plantes")
        in_jardin = select(func.count()).select_from(Child).where(Child.college_id == jardin)
        assert _db.session.scalar(in_jardin) == 2
        kowalski = _db.session.scalar(select(Guardian).where(Guardian.last_name == "Kowalski"))
        assert kowalski.phone is None
    again = _run(runner, SAMPLE, "--as", "cons", "--skip-duplicates", "--report-json", out)
    assert again.exit_code == 0 and json.loads(out.read_text(encoding="utf-8"))["written"] == 0


def test_cli_registers_to_an_atelier_and_asks_for_overbooking(app, runner, people):
    with app.app_context():
        workshop_id = _workshop(people["poste"], capacity=10)
    full = _run(runner, SAMPLE, "--workshop", workshop_id)
    assert full.exit_code == 1 and "places left" in full.output
    with app.app_context():
        assert _count(Family) == 0
    invited = _run(runner, FIXTURES / "bom-utf8-semicolon.csv", "--workshop", workshop_id,
                   "--status", "invited")
    assert invited.exit_code == 0, invited.output
    over = _run(runner, SAMPLE, "--workshop", workshop_id, "--allow-overbooking")
    assert over.exit_code == 0, over.output
    with app.app_context():
        statuses = _db.session.scalars(select(Registration.status)).all()
        assert statuses.count("invited") == 4 and statuses.count("registered") == 38


@pytest.mark.parametrize("args,message", [
    (["--as", "nobody"], "No active account"),
    (["--workshop", "not-an-id"], "is not an atelier id"),
    (["--structure", "Nulle part"], "No structure named"),
])
def test_cli_refuses_what_it_cannot_do(runner, people, args, message):
    result = _run(runner, SAMPLE, "--dry-run", *args)
    assert result.exit_code == 1 and message in result.output


def test_cli_conseiller_cannot_use_another_structures_atelier(app, runner, people):
    with app.app_context():
        workshop_id = _workshop(people["ressort"])
    result = _run(runner, SAMPLE, "--as", "cons", "--workshop", workshop_id)
    assert result.exit_code == 1 and "may use" in result.output


def test_cli_unreadable_file_fails_with_a_report(runner, people, tmp_path):
    bad, out = tmp_path / "liste.csv", tmp_path / "report.json"
    bad.write_bytes(b"MZ\x90\x00" * 50)
    result = _run(runner, bad, "--dry-run", "--report-json", out)
    assert result.exit_code == 1 and "neither a CSV nor an XLSX" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["error"]


def test_cli_without_recognisable_columns_points_to_the_screens_then_uses_their_choice(
        app, runner, people, tmp_path):
    path = tmp_path / "liste.csv"
    path.write_bytes(b"A;B\r\nMartin;Elodie\r\n")
    result = _run(runner, path, "--dry-run")
    assert result.exit_code == 1 and "through the screens" in result.output
    with app.app_context():
        import_services.remember_mapping(_db.session, "families", ["A", "B"],
                                         {"last_name": 0, "first_name": 1})
        _db.session.commit()
    result = _run(runner, path)
    assert result.exit_code == 0 and "Families written: 1;" in result.output
    with app.app_context():
        assert _db.session.scalar(select(Guardian.first_name)) == "Elodie"


# ---------- Screens ----------

SAMPLE_MAPPING = {"last_name": "0", "first_name": "1", "phone": "2", "email": "3", "commune": "4",
                  "college": "5", "child_level": "6", "child_first_name": "7", "computer_wanted": "8",
                  "language": "9", "consent": "10"}


@pytest.fixture
def web(client, auth, people):
    """A client logged in as the conseiller of La Poste, interface in English."""
    auth.login("cons")
    client.post("/language/en", data={"next": "/"})
    return client


def _upload(client, data: bytes, **fields):
    # Encoded here, in memory: the test client would spool a big body to a temporary
    # file it never closes.
    boundary, body = encode_multipart({
        "file": FileStorage(io.BytesIO(data), filename="liste.csv"), "workshop_id": "",
        "status": "registered", **fields})
    return client.post("/import/familles", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _token(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].split("token=")[1]


def _to_preview(client, data: bytes, mapping=None, **fields) -> str:
    token = _token(_upload(client, data, **fields))
    response = client.post("/import/familles/colonnes", data={"token": token, **(mapping or SAMPLE_MAPPING)})
    assert response.status_code == 302 and "/apercu" in response.headers["Location"]
    return token


def _pending_files(app) -> list[str]:
    folder = Path(app.instance_path) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_list_of_an_atelier_that_has_ended_still_goes_to_it(app, web, people):
    """The atelier page links to the import with its id; the list may come after the day."""
    with app.app_context():
        workshop_id = _workshop(people["poste"], days=-2)
    page = web.get(f"/import/familles?workshop_id={workshop_id}").get_data(as_text=True)
    assert f'<option selected value="{workshop_id}">' in page


def test_upload_page_explains_formats_and_limits(web):
    page = web.get("/import/familles").get_data(as_text=True)
    assert "At most 2 MB and 5000 rows" in page and 'enctype="multipart/form-data"' in page
    assert 'name="structure_id"' not in page, "a conseiller imports into their own structure"


def test_the_whole_journey_on_the_real_sample(app, web):
    token = _token(_upload(web, SAMPLE.read_bytes()))
    assert token and len(_pending_files(app)) == 2
    mapping_page = web.get(f"/import/familles/colonnes?token={token}").get_data(as_text=True)
    assert "guessed from the column names" in mapping_page
    assert '<option selected value="0">Nom du responsable</option>' in mapping_page
    response = web.post("/import/familles/colonnes", data={"token": token, **SAMPLE_MAPPING})
    assert response.status_code == 302
    page = web.get(f"/import/familles/apercu?token={token}").get_data(as_text=True)
    assert "Nothing is saved yet" in page and "<strong>31</strong>" in page
    assert "Phone number left empty (pas de tel)" in page
    refused = web.get(f"/import/familles/apercu?token={token}&show=refused").get_data(as_text=True)
    assert "<td>12</td>" in refused and "<td>19</td>" in refused and "<td>2</td>" not in refused
    with app.app_context():
        assert _count(Family) == 0, "nothing written before the confirmation"
    warned = [5, 9, 18, 23, 26, 27, 32]
    response = web.post("/import/familles/confirmer", data={
        "token": token, "warned_shown": "1", "include": [str(line) for line in warned if line != 27]})
    assert response.status_code == 302 and response.headers["Location"].endswith("/import/familles/resultat")
    result = web.get("/import/familles/resultat").get_data(as_text=True)
    assert "<strong>37</strong>" in result and "families created" in result
    with app.app_context():
        assert _count(Family) == 37
    assert _pending_files(app) == [], "the file is removed once imported"
    assert "No list is waiting" in web.get(f"/import/familles/apercu?token={token}").get_data(as_text=True)


def test_a_second_upload_of_the_same_layout_proposes_the_remembered_columns(app, web):
    token = _to_preview(web, SAMPLE.read_bytes(), {**SAMPLE_MAPPING, "commune": ""})
    web.post("/import/familles/confirmer", data={"token": token})
    token = _token(_upload(web, SAMPLE.read_bytes()))
    page = web.get(f"/import/familles/colonnes?token={token}").get_data(as_text=True)
    assert "imported before" in page
    assert '<option selected value="">' in page.split('name="commune"')[1].split("</select>")[0]
    web.post("/import/familles/colonnes", data={"token": token, **SAMPLE_MAPPING})
    page = web.get(f"/import/familles/apercu?token={token}").get_data(as_text=True)
    assert page.count("Possible duplicate of") >= 38


def test_a_mapping_without_the_last_name_is_refused_next_to_the_field(web):
    token = _token(_upload(web, SAMPLE.read_bytes()))
    response = web.post("/import/familles/colonnes", data={**SAMPLE_MAPPING, "token": token, "last_name": ""})
    assert response.status_code == 200
    assert "Choose the column that holds this." in response.get_data(as_text=True)


@pytest.mark.parametrize("lang,text", [("en", "The file is larger than 2 MB"), ("fr", None)])
def test_a_3_mb_file_gets_a_clear_message_not_an_error_page(app, web, lang, text):
    web.post(f"/language/{lang}", data={"next": "/"})
    response = _upload(web, b"Nom;Prenom\r\n" + b"Martin;Elodie\r\n" * 210_000)
    page = response.get_data(as_text=True)
    assert response.status_code == 413 and f'<html lang="{lang}"' in page
    assert 'class="field__error"' in page and "Traceback" not in page
    assert text is None or text in page
    assert _pending_files(app) == []


def test_a_binary_file_renamed_csv_is_refused(web):
    response = _upload(web, b"MZ\x90\x00\x03" * 100)
    assert response.status_code == 400 and "neither a CSV nor an XLSX" in response.get_data(as_text=True)


def test_a_conseiller_cannot_import_into_another_structures_atelier(app, web, people):
    with app.app_context():
        other = _workshop(people["ressort"])
    assert _upload(web, SAMPLE.read_bytes(), workshop_id=str(other)).status_code == 404


def test_another_account_cannot_see_a_pending_file(app, client, auth, people, create_user):
    auth.login("cons")
    token = _token(_upload(client, SAMPLE.read_bytes()))
    auth.logout()
    create_user("conseiller", username="intrus", structure_id=people["poste"])
    auth.login("intrus")
    for path in ("colonnes", "apercu"):
        page = client.get(f"/import/familles/{path}?token={token}").get_data(as_text=True)
        assert "Yilmaz" not in page and "Kowalski" not in page


def test_a_conseiller_without_structure_is_told_why(client, auth, people, create_user):
    create_user("conseiller", username="seul")
    auth.login("seul")
    client.post("/language/en", data={"next": "/"})
    response = _upload(client, SAMPLE.read_bytes())
    assert response.status_code == 200 and "belongs to no structure" in response.get_data(as_text=True)


def test_a_manager_chooses_the_structure(app, client, auth, people, create_user):
    create_user("manager", username="chef", structure_id=people["poste"])
    auth.login("chef")
    fixture = (FIXTURES / "cp1252-semicolon.csv").read_bytes()
    token = _to_preview(client, fixture, {"last_name": "0", "first_name": "1"},
                        structure_id=str(people["ressort"]))
    assert client.post("/import/familles/confirmer", data={"token": token}).status_code == 302
    with app.app_context():
        assert set(_db.session.scalars(select(Family.structure_id))) == {people["ressort"]}


def test_over_booking_must_be_asked_for(app, web, people):
    with app.app_context():
        workshop_id = _workshop(people["poste"], capacity=2)
    fixture = (FIXTURES / "bom-utf8-semicolon.csv").read_bytes()
    token = _to_preview(web, fixture, {"last_name": "0", "first_name": "1"}, workshop_id=str(workshop_id))
    page = web.get(f"/import/familles/apercu?token={token}").get_data(as_text=True)
    assert 'name="allow_overbooking"' in page and "2 places left" in page
    refused = web.post("/import/familles/confirmer", data={"token": token}, follow_redirects=True)
    assert "2 places left for 4 families" in refused.get_data(as_text=True)
    with app.app_context():
        assert _count(Family) == 0
    web.post("/import/familles/confirmer", data={"token": token, "allow_overbooking": "y"})
    with app.app_context():
        assert _count(Family) == 4 and _count(Registration) == 4
    result = web.get("/import/familles/resultat").get_data(as_text=True)
    assert f'href="/ateliers/{workshop_id}"' in result and "added to the atelier" in result


def test_an_error_while_confirming_writes_nothing(app, web, monkeypatch):
    token = _to_preview(web, SAMPLE.read_bytes())
    real, calls = family_services.create_family, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(family_services, "create_family", failing)
    response = web.post("/import/familles/confirmer", data={"token": token})
    assert response.status_code == 500 and b"disk full" not in response.data
    with app.app_context():
        assert _count(Family) == 0 and _count(Guardian) == 0
    assert len(_pending_files(app)) == 2, "the file stays for another try"


@pytest.mark.parametrize("path", ["/import/familles/colonnes", "/import/familles/apercu",
                                  "/import/familles/resultat"])
def test_steps_without_a_file_lead_back_to_the_upload(web, path):
    response = web.get(path)
    assert response.status_code == 200 and 'href="/import/familles"' in response.get_data(as_text=True)


@pytest.mark.parametrize("last,first,phone,email,expected", [
    ("Kowalsky", "Sébastien", "", "", True),
    ("KOWALSKI", "Seb", "", "", False),
    ("Dupont", "Sébastien", "06 12 34 56 78", "", True),
    ("Dupont", "Paul", "06 12 34 56 78", "", False),
    ("Dupont", "Paul", "0612345678", "SEB@exemple.fr", True),
])
def test_duplicates_in_the_preview_follow_the_rule_of_find_duplicates(app, people, last, first, phone,
                                                                       email, expected):
    with app.app_context():
        admin = _user("admin")
        known = family_services.FamilyData(guardians=(family_services.GuardianData(
            "Sébastien", "Kowalski", "06 12 34 56 78", "seb@exemple.fr"),), structure_id=people["poste"])
        family_services.create_family(_db.session, known, admin)
        _db.session.commit()
        row = _preview(f"Nom;Prénom;Tél;Courriel\r\n{last};{first};{phone};{email}\r\n".encode()).rows[0]
        assert row.has("duplicate") is expected
        assert bool(family_services.find_duplicates(_db.session, row.data, admin)) is expected
