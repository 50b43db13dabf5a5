"""Forms of the resources catalogue: shape only, rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from workshops.core.forms import MultilineField, choices
from workshops.resources.models import (
    AUDIENCES,
    DESCRIPTION_LANGUAGES,
    MAX_DESCRIPTION_LENGTH,
    RESOURCE_CATEGORIES,
)

# Translators: categories of the resources shown to families.
CATEGORY_LABELS = {
    "enej": _l("ENEJ (funded for collégiens)"),
    "school": _l("School"),
    "public_service": _l("Public services online"),
    "skills": _l("Digital skills"),
    "other": _l("Other"),
}
assert set(CATEGORY_LABELS) == set(RESOURCE_CATEGORIES)

# Translators: who a resource is for.
AUDIENCE_LABELS = {
    "parents": _l("Parents"),
    "pupils": _l("Pupils"),
    "both": _l("Parents and pupils"),
}
assert set(AUDIENCE_LABELS) == set(AUDIENCES)

DESCRIPTION_LABELS = {
    "fr": _l("Description in French"),
    "en": _l("Description in English"),
    "ar": _l("Description in Arabic"),
    "uk": _l("Description in Ukrainian"),
    "tr": _l("Description in Turkish"),
    "pt": _l("Description in Portuguese"),
}
assert set(DESCRIPTION_LABELS) == set(DESCRIPTION_LANGUAGES)
RIGHT_TO_LEFT = {"ar"}
FRENCH_HINT = _l("One or two plain sentences: what it is for, for a parent who has never used it.")


class ResourceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    url = StringField(_l("Web address"), validators=[Optional(), Length(max=200)],
                      description=_l("As printed for families, for example pix.fr."))
    category = SelectField(_l("Category"), choices=choices(CATEGORY_LABELS.items()))
    audience = SelectField(_l("For whom"), choices=choices(AUDIENCE_LABELS.items()))
    needs_account = BooleanField(_l("Families need an account to use it"))
    is_active = BooleanField(_l("Shown in the catalogue"), default=True)


def _description_field(code: str, label) -> MultilineField:
    # lang and dir make screen readers, spell checkers and Arabic typing behave.
    return MultilineField(label, validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH)],
                         description=FRENCH_HINT if code == "fr" else None,
                         render_kw={"lang": code, "dir": "rtl" if code in RIGHT_TO_LEFT else "ltr",
                                    "rows": 3})


# One text area per language of the catalogue, named description_<code>: the
# service's refusals name these fields.
for code, label in DESCRIPTION_LABELS.items():
    setattr(ResourceForm, f"description_{code}", _description_field(code, label))


def description_fields(form: ResourceForm) -> dict[str, Field]:
    """The description fields of the form, by language code."""
    return {code: getattr(form, f"description_{code}") for code in DESCRIPTION_LANGUAGES}


class ResourceFilterForm(FlaskForm):
    """Filters of the catalogue list, sent in the query string."""

    class Meta:
        csrf = False

    category = SelectField(_l("Category"), choices=choices(
        [("", _l("All categories")), *CATEGORY_LABELS.items()]))
