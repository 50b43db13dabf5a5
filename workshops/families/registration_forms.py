"""Forms of registrations and attendance: shape only, rules live in the services."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    TelField,
)
from wtforms.fields import FieldList
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workshops.core.errors import ValidationFailed
from workshops.core.forms import MultiCheckboxField, choices, parse_uuid
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.families.attendance_services import MAX_HEADCOUNT, SheetMark, SheetWalkIn
from workshops.families.models import REGISTRATION_STATUSES
from workshops.families.registration_services import MAX_PEOPLE

# Translators: the status of a family at an atelier.
STATUS_LABELS = {
    "invited": _l("Invited"),
    "registered": _l("Registered"),
    "attended": _l("Present"),
    "absent": _l("Absent"),
    "excused": _l("Excused"),
}
assert set(STATUS_LABELS) == set(REGISTRATION_STATUSES)
# Badge colour of each status on the lists.
STATUS_BADGES = {"invited": "", "registered": "info", "attended": "success", "absent": "warning",
                 "excused": ""}
BLANK_SHEET_ROWS = 8
NOTICE_LABEL = _l("I gave the privacy notice; the family agrees to its name being recorded")
FOLLOW_UP_LABEL = _l("The family agrees to be contacted for follow-up")


def _adults(label=None):
    return IntegerField(label or _l("Adults"), default=1, validators=[
        Optional(), NumberRange(min=0, max=MAX_PEOPLE)], render_kw={"inputmode": "numeric", "min": 0})


def _children(label=None):
    return IntegerField(label or _l("Children"), default=0, validators=[
        Optional(), NumberRange(min=0, max=MAX_PEOPLE)], render_kw={"inputmode": "numeric", "min": 0})


class SearchForm(FlaskForm):
    """The search at the door, sent in the query string."""

    class Meta:
        csrf = False

    q = SearchField(_l("Name or phone number"), validators=[Optional(), Length(max=100)],
                    description=_l("Type three letters of a name, then choose the family."),
                    render_kw={"autofocus": True, "autocomplete": "off", "spellcheck": "false",
                               "autocapitalize": "none", "enterkeyhint": "search"})


class CheckInForm(FlaskForm):
    """One tap on a family; counts only when corrected afterwards."""

    family_id = HiddenField(validators=[DataRequired()])
    adults = IntegerField(_l("Adults"), validators=[Optional(), NumberRange(min=0, max=MAX_PEOPLE)],
                          render_kw={"inputmode": "numeric", "min": 0})
    children = IntegerField(_l("Children"), validators=[Optional(), NumberRange(min=0, max=MAX_PEOPLE)],
                            render_kw={"inputmode": "numeric", "min": 0})


class UndoForm(FlaskForm):
    registration_id = HiddenField(validators=[DataRequired()])
    previous = HiddenField()


class WalkInForm(FlaskForm):
    """Someone who came without registration: three fields and the notice box."""

    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)],
                            render_kw={"autocomplete": "off"})
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=100)],
                             render_kw={"autocomplete": "off"})
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=40)],
                     render_kw={"autocomplete": "off", "inputmode": "tel"})
    notice_given = BooleanField(NOTICE_LABEL)
    has_follow_up_consent = BooleanField(FOLLOW_UP_LABEL)
    adults = _adults()
    children = _children()
    force = HiddenField()


class RegisterForm(FlaskForm):
    family_id = HiddenField(validators=[DataRequired()])
    status = SelectField(_l("Status"), default="registered",
                         choices=choices((s, STATUS_LABELS[s]) for s in ("registered", "invited")))
    allow_overbooking = HiddenField()


class StatusForm(FlaskForm):
    registration_id = HiddenField(validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=choices(STATUS_LABELS.items()))
    allow_overbooking = HiddenField()


def headcount_field_name(bracket: str, status: str) -> str:
    return f"c-{bracket}-{status}"


# One number per (national age bracket, social status): the grid of the headcount page.
HeadcountForm = type("HeadcountForm", (FlaskForm,), {
    headcount_field_name(bracket, status): IntegerField(
        _l("%(bracket)s, %(status)s", bracket=bracket_label, status=status_label),
        validators=[Optional(), NumberRange(min=0, max=MAX_HEADCOUNT)],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_HEADCOUNT})
    for bracket, bracket_label in AGE_BRACKETS.items() for status, status_label in SOCIAL_STATUSES.items()
})


def headcount_counts(form: FlaskForm) -> dict[tuple[str, str], int]:
    """Every cell of the grid, empty meaning 0."""
    return {(b, s): form[headcount_field_name(b, s)].data or 0
            for b in AGE_BRACKETS for s in SOCIAL_STATUSES}


class MarkRowForm(Form):
    """A printed row of the sheet: a family on the list."""

    registration_id = HiddenField()
    status = RadioField(_l("Attendance"), default="", validate_choice=False, choices=choices([
        ("", _l("Not marked")), ("attended", _l("Present")), ("absent", _l("Absent")),
        ("excused", _l("Excused"))]))
    adults = _adults()
    children = _children()
    is_signed_on_paper = BooleanField(_l("Signed"))


class WalkInRowForm(Form):
    """A blank row of the sheet, filled by hand."""

    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=100)])
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=100)])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=40)], render_kw={"inputmode": "tel"})
    notice_given = BooleanField(_l("Notice given"))
    adults = _adults()
    children = _children()
    is_signed_on_paper = BooleanField(_l("Signed"))
    # "" until suggestions were shown; then "new" or the id of the known family picked.
    family_choice = RadioField(_l("Is this a family already known?"), validate_choice=False,
                               choices=[], default="")

    def is_blank(self) -> bool:
        return not any((field.data or "").strip() for field in (self.last_name, self.first_name, self.phone))


class SheetForm(FlaskForm):
    marks = FieldList(FormField(MarkRowForm))
    walk_ins = FieldList(FormField(WalkInRowForm), min_entries=BLANK_SHEET_ROWS)

    def rows(self) -> tuple[list, list, list]:
        """(service rows, the mark entries, the walk-in entries) in the same order, so a
        service reason "marks-<i>-<field>" finds its field again."""
        mark_entries = [entry for entry in self.marks if entry.form.status.data]
        walk_in_entries = [entry for entry in self.walk_ins if not entry.form.is_blank()]
        rows = [_mark(entry.form) for entry in mark_entries]
        rows += [_walk_in(entry.form) for entry in walk_in_entries]
        return rows, mark_entries, walk_in_entries


def _mark(row: MarkRowForm) -> SheetMark:
    return SheetMark(registration_id=parse_uuid(row.registration_id.data) or uuid.UUID(int=0),
                     status=row.status.data, adults=_count(row.adults.data, 1),
                     children=_count(row.children.data, 0), is_signed_on_paper=row.is_signed_on_paper.data)


def _walk_in(row: WalkInRowForm) -> SheetWalkIn:
    choice = row.family_choice.data or ""
    return SheetWalkIn(last_name=row.last_name.data or "", first_name=row.first_name.data or "",
                       phone=row.phone.data or "", notice_given=row.notice_given.data,
                       adults=_count(row.adults.data, 1), children=_count(row.children.data, 0),
                       is_signed_on_paper=row.is_signed_on_paper.data,
                       family_id=parse_uuid(choice), is_new=choice == "new")


def _count(value: int | None, default: int) -> int:
    return default if value is None else value


def apply_sheet_reasons(form: SheetForm, error: ValidationFailed, mark_entries: list,
                        walk_in_entries: list) -> None:
    """Put the service's reasons next to the fields of the rows they name."""
    lists = {"marks": mark_entries, "walk_ins": walk_in_entries}
    for name, message in error.reasons:
        group, _sep, rest = (name or "").partition("-")
        index, _sep, field = rest.partition("-")
        entries = lists.get(group)
        if entries is not None and index.isdigit() and int(index) < len(entries):
            target = getattr(entries[int(index)].form, field, None)
            if target is not None:
                target.errors = [*target.errors, message]
                continue
        form.form_errors.append(message)


def family_resources_form(families: list[uuid.UUID], resources: list, data=None) -> FlaskForm:
    """One list of checkboxes "shown" and one "account opened" per family, named by the
    family's id so that a family checked in meanwhile never shifts the rows."""
    shown = choices((str(r.id), r.name) for r in resources)
    with_account = choices((str(r.id), r.name) for r in resources if r.needs_account)
    fields = {}
    for family_id in families:
        fields[f"shown-{family_id.hex}"] = MultiCheckboxField(_l("Shown"), choices=shown)
        fields[f"opened-{family_id.hex}"] = MultiCheckboxField(
            _l("Account opened together"), choices=with_account)
    form_class = type("FamilyResourcesForm", (FlaskForm,), fields)
    return form_class(data=data)


def family_resource_ids(form: FlaskForm, family_id: uuid.UUID) -> tuple[set, set]:
    """(resources shown, accounts opened) ticked for one family."""
    def ids(name):
        return {parse_uuid(value) for value in form[f"{name}-{family_id.hex}"].data or []} - {None}
    return ids("shown"), ids("opened")
