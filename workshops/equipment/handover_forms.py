"""Forms of handovers (the atelier's screen, void, return, renew) and the labels only these
pages show (kinds, grades and events come from the inventory's forms): shape only, the rules
live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from workshops.core.forms import MultilineField, choices
from workshops.equipment.models import EQUIPMENT_STATUSES, HANDOVER_MODES

# Translators: how a machine is handed over to a family.
MODE_LABELS = {"gift": _l("Gift"), "loan": _l("Loan")}
# Translators: the state of one handover now.
STATE_LABELS = {"active": _l("With the family"), "returned": _l("Returned"), "voided": _l("Cancelled")}
STATE_BADGES = {"active": "success", "returned": "info", "voided": "warning"}
# Why a machine cannot be handed over now, by status (the same sentences as the services').
UNAVAILABLE = {
    "handed_over": _l("This machine was given to a family."),
    "on_loan": _l("This machine is on loan to a family."),
    "returned": _l("This machine was returned and waits to be checked."),
    "faulty": _l("This machine is marked faulty."),
    "recycled": _l("This machine was sent to recycling."),
}
# Translators: the languages the terms may be shown in.
LANGUAGE_LABELS = {"fr": _l("French"), "en": _l("English"), "ar": _l("Arabic")}
assert set(MODE_LABELS) == set(HANDOVER_MODES)
assert set(UNAVAILABLE) | {"in_stock", "reserved"} == set(EQUIPMENT_STATUSES)

MAX_TAG = 64


class HandoverForm(FlaskForm):
    """The atelier's handover screen. The button pressed sends `step`: "check" (show the
    machine and the terms) or "confirm" (record it); `shown_sha256` is the hash of the
    terms the family saw, so a confirm records only what was shown."""

    family_id = SelectField(_l("Family"), validators=[DataRequired(_l("Choose the family."))],
                            description=_l("Families registered or present at this atelier, present first."))
    mode = RadioField(_l("Given or lent"), choices=choices(MODE_LABELS.items()),
                      validators=[DataRequired(_l("Choose gift or loan."))])
    due_on = DateField(_l("Return date of a loan"), validators=[Optional()],
                       description=_l("One year from today unless you change it; the loan can be renewed."))
    asset_tag = StringField(
        _l("Asset tag"), validators=[DataRequired(_l("Type or scan the asset tag.")), Length(max=MAX_TAG)],
        description=_l("The inventory number on the machine: type it, or scan its barcode."),
        render_kw={"autofocus": True, "autocomplete": "off", "inputmode": "text", "spellcheck": "false",
                   "autocapitalize": "characters", "enterkeyhint": "go"})
    notes = MultilineField(_l("Notes"), validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})
    shown_sha256 = HiddenField()


class VoidForm(FlaskForm):
    """Cancel a handover recorded by mistake: the reason is required (the service says so)."""

    reason = MultilineField(_l("Why is this handover cancelled?"), validators=[Length(max=1000)],
                           render_kw={"rows": 2})


class ReturnForm(FlaskForm):
    """The family brought the machine back."""

    remark = StringField(_l("Remark on the return"), validators=[Optional(), Length(max=500)])


class RenewForm(FlaskForm):
    """Extend a loan: a year more unless another date is given."""

    due_on = DateField(_l("New return date"), validators=[Optional()],
                       description=_l("Leave empty for one more year."))
