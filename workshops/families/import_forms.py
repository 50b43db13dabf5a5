"""Forms of the list import: the upload, the columns, the confirmation. Shape only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField

from workshops.core.forms import choices
from workshops.families import import_rows
from workshops.families.importers import Field

# Translators: how imported families are put on the atelier's list.
STATUS_LABELS = {
    "invited": _l("Invited (they take no place until they confirm)"),
    "registered": _l("Registered (each family takes a place)"),
}


class UploadForm(FlaskForm):
    file = FileField(_l("File of the list"), validators=[FileRequired(_l("Choose the file to import."))])
    structure_id = SelectField(_l("Structure that follows these families"), choices=[],
                               validate_choice=False)
    workshop_id = SelectField(_l("Atelier to register them to"), choices=[], validate_choice=False,
                              description=_l("Optional: the families can be registered later."))
    status = SelectField(_l("On the atelier's list, as"), choices=choices(STATUS_LABELS.items()),
                         default="registered")


class ConfirmForm(FlaskForm):
    token = HiddenField()
    # "1" when the page showed a box for each warned row: then only the ticked ones count.
    warned_shown = HiddenField()
    include = SelectMultipleField(choices=[], validate_choice=False)
    allow_overbooking = BooleanField(_l("Register them over the atelier's capacity"))


class _MappingBase(FlaskForm):
    token = HiddenField()


def mapping_form_class(fields: Sequence[Field]) -> type[FlaskForm]:
    """A form with one column choice per field (made once per kind of list)."""
    attributes = {spec.key: SelectField(spec.label, choices=[], validate_choice=False)
                  for spec in fields}
    return type("MappingForm", (_MappingBase,), attributes)


FamilyMappingForm = mapping_form_class(import_rows.FIELDS)


def set_column_choices(form: FlaskForm, fields: Sequence[Field], headers: Sequence[str],
                       unnamed: str, absent: str) -> None:
    """Offer every column of the file, by its header (or `unnamed` % its number)."""
    options = [("", absent)] + [(str(index), header or unnamed % {"number": index + 1})
                                for index, header in enumerate(headers)]
    for spec in fields:
        form[spec.key].choices = choices(options)


def fill_mapping(form: FlaskForm, fields: Sequence[Field], mapping: Mapping[str, int]) -> None:
    """Show a mapping (remembered or guessed) in the form."""
    for spec in fields:
        form[spec.key].data = str(mapping[spec.key]) if spec.key in mapping else ""


def mapping_of(form: FlaskForm, fields: Sequence[Field]) -> dict[str, int]:
    """The mapping chosen in the form: field key -> column index."""
    return {spec.key: int(form[spec.key].data) for spec in fields
            if (form[spec.key].data or "").isdigit()}
