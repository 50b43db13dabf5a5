"""Forms of the inventory: shape only, the rules live in services. Also the labels of kinds,
grades, statuses and events, shared by the equipment pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from workshops.core.forms import MultilineField, choices
from workshops.equipment.models import (
    EQUIPMENT_KINDS,
    EQUIPMENT_STATUSES,
    EVENT_KINDS,
    GRADES,
    TEXT_LIMITS,
)
from workshops.equipment.queries import OVERDUE

# Translators: the kind of a refurbished machine.
KIND_LABELS = {"desktop": _l("Desktop computer"), "laptop": _l("Laptop"), "tablet": _l("Tablet"),
               "phone": _l("Phone"), "other": _l("Other")}
assert set(KIND_LABELS) == set(EQUIPMENT_KINDS)

# Translators: a refurbished machine's condition, best first.
GRADE_LABELS = {"very_good": _l("Very good"), "good": _l("Good"), "fair": _l("Fair"), "poor": _l("Poor")}
assert set(GRADE_LABELS) == set(GRADES)

# Translators: where a machine is in its life.
STATUS_LABELS = {"in_stock": _l("In stock"), "reserved": _l("Reserved"), "handed_over": _l("Given"),
                 "on_loan": _l("On loan"), "returned": _l("Returned"), "faulty": _l("Faulty"),
                 "recycled": _l("Recycled")}
assert set(STATUS_LABELS) == set(EQUIPMENT_STATUSES)
# The badge colour of each status (see static/css: badge--success, --info, --warning, --error).
STATUS_BADGES = {"in_stock": "success", "reserved": "info", "handed_over": "info", "on_loan": "info",
                 "returned": "warning", "faulty": "error", "recycled": "warning"}

# Translators: one line of a machine's history.
EVENT_LABELS = {
    "added": _l("Added by hand"), "imported": _l("Imported from a delivery list"),
    "edited": _l("Description corrected"), "reserved": _l("Reserved"),
    "unreserved": _l("Reservation cancelled"), "handed_over": _l("Given"), "lent": _l("Lent"),
    "renewed": _l("Loan renewed"), "returned": _l("Returned"), "voided": _l("Handover cancelled"),
    "restocked": _l("Back in stock"), "faulty": _l("Found faulty"), "recycled": _l("Sent to recycling"),
}
assert set(EVENT_LABELS) == set(EVENT_KINDS)

# Translators: where something a family received stands now.
RECEIVED_LABELS = {"given": _l("Given"), "on_loan": _l("On loan"), "returned": _l("Returned"),
                   "voided": _l("Cancelled")}


def _within(column: str) -> Length:
    """The column's limit, the one the import keeps too: an imported machine stays editable."""
    return Length(max=TEXT_LIMITS[column])


class EquipmentForm(FlaskForm):
    """One machine's description; the structure choices are set by the view."""

    asset_tag = StringField(_l("Asset tag"), validators=[_within("asset_tag")],
                            description=_l("The inventory number on the machine's label."),
                            render_kw={"autocomplete": "off"})
    structure_id = SelectField(_l("Structure holding the machine"), choices=[], validate_choice=False)
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS.items()), default="desktop")
    serial = StringField(_l("Serial number"), validators=[_within("serial")])
    brand = StringField(_l("Brand"), validators=[_within("brand")])
    model = StringField(_l("Model"), validators=[_within("model")])
    cpu = StringField(_l("Processor"), validators=[_within("cpu")])
    ram_gb = IntegerField(_l("Memory (GB)"), validators=[Optional(), NumberRange(min=0)])
    storage = StringField(_l("Storage"), validators=[_within("storage")],
                          description=_l("For example SSD 256 GB."))
    operating_system = StringField(_l("Operating system"), validators=[_within("operating_system")])
    accessories = StringField(_l("Accessories"), validators=[_within("accessories")],
                              description=_l("For example screen, keyboard, mouse, charger."))
    origin = StringField(_l("Origin"), validators=[_within("origin")],
                         description=_l("The collège or the donor the machine came from."))
    refurbisher = StringField(_l("Refurbisher"), validators=[_within("refurbisher")])
    refurbished_on = DateField(_l("Refurbished on"), validators=[Optional()])
    grade = SelectField(_l("Condition"), choices=choices([("", _l("Not known")), *GRADE_LABELS.items()]),
                        default="")
    notes = MultilineField(_l("Notes"), validators=[_within("notes")], render_kw={"rows": 3})


class FilterForm(FlaskForm):
    """Filters of the inventory list, sent in the query string; origin choices set by the view."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=choices(
        [("", _l("Any status")), *STATUS_LABELS.items(), (OVERDUE, _l("Loan overdue"))]), default="")
    kind = SelectField(_l("Kind"), choices=choices([("", _l("Any kind")), *KIND_LABELS.items()]),
                       default="")
    grade = SelectField(_l("Condition"), choices=choices([("", _l("Any condition")), *GRADE_LABELS.items()]),
                        default="")
    origin = SelectField(_l("Origin"), choices=[], validate_choice=False, default="")


class ReserveForm(FlaskForm):
    """Reserve the machine for a family; family choices set by the view."""

    family_id = SelectField(_l("Family"), choices=[], validate_choice=False)
    allow_other_kind = BooleanField(_l("Reserve it even if the family asked for another kind of computer"))


class ReasonForm(FlaskForm):
    """An action on a machine, with why (required for "faulty", said by the service)."""

    reason = MultilineField(_l("Reason"), validators=[Length(max=2000)], render_kw={"rows": 2})


class ActionForm(FlaskForm):
    """A button that changes something: only the form token."""
