"""Form helpers shared by every feature."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from workshops.core.errors import ValidationFailed


def apply_reasons(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's refusal back on the form: next to the field, or at the top."""
    for field_name, message in error.reasons:
        field = getattr(form, field_name, None) if field_name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def parse_uuid(value: str | None) -> uuid.UUID | None:
    """A UUID from a form or URL value; None when empty or malformed."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (the macros render it as a
    fieldset): easier than a multi-select on a touch screen or with a keyboard."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class MultilineField(TextAreaField):
    """A textarea whose line breaks arrive as the app stores them, one LF each.

    A browser sends each line break as CR LF but counts it once against `maxlength`: without this,
    `Length(max=…)` counted it twice and refused a text the browser had let through.
    """

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            self.data = self.data.replace("\r\n", "\n")
