"""Exports of the reports as CSV (UTF-8 with BOM, `;`, CRLF: French Excel opens it as is) and
XLSX (openpyxl): ateliers, attendance, handovers and indicators of a period, and for La Coop the
activity report of each atelier held ("cra") and the beneficiaries workbook in its import layout.

In a CSV, a text cell that a spreadsheet would read as a formula (starting with = + - @, a tab,
a carriage return or a NUL) gets a leading apostrophe, so a name typed as "=HYPERLINK(...)"
stays text. In an XLSX, text is written in cells typed as text, exactly as it is.
National codes (thématiques, age brackets, statuses) are written verbatim. Only the two La Coop
files name people, and only guardians whose family agreed (`cra_queries`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.orm import Session

from workshops.auth.forms import STRUCTURE_KIND_LABELS
from workshops.auth.models import User
from workshops.core.i18n import format_date
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.equipment.forms import GRADE_LABELS, KIND_LABELS
from workshops.equipment.queries import OVERDUE
from workshops.families.importers import FORMULA_STARTS
from workshops.families.normalize import display_phone
from workshops.reports.cra_queries import (
    GENDER_LETTERS,
    GENDERS,
    Beneficiary,
    CraSheet,
    in_name_order,
    list_beneficiaries,
    list_cra_sheets,
)
from workshops.reports.export_queries import AtelierRow, list_atelier_rows, list_handover_rows
from workshops.reports.forms import GENDER_LABELS, HANDOVER_MODE_LABELS, KIND_FORMATS
from workshops.reports.queries import Filters, Indicators, get_indicators
from workshops.scheduling.forms import WORKSHOP_KIND_LABELS, WORKSHOP_STATUS_LABELS
from workshops.scheduling.localtime import to_local

MIME_TYPES = {"csv": "text/csv; charset=utf-8",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

Cell = str | int | float | date | datetime | None
# La Coop's beneficiaries import (shared/research/mission-anchors.md, (a) 1): this sheet name,
# columns A-J with these headers in row 3, data from row 4. The import reads them in French
# whatever the language of the screen: never translated.
BENEFICIARIES_SHEET = "Bénéficiaires"
BENEFICIARIES_HEADERS = ["Nom", "Prénom", "Année de naissance", "Nom de la commune", "Code INSEE",
                         "Code postal", "N° de téléphone", "E-mail", "Genre", "Notes supplémentaires"]


@dataclass(frozen=True)
class Table:
    """One sheet: a title (the XLSX sheet name), its headers and its rows; `leading` rows (a
    title, a line of instructions) go above the headers."""

    title: str
    headers: list[str]
    rows: list[list[Cell]]
    leading: list[list[Cell]] = field(default_factory=list)


def neutralise(value: Cell) -> Cell:
    """The value, with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    """The table as CSV for French Excel: BOM, semicolons, CRLF; dates as ISO text."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in table.leading:
        writer.writerow([_csv_cell(value) for value in row])
    writer.writerow([neutralise(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else neutralise(value)


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """The tables as one workbook, a sheet each (write-only mode: fast and lean). Text goes into
    cells typed as text: "=HYPERLINK(...)" stays those characters, never a formula, and a
    "+32 470 ..." phone keeps its exact value (no apostrophe for La Coop's import to choke on)."""
    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(title=table.title[:31])
        for row in (*table.leading, table.headers, *table.rows):
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet, value: Cell):
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # openpyxl would read a leading "=" as a formula
    return cell


def _local(moment: datetime) -> datetime:
    return to_local(moment).replace(tzinfo=None)


def _bracket_headers() -> list[str]:
    return [_("Anonymous %(bracket)s (%(code)s)", bracket=label, code=code)
            for code, label in AGE_BRACKETS.items()]


def ateliers_table(rows: list[AtelierRow]) -> Table:
    """One row per atelier of the period, with its counts."""
    headers = [_("Start"), _("End"), _("Duration (min)"), _("Title"), _("Kind"), _("Status"), _("Venue"),
               _("Commune"), _("EPCI"), _("Structure"), _("Thématiques (national codes)"), _("Level"),
               _("Families present"), _("Adults present"), _("Children present"),
               _("Anonymous people"), _("People present")]
    return Table(_("Ateliers"), headers, [
        [_local(r.start_dt), _local(r.end_dt), r.minutes, r.title,
         str(WORKSHOP_KIND_LABELS.get(r.kind, r.kind)),
         str(WORKSHOP_STATUS_LABELS.get(r.status, r.status)), r.venue, r.commune, r.epci, r.structure,
         ", ".join(r.thematiques or []), r.level or "", r.families_present, r.adults, r.children,
         r.anonymous, r.people] for r in rows])


def attendance_table(rows: list[AtelierRow]) -> Table:
    """Attendance per atelier held: registrations by outcome and people, anonymous by bracket."""
    headers = [_("Start"), _("Title"), _("Venue"), _("Families registered"), _("Families present"),
               _("Families absent"), _("Families excused"), _("Adults present"), _("Children present"),
               _("Anonymous people"), *_bracket_headers(), _("People present")]
    return Table(_("Attendance"), headers, [
        [_local(r.start_dt), r.title, r.venue, r.registered, r.families_present, r.absent, r.excused,
         r.adults, r.children, r.anonymous, *r.anonymous_by_bracket, r.people] for r in rows])


def handovers_table(db: Session, filters: Filters, now: datetime) -> Table:
    """One row per machine given or lent in the period (no family named)."""
    headers = [_("Date"), _("Asset tag"), _("Kind"), _("Condition"), _("Origin"), _("Mode"),
               _("Loan due on"), _("Atelier"), _("Structure")]
    return Table(_("Computers handed over"), headers, [
        [_local(r.handed_dt), r.asset_tag, str(KIND_LABELS.get(r.kind, r.kind)),
         str(GRADE_LABELS[r.grade]) if r.grade in GRADE_LABELS else "", r.origin,
         str(HANDOVER_MODE_LABELS.get(r.mode, r.mode)), r.due_on, r.atelier or "", r.structure]
        for r in list_handover_rows(db, filters, now)])


def indicators_table(figures: Indicators, filters: Filters) -> Table:
    """The dashboard's figures as (indicator, national code, value) rows."""
    rows: list[list[Cell]] = [
        [_("Period from"), "", filters.date_from], [_("Period to"), "", filters.date_to],
        [_("Ateliers held"), "", figures.ateliers],
        *([_("Ateliers held: %(kind)s", kind=WORKSHOP_KIND_LABELS.get(k, k)), k, n]
          for k, n in sorted(figures.ateliers_by_kind.items())),
        [_("Parents reached (distinct families present)"), "", figures.families_reached],
        [_("Attendances (families present, counted per atelier)"), "", figures.attendances],
        [_("Named adults present"), "", figures.adults_named],
        [_("Named children present"), "", figures.children_named],
        [_("Anonymous people"), "", figures.anonymous_total],
        *([_("Anonymous people: %(bracket)s", bracket=label), code, figures.anonymous_by(0)[code]]
          for code, label in AGE_BRACKETS.items()),
        *([_("Anonymous people: %(status)s", status=label), code, figures.anonymous_by(1)[code]]
          for code, label in SOCIAL_STATUSES.items()),
        [_("People present"), "", figures.people],
        [_("Structures involved"), "", figures.structures],
        *([_("Structures involved: %(kind)s", kind=STRUCTURE_KIND_LABELS.get(k, k)), k, n]
          for k, n in sorted(figures.structures_by_kind.items())),
        [_("Computers given"), "gift", figures.handed.totals["gift"]],
        [_("Computers lent"), "loan", figures.handed.totals["loan"]],
        [_("Computers in stock today"), "in_stock", figures.stock.totals["in_stock"]],
        [_("Loans overdue today"), OVERDUE, figures.stock.totals[OVERDUE]],
        *([_("Resource presented: %(name)s (ateliers)", name=line.name), "", line.ateliers]
          for line in figures.resources),
        *([_("Resource shown: %(name)s (families)", name=line.name), "", line.families]
          for line in figures.resources),
        *([_("Accounts opened: %(name)s (families)", name=line.name), "", line.accounts]
          for line in figures.resources),
    ]
    return Table(_("Indicators"), [_("Indicator"), _("National code"), _("Value")], [
        [str(label), code, value] for label, code, value in rows])


def _cra_headers() -> list[str]:
    # Translators: the French of each header is La Coop's own label for that field.
    return [_("Date"), _("Type"), _("Atelier name"), _("Duration (min)"), _("Place type"), _("Place name"),
            _("Address"), _("Commune"), _("Postcode"), _("Support themes"), _("Digital equipment used"),
            _("Atelier level"), _("Structure"), _("Conseillers"), _("Participants"),
            _("Followed beneficiaries"), _("Followed beneficiaries (names)"), _("Anonymous participants"),
            _("Already accompanied"),
            *(_("Anonymous, gender: %(gender)s (%(code)s)", gender=GENDER_LABELS[code], code=code)
              for code in GENDERS),
            *_bracket_headers(),
            *(_("Anonymous %(status)s (%(code)s)", status=label, code=code)
              for code, label in SOCIAL_STATUSES.items())]


def cra_table(sheets: list[CraSheet]) -> Table:
    """One row per atelier held, in La Coop's collective activity fields (codes verbatim); the
    named participants as "NOM Prénom; ..."."""
    return Table(_("La Coop activities"), _cra_headers(), [
        [s.day, s.activity_type, s.title, s.minutes, s.place_type, s.venue, s.address, s.commune,
         s.postcode, ", ".join(s.thematiques), ", ".join(s.materiel), s.level or "", s.structure,
         ", ".join(s.animators), s.participants, len(s.named),
         "; ".join(f"{p.last_name.upper()} {p.first_name}" for p in in_name_order(s.named)), s.anonymous,
         s.already_accompanied, *(s.by_gender[code] for code in GENDERS),
         *(s.by_age[code] for code in AGE_BRACKETS), *(s.by_status[code] for code in SOCIAL_STATUSES)]
        for s in sheets])


def beneficiaries_table(people: list[Beneficiary], filters: Filters) -> Table:
    """La Coop's beneficiaries import: a title and an instruction line, La Coop's headers in row 3,
    one guardian a row from row 4 (no year of birth, INSEE code, postcode nor notes: never stored
    or never shared)."""
    leading = [
        [_("Beneficiaries to import into La Coop, ateliers from %(start)s to %(end)s",
           start=format_date(filters.date_from), end=format_date(filters.date_to))],
        [_("Families who agreed to be named. Import this sheet as is (data from row 4), then delete "
           "the file: it holds names and phone numbers.")]]
    return Table(BENEFICIARIES_SHEET, BENEFICIARIES_HEADERS, [
        [b.person.last_name, b.person.first_name, None, b.person.commune or None, None, None,
         display_phone(b.person.phone) or None, b.person.email or None, GENDER_LETTERS[b.person.gender],
         None] for b in people], leading)


def build_table(kind: str, db: Session, user: User, filters: Filters, now: datetime, today: date) -> Table:
    """The table of one export kind (forms.EXPORT_KINDS)."""
    scoped = filters.for_user(user)
    builders: dict[str, Callable[[], Table]] = {
        "ateliers": lambda: ateliers_table(list_atelier_rows(db, scoped, now)),
        "attendance": lambda: attendance_table(list_atelier_rows(db, scoped, now, held=True)),
        "handovers": lambda: handovers_table(db, scoped, now),
        "indicators": lambda: indicators_table(get_indicators(db, user, filters, now, today), scoped),
        "cra": lambda: cra_table(list_cra_sheets(db, scoped, now)),
        "beneficiaries": lambda: beneficiaries_table(list_beneficiaries(list_cra_sheets(db, scoped, now)),
                                                     scoped),
    }
    return builders[kind]()


def export(kind: str, fmt: str, db: Session, user: User, filters: Filters, now: datetime,
           today: date) -> tuple[bytes, str, str]:
    """(file bytes, MIME type, file name) of an export; raises KeyError on an unknown kind and
    ValueError on a format the kind does not come in (the beneficiaries workbook is XLSX only)."""
    if fmt not in KIND_FORMATS[kind]:
        raise ValueError(f"The {kind} export exists as {' or '.join(KIND_FORMATS[kind]).upper()} only.")
    table = build_table(kind, db, user, filters, now, today)
    body = to_csv(table) if fmt == "csv" else to_xlsx([table])
    name = f"{kind}-{filters.date_from.isoformat()}-{filters.date_to.isoformat()}.{fmt}"
    return body, MIME_TYPES[fmt], name
