"""La Coop's activity report of each atelier held ("fiche CRA") and the funders' one-page
indicators report: plain data read from reports/, as `pdf.Document`s.

Both are in the interface language (French: La Coop's own wording, through the catalogue).
Labels are looked up while the data is built, under the document's locale, so templates
receive strings only. The fiche names people by "LAST NAME First name" only: phones and
e-mails never reach its template.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import Session

from workshops.auth.forms import STRUCTURE_KIND_LABELS
from workshops.auth.models import User
from workshops.core.i18n import format_date
from workshops.core.taxonomy import AGE_BRACKETS, LEVELS, SOCIAL_STATUSES, THEMATIQUES, duration_bucket
from workshops.equipment.forms import GRADE_LABELS
from workshops.equipment.queries import OVERDUE
from workshops.printing.documents import funding_kind, sheet_name
from workshops.printing.pdf import Document
from workshops.reports import charts, queries
from workshops.reports.cra_queries import GENDERS, CraSheet, in_name_order, list_cra_sheets
from workshops.reports.forms import GENDER_LABELS
from workshops.scheduling.forms import WORKSHOP_KIND_LABELS
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Workshop

# La Coop's own labels are the French translations of these (shared/research/mission-anchors.md (c)).
# Translators: La Coop's activity type "Atelier collectif".
ACTIVITY_LABELS = {"collectif": _l("Collective workshop")}
# Translators: La Coop's place type "Autre lieu" (not one of its registered lieux d'activité).
PLACE_LABELS = {"autre": _l("Other place")}
# Translators: La Coop's devices used during an activity ("Matériel numérique utilisé").
MATERIEL_LABELS = {"ordinateur": _l("Computer"), "telephone": _l("Phone"), "tablette": _l("Tablet"),
                   "autre": _l("Other"), "aucun": _l("No device")}
NO_DEVICE = "aucun"
FILTER_LABELS = {"epci": _l("EPCI"), "structure": _l("Structure"), "venue": _l("Venue"),
                 "college": _l("Collège"), "conseiller": _l("Conseiller")}
# The funders' report stays on one page: the longest lists are cut.
TOP_RESOURCES = 5
MAX_MONTHS = 24  # longer periods are charted by year


@dataclass(frozen=True)
class Coded:
    """A La Coop field value: its label (document language) and its national code."""

    label: str
    code: str


@dataclass(frozen=True)
class Counted:
    label: str
    code: str
    count: int


@dataclass(frozen=True)
class CraPage:
    """One fiche CRA, in the order of La Coop's collective activity form."""

    title: str
    day: date
    minutes: int
    duration_bucket: str
    activity: Coded
    place: Coded
    venue: str
    address: str
    postcode: str
    commune: str
    level: Coded | None
    thematiques: tuple[Coded, ...]
    materiel: tuple[Coded, ...]
    named: tuple[str, ...]  # "LAST NAME First name", nothing else
    anonymous: int
    already_accompanied: int
    genders: tuple[Counted, ...]
    ages: tuple[Counted, ...]
    statuses: tuple[Counted, ...]
    structure: str
    animators: tuple[str, ...]

    @property
    def participants(self) -> int:
        return len(self.named) + self.anonymous


@dataclass(frozen=True)
class Figure:
    label: str
    value: int


@dataclass(frozen=True)
class HandedLine:
    label: str
    given: int
    lent: int


@dataclass(frozen=True)
class FundersReport:
    """What the funders' page shows, every list already cut to fit."""

    date_from: date
    date_to: date
    filters: tuple[tuple[str, str], ...]  # (filter, chosen value in words)
    ateliers: int
    ateliers_by_kind: tuple[Figure, ...]
    families_reached: int
    attendances: int
    people: int
    adults_named: int  # adults and children of the families present (named on the sheet)
    children_named: int
    anonymous: int
    structures: int
    structures_by_kind: tuple[Figure, ...]
    given: int
    lent: int
    by_grade: tuple[HandedLine, ...]
    overdue: int
    resources: tuple[queries.ResourceLine, ...]
    other_resources: queries.ResourceLine | None  # the rest, summed, or None
    periods: tuple[Figure, ...]  # ateliers held per month, or per year over a long period
    by_year: bool
    chart: Markup


def interface_language() -> str:
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))


def _coded(labels: dict, codes: Sequence[str]) -> tuple[Coded, ...]:
    return tuple(Coded(str(labels.get(code, code)), code) for code in codes)


def _counted(labels: dict, counts: dict[str, int]) -> tuple[Counted, ...]:
    return tuple(Counted(str(label), code, counts.get(code, 0)) for code, label in labels.items())


def cra_page(sheet: CraSheet) -> CraPage:
    """The fiche of one atelier held (call under the document's locale)."""
    named = in_name_order(sheet.named)
    return CraPage(
        title=sheet.title, day=sheet.day, minutes=sheet.minutes,
        duration_bucket=duration_bucket(sheet.minutes),
        activity=_coded(ACTIVITY_LABELS, [sheet.activity_type])[0],
        place=_coded(PLACE_LABELS, [sheet.place_type])[0], venue=sheet.venue, address=sheet.address,
        postcode=sheet.postcode, commune=sheet.commune,
        level=_coded(LEVELS, [sheet.level])[0] if sheet.level else None,
        thematiques=_coded(THEMATIQUES, sheet.thematiques),
        materiel=_coded(MATERIEL_LABELS, sheet.materiel or (NO_DEVICE,)),
        named=tuple(sheet_name(p.last_name, p.first_name) for p in named),
        anonymous=sheet.anonymous, already_accompanied=sheet.already_accompanied,
        genders=_counted({code: GENDER_LABELS[code] for code in GENDERS}, sheet.by_gender),
        ages=_counted(AGE_BRACKETS, sheet.by_age), statuses=_counted(SOCIAL_STATUSES, sheet.by_status),
        structure=sheet.structure, animators=sheet.animators)


def _cra_document(sheets: list[CraSheet], filename: str) -> Document | None:
    if not sheets:
        return None
    language = interface_language()
    with force_locale(language):
        pages = [cra_page(sheet) for sheet in sheets]
    return Document("pdf/cra.html", {"pages": pages}, language=language, filename=filename)


def cra_sheet_document(db: Session, user: User, workshop: Workshop, now: datetime) -> Document | None:
    """The fiche CRA of one atelier (already found in the user's scope), or None while it is
    not held (not ended yet, or cancelled)."""
    day = to_local(workshop.start_dt).date()
    filters = queries.Filters(day, day).for_user(user)
    sheets = list_cra_sheets(db, filters, now, workshop_ids=[workshop.id])
    return _cra_document(sheets, f"fiche-cra-{day.isoformat()}.pdf")


def cra_sheets_document(db: Session, user: User, filters: queries.Filters, now: datetime) -> Document | None:
    """One fiche CRA per atelier held within the dashboard's filters (held to the user's
    scope), by start; None when there is none."""
    sheets = list_cra_sheets(db, filters.for_user(user), now)
    return _cra_document(sheets, f"fiches-cra-{filters.date_from}-{filters.date_to}.pdf")


# ---------------------------------------------------------------- funders' report


def filter_words(filters: queries.Filters, options: dict[str, list]) -> tuple[tuple[str, str], ...]:
    """Each active filter with the name of what was chosen (`options`: list_filter_choices)."""
    words = []
    for name, label in FILTER_LABELS.items():
        chosen = getattr(filters, f"{name}_id")
        if chosen is not None:
            names = dict(options.get(name, ()))
            words.append((str(label), names.get(chosen, "?")))
    return tuple(words)


def _periods(months: list[tuple[date, int]]) -> tuple[tuple[Figure, ...], bool]:
    """Ateliers held per month, or per year (True) when the months would not fit."""
    if len(months) <= MAX_MONTHS:
        return tuple(Figure(format_date(month, "MMM yy"), count) for month, count in months), False
    years: Counter = Counter()
    for month, count in months:
        years[month.year] += count
    return tuple(Figure(str(year), count) for year, count in sorted(years.items())), True


def _figures(labels: dict, counts: dict[str, int]) -> tuple[Figure, ...]:
    return tuple(Figure(str(labels.get(key, key) if key else _("Not known")), count)
                 for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if count)


def _resources(lines: list[queries.ResourceLine]):
    shown, rest = lines[:TOP_RESOURCES], lines[TOP_RESOURCES:]
    if not rest:
        return tuple(shown), None
    name = ngettext("%(num)d other resource", "%(num)d other resources", len(rest))
    others = queries.ResourceLine(name, sum(r.ateliers for r in rest), sum(r.families for r in rest),
                                  sum(r.accounts for r in rest))
    return tuple(shown), others


def funders_report(db: Session, user: User, filters: queries.Filters, now: datetime, today: date
                   ) -> FundersReport:
    """The report's figures (call under the document's locale): the dashboard's, for the
    user's scope."""
    scoped = filters.for_user(user)
    figures = queries.get_indicators(db, user, filters, now, today)
    periods, by_year = _periods(queries.list_held_months(db, scoped, now))
    handed = figures.handed
    resources, others = _resources(figures.resources)
    return FundersReport(
        date_from=filters.date_from, date_to=filters.date_to,
        filters=filter_words(scoped, queries.list_filter_choices(db, user)),
        ateliers=figures.ateliers, ateliers_by_kind=_figures(WORKSHOP_KIND_LABELS, figures.ateliers_by_kind),
        families_reached=figures.families_reached, attendances=figures.attendances, people=figures.people,
        adults_named=figures.adults_named, children_named=figures.children_named,
        anonymous=figures.anonymous_total,
        structures=figures.structures,
        structures_by_kind=_figures(STRUCTURE_KIND_LABELS, figures.structures_by_kind),
        given=handed.totals["gift"], lent=handed.totals["loan"],
        by_grade=tuple(HandedLine(str(GRADE_LABELS.get(grade, "") or _("Not known")), modes["gift"],
                                  modes["loan"]) for grade, modes in sorted(handed.by_grade.items())),
        overdue=figures.stock.totals[OVERDUE], resources=resources, other_resources=others,
        periods=periods, by_year=by_year, chart=_chart(periods, by_year))


def _chart(periods: tuple[Figure, ...], by_year: bool) -> Markup:
    """The dashboard's column chart, its text in the bundled font and in dark grey (an SVG in a
    PDF takes no style from the page: its text would be in a system font, its bars black)."""
    title = _("Ateliers held per year") if by_year else _("Ateliers held per month")
    svg = charts.column_chart("chart-periods", title, _("The table below gives the same figures."),
                              [(figure.label, figure.value) for figure in periods])
    # Our own SVG, its texts already escaped by charts.py: two attributes added to its root.
    return Markup(str(svg).replace("<svg ", '<svg font-family="DejaVu Sans" fill="#555" ', 1))  # noqa: S704


def funders_document(db: Session, user: User, filters: queries.Filters, now: datetime, today: date
                     ) -> Document:
    """The funders' one-page indicators report for the dashboard's filters."""
    language = interface_language()
    with force_locale(language):
        report = funders_report(db, user, filters, now, today)
    return Document("pdf/funders.html", {"report": report, "funding": funding_kind()}, language=language,
                    filename=f"indicateurs-{filters.date_from}-{filters.date_to}.pdf")
