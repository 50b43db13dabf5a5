"""Rules of households: guardians and children as given, cleaned and checked; create,
change, find likely duplicates and merge two households keeping every registration.
Services flush, never commit; the caller (view, command, import) commits once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.errors import NotAllowed, Reason, ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.families import normalize, queries
from workshops.families.models import (
    COMPUTER_NEEDS,
    ORIGINS,
    RELATIONS,
    SCHOOL_LEVELS,
    Child,
    Family,
    FamilyResource,
    Guardian,
    Registration,
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
# Registration statuses from the strongest to the weakest, for merges.
STATUS_RANK = ("attended", "excused", "registered", "invited", "absent")


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


def family_problems(data: FamilyData, *, lenient: bool = False) -> tuple[list[Reason], list[str]]:
    """(refusals as (field, message), warnings) for a household, without the database.

    Fields are named like the form's: "guardians-0-phone", "children-1-level".
    `lenient` is import mode: phones are repaired and warned about instead of refused.
    """
    _cleaned, reasons, warnings = _clean(data, lenient)
    return reasons, warnings


def create_family(db: Session, data: FamilyData, actor: User, *, lenient: bool = False,
                  flush: bool = True) -> Family:
    """Create a household in the actor's structure (or the one a manager chose).

    Raises ValidationFailed on a refused value or an unknown structure or collège,
    NotAllowed when a conseiller has no structure or names another one.
    """
    return _save(db, Family(id=uuid.uuid4()), data, actor, lenient, flush=flush)


def update_family(db: Session, family: Family, data: FamilyData, actor: User) -> Family:
    """Change a household: guardians matched by position, children by first name then
    order; those no longer given are tombstoned (never deleted: the removal must travel).

    Raises ValidationFailed as create_family, NotAllowed outside the actor's scope.
    """
    _check_scope(family, actor)
    return _save(db, family, data, actor, lenient=False, flush=True)


def _save(db: Session, family: Family, data: FamilyData, actor: User, lenient: bool, flush: bool) -> Family:
    cleaned, reasons, _warnings = _clean(data, lenient)
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


def merge_families(db: Session, keep: Family, other: Family, actor: User) -> Family:
    """Merge `other` into `keep` in one flush, keeping every registration.

    Guardians and children not in `keep` (same folded names) move, the others complete
    keep's blanks; registrations and resources shown move (one row per atelier, the best
    status, the larger head counts); `other` becomes a tombstoned alias (merged_into_id).
    Raises NotAllowed outside the actor's scope, ValidationFailed for the same household
    or one already merged or removed.
    """
    _check_scope(keep, actor)
    _check_scope(other, actor)
    if keep.id == other.id or not queries.is_live(keep) or not queries.is_live(other):
        raise ValidationFailed([(None, _l("Choose two households that were not merged or removed."))])
    with db.no_autoflush:
        _merge_people(keep, other)
        for registration in queries.live_registrations(db, other.id):
            _move_registration(db, registration, keep)
        for shown in queries.live_family_resources(db, other.id):
            _move_family_resource(db, shown, keep)
        for alias in queries.families_merged_into(db, other.id):
            alias.merged_into_id = keep.id
        _merge_household_fields(keep, other)
        other.merged_into_id, other.deleted_dt = keep.id, utcnow()
        keep.search_key = search_key_of(keep)
    db.flush()
    return keep


def _clean(data: FamilyData, lenient: bool) -> tuple[FamilyData, list[Reason], list[str]]:
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
    if len((data.notice_version or "").strip()) > MAX_NOTICE_VERSION_LENGTH:
        reasons.append(("notice_version", _l("Use at most %(max)s characters.",
                                             max=MAX_NOTICE_VERSION_LENGTH)))
    # Compared with the Paris date: a walk-in at 00:30 in Paris is still "today".
    if data.notice_date is not None and data.notice_date > local_today(utcnow()):
        reasons.append(("notice_date", _l("The notice cannot have been shown in the future.")))
    return reasons


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


def _check_scope(family: Family, actor: User) -> None:
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


def _merge_people(keep: Family, other: Family) -> None:
    kept = {queries.person_key(g): g for g in queries.live_guardians(keep)}
    position = len(kept)
    for guardian in queries.live_guardians(other):
        same = kept.get(queries.person_key(guardian))
        if same is None:
            guardian.family, guardian.position = keep, position
            position += 1
        else:
            same.phone, same.email = same.phone or guardian.phone, same.email or guardian.email
    children = {queries.person_key(c): c for c in queries.live_children(keep)}
    for child in queries.live_children(other):
        same = children.get(queries.person_key(child))
        if same is None:
            child.family = keep
        else:
            same.college_id, same.level = same.college_id or child.college_id, same.level or child.level


def _move_registration(db: Session, old: Registration, keep: Family) -> None:
    # A registration's id derives from (atelier, family), so that two laptops
    # checking in the same family make one row. Changing family_id in place
    # would leave an id that no longer matches its key, and another device
    # registering `keep` to that atelier would then create a second row for the
    # same family: instead, the row is re-created under keep's derived id (or
    # joined to keep's own row) and the old one is tombstoned, which travels.
    target = queries.registration_row(db, old.workshop_id, keep.id)
    if target is None or target.deleted_dt is not None:
        target = target or Registration(id=derived_id("registration", old.workshop_id, keep.id),
                                        workshop_id=old.workshop_id, family_id=keep.id)
        db.add(target)
        target.deleted_dt = None
        _copy_registration(old, target)
    else:
        if STATUS_RANK.index(old.status) < STATUS_RANK.index(target.status):
            target.status = old.status
            target.checked_in_dt = target.checked_in_dt or old.checked_in_dt
        target.adults_present = max(target.adults_present, old.adults_present)
        target.children_present = max(target.children_present, old.children_present)
        target.is_signed_on_paper = target.is_signed_on_paper or old.is_signed_on_paper
    old.deleted_dt = utcnow()


def _copy_registration(old: Registration, target: Registration) -> None:
    for name in ("status", "checked_in_dt", "adults_present", "children_present",
                 "is_signed_on_paper", "is_walk_in"):
        setattr(target, name, getattr(old, name))


def _move_family_resource(db: Session, old: FamilyResource, keep: Family) -> None:
    # Same reason as registrations: the id derives from (atelier, family, resource).
    target = queries.family_resource_row(db, old.workshop_id, keep.id, old.resource_id)
    if target is None:
        row_id = derived_id("family_resource", old.workshop_id, keep.id, old.resource_id)
        target = FamilyResource(id=row_id, workshop_id=old.workshop_id, family_id=keep.id,
                                resource_id=old.resource_id, is_shown=False, has_opened_account=False)
        db.add(target)
    elif target.deleted_dt is not None:
        target.deleted_dt, target.is_shown, target.has_opened_account = None, False, False
    target.is_shown = target.is_shown or old.is_shown
    target.has_opened_account = target.has_opened_account or old.has_opened_account
    old.deleted_dt = utcnow()


def _merge_household_fields(keep: Family, other: Family) -> None:
    for consent in ("has_follow_up_consent", "has_photo_consent", "has_naming_consent"):
        setattr(keep, consent, getattr(keep, consent) or getattr(other, consent))
    keep.notes = "\n\n".join(note for note in (keep.notes.strip(), other.notes.strip()) if note)
    keep.commune = keep.commune or other.commune
    keep.computer_wanted = keep.computer_wanted or other.computer_wanted
    newer = keep.notice_date is None or (other.notice_date and other.notice_date > keep.notice_date)
    if newer and other.notice_version:
        keep.notice_version, keep.notice_date = other.notice_version, other.notice_date
