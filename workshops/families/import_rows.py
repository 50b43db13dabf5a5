"""What a row of a collège's family list means: its columns, its values as collège staff
write them ("6ème", "ordinateur fixe", "portugais", "x"), and the preview of each row
as a household, with the duplicates in the database and in the file. Reads only."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.auth.queries import visible_structure_ids
from workshops.core.errors import Reason
from workshops.families import queries
from workshops.families import services as family_services
from workshops.families.importers import Field, Preview, RowResult, Table, build_preview, row_result
from workshops.families.models import Family, Guardian
from workshops.families.normalize import clean_name, fold, normalize_phone
from workshops.families.queries import GuardianKey
from workshops.families.services import ChildData, FamilyData, GuardianData
from workshops.scheduling.models import Workshop

KIND = "families"
FIELDS = (
    Field("last_name", _l("Guardian's last name"), (
        "nom", "nom du responsable", "nom responsable", "nom du parent", "nom de famille",
        "nom du representant legal", "responsable", "nom responsable 1", "nom du responsable 1"),
        (("nom",),), is_required=True),
    Field("first_name", _l("Guardian's first name"), (
        "prenom", "prenom du responsable", "prenom responsable", "prenom du parent",
        "prenom du representant legal", "prenom responsable 1", "prenom du responsable 1"),
        (("prenom", "responsable"), ("prenom", "parent"))),
    Field("phone", _l("Phone"), ("tel", "telephone", "portable", "mobile", "tel portable",
                                 "numero de telephone", "telephone du responsable", "tel 1"),
          (("tel",), ("telephone",))),
    Field("email", _l("E-mail"), ("e mail", "email", "courriel", "mail", "adresse mail",
                                  "adresse e mail", "adresse electronique"), (("mail",), ("courriel",))),
    Field("commune", _l("Commune"), ("ville", "commune", "localite", "commune de residence"),
          (("ville",), ("commune",))),
    Field("college", _l("Child's collège"), ("etablissement", "college", "etablissement scolaire",
                                             "college de l enfant"), (("college",), ("etablissement",))),
    Field("child_first_name", _l("Child's first name"), (
        "enfant", "prenom de l enfant", "prenom enfant", "eleve", "prenom de l eleve", "prenom eleve"),
        (("prenom", "enfant"), ("prenom", "eleve"), ("enfant",), ("eleve",))),
    Field("child_level", _l("Child's level"), ("niveau", "classe", "niveau scolaire"),
          (("niveau",), ("classe",))),
    Field("computer_wanted", _l("Computer wanted"), (
        "equipement souhaite", "equipement", "ordinateur", "ordinateur souhaite", "besoin",
        "materiel souhaite"), (("equipement",), ("ordinateur",))),
    Field("language", _l("Language spoken at home"), (
        "langue", "langue parlee a la maison", "langue parlee", "langue de la famille",
        "langue maternelle"), (("langue",),)),
    Field("consent", _l("Consent to be contacted"), ("consentement", "accord", "consentement rgpd",
                                                     "accord contact"), (("consentement",),)),
    Field("notes", _l("Notes"), ("notes", "remarques", "commentaire", "commentaires", "observations"),
          (("remarque",), ("commentaire",))),
    Field("g2_last_name", _l("Second guardian's last name"), (
        "nom du responsable 2", "nom responsable 2", "nom 2", "nom du second responsable")),
    Field("g2_first_name", _l("Second guardian's first name"), (
        "prenom du responsable 2", "prenom responsable 2", "prenom 2", "prenom du second responsable")),
    Field("g2_phone", _l("Second guardian's phone"), ("tel 2", "telephone 2", "portable 2",
                                                      "telephone du responsable 2")),
    Field("g2_email", _l("Second guardian's e-mail"), ("e mail 2", "email 2", "courriel 2", "mail 2")),
)

LEVEL_WORDS = {"sixieme": "6e", "cinquieme": "5e", "quatrieme": "4e", "troisieme": "3e"}
# "6e", "6ème", "6EME", "6°", and a class after it: "6e B", "5A", "4e2".
_LEVEL = re.compile(r"([3-6])\s*(?:e|eme|ieme|em|°)?(?:\s*[-/]?\s*[a-z0-9])?")
NO_COMPUTER = {"", "aucun", "aucune", "non", "no", "rien", "sans", "none", "0", "pas besoin", "deja equipe"}
LAPTOP_WORDS, DESKTOP_WORDS = {"portable", "laptop"}, {"fixe", "tour", "desktop", "bureau"}
CONSENT_YES = {"oui", "x", "yes", "1", "o", "y", "vrai", "true", "ok", "d'accord"}
CONSENT_NO = {"", "non", "no", "0", "n", "faux", "false"}
# Language names as collèges write them (French, English, or the code) -> ISO 639-1.
LANGUAGE_NAMES = {
    "francais": "fr", "french": "fr", "anglais": "en", "english": "en", "arabe": "ar", "arabic": "ar",
    "ukrainien": "uk", "ukrainian": "uk", "turc": "tr", "turkish": "tr", "portugais": "pt",
    "portuguese": "pt", "espagnol": "es", "spanish": "es", "russe": "ru", "russian": "ru",
    "roumain": "ro", "romanian": "ro", "vietnamien": "vi", "vietnamese": "vi", "italien": "it",
    "italian": "it", "allemand": "de", "german": "de", "polonais": "pl", "polish": "pl",
    "chinois": "zh", "mandarin": "zh", "chinese": "zh", "persan": "fa", "farsi": "fa", "dari": "fa",
    "pachto": "ps", "pashto": "ps", "pachtou": "ps", "kurde": "ku", "kurdish": "ku", "somali": "so",
    "tigrinya": "ti", "tigrigna": "ti", "albanais": "sq", "albanian": "sq", "armenien": "hy",
    "armenian": "hy", "georgien": "ka", "georgian": "ka", "bulgare": "bg", "bulgarian": "bg",
    "lingala": "ln", "wolof": "wo",
}
COLLEGE_STOP_WORDS = {"college", "clg", "du", "de", "des", "la", "le", "les", "d", "l", "public", "prive"}
# family_problems warns about the privacy notice for every household not yet told: an
# imported family never was, so the preview says it once instead of on every row.
NOTICE_WARNING = _l("No privacy notice recorded: show it to the family.")


@dataclass(frozen=True)
class FamilyImport:
    """Who imports, for which structure, and the atelier to register families to."""

    actor: User
    structure_id: uuid.UUID | None = None
    workshop: Workshop | None = None
    status: str = "registered"


def level_of(text: str) -> tuple[str | None, bool]:
    """(level, understood): "6ème", "sixième", "6EME B" -> "6e"; "" -> (None, True)."""
    folded = fold(text)
    if not folded:
        return None, True
    if folded in LEVEL_WORDS:
        return LEVEL_WORDS[folded], True
    match = _LEVEL.fullmatch(folded)
    return (f"{match.group(1)}e", True) if match else (None, False)


def computer_of(text: str) -> tuple[str | None, bool]:
    """(desktop | laptop | None, understood): "ordinateur fixe" -> desktop, "aucun" -> None."""
    folded = fold(text)
    words = set(re.split(r"[\s/,;.\-]+", folded))
    if folded in NO_COMPUTER:
        return None, True
    if words & LAPTOP_WORDS:
        return "laptop", True
    if words & DESKTOP_WORDS:
        return "desktop", True
    return None, False


def language_of(text: str) -> tuple[str, bool]:
    """(ISO code, understood): the first known language named; French when empty or unknown."""
    if not text.strip():
        return "fr", True
    for part in re.split(r"\s*(?:[,/;&+]|\bet\b|\band\b)\s*", fold(text)):
        code = LANGUAGE_NAMES.get(part, part if part in family_services.LANGUAGES else None)
        if code in family_services.LANGUAGES:
            return code, True
    return "fr", False


def consent_of(text: str) -> tuple[bool, bool]:
    """(consent, understood): "oui", "x", "1" -> True; "", "non" -> False."""
    folded = fold(text)
    if folded in CONSENT_YES:
        return True, True
    return False, folded in CONSENT_NO


def college_key(name: str) -> str:
    """A collège's name without "collège" and small words: "Collège du Jardin des Plantes"
    and "Jardin des Plantes" compare alike."""
    words = re.sub(r"[^\w]+", " ", fold(name)).split()
    return " ".join(word for word in words if word not in COLLEGE_STOP_WORDS)


def college_index(db: Session) -> dict[str, uuid.UUID]:
    """Live collèges by their college_key."""
    return {college_key(college.name): college.id for college in queries.list_colleges(db)}


def family_from_values(values: Mapping[str, str], colleges: Mapping[str, uuid.UUID],
                       structure_id: uuid.UUID | None) -> tuple[FamilyData, list[Reason], list[Reason]]:
    """(household, refusals, warnings) of one row's values, before the household rules."""
    refusals: list[Reason] = []
    warnings: list[Reason] = []
    language = _language(values.get("language", ""), warnings)
    guardians = (_guardian(values, "", language, warnings), _guardian(values, "g2_", language, warnings))
    computer, understood = computer_of(values.get("computer_wanted", ""))
    if not understood:
        warnings.append(("computer_wanted", _l("Computer wanted not understood (%(value)s): left empty.",
                                               value=values["computer_wanted"])))
    data = FamilyData(
        guardians=guardians, children=_children(values, colleges, refusals, warnings),
        commune=values.get("commune", ""), computer_wanted=computer, origin="college_list",
        has_follow_up_consent=_consent(values, warnings), notes=values.get("notes", ""),
        structure_id=structure_id)
    return data, refusals, warnings


def _language(text: str, warnings: list[Reason]) -> str:
    code, understood = language_of(text)
    if not understood:
        warnings.append(("language", _l("Language not in the list (%(value)s): French recorded.",
                                         value=text)))
    return code


def _guardian(values: Mapping[str, str], prefix: str, language: str,
              warnings: list[Reason]) -> GuardianData:
    phone = values.get(prefix + "phone", "")
    problem = normalize_phone(phone, lenient=True).problem if phone else None
    if problem:
        # Translators: the problem is a sentence such as "This is not a phone number."
        warnings.append((prefix + "phone", _l("Phone number left empty (%(value)s): %(problem)s",
                                              value=phone, problem=problem)))
        phone = ""
    return GuardianData(first_name=values.get(prefix + "first_name", ""),
                        last_name=values.get(prefix + "last_name", ""), phone=phone,
                        email=values.get(prefix + "email", ""), language=language)


def _children(values: Mapping[str, str], colleges: Mapping[str, uuid.UUID],
              refusals: list[Reason], warnings: list[Reason]) -> tuple[ChildData, ...]:
    name, college = values.get("child_first_name", ""), values.get("college", "")
    level_text = values.get("child_level", "")
    level, understood = level_of(level_text)
    if not understood:
        refusals.append(("child_level", _l("Level %(value)s is not a collège level (6e to 3e).",
                                           value=level_text)))
    college_id = colleges.get(college_key(college)) if college else None
    if college and college_id is None:
        warnings.append(("college", _l("Collège not found (%(value)s): the child is kept without "
                                       "collège.", value=college)))
    if not name.strip():
        if college or level_text:
            warnings.append(("child_first_name", _l("Collège or level given without the child's first "
                                                    "name: not kept.")))
        return ()
    return (ChildData(first_name=name, college_id=college_id, level=level),)


def _consent(values: Mapping[str, str], warnings: list[Reason]) -> bool:
    if "consent" not in values:
        return False
    consent, understood = consent_of(values["consent"])
    if not understood:
        warnings.append(("consent", _l("Consent not understood (%(value)s): no consent recorded.",
                                       value=values["consent"])))
    elif not consent:
        warnings.append(("consent", _l("No consent recorded.")))
    return consent


def preview_families(db: Session, table: Table, mapping: Mapping[str, int],
                     options: FamilyImport) -> Preview:
    """Each row as a household: refused (no name, impossible value), warning (repaired or
    unreadable phone, unknown collège or language, no consent, possible duplicate in the
    database or earlier in the file) or ok. Writes nothing; raises nothing."""
    colleges, in_file = college_index(db), DuplicateIndex()
    known, names = known_guardians(db, options.actor)
    notice = str(NOTICE_WARNING)

    def convert(line: int, values: dict[str, str]) -> RowResult:
        data, refusals, warnings = family_from_values(values, colleges, options.structure_id)
        problems, family_warnings = family_services.family_problems(data, lenient=True)
        refusals += [(field, _with_label(field, message)) for field, message in problems]
        warnings += [("family", message) for message in family_warnings if str(message) != notice]
        if not refusals:
            keys = guardian_keys(data)
            families = list(dict.fromkeys(owner for key in keys for owner in known.owners(key)))
            earlier = sorted({owner for key in keys for owner in in_file.owners(key)})
            for key in keys:
                in_file.record(line, key)
            warnings += [("duplicate", _l("Possible duplicate of %(name)s, already known.",
                                          name=names[family_id])) for family_id in families[:1]]
            warnings += [("duplicate_in_file", _l("Possible duplicate of line %(line)s of this file.",
                                                  line=line_before)) for line_before in earlier[:1]]
        return row_result(line, _label(data), data, refusals, warnings)

    return build_preview(table, mapping, convert)


_FORM_FIELD = re.compile(r"(guardians|children)-(\d+)-(\w+)")
_CHILD_FIELDS = {"first_name": "child_first_name", "level": "child_level", "college_id": "college"}


def _with_label(field: str | None, message) -> str:
    """A household rule's refusal named after the column it comes from: "E-mail: ..."."""
    match = _FORM_FIELD.fullmatch(field or "")
    key = field
    if match and match[1] == "guardians":
        key = ("g2_" if match[2] != "0" else "") + match[3]
    elif match:
        key = _CHILD_FIELDS.get(match[3], match[3])
    label = next((spec.label for spec in FIELDS if spec.key == key), None)
    return str(_l("%(field)s: %(reason)s", field=label, reason=message) if label else message)


def _label(data: FamilyData) -> str:
    first = data.guardians[0] if data.guardians else GuardianData("", "")
    return clean_name(f"{first.last_name} {first.first_name}")


def guardian_keys(data: FamilyData) -> list[GuardianKey]:
    """The duplicate criteria of a household's guardians (blank ones left out)."""
    keys = [queries.guardian_key(g.last_name, g.first_name, g.phone, g.email) for g in data.guardians]
    return [key for key in keys if any(key)]


def known_guardians(db: Session, actor: User) -> tuple[DuplicateIndex, dict[uuid.UUID, str]]:
    """Every live guardian of the actor's scope indexed by household, and each household's
    name (its first guardian's), in one query: a 1,000-row preview asks nothing per row."""
    query = (select(Guardian.family_id, Guardian.last_name, Guardian.first_name, Guardian.phone,
                    Guardian.email).join(Family, Guardian.family_id == Family.id)
             .where(Guardian.deleted_dt.is_(None), Family.deleted_dt.is_(None),
                    Family.merged_into_id.is_(None))
             .order_by(Guardian.family_id, Guardian.position))
    visible = visible_structure_ids(actor)
    if visible is not None:
        query = query.where(Family.structure_id.in_(visible))
    index, names = DuplicateIndex(), {}
    for family_id, last, first, phone, email in db.execute(query):
        index.record(family_id, GuardianKey(fold(last), fold(first), phone, email))
        names.setdefault(family_id, clean_name(f"{last} {first}"))
    return index, names


class DuplicateIndex:
    """Guardians seen before (known households, earlier rows), found again by the rule of
    find_duplicates (queries.duplicate_candidates): two of four criteria (surname close,
    first name, phone, e-mail), in memory, so that a whole list is checked at once.

    Each is filed under its exact criteria; since two are needed, at least one of first
    name, phone or e-mail is shared, so only those buckets are searched.
    """

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], list[_Entry]] = defaultdict(list)

    def record(self, owner: object, key: GuardianKey) -> None:
        entry = _entry(owner, key)
        for bucket in _buckets(key):
            self.buckets[bucket].append(entry)

    def owners(self, key: GuardianKey) -> list[object]:
        """Owners with a guardian matching `key`, in the order they were added.

        The rule of queries.matched_criteria (two of four criteria), checked cheaply:
        the exact criteria are counted inline with the surname compacted once per
        guardian, and the surnames compared only when they would decide (one exact match).
        """
        _owner, last, first, phone, email = _entry(None, key)
        found = {}
        for bucket in _buckets(key):
            for owner, other_last, other_first, other_phone, other_email in self.buckets[bucket]:
                if owner in found:
                    continue
                exact = (bool(first) and first == other_first) + (bool(phone) and phone == other_phone) \
                    + (bool(email) and email == other_email)
                if exact >= 2 or (exact == 1 and queries.surnames_match(last, other_last)):
                    found[owner] = True
        return list(found)


# (owner, compacted surname, first name, phone, casefolded e-mail)
_Entry = tuple[object, str, str, str, str]


def _entry(owner: object, key: GuardianKey) -> _Entry:
    return (owner, queries.compact_name(key.last_name), key.first_name, key.phone or "",
            (key.email or "").casefold())


def _buckets(key: GuardianKey) -> list[tuple[str, str]]:
    values = (("first", key.first_name), ("phone", key.phone or ""),
              ("email", (key.email or "").casefold()))
    return [(name, value) for name, value in values if value]
