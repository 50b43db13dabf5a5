"""The printed documents over the web, as a conseiller: each route answers an inline PDF with
a file name free of personal data and no caching; another structure's atelier, family or
handover is "not found"; the print page lists the families; "print everything" runs in a
child process end to end, with its progress, and the child writes nothing to disk."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.test_registrations import build_world, new_family, new_workshop
from workshops.equipment import services as equipment_services
from workshops.equipment.services import EquipmentData
from workshops.extensions import db as _db
from workshops.families import registration_services
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.printing import batch, pdf
from workshops.printing.documents import sheet_document
from workshops.printing.notebooks import guide_document, notebook_document
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop, WorkshopResource

NAMES = ("Martin", "Smith", "Haddad", "Élodie", "John", "Karim")


@dataclass
class Desk:
    """Ids of what the tests need (rows are detached once the setup context ends)."""

    workshop: uuid.UUID
    martin: uuid.UUID
    smith: uuid.UUID
    haddad: uuid.UUID
    handover: uuid.UUID
    other_workshop: uuid.UUID
    other_family: uuid.UUID
    other_handover: uuid.UUID


def _family(db, world, last, first, language, structure=None) -> Family:
    return create_family(db, FamilyData(
        guardians=(GuardianData(first_name=first, last_name=last, language=language),),
        structure_id=(structure or world.home).id, notice_version="2026-01"), world.manager)


def _handover(db, world, tag, family, workshop, structure=None):
    item = equipment_services.add_equipment(db, EquipmentData(
        asset_tag=tag, structure_id=(structure or world.home).id, kind="laptop", brand="Dell",
        model="Latitude 5490", grade="good"), world.manager)
    return equipment_services.hand_over(db, item, family, world.manager, mode="gift", workshop=workshop)


def make_desk(db) -> Desk:
    """An atelier of the home structure with a resource, Martin (French, present), Smith
    (English, registered) and Haddad (Arabic, registered), a machine given to Martin; the
    same kinds of rows in another structure."""
    world = build_world(db)
    workshop = new_workshop(db, world, title="Parents et numérique")
    resource = Resource(name="Pronote", url="https://www.index-education.com/fr/pronote.php",
                        needs_account=True)
    db.add_all([resource, WorkshopResource(workshop=workshop, resource=resource, is_presented=True)])
    martin = new_family(db, world, "Martin", "Élodie")
    smith = _family(db, world, "Smith", "John", "en")
    haddad = _family(db, world, "Haddad", "Karim", "ar")
    registration_services.check_in(db, workshop, martin, world.manager)
    registration_services.register_family(db, workshop, smith, world.manager)
    registration_services.register_family(db, workshop, haddad, world.manager)
    handover = _handover(db, world, "LR-2025-0001", martin, workshop)
    other_workshop = new_workshop(db, world, structure=world.other, title="Ailleurs")
    other_family = _family(db, world, "Autre", "Anne", "fr", structure=world.other)
    registration_services.check_in(db, other_workshop, other_family, world.manager)
    other_handover = _handover(db, world, "LP-0001", other_family, other_workshop, structure=world.other)
    db.commit()
    return Desk(workshop.id, martin.id, smith.id, haddad.id, handover.id, other_workshop.id, other_family.id,
                other_handover.id)


@pytest.fixture
def desk(app, create_user, auth, client) -> Desk:
    """A conseiller of the home structure logged in, in English."""
    with app.app_context():
        desk = make_desk(_db.session)
        home_id = _db.session.get(Workshop, desk.workshop).structure_id
    assert auth.login(create_user("conseiller", structure_id=home_id)).status_code == 302
    client.post("/language/en", data={"next": "/"})
    return desk


def routes(desk: Desk) -> dict[str, str]:
    w, f = desk.workshop, desk.martin
    return {"sheet": f"/ateliers/{w}/imprimer/feuille?lignes=3", "summary": f"/ateliers/{w}/imprimer/resume",
            "certificate": f"/ateliers/{w}/familles/{f}/attestation",
            "notebook": f"/familles/{f}/carnet?langue=ar&format=a5&gros=1&atelier={w}",
            "guide": f"/ateliers/{w}/familles/{f}/guide", "receipt": f"/remises/{desk.handover}/recu"}


def assert_pdf(response) -> PdfReader:
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=") and disposition.endswith('.pdf"')
    assert not any(name.casefold() in disposition.casefold() for name in NAMES), disposition
    return PdfReader(io.BytesIO(response.data))


@pytest.mark.parametrize("kind", ["sheet", "summary", "certificate", "notebook", "guide", "receipt"])
def test_each_document_is_an_inline_pdf_without_a_name_in_its_file_name(client, desk, kind):
    reader = assert_pdf(client.get(routes(desk)[kind]))
    assert len(reader.pages) >= 1


def test_the_notebook_route_honours_its_language_format_and_name_options(client, desk):
    base = f"/familles/{desk.martin}/carnet?atelier={desk.workshop}"
    french = assert_pdf(client.get(base + "&langue=fr"))
    assert "Mes comptes sur internet" in french.pages[0].extract_text()
    assert "Martin" not in french.pages[0].extract_text()
    a5 = assert_pdf(client.get(base + "&format=a5"))
    assert {round(float(page.mediabox.width), 1) for page in a5.pages} == {419.5}
    named = assert_pdf(client.get(base + "&nom=1"))
    assert "Martin" in named.pages[0].extract_text()


def test_the_sheet_lists_the_families_and_takes_blank_rows(client, desk):
    text = " ".join(page.extract_text() for page in assert_pdf(client.get(routes(desk)["sheet"])).pages)
    for name in ("MARTIN", "SMITH", "HADDAD"):
        assert text.upper().count(name) == 1, name
    # Three families then the three blank rows asked for (?lignes=3), each with its consent box.
    assert text.count("Privacy notice given") == 3


def test_another_structures_atelier_family_or_handover_is_not_found(client, desk):
    w, f = desk.other_workshop, desk.other_family
    for path in (f"/ateliers/{w}/imprimer/feuille", f"/ateliers/{w}/imprimer/resume",
                 f"/ateliers/{w}/familles/{f}/attestation", f"/familles/{f}/carnet",
                 f"/ateliers/{w}/familles/{f}/guide", f"/remises/{desk.other_handover}/recu",
                 f"/ateliers/{w}/imprimer", f"/ateliers/{w}/imprimer/tout",
                 f"/ateliers/{w}/imprimer/tout/etat", f"/ateliers/{w}/imprimer/tout/pdf",
                 # this structure's family with another structure's atelier, and the reverse
                 f"/ateliers/{w}/familles/{desk.martin}/guide", f"/familles/{desk.martin}/carnet?atelier={w}",
                 f"/ateliers/{desk.workshop}/familles/{f}/guide",
                 f"/ateliers/{desk.workshop}/familles/{f}/attestation"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/ateliers/{w}/imprimer/tout").status_code == 404
    assert batch.job_of(uuid.uuid4(), w) is None


def test_a_certificate_is_only_for_a_family_marked_present(client, desk):
    response = client.get(f"/ateliers/{desk.workshop}/familles/{desk.smith}/attestation")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "only for a family marked present" in response.get_data(as_text=True)


def test_the_print_page_lists_each_family_with_its_documents_in_its_language(client, desk):
    page = client.get(f"/ateliers/{desk.workshop}/imprimer").get_data(as_text=True)
    for name in ("Martin", "Smith", "Haddad"):
        assert name in page
    assert f"/familles/{desk.smith}/carnet?langue=en" in page
    assert f"/familles/{desk.haddad}/guide?langue=ar" in page
    assert f"/ateliers/{desk.workshop}/familles/{desk.martin}/attestation" in page
    assert f"/ateliers/{desk.workshop}/familles/{desk.smith}/attestation" not in page, "Smith is not present"
    assert "Print everything for this atelier" in page


def test_the_atelier_family_and_handover_pages_link_to_their_documents(client, desk):
    atelier = client.get(f"/ateliers/{desk.workshop}").get_data(as_text=True)
    assert f"/ateliers/{desk.workshop}/imprimer/feuille" in atelier
    assert f"/ateliers/{desk.workshop}/imprimer\"" in atelier
    family = client.get(f"/families/{desk.haddad}").get_data(as_text=True)
    assert f"/familles/{desk.haddad}/carnet?langue=ar" in family
    assert f"/ateliers/{desk.workshop}/familles/{desk.haddad}/guide?langue=ar" in family
    assert "/confidentialite/notice.pdf?langue=ar" in family, "the privacy notice in its language"
    checkin = client.get(f"/ateliers/{desk.workshop}/checkin").get_data(as_text=True)
    assert 'href="/confidentialite"' in checkin, "the notice at hand when a walk-in is added"
    assert f"/remises/{desk.handover}/recu" in client.get(f"/remises/{desk.handover}").get_data(as_text=True)


def _files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def expected_pages(app, desk) -> int:
    with app.app_context():
        db = _db.session
        workshop = db.get(Workshop, desk.workshop)
        documents = [sheet_document(db, workshop)]
        for family_id in (desk.martin, desk.smith, desk.haddad):
            family = db.get(Family, family_id)
            language = pdf.family_language(family)
            documents += [notebook_document(db, family, workshop=workshop, language=language),
                          guide_document(db, family, workshop, language=language)]
        return sum(pdf.render(document).pages for document in documents)


def test_print_everything_runs_in_a_child_and_is_downloaded_once(app, client, desk, tmp_path, monkeypatch,
                                                                  create_user):
    child_tmp = tmp_path / "child-tmp"
    child_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(child_tmp))  # where the child's temporary files would go
    before = _files(tmp_path)
    base = f"/ateliers/{desk.workshop}/imprimer/tout"
    assert client.get(f"{base}/etat").get_json()["state"] == "none"
    started = client.post(base)
    assert started.status_code == 303 and started.headers["Location"].endswith(base)
    page = client.get(base).get_data(as_text=True)
    assert "print-batch.js" in page and 'data-state="running"' in page
    seen, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"{base}/etat").get_json()
        seen.append((status["done"], status["total"]))
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert status["total"] == 7 and status["done"] == 7, "the sheet, then 3 notebooks and 3 guides"
    assert any(0 < done < total for done, total in seen), f"no progress seen in between: {seen}"
    assert status["download"] == f"{base}/pdf"
    colleague = app.test_client()  # another conseiller of the same structure
    with app.app_context():
        home_id = _db.session.get(Workshop, desk.workshop).structure_id
    colleague.post("/login", data={"username": create_user("conseiller", structure_id=home_id),
                                   "password": "une phrase de passe assez longue"})
    assert colleague.get(f"{base}/etat").get_json()["state"] == "none"
    assert colleague.get(status["download"]).mimetype == "text/html", "only for the user who asked"
    reader = assert_pdf(client.get(status["download"]))
    assert len(reader.pages) == expected_pages(app, desk)
    again = client.get(status["download"])
    assert again.mimetype == "text/html" and "already opened" in again.get_data(as_text=True), "once"
    created = _files(tmp_path) - before
    assert {name for name in created if not name.endswith(("-wal", "-shm", "-journal"))} == set(), created


def test_a_failed_batch_says_so(client, desk, monkeypatch):
    monkeypatch.setattr(batch, "child_command", lambda workshop_id: [
        batch.sys.executable, "-c", "import sys; sys.stderr.write('1/3\\n'); sys.exit(3)"])
    base = f"/ateliers/{desk.workshop}/imprimer/tout"
    client.post(base)
    deadline = time.monotonic() + 20
    while client.get(f"{base}/etat").get_json()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(f"{base}/etat").get_json()["state"] == "failed"
    assert "could not be made" in client.get(base).get_data(as_text=True)
    assert client.get(f"{base}/pdf").mimetype == "text/html"


def test_a_manager_prints_for_every_structure(app, client, desk, auth, create_user):
    client.post("/logout")
    assert auth.login(create_user("manager")).status_code == 302
    for workshop in (desk.workshop, desk.other_workshop):
        assert client.get(f"/ateliers/{workshop}/imprimer").status_code == 200
    assert_pdf(client.get(f"/remises/{desk.other_handover}/recu"))
