"""Import of a refurbisher's delivery list: values, preview, one-transaction confirmation,
screens and the `flask equipment import` command (issue 4 item 2)."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import csrf_token_of
from workshops.auth.models import Structure, User
from workshops.equipment import import_rows, import_services, services
from workshops.equipment.models import TEXT_LIMITS, Equipment, EquipmentEvent
from workshops.extensions import db as _db
from workshops.families import import_services as pending_files
from workshops.families import importers
from workshops.families.models import ImportMapping
from workshops.seed.reference import LA_POSTE, LE_RESSORT

SAMPLE = Path("/work/shared/samples/inventaire-exemple.csv")
if not SAMPLE.exists():  # the repository's own copy, when the shared folder is elsewhere
    SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "inventaire-exemple.csv"
TODAY = date(2026, 1, 15)
HEADER = "N° inventaire;Type;Marque;Modèle;Date reconditionnement;État;RAM (Go)\r\n"


def _xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def people(app, runner, create_user):
    """An admin and a conseiller of La Poste, a conseiller of Le Ressort, and the ids."""
    result = runner.invoke(args=["seed", "reference"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        poste = _db.session.scalar(select(Structure.id).where(Structure.name == LA_POSTE))
        ressort = _db.session.scalar(select(Structure.id).where(Structure.name == LE_RESSORT))
    return {"admin": create_user("admin", username="admin", structure_id=poste),
            "conseiller": create_user("conseiller", username="cons", structure_id=poste),
            "other": create_user("conseiller", username="ressort", structure_id=ressort),
            "poste": poste, "ressort": ressort}


def _user(username: str) -> User:
    return _db.session.scalar(select(User).where(User.username == username))


def _count(model=Equipment) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def _preview(data: bytes, structure_id: uuid.UUID) -> importers.Preview:
    table = importers.read_table(data)
    assert table.problem is None, table.problem
    mapping, _remembered = importers.proposed_mapping(_db.session, import_rows.KIND, table.headers,
                                                      import_rows.FIELDS)
    return import_rows.preview_equipment(_db.session, table, mapping, structure_id, today=TODAY)


def _import(data: bytes, people, username="cons") -> import_services.EquipmentImportResult:
    done = import_services.confirm_equipment_import(_db.session, _preview(data, people["poste"]),
                                                    people["poste"], _user(username))
    _db.session.commit()
    return done


# ---------- Values ----------

@pytest.mark.parametrize("text,kind", [
    ("Portable", "laptop"), ("Laptop", "laptop"), ("PC portable", "laptop"), ("Fixe", "desktop"),
    ("Desktop", "desktop"), ("UC", "desktop"), ("Tour", "desktop"), ("Unité centrale", "desktop"),
    ("Tablette", "tablet"), ("Téléphone", "phone"), ("smartphone", "phone"), ("Autre", "other"),
    ("", None), ("Grille-pain", None),
])
def test_kinds(text, kind):
    assert import_rows.kind_of(text) == kind


@pytest.mark.parametrize("text,expected", [
    ("Très bon", ("very_good", True)), ("TRES BON", ("very_good", True)), ("A", ("very_good", True)),
    ("Bon", ("good", True)), ("B", ("good", True)), ("Correct", ("fair", True)), ("c", ("fair", True)),
    ("Mauvais", ("poor", True)), ("À revoir", ("poor", True)), ("", (None, True)),
    ("Super", (None, False)),
])
def test_grades(text, expected):
    assert import_rows.grade_of(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("16", (16, True)), ("16 Go", (16, True)), ("8GB", (8, True)), ("4 gb", (4, True)), ("", (None, True)),
    ("0", (None, False)), ("beaucoup", (None, False)), ("4096", (None, False)),
])
def test_memory(text, expected):
    assert import_rows.ram_of(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("15/05/2025", (date(2025, 5, 15), True)), ("5/3/2025", (date(2025, 3, 5), True)),
    ("2025-05-15", (date(2025, 5, 15), True)), ("2025-05-15T00:00:00", (date(2025, 5, 15), True)),
    ("45792", (date(2025, 5, 15), True)), ("", (None, True)),
    ("31/02/2025", (None, False)), ("15/13/2025", (None, False)), ("demain", (None, False)),
])
def test_dates(text, expected):
    assert import_rows.date_of(text) == expected


def test_columns_of_the_real_sample_are_guessed():
    table = importers.read_table(SAMPLE.read_bytes())
    assert importers.guess_mapping(table.headers, import_rows.FIELDS) == {
        "asset_tag": 0, "kind": 1, "brand": 2, "model": 3, "serial": 4, "cpu": 5, "ram_gb": 6,
        "storage": 7, "operating_system": 8, "accessories": 9, "origin": 10, "refurbished_on": 11,
        "grade": 12}


# ---------- Preview and confirmation ----------

def test_the_real_sample_imports_thirty_machines_then_nothing_again(app, people):
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes(), people["poste"])
        assert preview.counts == {"ok": 30, "warning": 0, "refused": 0}
        assert _count() == 0, "a preview writes nothing"
        done = _import(SAMPLE.read_bytes(), people)
        assert (done.written, done.skipped) == (30, 0)
        items = _db.session.scalars(select(Equipment).order_by(Equipment.asset_tag)).all()
        assert Counter(item.kind for item in items) == {"laptop": 28, "desktop": 2}
        first = items[0]
        assert (first.asset_tag, first.brand, first.model, first.ram_gb, first.refurbished_on,
                first.grade, first.origin, first.status, first.structure_id) == (
            "LR-2025-0001", "HP", "Latitude 5490", 16, date(2025, 5, 15), "fair", "Collège Jules Verne",
            "in_stock", people["poste"])
        assert set(_db.session.scalars(select(EquipmentEvent.kind))) == {"imported"}
        assert _count(EquipmentEvent) == 30

        again = _preview(SAMPLE.read_bytes(), people["poste"])
        assert again.counts == {"ok": 0, "warning": 0, "refused": 30}
        assert all("already in the inventory" in row.messages[0] for row in again.rows)
        assert import_services.confirm_equipment_import(
            _db.session, again, people["poste"], _user("cons")).written == 0
        _db.session.commit()
        assert _count() == 30


def test_a_cp1252_comma_file_and_an_xlsx_give_the_same_machines(app, people):
    rows = [["N° inventaire", "Type", "Marque", "Modèle", "Date reconditionnement", "État", "RAM (Go)"],
            ["é-001", "Fixe", "Dell", "OptiPlex 7050", "03/02/2025", "Très bon", "8 Go"],
            ["é-002", "Portable", "Lenovo", "ThinkPad T480", "2025-02-04", "B", "16"]]
    csv_data = "\r\n".join(",".join(row) for row in rows).encode("cp1252")
    sheet = [rows[0]] + [row[:4] + [datetime(2025, 2, 3) if i == 1 else "2025-02-04"] + row[5:6]
                         + [8 if i == 1 else 16] for i, row in enumerate(rows[1:], 1)]
    with app.app_context():
        previews = [_preview(data, people["poste"]) for data in (csv_data, _xlsx(sheet))]
        found = [[row.data for row in preview.rows] for preview in previews]
        assert found[0] == found[1]
        first, second = found[0]
        assert (first.asset_tag, first.kind, first.grade, first.ram_gb, first.refurbished_on) == (
            "É-001", "desktop", "very_good", 8, date(2025, 2, 3))
        assert (second.kind, second.grade, second.ram_gb) == ("laptop", "good", 16)


def test_duplicate_tags_and_impossible_dates_are_refused_with_their_line(app, people):
    data = (HEADER + "A-1;Portable;HP;x;15/05/2025;Bon;8\r\n"
            "A-2;Portable;HP;x;31/02/2025;Bon;8\r\n"
            "a-1 ;Fixe;HP;x;15/05/2025;Bon;8\r\n"
            "A-3;Fixe;HP;x;15/05/2027;Bon;8\r\n"
            "A-4;Fixe;HP;x;12/12/1998;Bon;8\r\n"
            ";Fixe;HP;x;;Bon;8\r\n"
            "A-5;Grille-pain;HP;x;;Bon;8\r\n"
            "A-6;Tablette;;;;Super;beaucoup\r\n").encode()
    with app.app_context():
        preview = _preview(data, people["poste"])
        rows = {row.line: row for row in preview.rows}
        assert [row.line for row in preview.rows if row.outcome == "refused"] == [3, 4, 5, 6, 7, 8]
        assert "Impossible refurbishing date (31/02/2025)" in rows[3].messages[0]
        assert rows[4].messages == ["Asset tag A-1 is already on line 2 of this file."]
        assert rows[5].has("refurbished_on") and rows[6].has("refurbished_on")
        assert "future or before 2000" in rows[5].messages[0]
        assert rows[7].messages == ["The asset tag is missing."]
        assert "Kind of machine not understood (Grille-pain)" in rows[8].messages[0]
        assert rows[9].outcome == "warning" and rows[9].has("grade") and rows[9].has("ram_gb")
        assert (rows[9].data.grade, rows[9].data.ram_gb) == (None, None)
        report = {row["line"]: row for row in preview.report()}
        assert report[4]["outcome"] == "refused" and "line 2" in report[4]["reasons"][0]
        done = import_services.confirm_equipment_import(_db.session, preview, people["poste"], _user("cons"))
        _db.session.commit()
        assert (done.written, done.skipped) == (2, 6)
        assert sorted(_db.session.scalars(select(Equipment.asset_tag))) == ["A-1", "A-6"]


def test_an_error_on_the_third_row_writes_nothing(app, people, monkeypatch):
    real, calls = services.add_equipment, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "add_equipment", failing)
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes(), people["poste"])
        with pytest.raises(RuntimeError):
            import_services.confirm_equipment_import(_db.session, preview, people["poste"], _user("cons"))
        _db.session.rollback()
        assert _count() == 0 and _count(EquipmentEvent) == 0


def test_a_tag_taken_between_preview_and_confirm_refuses_the_whole_import(app, people):
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes(), people["poste"])
        services.add_equipment(_db.session, services.EquipmentData("LR-2025-0007", people["poste"]),
                               _user("cons"))
        _db.session.commit()
        with pytest.raises(services.ValidationFailed) as refused:
            import_services.confirm_equipment_import(_db.session, preview, people["poste"], _user("cons"))
        _db.session.rollback()
        assert "Line 8: Another machine already has this asset tag." in str(refused.value)
        assert _count() == 1


def test_another_structures_stock_is_not_allowed_for_a_conseiller(app, people):
    with app.app_context():
        preview = _preview(SAMPLE.read_bytes(), people["ressort"])
        with pytest.raises(services.NotAllowed):
            import_services.confirm_equipment_import(_db.session, preview, people["ressort"], _user("cons"))
        _db.session.rollback()
        assert _count() == 0


def test_formula_looking_cells_are_kept_as_text(app, people):
    formula = '=HYPERLINK("http://exemple.fr";"clic")'
    csv_data = (HEADER.replace("RAM (Go)", "Remarques") + 'F-1;Fixe;"-Dell";x;;Bon;"'
                + formula.replace('"', '""') + '"\r\n').encode("utf-8-sig")
    with app.app_context():
        _import(csv_data, people)
        item = _db.session.scalar(select(Equipment))
        assert (item.notes, item.brand) == (formula, "-Dell")


def test_a_machine_imported_with_the_longest_notes_kept_stays_editable(app, web, people):
    """The import keeps notes up to the inventory's limit; changing the brand on the machine's
    page afterwards must not ask to cut them first (the form once allowed 2,000 characters)."""
    notes = "Écran rayé, chargeur d'origine.\n" + "x" * (TEXT_LIMITS["notes"] - 40)
    csv_data = (HEADER.replace("RAM (Go)", "Remarques") + 'F-1;Fixe;Dell;x;;Bon;"'
                + notes.replace("\n", "\r\n") + '"\r\n').encode("utf-8-sig")
    with app.app_context():
        _import(csv_data, people)
        item = _db.session.scalar(select(Equipment))
        assert item.notes == notes
        path, structure = f"/materiel/{item.id}/modifier", str(item.structure_id)
    form = web.get(path).get_data(as_text=True)
    response = web.post(path, data={"csrf_token": csrf_token_of(form), "asset_tag": "F-1", "kind": "desktop",
                                    "structure_id": structure, "brand": "HP",
                                    "notes": notes.replace("\n", "\r\n")})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        item = _db.session.scalar(select(Equipment))
        assert (item.brand, item.notes) == ("HP", notes)


def test_the_size_limit_says_so():
    big = HEADER.encode() + b"A-1;Fixe;HP;x;;Bon;8\r\n" * 120_000
    assert "larger than 2 MB" in importers.read_table(big).problem


# ---------- Command line ----------

def _run(runner, *args):
    return runner.invoke(args=["equipment", "import", *map(str, args)])


def test_cli_dry_run_then_real_run_then_nothing_again(app, runner, people, tmp_path):
    out = tmp_path / "report.json"
    result = _run(runner, SAMPLE, "--dry-run", "--report-json", out)
    assert result.exit_code == 0, result.output
    assert "Rows: 30; ok: 30; with a warning: 0; refused: 0." in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["dry_run"] is True and report["written"] == 0 and report["file"] == str(SAMPLE)
    assert report["rows"][0] == {"line": 2, "outcome": "ok", "reasons": []} and len(report["rows"]) == 30
    with app.app_context():
        assert _count() == 0
    result = _run(runner, SAMPLE, "--as", "cons", "--report-json", out)
    assert result.exit_code == 0 and "Machines written: 30; rows skipped: 0." in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["written"] == 30
    again = _run(runner, SAMPLE, "--structure", LA_POSTE, "--report-json", out)
    assert again.exit_code == 0 and "Machines written: 0; rows skipped: 30." in again.output
    assert "line 2: refused: Asset tag LR-2025-0001 is already in the inventory." in again.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["counts"] == {"ok": 0, "warning": 0, "refused": 30} and report["written"] == 0
    with app.app_context():
        assert _count() == 30
        assert set(_db.session.scalars(select(Equipment.structure_id))) == {people["poste"]}


@pytest.mark.parametrize("args,message", [
    (["--as", "nobody"], "No active account"),
    (["--structure", "Nulle part"], "No structure named"),
    (["--as", "cons", "--structure", LE_RESSORT], "may use"),
])
def test_cli_refuses_what_it_cannot_do(runner, people, args, message, tmp_path):
    out = tmp_path / "report.json"
    result = _run(runner, SAMPLE, "--dry-run", "--report-json", out, *args)
    assert result.exit_code == 1 and message in result.output
    assert message in json.loads(out.read_text(encoding="utf-8"))["error"]


def test_cli_without_recognisable_columns_points_to_the_screens(runner, people, tmp_path):
    path = tmp_path / "liste.csv"
    path.write_bytes(b"A;B\r\nX-1;Fixe\r\n")
    result = _run(runner, path, "--dry-run")
    assert result.exit_code == 1 and "through the screens" in result.output


# ---------- Screens ----------

MAPPING = {"asset_tag": "0", "kind": "1", "brand": "2", "model": "3", "serial": "4", "cpu": "5",
           "ram_gb": "6", "storage": "7", "operating_system": "8", "accessories": "9", "origin": "10",
           "refurbished_on": "11", "grade": "12"}


@pytest.fixture
def web(client, auth, people):
    """A client logged in as the conseiller of La Poste, interface in English."""
    auth.login("cons")
    client.post("/language/en", data={"next": "/"})
    return client


def _upload(client, data: bytes, **fields):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename="liste.csv"), **fields})
    return client.post("/import/materiel", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _token(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].split("token=")[1]


def test_upload_page_for_a_conseiller_and_for_an_admin(client, auth, web):
    page = web.get("/import/materiel").get_data(as_text=True)
    assert "At most 2 MB and 5000 rows" in page and 'enctype="multipart/form-data"' in page
    assert 'name="structure_id"' not in page, "a conseiller imports into their own structure"
    auth.logout()
    auth.login("admin")
    client.post("/language/en", data={"next": "/"})
    page = client.get("/import/materiel").get_data(as_text=True)
    assert 'name="structure_id"' in page and LE_RESSORT in page


def test_a_file_too_large_is_refused_on_upload(web):
    response = _upload(web, HEADER.encode() + b"A-1;Fixe;HP;x;;Bon;8\r\n" * 120_000)
    assert response.status_code == 413 and "larger than 2 MB" in response.get_data(as_text=True)


def test_the_whole_journey_on_the_real_sample(app, web, people):
    token = _token(_upload(web, SAMPLE.read_bytes()))
    page = web.get(f"/import/materiel/colonnes?token={token}").get_data(as_text=True)
    assert "guessed from the column names" in page
    assert '<option selected value="0">N° inventaire</option>' in page
    response = web.post("/import/materiel/colonnes", data={"token": token, **MAPPING})
    assert response.status_code == 302 and "/apercu" in response.headers["Location"]
    page = web.get(f"/import/materiel/apercu?token={token}").get_data(as_text=True)
    assert "Nothing is saved yet" in page and "<strong>30</strong>" in page
    assert "LR-2025-0001 HP Latitude 5490" in page and "La Poste" in page
    with app.app_context():
        assert _count() == 0, "nothing written before the confirmation"
    response = web.post("/import/materiel/confirmer", data={"token": token, "warned_shown": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/import/materiel/resultat")
    result = web.get("/import/materiel/resultat").get_data(as_text=True)
    assert "<strong>30</strong>" in result and "machines added to the stock" in result
    with app.app_context():
        assert _count() == 30
    assert "No list is waiting" in web.get(f"/import/materiel/apercu?token={token}").get_data(as_text=True)

    # The same file again: its columns are remembered, and every row says why it is refused.
    token = _token(_upload(web, SAMPLE.read_bytes()))
    page = web.get(f"/import/materiel/colonnes?token={token}").get_data(as_text=True)
    assert "the same choices are proposed" in page
    web.post("/import/materiel/colonnes", data={"token": token, **MAPPING})
    page = web.get(f"/import/materiel/apercu?token={token}&show=refused").get_data(as_text=True)
    assert "Asset tag LR-2025-0030 is already in the inventory." in page
    assert "Import the rows kept" not in page


def test_the_mapping_chosen_is_remembered_for_the_same_headers(app, web, people):
    data = b"Tag maison;Genre\r\nX-1;Portable\r\n"
    token = _token(_upload(web, data))
    response = web.post("/import/materiel/colonnes", data={"token": token, "asset_tag": "0", "kind": "1"})
    assert response.status_code == 302
    with app.app_context():
        mapping, remembered = importers.proposed_mapping(
            _db.session, "equipment", ["tag maison", "GENRE"], import_rows.FIELDS)
        assert (mapping, remembered) == ({"asset_tag": 0, "kind": 1}, True)
        assert _db.session.scalar(select(func.count()).select_from(ImportMapping)) == 1
    token = _token(_upload(web, data))
    page = web.get(f"/import/materiel/colonnes?token={token}").get_data(as_text=True)
    assert "the same choices are proposed" in page and '<option selected value="1">Genre</option>' in page


def test_a_required_column_must_be_chosen(web):
    token = _token(_upload(web, SAMPLE.read_bytes()))
    page = web.post("/import/materiel/colonnes", data={"token": token, **MAPPING, "kind": ""})
    assert page.status_code == 200 and "Choose the column that holds this." in page.get_data(as_text=True)


def test_a_family_list_token_is_not_an_equipment_import(app, web, people):
    with app.app_context():
        folder = Path(app.instance_path) / "imports"
        token = pending_files.store_upload(folder, SAMPLE.read_bytes(), {
            "user_id": str(_user("cons").id), "kind": "families"})
    assert "No list is waiting" in web.get(f"/import/materiel/colonnes?token={token}").get_data(as_text=True)


def test_an_equipment_list_token_is_not_a_family_import(web):
    """A delivery list waiting for its columns cannot be read as a family list."""
    token = _token(_upload(web, SAMPLE.read_bytes()))
    for page in ("colonnes", "apercu"):
        html = web.get(f"/import/familles/{page}?token={token}").get_data(as_text=True)
        assert "No list is waiting" in html
