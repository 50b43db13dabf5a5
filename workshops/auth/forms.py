"""Forms of accounts and structures: shape only, rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from workshops.auth.models import STRUCTURE_KINDS
from workshops.core.forms import choices

# Translators: roles of staff accounts.
ROLE_LABELS = {
    "conseiller": _l("Conseiller / médiateur"),
    "manager": _l("Manager"),
    "admin": _l("Administrator"),
}

STRUCTURE_KIND_LABELS = {
    "departement": _l("Département"),
    "intercommunalite": _l("Intercommunality (EPCI)"),
    "commune": _l("Commune"),
    "college": _l("Collège"),
    "la_poste": _l("La Poste"),
    "france_services": _l("France Services"),
    "centre_social": _l("Centre social"),
    "association": _l("Association"),
    "entreprise": _l("Company"),
    "other": _l("Other"),
}
assert set(STRUCTURE_KIND_LABELS) == set(STRUCTURE_KINDS)

# Long enough for a passphrase; services refuse more than 128 characters.
PASSWORD_FIELD_MAX = 256


class LoginForm(FlaskForm):
    username = StringField(_l("Login name"), validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                             render_kw={"autocomplete": "current-password"})


class AccountFields(FlaskForm):
    username = StringField(_l("Login name"), validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username"})
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)],
                               render_kw={"autocomplete": "name"})
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
        description=_l("At least 15 characters, or 5 words. A short sentence is easy to remember and hard "
                      "to guess."),
        render_kw={"autocomplete": "new-password"})


class FirstAccountForm(AccountFields):
    """The first administrator of a fresh installation."""


class NewUserForm(AccountFields):
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()))
    structure_id = SelectField(_l("Structure"), choices=[], validate_choice=False)


class EditUserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()))
    structure_id = SelectField(_l("Structure"), choices=[], validate_choice=False)
    is_active = BooleanField(_l("Account active"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
        description=_l("At least 15 characters, or 5 words. A short sentence is easy to remember and hard "
                      "to guess."),
        render_kw={"autocomplete": "new-password"})


class StructureForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    kind = SelectField(_l("Kind"), choices=choices(STRUCTURE_KIND_LABELS.items()))
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])
    epci_id = SelectField(_l("EPCI"), choices=[], validate_choice=False)
    is_active = BooleanField(_l("Active"), default=True)


class ConfirmForm(FlaskForm):
    """A button-only form (logout, end sessions): carries the CSRF token."""


class TotpForm(FlaskForm):
    """The code of the authenticator app (second step of a hub manager's or admin's login)."""

    code = StringField(_l("Code from your app"), validators=[Optional(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "autofocus": True})
    submit = SubmitField(_l("Confirm"))
    cancel = SubmitField(_l("Start again"))
