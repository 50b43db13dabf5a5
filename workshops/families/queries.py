"""Reads about households: search, lists, one family in scope, its registrations, and the
candidates of the duplicate rule."""

from __future__ import annotations

import difflib
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workshops.auth.models import Structure, User
from workshops.auth.queries import visible_structure_ids
from workshops.families import normalize
from workshops.families.models import Child, Family, FamilyResource, Guardian, Registration
from workshops.scheduling.models import Workshop

MIN_SEARCH_LENGTH = 2
PAGE_SIZE = 50
# The national tool's rule: a surname this close (difflib ratio) counts as the same.
SURNAME_SIMILARITY = 0.85
# How many households the SQL prefilter hands to the Python scoring at most.
DUPLICATE_PREFILTER_LIMIT = 300


class GuardianKey(NamedTuple):
    """One guardian's four criteria, already folded or normalised ("" or None when unknown)."""

    last_name: str
    first_name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class DuplicateCandidate:
    """A household that may be the same as the one typed, and which criteria matched."""

    family: Family
    matched: tuple[str, ...]


@dataclass(frozen=True)
class FamilyPage:
    """One page of the family list."""

    families: list[Family]
    page: int
    total: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


def can_see(user: User, family: Family) -> bool:
    """True when the household belongs to one of the user's structures."""
    visible = visible_structure_ids(user)
    return visible is None or family.structure_id in visible


def is_college(db: Session, structure_id: uuid.UUID) -> bool:
    """True for a live structure of kind "college"."""
    structure = db.get(Structure, structure_id)
    return structure is not None and structure.kind == "college" and structure.deleted_dt is None


def list_colleges(db: Session) -> list[Structure]:
    """Live collèges by name, for the children's collège."""
    return list(db.scalars(select(Structure).where(
        Structure.kind == "college", Structure.deleted_dt.is_(None)).order_by(Structure.name)))


def person_key(person) -> tuple[str, str]:
    """A person's folded last and first names (a child has no last name): how a merge recognises
    the same person in two households, and the order in which lists name people."""
    return normalize.fold(getattr(person, "last_name", "")), normalize.fold(person.first_name)


@dataclass(frozen=True)
class MergePreview:
    """What merging `other` into `keep` would do, for the confirmation screen."""

    guardians_moving: list[Guardian]
    children_moving: list[Child]
    registrations_moving: int
    registrations_joined: int  # ateliers both households were registered to: one row stays
    resources_moving: int


def merge_preview(db: Session, keep: Family, other: Family) -> MergePreview:
    """Who and what would move from `other` to `keep` (same rules as merge_families)."""
    guardians = {person_key(g) for g in live_guardians(keep)}
    children = {person_key(c) for c in live_children(keep)}
    kept_ateliers = {r.workshop_id for r in live_registrations(db, keep.id)}
    moving = live_registrations(db, other.id)
    joined = sum(1 for r in moving if r.workshop_id in kept_ateliers)
    return MergePreview(
        [g for g in live_guardians(other) if person_key(g) not in guardians],
        [c for c in live_children(other) if person_key(c) not in children],
        len(moving) - joined, joined, len(live_family_resources(db, other.id)))


def is_live(family: Family) -> bool:
    """Neither merged into another household nor removed."""
    return family.merged_into_id is None and family.deleted_dt is None


def live_guardians(family: Family) -> list[Guardian]:
    """The family's guardians that were not removed, in their order."""
    return [guardian for guardian in family.guardians if guardian.deleted_dt is None]


def live_children(family: Family) -> list[Child]:
    """The family's children that were not removed, by first name."""
    return [child for child in family.children if child.deleted_dt is None]


def _in_scope(query: Select, user: User) -> Select:
    visible = visible_structure_ids(user)
    if visible is None:
        return query
    if not visible:
        return query.where(false())
    return query.where(Family.structure_id.in_(visible))


def _live_families(user: User) -> Select:
    query = select(Family).where(Family.merged_into_id.is_(None), Family.deleted_dt.is_(None))
    return _in_scope(query, user)


def get_family_for(db: Session, user: User, family_id: uuid.UUID) -> Family | None:
    """The household if the user may see it and it is live; None otherwise (a 404)."""
    query = _live_families(user).where(Family.id == family_id).options(
        selectinload(Family.guardians), selectinload(Family.children))
    return db.scalars(query).first()


def search_families(db: Session, user: User, text: str, limit: int = 20) -> list[Family]:
    """Households of the user's scope whose names contain every word of `text`
    (accent-, case- and apostrophe-insensitive), or whose phone matches when
    `text` has digits. Fewer than 2 characters finds nothing."""
    folded = normalize.fold(text or "")
    if len(folded.replace(" ", "")) < MIN_SEARCH_LENGTH:
        return []
    conditions = [_name_condition(folded)]
    phone = _phone_condition(text)
    if phone is not None:
        conditions.append(phone)
    query = _live_families(user).where(or_(*conditions)).options(
        selectinload(Family.guardians), selectinload(Family.children))
    return list(db.scalars(query.order_by(Family.search_key).limit(limit)))


def _name_condition(folded: str):
    # Every word somewhere in the household's names: "elodie martin" finds
    # "Martin | Élodie" as well as "Élodie Martin-Roux".
    return and_(*(Family.search_key.like(f"%{_escape(word)}%", escape="\\")
                  for word in folded.split(" ") if word))


def _phone_condition(text: str):
    digits = re.sub(r"\D", "", text)
    if len(digits) < 4:
        return None
    full = normalize.normalize_phone(text, lenient=True).e164
    if full:
        wanted = Guardian.phone == full
    else:
        # Part of a number: compare the end of what is typed, without its leading 0.
        wanted = Guardian.phone.like(f"%{digits.lstrip('0')}%")
    return Family.id.in_(select(Guardian.family_id).where(wanted, Guardian.deleted_dt.is_(None)))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_families(db: Session, user: User, page: int = 1, *, page_size: int = PAGE_SIZE,
                  structure_id: uuid.UUID | None = None) -> FamilyPage:
    """Live households of the user's scope, by name, one page at a time."""
    page = max(page, 1)
    query = _live_families(user)
    if structure_id is not None:
        query = query.where(Family.structure_id == structure_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(Family.search_key, Family.id).offset((page - 1) * page_size)
                      .limit(page_size).options(selectinload(Family.guardians),
                                                selectinload(Family.children)))
    return FamilyPage(list(rows), page, total, page_size)


def list_family_registrations(db: Session, family_id: uuid.UUID) -> list[Registration]:
    """The household's registrations that were not removed, latest atelier first."""
    query = (select(Registration).join(Workshop, Registration.workshop_id == Workshop.id)
             .where(Registration.family_id == family_id, Registration.deleted_dt.is_(None))
             .order_by(Workshop.start_dt.desc()).options(selectinload(Registration.workshop)))
    return list(db.scalars(query))


def live_registrations(db: Session, family_id: uuid.UUID) -> list[Registration]:
    """The household's registrations that were not removed (for merges)."""
    return list(db.scalars(select(Registration).where(
        Registration.family_id == family_id, Registration.deleted_dt.is_(None))))


def live_family_resources(db: Session, family_id: uuid.UUID) -> list[FamilyResource]:
    """What was shown to the household, not removed (for merges)."""
    return list(db.scalars(select(FamilyResource).where(
        FamilyResource.family_id == family_id, FamilyResource.deleted_dt.is_(None))))


def registration_row(db: Session, workshop_id: uuid.UUID, family_id: uuid.UUID) -> Registration | None:
    """The family's row at this atelier, removed or not (there is at most one)."""
    return db.scalars(select(Registration).where(Registration.workshop_id == workshop_id,
                                                 Registration.family_id == family_id)).first()


def family_resource_row(db: Session, workshop_id: uuid.UUID, family_id: uuid.UUID,
                        resource_id: uuid.UUID) -> FamilyResource | None:
    """What was recorded for this family, atelier and resource, removed or not."""
    return db.scalars(select(FamilyResource).where(
        FamilyResource.workshop_id == workshop_id, FamilyResource.family_id == family_id,
        FamilyResource.resource_id == resource_id)).first()


def duplicate_candidates(db: Session, user: User, keys: list[GuardianKey], *, limit: int = 5,
                         exclude_id: uuid.UUID | None = None) -> list[DuplicateCandidate]:
    """Live households of the user's scope matching two of four criteria with one of `keys`.

    A cheap SQL prefilter (same phone, same e-mail, or the first name with the
    surname's start or end) keeps the Python scoring to a few rows even with
    10,000 households.
    """
    conditions = [condition for key in keys for condition in _prefilter(key)]
    if not conditions:
        return []
    query = _live_families(user).where(or_(*conditions))
    if exclude_id is not None:
        query = query.where(Family.id != exclude_id)
    families = db.scalars(query.limit(DUPLICATE_PREFILTER_LIMIT).options(selectinload(Family.guardians)))
    scored = []
    for family in families:
        matched = max((matched_criteria(key, _key_of(guardian)) for key in keys
                       for guardian in live_guardians(family)), key=len, default=())
        if len(matched) >= 2:
            scored.append(DuplicateCandidate(family, matched))
    scored.sort(key=lambda candidate: (-len(candidate.matched), candidate.family.search_key))
    return scored[:limit]


def _prefilter(key: GuardianKey) -> list:
    """Households that may share two criteria with `key`. A pair with a phone or an
    e-mail shares that contact; the only other pair is surname + first name, so the
    names are looked for together: the first name, and the surname's start or end
    (a surname mistyped at its start still ends the same way)."""
    conditions = []
    contacts = [Guardian.phone == key.phone] if key.phone else []
    contacts += [func.lower(Guardian.email) == key.email.lower()] if key.email else []
    if contacts:
        conditions.append(Family.id.in_(select(Guardian.family_id).where(
            or_(*contacts), Guardian.deleted_dt.is_(None))))
    if key.first_name and len(compact_name(key.last_name)) >= 2:
        start, end = _escape(key.last_name[:3]), _escape(key.last_name[-3:])
        conditions.append(and_(
            Family.search_key.like(f"%{_escape(key.first_name)}%", escape="\\"),
            or_(Family.search_key.like(f"{start}%", escape="\\"),
                Family.search_key.like(f"% {start}%", escape="\\"),
                Family.search_key.like(f"%{end}%", escape="\\"))))
    return conditions


def guardian_key(last_name: str, first_name: str, phone: str | None, email: str | None) -> GuardianKey:
    """The four criteria of a guardian as typed: names folded, phone E.164 (repaired
    if need be), e-mail normalised; unknown or invalid values left empty."""
    e164 = normalize.normalize_phone(phone, lenient=True).e164
    normalized_email, _problem = normalize.normalize_email(email)
    return GuardianKey(normalize.fold(last_name or ""), normalize.fold(first_name or ""), e164,
                       normalized_email)


def _key_of(guardian: Guardian) -> GuardianKey:
    return GuardianKey(normalize.fold(guardian.last_name), normalize.fold(guardian.first_name),
                       guardian.phone, guardian.email)


def compact_name(folded: str) -> str:
    """A folded name without spaces, hyphens or apostrophes ("le-gall" = "le gall")."""
    return re.sub(r"[\s'\-.]", "", folded)


def matched_criteria(typed: GuardianKey, known: GuardianKey) -> tuple[str, ...]:
    """Which of the national tool's four criteria two guardians share: surname (close),
    first name, phone, e-mail. Two or more make a likely duplicate."""
    matched = []
    if surnames_match(compact_name(typed.last_name), compact_name(known.last_name)):
        matched.append("last_name")
    if typed.first_name and typed.first_name == known.first_name:
        matched.append("first_name")
    if typed.phone and typed.phone == known.phone:
        matched.append("phone")
    if typed.email and typed.email.casefold() == (known.email or "").casefold():
        matched.append("email")
    return tuple(matched)


@lru_cache(maxsize=65536)
def surnames_match(first: str, second: str) -> bool:
    """Two compacted, folded surnames are the same or this close (difflib ratio).

    Names that share neither their first nor their last three letters are not
    compared, as in the SQL prefilter; cheap length and letter bounds come before
    difflib, so checking a whole imported list stays fast.
    """
    if not first or not second:
        return False
    if first == second:
        return True
    if first[:3] != second[:3] and first[-3:] != second[-3:]:
        return False
    needed = SURNAME_SIMILARITY * (len(first) + len(second))
    if 2 * min(len(first), len(second)) < needed \
            or 2 * sum((Counter(first) & Counter(second)).values()) < needed:
        return False
    return difflib.SequenceMatcher(None, first, second).ratio() >= SURNAME_SIMILARITY
