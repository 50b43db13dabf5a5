"""Forms of the delivery list import: the upload, the columns, the confirmation. Shape only.

The column form and its helpers are the family import's (families/import_forms.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, SelectMultipleField

from workshops.equipment import import_rows
from workshops.families.import_forms import mapping_form_class


class UploadForm(FlaskForm):
    file = FileField(_l("File of the delivery list"),
                     validators=[FileRequired(_l("Choose the file to import."))])
    structure_id = SelectField(_l("Structure that holds these machines"), choices=[],
                               validate_choice=False)


class ConfirmForm(FlaskForm):
    token = HiddenField()
    # "1" when the page showed a box for each warned row: then only the ticked ones count.
    warned_shown = HiddenField()
    include = SelectMultipleField(choices=[], validate_choice=False)


EquipmentMappingForm = mapping_form_class(import_rows.FIELDS)
