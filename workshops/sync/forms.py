"""Forms of the sync pages (shape only): connect to the hub, new device, revoke, resolve."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from workshops.sync import registry


class ConnectForm(FlaskForm):
    hub_url = StringField(
        _l("Hub address"), validators=[DataRequired(_l("Enter the hub's address.")), Length(max=500),
                                       Regexp(r"^https?://\S+$", message=_l(
                                           "Enter the whole address, starting with https://"))],
        description=_l("As given by the hub's administrator, for example https://hub.example.org"))
    code = StringField(
        _l("Pairing code"), validators=[DataRequired(_l("Enter the pairing code.")), Length(max=40)],
        description=_l("Eight letters and digits shown on the hub, for example ABCD-EFGH. It works once, "
                       "for 10 minutes."))


class DeviceForm(FlaskForm):
    name = StringField(_l("Name of the laptop"), validators=[
        DataRequired(_l("Give the laptop a name.")), Length(max=200)],
        description=_l("Something written on the laptop, for example \"PC Collège Ronsard 2\"."))
    structure_id = SelectField(_l("Structure"),
                               validators=[DataRequired(_l("Choose a structure from the list."))],
                               description=_l("The laptop receives this structure's families and ateliers."))


class ConfirmForm(FlaskForm):
    """A button; `confirm` is "yes" once the person confirmed on the confirmation page."""

    confirm = HiddenField()


class ResolveForm(FlaskForm):
    keep = HiddenField(validators=[AnyOf(("kept", "other"), message=_l("Choose which value to keep."))])


def table_labels() -> dict[str, str]:
    """The kind of record of each synced table, in words (at request time)."""
    # Translators: the kind of record a sync conflict or a refused change is about.
    labels = {"families": _("Household"), "guardians": _("Parent or guardian"), "children": _("Child"),
              "registrations": _("Registration"), "workshops": _("Atelier"), "venues": _("Venue"),
              "equipment": _("Equipment"), "handovers": _("Handover"), "structures": _("Structure"),
              "users": _("Account"), "resources": _("Resource")}
    return {table: labels.get(table, table) for table in registry.MODELS}
