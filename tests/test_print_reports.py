"""The reports on paper (issue 7, part 4): La Coop's activity report of each atelier held
("fiche CRA") and the funders' one-page indicators report, on the world counted by hand in
tests/test_reports_queries.py, where F1 (Martin) agreed to be named in La Coop and its guardian
has a phone and an e-mail address.

By hand, W1 (10 March, 2 h, Collège Jules Verne, Poitiers, level beginner, parentalite):
- named: MARTIN Awa only (F1 has one guardian for its 2 adults present);
- anonymous 8: F1's second adult and its child, F2's adult, the headcounts 3 (40-59, in work)
  and 2 (70+, retired); participants 1 + 8 = 9 (its 9 people present);
- by age: not given 3 (F1's adult and child, F2's adult), 40-59 3, 70+ 2;
- by status: not given 2 (the two adults), in school 1 (the child), in work 3, retired 2;
- gender: not given 8; already accompanied 0 (F1 and F2 come for the first time);
- device: none (an e-parentalité atelier); duration 120 min, bucket "2 h and more".
Ateliers held in the period: W1, W2, W3, W5 (manager: 4 fiches); the home structure's
conseiller sees W1, W2, W5 (3), La Poste's W3 only (1).
Funders (manager): 4 ateliers (3 e-parentalité, 1 computer handover), 4 parents reached,
6 attendances, 17 people (8 adults and 3 children of the families, 6 without a name),
3 structures, 1 given (good), 1 lent (fair), 1 loan overdue today; Lire en Vienne 2 ateliers,
2 families, 1 account; Enseigno 1, 1, 1; per month January to June: 0, 0, 1, 2, 1, 0.

A fiche asked for an atelier not held yet answers a message page with status 200 (like the
certificate of a family not present): the conseiller is told when it will exist, nothing failed.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.test_print_documents import normalised
from tests.test_print_views import assert_pdf
from tests.test_reports_queries import NOW, build_reports_world
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.extensions import db as _db
from workshops.families.models import Guardian
from workshops.printing import pdf, report_documents
from workshops.reports.queries import Filters
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop, WorkshopResource

PERIOD_ARGS = {"date_from": "2026-01-01", "date_to": "2026-06-30"}
PHONE, EMAIL = "+33612345678", "awa.martin@example.org"


def login(app, client, role, structure_id=None):
    """An account of that role (and structure), logged in. Made as a row, like the world's."""
    username = f"{role}-{structure_id or 'all'}"[:40]
    with app.app_context():
        _db.session.add(User(username=username, display_name=role.title(), role=role,
                             structure_id=structure_id, password_hash=auth_services.hash_password(PASSWORD)))
        _db.session.commit()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def text_of(response) -> list[str]:
    return [normalised(page.extract_text()) for page in assert_pdf(response).pages]


@pytest.fixture
def world(app):
    """The hand-counted world, F1 named with a phone and an e-mail, W1 for beginners; the
    clock at 1 July 2026 10:00 UTC."""
    with time_machine.travel(NOW, tick=True):
        with app.app_context():
            world = build_reports_world(_db.session)
            _db.session.get(Workshop, world["w1"]).level = "debutant"
            martin = _db.session.scalars(select(Guardian).where(Guardian.last_name == "Martin")).one()
            martin.family.has_naming_consent = True
            martin.phone, martin.email = PHONE, EMAIL
            _db.session.commit()
        yield world


# ---------- the fiche CRA of one atelier ----------

def test_the_fiche_of_w1_gives_la_coops_fields_and_the_hand_counted_participants(app, client, world):
    login(app, client, "manager")
    pages = text_of(client.get(f"/ateliers/{world['w1']}/fiche-cra.pdf"))
    assert len(pages) == 1
    text = pages[0]
    for expected in ("Collective workshop collectif", "Tuesday, March 10, 2026 2026-03-10",
                     "120 minutes (2 h and more) 120", "Other place autre", "Collège Jules Verne",
                     "Commune Poitiers", "Beginner debutant", "Parenting parentalite", "No device aucun",
                     "Participants: 9", "Followed beneficiaries (named): 1", "MARTIN Awa",
                     "Anonymous participants: 8, of whom already accompanied: 0",
                     "Département de la Vienne - DAS", "Camille"):
        assert expected in text, expected
    counters = {code: int(n) for code, n in re.findall(r"([a-z_]+) (\d+)(?= |$)", text.split("Gender", 1)[1])}
    assert {k: counters[k] for k in ("masculin", "feminin")} == {"masculin": 0, "feminin": 0}
    assert (counters["quarante_cinquante_neuf"], counters["soixante_dix_plus"], counters["moins_de_douze"]) \
        == (3, 2, 0)
    assert (counters["scolarise"], counters["en_emploi"], counters["retraite"], counters["sans_emploi"]) \
        == (1, 3, 2, 0)
    # "Not given": gender 8 (3rd row), status 2 (5th row), age 3 (8th row), row by row.
    assert re.findall(r"non_communique (\d+)", text) == ["8", "2", "3"]


def test_no_phone_or_e_mail_anywhere_in_the_fiches(app, client, world):
    login(app, client, "manager")
    for response in (client.get(f"/ateliers/{world['w1']}/fiche-cra.pdf"),
                     client.get("/rapports/fiches-cra.pdf", query_string=PERIOD_ARGS)):
        text = " ".join(text_of(response))
        assert "MARTIN Awa" in text
        for secret in (PHONE, PHONE[3:], EMAIL, "example.org"):
            assert secret not in text, secret


def test_the_period_gives_one_page_per_atelier_held_within_the_users_scope(app, client, world):
    login(app, client, "manager")
    pages = text_of(client.get("/rapports/fiches-cra.pdf", query_string=PERIOD_ARGS))
    assert len(pages) == 4  # W1, W2, W3, W5
    assert "Computer ordinateur" in pages[2] and "Remise d'ordinateurs" in pages[2]  # W3, a handover
    # W3: F2 came to W1 before; F5 for the first time; one headcount: 4 anonymous, 1 already.
    assert "Anonymous participants: 4, of whom already accompanied: 1" in pages[2]
    assert "Sans feuille" in pages[3] and "Participants: 0" in pages[3]


@pytest.mark.parametrize("structure,fiches", [("home", 3), ("other", 1)])
def test_a_conseiller_gets_the_fiches_of_their_structure_only(app, client, world, structure, fiches):
    login(app, client, "conseiller", structure_id=world[structure])
    asked = {**PERIOD_ARGS, "structure": str(world["other" if structure == "home" else "home"])}
    assert len(text_of(client.get("/rapports/fiches-cra.pdf", query_string=asked))) == fiches


def test_another_structures_atelier_is_not_found_and_visitors_must_log_in(app, client, world):
    assert client.get(f"/ateliers/{world['w1']}/fiche-cra.pdf").status_code == 302  # to the login page
    for path in ("/rapports/fiches-cra.pdf", "/rapports/indicateurs.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(app, client, "conseiller", structure_id=world["other"])
    assert client.get(f"/ateliers/{world['w1']}/fiche-cra.pdf").status_code == 404


def test_an_atelier_not_held_yet_gets_a_message_page_not_a_pdf(app, client, world):
    with app.app_context():
        w1 = _db.session.get(Workshop, world["w1"])
        later = Workshop(title="En juillet", kind="e_parentalite", structure_id=w1.structure_id,
                         venue_id=w1.venue_id, start_dt=NOW + timedelta(days=5),
                         end_dt=NOW + timedelta(days=5, hours=2), thematiques=["parentalite"])
        _db.session.add(later)
        _db.session.commit()
        later_id = later.id
    login(app, client, "manager")
    response = client.get(f"/ateliers/{later_id}/fiche-cra.pdf")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "exists once the atelier is held" in response.get_data(as_text=True)
    # The print page offers the fiche for a held atelier only.
    assert "fiche-cra.pdf" not in client.get(f"/ateliers/{later_id}/imprimer").get_data(as_text=True)
    assert "fiche-cra.pdf" not in client.get(f"/ateliers/{later_id}").get_data(as_text=True)
    for page in (f"/ateliers/{world['w1']}", f"/ateliers/{world['w1']}/imprimer"):
        assert f"/ateliers/{world['w1']}/fiche-cra.pdf" in client.get(page).get_data(as_text=True), page


def test_a_period_without_any_atelier_held_gets_a_message_page(app, client, world):
    login(app, client, "manager")
    response = client.get("/rapports/fiches-cra.pdf", query_string={"date_from": "2024-01-01",
                                                                    "date_to": "2024-01-31"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "No atelier held in this period with these filters" in response.get_data(as_text=True)


# ---------- the funders' report ----------

def test_the_funders_report_is_one_page_with_the_hand_counted_figures(app, client, world):
    login(app, client, "manager")
    pages = text_of(client.get("/rapports/indicateurs.pdf", query_string=PERIOD_ARGS))
    assert len(pages) == 1
    text = pages[0]
    for expected in ("Ateliers from January 1, 2026 to June 30, 2026", "No filter",
                     "Ateliers held 4", "E-parentalité: 3 · Computer handover: 1",
                     "Parents reached (distinct families) 4", "Attendances (a family at an atelier) 6",
                     "People present 17", "Adults present 8", "Children present 3",
                     "People counted without a name 6",
                     "Structures involved 3", "Good 1 0", "Fair 0 1", "Total 1 1",
                     "Loans overdue today: 1", "Lire en Vienne 2 2 1", "Enseigno 1 1 1",
                     "Jan 26 Feb 26 Mar 26 Apr 26 May 26 Jun 26 0 0 1 2 1 0"):
        assert expected in text, expected


def test_the_funders_report_names_its_filters(app, client, world):
    login(app, client, "conseiller", structure_id=world["home"])
    text = text_of(client.get("/rapports/indicateurs.pdf", query_string={**PERIOD_ARGS,
                                                                          "epci": str(world["civray"])}))[0]
    # The conseiller's own structure is always a filter; Civraisien: W2, W5, F1 and F4.
    assert "EPCI: CC du Civraisien en Poitou · Structure: Département de la Vienne - DAS" in text
    assert "Ateliers held 2" in text and "Parents reached (distinct families) 2" in text


def test_the_funders_report_stays_on_one_page_with_many_resources_and_years(app, client, world):
    """30 more resources with long names, presented at W1, ateliers of every kind, the tallest
    funding block (the EU flag), 24 months then seven and a half years."""
    app.config["PRINT_FUNDING"] = "fse_plus"
    with app.app_context():
        w1 = _db.session.get(Workshop, world["w1"])
        for number in range(30):
            resource = Resource(name=f"Ressource {number:02d} " + "au nom vraiment très long " * 6)
            _db.session.add_all([resource, WorkshopResource(workshop=w1, resource=resource,
                                                            is_presented=True)])
        for kind in ("mixte", "autre"):
            _db.session.add(Workshop(title=kind, kind=kind, structure_id=w1.structure_id,
                                     venue_id=w1.venue_id, start_dt=w1.start_dt, end_dt=w1.end_dt,
                                     thematiques=["parentalite"]))
        _db.session.commit()
    login(app, client, "manager")
    started = time.perf_counter()
    pages = text_of(client.get("/rapports/indicateurs.pdf", query_string=PERIOD_ARGS))
    assert time.perf_counter() - started < 10
    assert len(pages) == 1
    assert "27 other resources" in pages[0]  # 2 + 30 presented, 5 shown
    assert "Co-funded by the European Union" in pages[0]
    months = text_of(client.get("/rapports/indicateurs.pdf", query_string={"date_from": "2024-07-01",
                                                                            "date_to": "2026-06-30"}))
    assert len(months) == 1 and "Ateliers held per month" in months[0]
    long = text_of(client.get("/rapports/indicateurs.pdf", query_string={"date_from": "2019-01-01",
                                                                          "date_to": "2026-06-30"}))
    assert len(long) == 1
    # W6 in December 2025; W1, W2, W3, W5 and the two added in 2026.
    assert "Ateliers held per year" in long[0] and "2025 2026 0 0 0 0 0 0 1 6" in long[0]


def test_the_file_names_say_what_and_when_never_who(app, client, world):
    login(app, client, "manager")
    dispositions = {path: client.get(path, query_string=PERIOD_ARGS).headers["Content-Disposition"]
                    for path in (f"/ateliers/{world['w1']}/fiche-cra.pdf", "/rapports/fiches-cra.pdf",
                                 "/rapports/indicateurs.pdf")}
    assert list(dispositions.values()) == [
        'inline; filename="fiche-cra-2026-03-10.pdf"',
        'inline; filename="fiches-cra-2026-01-01-2026-06-30.pdf"',
        'inline; filename="indicateurs-2026-01-01-2026-06-30.pdf"']


def test_the_documents_render_without_a_warning_in_reasonable_time(app, world):
    """WeasyPrint warns about a missing glyph (a font not bundled) or a refused fetch: none."""
    with app.test_request_context(), time_machine.travel(NOW, tick=True):
        manager = _db.session.get(User, world["manager"])
        filters = Filters(date(2026, 1, 1), date(2026, 6, 30))
        for document in (report_documents.cra_sheets_document(_db.session, manager, filters, NOW),
                         report_documents.funders_document(_db.session, manager, filters, NOW, NOW.date())):
            started = time.perf_counter()
            rendered = pdf.render(document)
            assert rendered.warnings == [] and time.perf_counter() - started < 10
