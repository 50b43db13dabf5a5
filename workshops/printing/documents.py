"""The attendance sheet, the attendance certificate, the atelier summary and the handover
receipt: plain data read from the ateliers, families and equipment, as `pdf.Document`s.

Printing only reads. Templates get dataclasses, tuples and strings, never ORM objects.
The sheet and the summary are in the interface language; the certificate and the receipt
are handed to families, in their language (templates/pdf/for_families, "documents"
catalogue). Family-facing sentences live in those templates, not here.

Data minimisation: the sheet prints the first guardian's name only (no phone, no e-mail,
no child); the summary prints counts and asset tags, no family name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from workshops.core.models import utcnow
from workshops.equipment import handover_queries
from workshops.equipment.models import Handover
from workshops.families import registration_queries
from workshops.families.models import Family
from workshops.families.queries import live_guardians
from workshops.printing import qr
from workshops.printing.pdf import Document, family_language
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Workshop
from workshops.scheduling.queries import animators_of, resources_of

# Registrations printed on the sheet: the families who said they would come (or came),
# and those who said they would not (their row stays, so numbers match the screens).
# Invited families who never answered are not registered: their names are not printed.
SHEET_STATUSES = ("registered", "attended", "absent", "excused")
# A half-day ends at 13:00 Paris time; a longer session gets two signature columns.
AFTERNOON_HOUR = 13
HALF_DAY = timedelta(hours=4)
FUNDING_KINDS = ("tne_france2030", "fse_plus", "none")


class NotAttended(ValueError):
    """A certificate of attendance was asked for a family not marked present."""


@dataclass(frozen=True)
class Atelier:
    """What every atelier document says about the session. Times are aware (UTC): the
    templates' `timeformat`/`dateformat` filters show them in Paris time."""

    title: str
    start: datetime
    end: datetime
    venue: str
    commune: str
    address: str
    structure: str
    animators: tuple[str, ...]

    @property
    def minutes(self) -> int:
        return max(int((self.end - self.start).total_seconds() // 60), 0)


@dataclass(frozen=True)
class SheetRow:
    """A row of the sheet: a registered family (name) or a blank row for a walk-in."""

    number: int
    name: str = ""

    @property
    def is_blank(self) -> bool:
        return not self.name


@dataclass(frozen=True)
class ResourceLine:
    name: str
    families_shown: int
    accounts_opened: int


@dataclass(frozen=True)
class HandoverLine:
    asset_tag: str
    kind: str
    mode: str
    state: str
    due_on: date | None


@dataclass(frozen=True)
class Summary:
    families_present: int
    adults_present: int
    children_present: int
    anonymous_total: int
    registered: int
    absent: int
    excused: int
    invited: int
    given: int
    lent: int

    @property
    def people_present(self) -> int:
        return self.adults_present + self.children_present + self.anonymous_total


@dataclass(frozen=True)
class Machine:
    asset_tag: str
    kind: str
    brand: str
    model: str
    serial: str
    grade: str | None
    operating_system: str
    accessories: str


@dataclass(frozen=True)
class Receipt:
    """A handover as its receipt shows it. The terms are the stored text, as stored."""

    machine: Machine
    guardians: tuple[str, ...]
    mode: str
    handed_dt: datetime
    due_on: date | None
    venue: str
    commune: str
    structure: str
    conseiller: str
    terms_text: str
    terms_version: str
    terms_language: str
    terms_sha256: str


# ---------------------------------------------------------------- shared pieces


def atelier_of(workshop: Workshop) -> Atelier:
    """The atelier's identity as printed: its title exactly as stored."""
    venue = workshop.venue
    return Atelier(
        title=workshop.title, start=workshop.start_dt, end=workshop.end_dt, venue=venue.name,
        commune=venue.commune, address=" ".join(p for p in (venue.address, venue.postcode) if p),
        structure=workshop.structure.name,
        animators=tuple(user.display_name for user in animators_of(workshop)))


def half_days(atelier: Atelier) -> int:
    """2 when the atelier crosses 13:00 Paris time or lasts more than 4 hours, else 1."""
    start, end = to_local(atelier.start), to_local(atelier.end)
    afternoon = start.replace(hour=AFTERNOON_HOUR, minute=0, second=0, microsecond=0)
    crosses = start < afternoon < end or end.date() > start.date()
    return 2 if crosses or atelier.end - atelier.start > HALF_DAY else 1


def guardian_names(family: Family) -> tuple[str, ...]:
    """"First Last" of each live guardian, in order."""
    return tuple(" ".join(p for p in (g.first_name, g.last_name) if p) for g in live_guardians(family))


def sheet_name(last_name: str, first_name: str) -> str:
    """"LAST NAME First name", as a funder's sheet lists people."""
    return " ".join(part for part in (last_name.upper(), first_name) if part)


def funding_kind() -> str:
    kind = current_app.config.get("PRINT_FUNDING", "none")
    return kind if kind in FUNDING_KINDS else "none"


def _day(moment: datetime) -> str:
    return to_local(moment).date().isoformat()


# ---------------------------------------------------------------- attendance sheet


def sheet_rows(db: Session, workshop: Workshop, blank_rows: int) -> list[SheetRow]:
    """The registered families in the order and numbering of
    `registration_queries.sheet_order_roster` (the check-in and re-entry screens'), then
    `blank_rows` numbered rows for walk-ins."""
    roster = registration_queries.sheet_order_roster(db, workshop)
    rows = [SheetRow(row.number, sheet_name(row.last_name, row.first_name))
            for row in roster if row.status in SHEET_STATUSES]
    last = max((row.number for row in roster), default=0)
    return rows + [SheetRow(last + offset) for offset in range(1, max(blank_rows, 0) + 1)]


def sheet_document(db: Session, workshop: Workshop, *, blank_rows: int | None = None) -> Document:
    """The attendance sheet (feuille d'émargement) of the atelier, in the interface language.

    One signature column per half-day; registered families pre-printed and numbered as on
    the screens; `blank_rows` (default PRINT_BLANK_ROWS) numbered blank rows for walk-ins,
    each with a "privacy notice given" box; the funding block of PRINT_FUNDING."""
    if blank_rows is None:
        blank_rows = int(current_app.config.get("PRINT_BLANK_ROWS", 5))
    atelier = atelier_of(workshop)
    context = {"atelier": atelier, "rows": sheet_rows(db, workshop, blank_rows),
               "half_days": half_days(atelier), "funding": funding_kind()}
    return Document("pdf/sheet.html", context, language=_interface_language(),
                    filename=f"feuille-emargement-{_day(workshop.start_dt)}.pdf")


def _interface_language() -> str:
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))


# ---------------------------------------------------------------- certificate


def certificate_document(db: Session, workshop: Workshop, family: Family, *,
                         language: str | None = None) -> Document:
    """The family's certificate of attendance at the atelier, in its language (default
    `pdf.family_language`). Raises NotAttended unless the family is marked present."""
    registration = registration_queries.get_family_registration(db, workshop, family.id)
    if registration is None or registration.status != "attended":
        raise NotAttended(str(family.id))
    context = {"atelier": atelier_of(workshop), "guardians": guardian_names(family),
               "issued_on": to_local(utcnow()).date(), "funding": funding_kind()}
    return Document("pdf/for_families/certificate.html", context,
                    language=language or family_language(family),
                    filename=f"attestation-presence-{_day(workshop.start_dt)}.pdf")


# ---------------------------------------------------------------- summary


def summary_of(db: Session, workshop: Workshop) -> Summary:
    """The atelier's figures: families and people present, registrations, handovers."""
    counters = registration_queries.counters(db, workshop)
    statuses = [row.status for row in registration_queries.sheet_order_roster(db, workshop)]
    handed = handover_queries.panel_counts(db, workshop)
    return Summary(
        families_present=counters.families_present, adults_present=counters.adults_present,
        children_present=counters.children_present, anonymous_total=counters.anonymous_total,
        registered=counters.registered, absent=statuses.count("absent"),
        excused=statuses.count("excused"), invited=counters.invited, given=handed.given,
        lent=handed.lent)


def resource_lines(db: Session, workshop: Workshop) -> list[ResourceLine]:
    """The resources presented, each with how many families were shown it and opened an
    account."""
    shown = registration_queries.family_resources(db, workshop)
    lines = []
    for resource in resources_of(workshop, presented=True):
        marks = [by_resource[resource.id] for by_resource in shown.values() if resource.id in by_resource]
        lines.append(ResourceLine(resource.name, len(marks), sum(1 for opened in marks if opened)))
    return lines


def summary_document(db: Session, workshop: Workshop) -> Document:
    """A one-page summary of the atelier, in the interface language."""
    handovers = [HandoverLine(row.asset_tag, row.kind, row.mode, row.state, row.due_on)
                 for row in reversed(handover_queries.list_workshop_handovers(db, workshop))]
    context = {"atelier": atelier_of(workshop), "summary": summary_of(db, workshop),
               "resources": resource_lines(db, workshop), "handovers": handovers,
               "planned": tuple(r.name for r in resources_of(workshop)), "funding": funding_kind()}
    return Document("pdf/summary.html", context, language=_interface_language(),
                    filename=f"bilan-atelier-{_day(workshop.start_dt)}.pdf")


# ---------------------------------------------------------------- handover receipt


def receipt_of(handover: Handover) -> Receipt:
    item, workshop = handover.equipment, handover.workshop
    return Receipt(
        machine=Machine(asset_tag=item.asset_tag, kind=item.kind, brand=item.brand, model=item.model,
                        serial=item.serial, grade=item.grade, operating_system=item.operating_system,
                        accessories=item.accessories),
        guardians=guardian_names(handover.family), mode=handover.mode, handed_dt=handover.handed_dt,
        due_on=handover.due_on, venue=workshop.venue.name if workshop else "",
        commune=workshop.venue.commune if workshop else "", structure=item.structure.name,
        conseiller=handover.actor.display_name if handover.actor else "",
        terms_text=handover.terms_text, terms_version=handover.terms_version,
        terms_language=handover.terms_language, terms_sha256=handover.terms_sha256)


def receipt_document(db: Session, handover: Handover, *, language: str | None = None) -> Document:
    """The gift or loan receipt, two copies (the family's, the structure's), in the family's
    language (default `pdf.family_language`). The terms are printed exactly as stored, in
    the language they were given in, with their version and SHA-256 (also as a QR code)."""
    receipt = receipt_of(handover)
    context = {"receipt": receipt, "hash_qr": qr.qr_svg(receipt.terms_sha256),
               "copies": ("family", "structure")}
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in receipt.machine.asset_tag)
    return Document("pdf/for_families/receipt.html", context,
                    language=language or family_language(handover.family),
                    filename=f"recu-{tag or uuid.UUID(str(handover.id)).hex[:8]}.pdf")
