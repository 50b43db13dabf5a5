"""Forms of venues and ateliers: shape only, rules live in services."""

from __future__ import annotations

from babel import Locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workshops.core.forms import MultiCheckboxField, MultilineField, choices
from workshops.core.taxonomy import LEVELS, THEMATIQUES
from workshops.scheduling.models import VENUE_KINDS, WORKSHOP_KINDS, WORKSHOP_STATUSES
from workshops.scheduling.workshop_services import MAX_SERIES_COUNT, SERIES_INTERVALS, SESSION_LANGUAGES

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


# ---------------------------------------------------------------- ateliers

# Translators: kinds of ateliers.
WORKSHOP_KIND_LABELS = {
    "e_parentalite": _l("E-parentalité"),
    "remise_equipement": _l("Computer handover"),
    "mixte": _l("E-parentalité and computer handover"),
    "autre": _l("Other"),
}
assert set(WORKSHOP_KIND_LABELS) == set(WORKSHOP_KINDS)

# Translators: the state of an atelier.
WORKSHOP_STATUS_LABELS = {
    "planned": _l("Planned"),
    "held": _l("Held"),
    "cancelled": _l("Cancelled"),
}
assert set(WORKSHOP_STATUS_LABELS) == set(WORKSHOP_STATUSES)

SERIES_INTERVAL_LABELS = {
    7: _l("Every week"),
    14: _l("Every two weeks"),
    28: _l("Every four weeks"),
}
assert set(SERIES_INTERVAL_LABELS) == set(SERIES_INTERVALS)


def language_label(code: str, locale: str) -> str:
    """A language's name in the interface language, from Babel's data (Arabe, Arabic)."""
    name = Locale.parse(code).get_display_name(locale) or code
    return name[:1].upper() + name[1:]


def language_choices(locale: str):
    """The session languages as options, named in the interface language."""
    return choices((code, language_label(code, locale)) for code in SESSION_LANGUAGES)


class WorkshopForm(FlaskForm):
    kind = RadioField(_l("Kind"), choices=choices(WORKSHOP_KIND_LABELS.items()),
                      default="e_parentalite")
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title: the families read it on their invitation.")), Length(max=200)],
                        description=_l("As families will read it, for example: Follow your child's "
                                       "schooling online."))
    day = DateField(_l("Date"), validators=[DataRequired(_l("Enter the date of the atelier."))])
    start_time = TimeField(_l("Starts at"), validators=[
        DataRequired(_l("Enter the time the atelier starts."))])
    end_time = TimeField(_l("Ends at"), validators=[DataRequired(_l("Enter the time the atelier ends."))])
    venue_id = SelectField(_l("Venue"), choices=[], validate_choice=False)
    structure_id = SelectField(_l("Organising structure"), choices=[], validate_choice=False)
    capacity = IntegerField(_l("Capacity"), validators=[Optional()],
                            description=_l("How many families can come. Leave empty if there is no limit."))
    thematiques = MultiCheckboxField(_l("Thématiques"), choices=choices(THEMATIQUES.items()),
                                     description=_l("The national codes. None ticked: the usual ones "
                                                    "of the kind of atelier."))
    level = SelectField(_l("Level"), choices=choices([("", _l("— not given —")), *LEVELS.items()]))
    languages = MultiCheckboxField(_l("Languages of the session"), choices=[], default=["fr"])
    animator_ids = MultiCheckboxField(_l("Animators"), choices=[])
    resource_ids = MultiCheckboxField(_l("Resources planned"), choices=[],
                                      description=_l("What you plan to show. You tick what was "
                                                     "really presented on the atelier's page."))
    notes = MultilineField(_l("Notes"), validators=[Optional(), Length(max=2000)],
                          render_kw={"rows": 3})


class SeriesForm(WorkshopForm):
    """An atelier repeated at the same time: the first date, how often, how many."""

    every_days = SelectField(_l("How often"), coerce=int, default=7,
                             choices=choices(SERIES_INTERVAL_LABELS.items()))
    count = IntegerField(_l("Number of ateliers"), default=4,
                         validators=[DataRequired(_l("Enter how many ateliers to plan.")),
                                     NumberRange(min=2, max=MAX_SERIES_COUNT, message=_l(
                                         "A series has between 2 and %(max)s ateliers."))])


class DuplicateForm(FlaskForm):
    day = DateField(_l("Date of the new atelier"),
                    validators=[DataRequired(_l("Enter the date of the new atelier."))],
                    description=_l("Same hours, venue, animators and planned resources."))


class CancelForm(FlaskForm):
    reason = StringField(_l("Why is it cancelled?"),
                         validators=[DataRequired(_l("Say why the atelier is cancelled.")), Length(max=200)],
                         description=_l("For example: not enough families registered, venue closed."))


class PresentedForm(FlaskForm):
    resource_ids = MultiCheckboxField(_l("Resources presented"), choices=[])


class ActionForm(FlaskForm):
    """A button that changes something (close, reopen): only the form token."""


class WorkshopFilterForm(FlaskForm):
    """Filters of the ateliers list, sent in the query string."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), choices=choices([("", _l("All kinds")),
                                                     *WORKSHOP_KIND_LABELS.items()]))
    venue_id = SelectField(_l("Venue"), choices=[], validate_choice=False)
    structure_id = SelectField(_l("Structure"), choices=[], validate_choice=False)
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
