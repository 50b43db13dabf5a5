"""The filters of the reports (period, EPCI, structure, venue, collège, conseiller) and the
labels of what the reports count."""

from __future__ import annotations

import uuid
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from workshops.core.forms import choices, parse_uuid
from workshops.reports.queries import Filters

# How many months the dashboard shows when no period is chosen.
DEFAULT_MONTHS = 12
EXPORT_KINDS = ("ateliers", "attendance", "handovers", "indicators", "cra", "beneficiaries")
EXPORT_FORMATS = ("xlsx", "csv")
# La Coop imports the beneficiaries workbook as XLSX only.
KIND_FORMATS = {**dict.fromkeys(EXPORT_KINDS, EXPORT_FORMATS), "beneficiaries": ("xlsx",)}

# Translators: how a machine went to a family.
HANDOVER_MODE_LABELS = {"gift": _l("Given"), "loan": _l("Lent")}
EXPORT_KIND_LABELS = {"ateliers": _l("Ateliers"), "attendance": _l("Attendance"),
                      "handovers": _l("Computers handed over"), "indicators": _l("Indicators"),
                      "cra": _l("Activity reports for La Coop"),
                      "beneficiaries": _l("Beneficiaries for La Coop")}
# What the La Coop files are for, shown under their links.
EXPORT_KIND_HELP = {
    "cra": _l("One row per atelier held, already in La Coop's fields: to enter each atelier in La Coop."),
    "beneficiaries": _l("Families who agreed to be named, in La Coop's import layout; contains names and "
                        "phone numbers: keep it safe and delete it after the import."),
}
# La Coop `Genre` of the anonymous participants' counters.
# Translators: La Coop's genders "Masculin", "Féminin", "Non communiqué".
GENDER_LABELS = {"masculin": _l("Male"), "feminin": _l("Female"), "non_communique": _l("Not given")}

FIELDS = ("epci", "structure", "venue", "college", "conseiller")


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    months = today.year * 12 + today.month - 1 - (DEFAULT_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1), today


class FilterForm(FlaskForm):
    """The dashboard's filters, read from the query string (no CSRF: GET, nothing written)."""

    class Meta:
        csrf = False

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    epci = SelectField(_l("EPCI"), choices=[], validate_choice=False)
    structure = SelectField(_l("Structure"), choices=[], validate_choice=False)
    venue = SelectField(_l("Venue"), choices=[], validate_choice=False)
    college = SelectField(_l("Collège"), choices=[], validate_choice=False)
    conseiller = SelectField(_l("Conseiller"), choices=[], validate_choice=False)

    def set_choices(self, options: dict[str, list[tuple[uuid.UUID, str]]], any_label: str) -> None:
        """Fill the selects; `any_label` is the first option of each."""
        for name in FIELDS:
            getattr(self, name).choices = choices([("", any_label), *((str(i), n) for i, n in options[name])])

    def to_filters(self, today: date) -> Filters:
        """The filters asked for; a missing or reversed period falls back to the default one."""
        start, end = default_period(today)
        date_from = self.date_from.data if not self.date_from.errors and self.date_from.data else start
        date_to = self.date_to.data if not self.date_to.errors and self.date_to.data else end
        if date_from > date_to:
            date_from, date_to = date_to, date_from
        ids = {f"{name}_id": parse_uuid(getattr(self, name).data) for name in FIELDS}
        return Filters(date_from=date_from, date_to=date_to, **ids)

    def query_args(self, filters: Filters) -> dict[str, str]:
        """The filters as URL arguments (for the export links)."""
        args = {"date_from": filters.date_from.isoformat(), "date_to": filters.date_to.isoformat()}
        for name in FIELDS:
            value = getattr(filters, f"{name}_id")
            if value is not None:
                args[name] = str(value)
        return args
