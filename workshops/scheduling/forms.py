"""Forms of venues: shape only, rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from workshops.core.forms import choices
from workshops.scheduling.models import VENUE_KINDS

# Translators: kinds of places where ateliers are held.
VENUE_KIND_LABELS = {
    "college": _l("Collège"),
    "france_services": _l("France Services"),
    "mds": _l("Maison départementale des solidarités (MDS)"),
    "mediatheque": _l("Médiathèque"),
    "centre_social": _l("Centre social"),
    "la_poste": _l("La Poste"),
    "other": _l("Other"),
}
assert set(VENUE_KIND_LABELS) == set(VENUE_KINDS)


class VenueForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    kind = SelectField(_l("Kind"), choices=choices(VENUE_KIND_LABELS.items()))
    address = StringField(_l("Street address"), validators=[Optional(), Length(max=200)],
                          render_kw={"autocomplete": "street-address"})
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=5)],
                           render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})
    commune = StringField(_l("Commune"), validators=[DataRequired(), Length(max=120)])
    epci_id = SelectField(_l("EPCI"), choices=[], validate_choice=False,
                          description=_l("The intercommunality of the commune: figures are counted by EPCI."))
    structure_id = SelectField(_l("Host structure"), choices=[], validate_choice=False,
                               description=_l("The structure that welcomes the ateliers, if any."))
    is_active = BooleanField(_l("Still in use"), default=True)


class VenueFilterForm(FlaskForm):
    """Filters of the venues list, sent in the query string."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), choices=choices([("", _l("All kinds")), *VENUE_KIND_LABELS.items()]))
    epci_id = SelectField(_l("EPCI"), choices=[], validate_choice=False)
