"""Rules of households: guardians and children as given, cleaned and checked; create,
change and find likely duplicates (merges: merge_services). Each consent given or withdrawn
is recorded in the journal with the change (consent_services).
Services flush, never commit; the caller (view, command, import) commits once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.errors import NotAllowed, Reason, ValidationFailed
from workshops.core.models import utcnow
from workshops.families import normalize, queries
from workshops.families.consent_services import (
    CONSENTS,
    NO_CONSENT,
    Consents,
    consents_of,
    is_notice_version,
    record_consent_changes,
)
from workshops.families.models import (
    COMPUTER_NEEDS,
    ORIGINS,
    RELATIONS,
    SCHOOL_LEVELS,
    Child,
    Family,
    Guardian,
)
from workshops.families.queries import DuplicateCandidate
from workshops.scheduling.localtime import local_today

# Languages a guardian may prefer (ISO 639-1), the one list of the app; labels in forms.py.
LANGUAGES = ("fr", "en", "ar", "uk", "tr", "pt", "es", "ru", "ro", "vi", "it", "de", "pl",
             "zh", "fa", "ps", "ku", "so", "ti", "sq", "hy", "ka", "bg", "ln", "wo")
MAX_COMMUNE_LENGTH = 120
MAX_NOTICE_VERSION_LENGTH = 32
HOUSEHOLD_FIELDS = ("commune", "computer_wanted", "origin", "notice_version", "notice_date",
                    "has_follow_up_consent", "has_photo_consent", "has_naming_consent", "notes")


@dataclass(frozen=True)
class GuardianData:
    """A parent or guardian as typed or imported (raw text; the service cleans it)."""

    first_name: str
    last_name: str
    phone: str = ""
    email: str = ""
    language: str = "fr"
    relation: str = "guardian"


@dataclass(frozen=True)
class ChildData:
    """A collégien as typed or imported."""

    first_name: str
    college_id: uuid.UUID | None = None
    level: str | None = None


@dataclass(frozen=True)
class FamilyData:
    """A household as a form or an import gives it. Blank guardians and children are ignored."""

    guardians: tuple[GuardianData, ...]
    children: tuple[ChildData, ...] = ()
    commune: str = ""
    computer_wanted: str | None = None
    origin: str = "other"
    notice_version: str | None = None
    notice_date: date | None = None
    has_follow_up_consent: bool = False
    has_photo_consent: bool = False
    has_naming_consent: bool = False
    notes: str = ""
    structure_id: uuid.UUID | None = None  # default: the actor's structure


def family_problems(data: FamilyData, *, lenient: bool = False,
                    held: Consents = NO_CONSENT) -> tuple[list[Reason], list[str]]:
    """(refusals as (field, message), warnings) for a household, without the database.

    Fields are named like the form's: "guardians-0-phone", "children-1-level".
    `lenient` is import mode: phones are repaired and warned about instead of refused.
    `held`: the consents the household already holds (kept without a notice version).
    """
    _cleaned, reasons, warnings = _clean(data, lenient, held)
    return reasons, warnings


def create_family(db: Session, data: FamilyData, actor: User, *, lenient: bool = False,
                  flush: bool = True, way: str = "form") -> Family:
    """Create a household in the actor's structure (or the one a manager chose), and record
    each consent given in the journal (`way`: a code of consent_services.WAYS).

    With `flush=False` (imports, flushed together) nothing is recorded: the caller records
    the consents once flushed (consent_services.record_consent_changes from NO_CONSENT).
    Raises ValidationFailed on a refused value (a consent without a notice version, unless
    `lenient`) or an unknown structure or collège, NotAllowed when a conseiller has no
    structure or names another one.
    """
    family = _save(db, Family(id=uuid.uuid4()), data, actor, lenient, flush=flush)
    if flush:
        record_consent_changes(db, family, NO_CONSENT, actor, way)
    return family


def update_family(db: Session, family: Family, data: FamilyData, actor: User) -> Family:
    """Change a household: guardians matched by position, children by first name then
    order; those no longer given are tombstoned (never deleted: the removal must travel).

    Each consent given or withdrawn is recorded in the journal.
    Raises ValidationFailed as create_family, NotAllowed outside the actor's scope.
    """
    check_scope(family, actor)
    before = consents_of(family)
    _save(db, family, data, actor, lenient=False, flush=True, held=before)
    record_consent_changes(db, family, before, actor, "form")
    return family


def _save(db: Session, family: Family, data: FamilyData, actor: User, lenient: bool, flush: bool,
          held: Consents = NO_CONSENT) -> Family:
    cleaned, reasons, _warnings = _clean(data, lenient, held)
    wanted = data.structure_id or family.structure_id
    structure_id = family.structure_id if wanted is not None and wanted == family.structure_id \
        else _structure_for(db, wanted, actor, reasons)
    reasons += _college_problems(db, data)
    if reasons:
        raise ValidationFailed(reasons)
    family.structure_id = structure_id
    db.add(family)
    _apply(db, family, cleaned)
    if flush:
        db.flush()
    return family


def find_duplicates(db: Session, data: FamilyData, actor: User, *, limit: int = 5,
                    exclude_id: uuid.UUID | None = None) -> list[DuplicateCandidate]:
    """Households of the actor's scope that two of four criteria (surname close, same
    first name, phone or e-mail) point to, guardian by guardian; best first. Raises nothing."""
    keys = [queries.guardian_key(g.last_name, g.first_name, g.phone, g.email) for g in data.guardians]
    return queries.duplicate_candidates(db, actor, [key for key in keys if any(key)],
                                        limit=limit, exclude_id=exclude_id)


def _clean(data: FamilyData, lenient: bool,
           held: Consents = NO_CONSENT) -> tuple[FamilyData, list[Reason], list[str]]:
    """Names, commune and notes cleaned, phones E.164, e-mails normalised; blanks dropped."""
    reasons: list[Reason] = []
    warnings: list[str] = []
    guardians = []
    for index, guardian in enumerate(data.guardians):
        if _is_blank_guardian(guardian):
            continue
        guardians.append(_clean_guardian(guardian, index, not guardians, lenient, reasons, warnings))
    if not guardians:
        reasons.append(("guardians-0-last_name", _l("Enter the name of at least one parent or guardian.")))
    children = [_clean_child(child, index, reasons) for index, child in enumerate(data.children)
                if child.first_name.strip() or child.level or child.college_id]
    reasons += _household_problems(data)
    if not lenient:
        reasons += _consent_problems(data, held)
    if not (data.notice_version or "").strip():
        warnings.append(str(_l("No privacy notice recorded: show it to the family.")))
    cleaned = replace(
        data, guardians=tuple(guardians), children=tuple(children),
        commune=" ".join(normalize.clean_text(data.commune).split()), notes=normalize.clean_text(data.notes),
        notice_version=(data.notice_version or "").strip() or None)
    return cleaned, reasons, warnings


def _is_blank_guardian(guardian: GuardianData) -> bool:
    return not any(text.strip() for text in (guardian.first_name, guardian.last_name,
                                             guardian.phone, guardian.email))


def _clean_guardian(guardian: GuardianData, index: int, is_first: bool, lenient: bool,
                    reasons: list[Reason], warnings: list[str]) -> GuardianData:
    prefix = f"guardians-{index}-"
    first, last = normalize.clean_name(guardian.first_name), normalize.clean_name(guardian.last_name)
    for field, name in (("first_name", first), ("last_name", last)):
        problem = normalize.name_problem(name)
        if problem:
            reasons.append((prefix + field, problem))
    if not last and (is_first or not first):
        reasons.append((prefix + "last_name", _l("Enter the last name.")))
    phone = normalize.normalize_phone(guardian.phone, lenient=lenient)
    if phone.problem:
        reasons.append((prefix + "phone", phone.problem))
    elif phone.repaired:
        warnings.append(str(_l("Phone number of %(name)s repaired: check it.", name=last or first)))
    email, email_problem = normalize.normalize_email(guardian.email)
    if email_problem:
        reasons.append((prefix + "email", email_problem))
    if guardian.language not in LANGUAGES:
        reasons.append((prefix + "language", _l("Choose a language from the list.")))
    if guardian.relation not in RELATIONS:
        reasons.append((prefix + "relation", _l("Choose a relation from the list.")))
    return replace(guardian, first_name=first, last_name=last, phone=phone.e164 or "",
                   email=email or "")


def _clean_child(child: ChildData, index: int, reasons: list[Reason]) -> ChildData:
    prefix = f"children-{index}-"
    first = normalize.clean_name(child.first_name)
    problem = normalize.name_problem(first) if first else str(_l("Enter the child's first name."))
    if problem:
        reasons.append((prefix + "first_name", problem))
    if child.level is not None and child.level not in SCHOOL_LEVELS:
        reasons.append((prefix + "level", _l("Choose a level from 6e to 3e.")))
    return replace(child, first_name=first, level=child.level or None)


def _household_problems(data: FamilyData) -> list[Reason]:
    reasons: list[Reason] = []
    if len(" ".join(data.commune.split())) > MAX_COMMUNE_LENGTH:
        reasons.append(("commune", _l("Use at most %(max)s characters.", max=MAX_COMMUNE_LENGTH)))
    if data.computer_wanted is not None and data.computer_wanted not in COMPUTER_NEEDS:
        reasons.append(("computer_wanted", _l("Choose a kind of computer from the list.")))
    if data.origin not in ORIGINS:
        reasons.append(("origin", _l("Choose how the family came from the list.")))
    version = (data.notice_version or "").strip()
    if len(version) > MAX_NOTICE_VERSION_LENGTH:
        reasons.append(("notice_version", _l("Use at most %(max)s characters.",
                                             max=MAX_NOTICE_VERSION_LENGTH)))
    elif version and not is_notice_version(version):
        reasons.append(("notice_version", _l("Write the version as printed at the bottom of the "
                                             "notice, for example 2026-01.")))
    # Compared with the Paris date: a walk-in at 00:30 in Paris is still "today".
    if data.notice_date is not None and data.notice_date > local_today(utcnow()):
        reasons.append(("notice_date", _l("The notice cannot have been shown in the future.")))
    return reasons


def _consent_problems(data: FamilyData, held: Consents) -> list[Reason]:
    """A consent is given only to a family that was given the privacy notice (R39). An import
    (lenient) keeps the consent the collège's own form collected, and a consent the household
    already holds (an imported one) is kept when another field changes."""
    newly_given = any(getattr(data, column) and not held.get(purpose, False)
                      for purpose, column in CONSENTS.items())
    if newly_given and not (data.notice_version or "").strip():
        return [("notice_version", _l("A consent can be recorded only once the family was given the "
                                      "privacy notice: enter its version, or untick the consents."))]
    return []


def _structure_for(db: Session, wanted: uuid.UUID | None, actor: User,
                   reasons: list[Reason]) -> uuid.UUID | None:
    """The structure that will follow the family; conseillers only ever their own."""
    if actor.role not in ("manager", "admin"):
        if actor.structure_id is None or wanted not in (None, actor.structure_id):
            raise NotAllowed("a conseiller creates families in their own structure only")
        return actor.structure_id
    wanted = wanted or actor.structure_id
    structure = db.get(Structure, wanted) if wanted else None
    if structure is None or structure.deleted_dt is not None:
        reasons.append(("structure_id", _l("Choose the structure that follows the family.")))
        return None
    return structure.id


def _college_problems(db: Session, data: FamilyData) -> list[Reason]:
    """Field names count every child given, blank ones included, as the form does."""
    return [(f"children-{index}-college_id", _l("Choose a collège from the list."))
            for index, child in enumerate(data.children)
            if child.college_id is not None and not queries.is_college(db, child.college_id)]


def check_scope(family: Family, actor: User) -> None:
    """Raises NotAllowed when the household is outside the actor's structures."""
    if not queries.can_see(actor, family):
        raise NotAllowed("family outside the actor's structures")


def _apply(db: Session, family: Family, data: FamilyData) -> None:
    for name in HOUSEHOLD_FIELDS:
        setattr(family, name, getattr(data, name))
    _apply_guardians(db, family, data.guardians)
    _apply_children(db, family, data.children)
    family.search_key = search_key_of(family)


def _apply_guardians(db: Session, family: Family, given: tuple[GuardianData, ...]) -> None:
    current = queries.live_guardians(family)
    for position, data in enumerate(given):
        guardian = current[position] if position < len(current) else None
        if guardian is None:
            guardian = Guardian(id=uuid.uuid4())
            family.guardians.append(guardian)
            db.add(guardian)
        guardian.position, guardian.first_name, guardian.last_name = position, data.first_name, data.last_name
        guardian.phone, guardian.email = data.phone or None, data.email or None
        guardian.language, guardian.relation = data.language, data.relation
    for guardian in current[len(given):]:
        guardian.deleted_dt = utcnow()  # removed: a tombstone travels, a DELETE would not


def _apply_children(db: Session, family: Family, given: tuple[ChildData, ...]) -> None:
    # A child keeps its row when its first name is unchanged, whatever the order.
    current = queries.live_children(family)
    pairs, rest = [], []
    for data in given:
        folded = normalize.fold(data.first_name)
        same = next((c for c in current if normalize.fold(c.first_name) == folded), None)
        if same is None:
            rest.append(data)
        else:
            current.remove(same)
            pairs.append((same, data))
    for data in rest:
        child = current.pop(0) if current else None
        if child is None:
            child = Child(id=uuid.uuid4())
            family.children.append(child)
            db.add(child)
        pairs.append((child, data))
    for child, data in pairs:
        child.first_name, child.college_id, child.level = data.first_name, data.college_id, data.level
    for child in current:
        child.deleted_dt = utcnow()


def search_key_of(family: Family) -> str:
    """The household's names folded for search: its live guardians' and children's."""
    names = [name for g in queries.live_guardians(family) for name in (g.last_name, g.first_name)]
    return normalize.search_key(names + [child.first_name for child in queries.live_children(family)])
