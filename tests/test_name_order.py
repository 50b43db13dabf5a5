"""Named people are listed in the alphabetical order a reader expects, accents and case aside:
"ÉTIENNE Élodie" between "DUPONT" and "FABRE", never after "ZOLA" (as the attendance sheet,
which sorts on normalize.fold). Checked on the fiche CRA and on La Coop's beneficiaries
workbook (XLSX)."""
from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import date

import openpyxl
from flask_babel import force_locale

from workshops.printing.report_documents import cra_page
from workshops.reports.cra_queries import (
    AGE_BRACKETS,
    GENDERS,
    SOCIAL_STATUSES,
    CraSheet,
    NamedParticipant,
    list_beneficiaries,
)
from workshops.reports.exports import beneficiaries_table, cra_table, to_xlsx
from workshops.reports.queries import Filters


def _person(last: str, first: str) -> NamedParticipant:
    return NamedParticipant(uuid.uuid4(), last, first, None, None, "non_communique", "Poitiers")


PEOPLE = (_person("Zola", "Paul"), _person("Étienne", "Élodie"), _person("Martin", "Léa"),
          _person("Étienne", "Adèle"), _person("ÂGE", "Émile"), _person("dupont", "Zoé"),
          _person("Étienne", "Éric"), _person("Fabre", "Ana"))


def _sheet(named: tuple[NamedParticipant, ...], day: date = date(2026, 3, 14)) -> CraSheet:
    return CraSheet(workshop_id=uuid.uuid4(), day=day, minutes=120, title="Atelier",
                    kind="e_parentalite", level=None, thematiques=(), materiel=(), venue="Collège",
                    address="", postcode="86000", commune="Poitiers", structure="DAS", animators=(),
                    named=named)


def test_the_fiche_lists_accented_names_in_alphabetical_order(app):
    with app.app_context(), app.test_request_context(), force_locale("fr"):
        page = cra_page(_sheet(PEOPLE))
    assert page.named == ("ÂGE Émile", "DUPONT Zoé", "ÉTIENNE Adèle", "ÉTIENNE Élodie", "ÉTIENNE Éric",
                          "FABRE Ana", "MARTIN Léa", "ZOLA Paul")


def test_the_beneficiaries_workbook_lists_accented_names_in_alphabetical_order(app):
    sheets = [_sheet(PEOPLE[:4]), _sheet(PEOPLE[4:], date(2026, 3, 21))]
    with app.app_context(), app.test_request_context(), force_locale("fr"):
        body = to_xlsx([beneficiaries_table(list_beneficiaries(sheets),
                                            Filters(date(2026, 3, 1), date(2026, 3, 31)))])
    book = openpyxl.load_workbook(io.BytesIO(body))
    rows = [row[:2] for row in book.worksheets[0].iter_rows(min_row=4, values_only=True)]
    book.close()
    assert rows == [("ÂGE", "Émile"), ("dupont", "Zoé"), ("Étienne", "Adèle"), ("Étienne", "Élodie"),
                    ("Étienne", "Éric"), ("Fabre", "Ana"), ("Martin", "Léa"), ("Zola", "Paul")]


def test_the_activities_workbook_names_each_ateliers_participants_in_alphabetical_order(app):
    with app.app_context(), app.test_request_context(), force_locale("fr"):
        counted = replace(_sheet(PEOPLE), by_gender=dict.fromkeys(GENDERS, 0),
                          by_age=dict.fromkeys(AGE_BRACKETS, 0), by_status=dict.fromkeys(SOCIAL_STATUSES, 0))
        body = to_xlsx([cra_table([counted])])
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book.worksheets[0]
    row = next(sheet.iter_rows(min_row=2, values_only=True))
    book.close()
    listed = next(value for value in row if isinstance(value, str) and "ZOLA" in value)
    assert listed.split("; ") == ["ÂGE Émile", "DUPONT Zoé", "ÉTIENNE Adèle", "ÉTIENNE Élodie",
                                  "ÉTIENNE Éric", "FABRE Ana", "MARTIN Léa", "ZOLA Paul"]
