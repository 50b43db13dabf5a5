"""Forms of households: shape only, the rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    SelectField,
    StringField,
)
from wtforms.validators import Length, Optional, ValidationError

from workshops.core.forms import MultilineField, choices
from workshops.families.consent_services import CONSENTS, WAYS
from workshops.families.models import (
    COMPUTER_NEEDS,
    ORIGINS,
    REGISTRATION_STATUSES,
    RELATIONS,
    SCHOOL_LEVELS,
)
from workshops.families.services import LANGUAGES

# Characters in a household's notes, a line break counting once.
NOTES_MAX = 2000
GUARDIAN_BLOCKS = 2
CHILD_BLOCKS = 4
# More blocks only when a household already has more people (after a merge).
MAX_GUARDIANS = 8
MAX_CHILDREN = 12

# Translators: a parent's preferred language, as the conseiller picks it.
LANGUAGE_LABELS = {
    "fr": _l("French"), "en": _l("English"), "ar": _l("Arabic"), "uk": _l("Ukrainian"),
    "tr": _l("Turkish"), "pt": _l("Portuguese"), "es": _l("Spanish"), "ru": _l("Russian"),
    "ro": _l("Romanian"), "vi": _l("Vietnamese"), "it": _l("Italian"), "de": _l("German"),
    "pl": _l("Polish"), "zh": _l("Chinese"), "fa": _l("Persian (Farsi, Dari)"), "ps": _l("Pashto"),
    "ku": _l("Kurdish"), "so": _l("Somali"), "ti": _l("Tigrinya"), "sq": _l("Albanian"),
    "hy": _l("Armenian"), "ka": _l("Georgian"), "bg": _l("Bulgarian"), "ln": _l("Lingala"),
    "wo": _l("Wolof"),
}
assert set(LANGUAGE_LABELS) == set(LANGUAGES)

# Translators: who a guardian is to the collégien.
RELATION_LABELS = {"mother": _l("Mother"), "father": _l("Father"),
                   "guardian": _l("Legal guardian"), "other": _l("Other")}
assert set(RELATION_LABELS) == set(RELATIONS)

# Translators: school levels of the French collège, kept as written in French.
LEVEL_LABELS = {"6e": _l("6e"), "5e": _l("5e"), "4e": _l("4e"), "3e": _l("3e")}
assert set(LEVEL_LABELS) == set(SCHOOL_LEVELS)

COMPUTER_LABELS = {"desktop": _l("Desktop computer"), "laptop": _l("Laptop")}
assert set(COMPUTER_LABELS) == set(COMPUTER_NEEDS)

# Translators: how a family came to the atelier.
ORIGIN_LABELS = {
    "college_list": _l("List sent by the collège"), "phone_line": _l("Orientation phone line"),
    "walk_in": _l("Came without registering"), "partner": _l("Sent by a partner"),
    "other": _l("Other"),
}
assert set(ORIGIN_LABELS) == set(ORIGINS)

# Translators: a family's status at an atelier.
STATUS_LABELS = {"invited": _l("Invited"), "registered": _l("Registered"), "attended": _l("Came"),
                 "absent": _l("Absent"), "excused": _l("Excused")}
assert set(STATUS_LABELS) == set(REGISTRATION_STATUSES)

# Translators: the optional uses a family agrees to, in its consent history.
CONSENT_LABELS = {"follow_up": _l("Follow-up contact"), "photos": _l("Photos"),
                  "naming": _l("Named in the national reporting tool")}
assert set(CONSENT_LABELS) == set(CONSENTS)

# Translators: how a consent was recorded, in the family's consent history.
WAY_LABELS = {"form": _l("Family form"), "walk_in": _l("Walk-in at the atelier"),
              "import": _l("Imported list (no notice given yet)"), "merge": _l("Merge of two households")}
assert set(WAY_LABELS) == set(WAYS)

# Translators: what two households have in common, in "(same last name, phone)".
MATCH_LABELS = {"last_name": _l("last name"), "first_name": _l("first name"),
                "phone": _l("phone"), "email": _l("e-mail")}


class _Block(FlaskForm):
    """A block repeated inside the household form: the outer form carries the CSRF token,
    and Flask-WTF translates the blocks' own messages too."""

    class Meta:
        csrf = False


class GuardianForm(_Block):
    """One guardian block; left blank, it is ignored."""

    last_name = StringField(_l("Last name"), validators=[Length(max=100)])
    first_name = StringField(_l("First name"), validators=[Length(max=100)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)],
                        description=_l("One number, for example 06 12 34 56 78."),
                        render_kw={"type": "tel", "autocomplete": "off"})
    email = StringField(_l("E-mail"), validators=[Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "off"})
    language = SelectField(_l("Preferred language"), choices=choices(LANGUAGE_LABELS.items()),
                           default="fr")
    relation = SelectField(_l("Relation to the child"), choices=choices(RELATION_LABELS.items()),
                           default="guardian")


class ChildForm(_Block):
    """One child block; left blank, it is ignored. The collège choices are set by the view."""

    first_name = StringField(_l("First name"), validators=[Length(max=100)])
    college_id = SelectField(_l("Collège"), choices=[], validate_choice=False)
    level = SelectField(_l("Level"), choices=choices([("", _l("Not known")), *LEVEL_LABELS.items()]),
                        default="")


class FamilyForm(FlaskForm):
    """A household with a fixed number of guardian and child blocks (no script needed)."""

    guardians = FieldList(FormField(GuardianForm), min_entries=GUARDIAN_BLOCKS, max_entries=MAX_GUARDIANS)
    children = FieldList(FormField(ChildForm), min_entries=CHILD_BLOCKS, max_entries=MAX_CHILDREN)
    commune = StringField(_l("Commune"), validators=[Length(max=120)])
    structure_id = SelectField(_l("Structure that follows the family"), choices=[], validate_choice=False)
    origin = SelectField(_l("How the family came"), choices=choices(ORIGIN_LABELS.items()), default="other")
    computer_wanted = SelectField(_l("Computer wanted"), choices=choices(
        [("", _l("No computer asked for")), *COMPUTER_LABELS.items()]), default="")
    notice_version = StringField(_l("Privacy notice version shown"), validators=[Length(max=32)],
                                 description=_l("As printed at the bottom of the notice, "
                                                "for example 2026-09. Needed to record a consent."))
    notice_date = DateField(_l("Date the notice was shown"), validators=[Optional()])
    has_follow_up_consent = BooleanField(_l("Agrees to be contacted for a follow-up"))
    has_photo_consent = BooleanField(_l("Agrees to be in photos"))
    has_naming_consent = BooleanField(_l("Agrees to be named in the national reporting tool"))
    notes = MultilineField(_l("Notes"), render_kw={"rows": 3, "maxlength": NOTES_MAX},
                          description=_l("Practical facts only, nothing about health, religion or opinions."))
    notes_max = NOTES_MAX

    def allow_notes_as_long_as(self, notes: str) -> None:
        """Accept notes as long as the household's own, when these are longer than NOTES_MAX: a
        merge joins two records' notes and an import keeps a list's notes whole, and the household
        must stay editable without cutting them first. They still cannot grow."""
        self.notes_max = max(NOTES_MAX, len(notes))
        # A browser counts maxlength in UTF-16 units: an emoji counts twice there.
        browser_length = len(notes.encode("utf-16-le")) // 2
        self.notes.render_kw = {**self.notes.render_kw, "maxlength": max(NOTES_MAX, browser_length)}

    def validate_notes(self, field) -> None:
        if len(field.data or "") > self.notes_max:
            raise ValidationError(_l("Notes can hold at most %(max)d characters: shorten them.",
                                     max=self.notes_max))


class MergeForm(FlaskForm):
    """Choose the household to merge into the one shown, then confirm."""

    other_id = HiddenField()


class SearchForm(FlaskForm):
    """The search box of the family list, sent in the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Name or phone"), validators=[Length(max=100)],
                    description=_l("Type at least two letters of any name, or a phone number."),
                    render_kw={"type": "search", "autocomplete": "off"})
