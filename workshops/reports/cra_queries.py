"""The national tool's activity report ("fiche CRA" of La Coop) of each atelier held, already
mapped to its fields, and the people it may name (read only).

La Coop records a collective atelier as: date, duration in minutes, place type and commune,
title, level, thématiques, device used, the named participants ("bénéficiaires suivis") and
counters of anonymous participants by gender, age bracket and social status
(shared/research/mission-anchors.md, (a) 1 and (c)). Here:

- a family present that agreed to be named (`Family.has_naming_consent`) is named through its
  first `adults_present` live guardians, by position; any adult beyond its guardians, and every
  adult of the other families, is anonymous;
- children present are anonymous, social status `scolarise` (they are collégiens), age bracket
  `non_communique` (11 to 15 years old straddle two brackets);
- the anonymous headcounts keep their own age bracket and social status;
- no gender is recorded for anonymous people: they are all `non_communique`; a named guardian's
  gender follows the relation (mother: `feminin`, father: `masculin`, else `non_communique`);
- an anonymous adult or child is "already accompanied" when their family was present at an
  earlier atelier; anonymous headcounts never are (nothing links them to an earlier visit);
- the place is `autre` with the venue's commune and postcode (a collège is not a La Coop
  "lieu d'activité"); the device is `ordinateur` for handover and mixed ateliers, none otherwise.

Every atelier's participants (named + anonymous) equal its "people present" in the other
exports. Phones and e-mails leave this module only for named people, and only because their
family agreed.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.families.models import AnonymousHeadcount, Family, Guardian, Registration
from workshops.families.queries import person_key
from workshops.reports.queries import PRESENT, Filters, workshop_conditions
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Venue, Workshop, WorkshopAnimator

ACTIVITY_TYPE = "collectif"
PLACE_TYPE = "autre"
# La Coop `Genre`, with the first letter its beneficiaries import expects.
GENDERS = ("masculin", "feminin", "non_communique")
GENDER_LETTERS = {"masculin": "M", "feminin": "F", "non_communique": "N"}
GENDER_OF_RELATION = {"mother": "feminin", "father": "masculin"}
# La Coop `Materiel` of the device used, by kind of atelier.
MATERIEL_OF_KIND = {"remise_equipement": ("ordinateur",), "mixte": ("ordinateur",)}
CHILD_STATUS = "scolarise"
UNKNOWN = "non_communique"


@dataclass(frozen=True)
class NamedParticipant:
    """A guardian named in La Coop: their family agreed (`has_naming_consent`)."""

    guardian_id: uuid.UUID
    last_name: str
    first_name: str
    phone: str | None  # E.164
    email: str | None
    gender: str  # La Coop `Genre`
    commune: str  # the household's commune


def in_name_order(people) -> list[NamedParticipant]:
    """Last then first name, as a reader expects: accents and case aside ("ÉTIENNE" between
    "DUPONT" and "FABRE"), like the attendance sheet."""
    return sorted(people, key=person_key)


@dataclass(frozen=True)
class CraSheet:
    """One atelier held, as La Coop's collective activity report asks for it."""

    workshop_id: uuid.UUID
    day: date  # Paris date
    minutes: int
    title: str
    kind: str
    level: str | None  # La Coop `NiveauAtelier`
    thematiques: tuple[str, ...]  # La Coop `Thematique`
    materiel: tuple[str, ...]  # La Coop `Materiel`
    venue: str
    address: str
    postcode: str
    commune: str
    structure: str  # the organising structure
    animators: tuple[str, ...]  # display names of the conseillers who ran it
    named: tuple[NamedParticipant, ...] = ()
    already_accompanied: int = 0  # anonymous participants whose family came before
    by_gender: dict[str, int] = field(default_factory=dict)  # anonymous, every GENDERS key
    by_age: dict[str, int] = field(default_factory=dict)  # anonymous, every AGE_BRACKETS key
    by_status: dict[str, int] = field(default_factory=dict)  # anonymous, every SOCIAL_STATUSES key

    activity_type = ACTIVITY_TYPE
    place_type = PLACE_TYPE

    @property
    def anonymous(self) -> int:
        return sum(self.by_age.values())

    @property
    def participants(self) -> int:
        return len(self.named) + self.anonymous


@dataclass
class _Counts:
    named: list[NamedParticipant] = field(default_factory=list)
    already: int = 0
    age: Counter = field(default_factory=Counter)
    status: Counter = field(default_factory=Counter)


def list_cra_sheets(db: Session, filters: Filters, now: datetime, *,
                    workshop_ids: list[uuid.UUID] | None = None) -> list[CraSheet]:
    """The reports of the ateliers held in the period within the filters (the caller scopes them
    with `Filters.for_user`), by start; only those of `workshop_ids` when given."""
    conditions = list(workshop_conditions(filters, now))
    if workshop_ids is not None:
        conditions.append(Workshop.id.in_(workshop_ids))
    held = select(Workshop.id).join(Venue, Venue.id == Workshop.venue_id).where(*conditions)
    ateliers = db.execute(
        select(_raw(Workshop.id), Workshop.id, Workshop.start_dt, Workshop.end_dt, Workshop.title,
               Workshop.kind, Workshop.level, Workshop.thematiques, Venue.name, Venue.address,
               Venue.postcode, Venue.commune, Structure.name)
        .join(Venue, Venue.id == Workshop.venue_id)
        .join(Structure, Structure.id == Workshop.structure_id)
        .where(*conditions)
        .order_by(Workshop.start_dt, Workshop.title)).all()
    counts = _participants(db, held, {row[0]: row[2] for row in ateliers})
    animators = _animators(db, held)
    sheets = []
    for (key, workshop_id, start, end, title, kind, level, thematiques, venue, address, postcode,
         commune, structure) in ateliers:
        found = counts[key]
        anonymous = sum(found.age.values())
        sheets.append(CraSheet(
            workshop_id=workshop_id, day=to_local(start).date(),
            minutes=int((end - start).total_seconds() // 60), title=title, kind=kind, level=level,
            thematiques=tuple(thematiques or ()), materiel=MATERIEL_OF_KIND.get(kind, ()), venue=venue,
            address=address, postcode=postcode, commune=commune, structure=structure,
            animators=tuple(animators.get(key, ())), named=tuple(found.named),
            already_accompanied=found.already,
            by_gender={code: anonymous if code == UNKNOWN else 0 for code in GENDERS},
            by_age={code: found.age[code] for code in AGE_BRACKETS},
            by_status={code: found.status[code] for code in SOCIAL_STATUSES}))
    return sheets


def _raw(column):
    """A UUID column read as the database stores it: the rows of a year are counted and grouped
    by these keys, and converting tens of thousands of them to UUID objects would cost more than
    the queries."""
    return type_coerce(column, String)


def _participants(db: Session, held: Select, starts: dict[str, datetime]) -> defaultdict[str, _Counts]:
    counts: defaultdict[str, _Counts] = defaultdict(_Counts)
    present = db.execute(
        select(_raw(Registration.workshop_id), _raw(Registration.family_id), Registration.adults_present,
               Registration.children_present, Family.has_naming_consent)
        .join(Family, Family.id == Registration.family_id)
        .where(Registration.workshop_id.in_(held), Registration.status == PRESENT,
               Registration.deleted_dt.is_(None))).all()
    first_seen = _first_presence(db, held)
    guardians = _guardians(db, held)
    for workshop_key, family_key, adults, children, consent in present:
        found = counts[workshop_key]
        if consent:
            named = guardians.get(family_key, ())[:adults]
            found.named += named
            adults -= len(named)
        found.age[UNKNOWN] += adults + children
        found.status[UNKNOWN] += adults
        found.status[CHILD_STATUS] += children
        if first_seen[family_key] < starts[workshop_key]:
            found.already += adults + children
    for workshop_key, bracket, status, number in db.execute(
            select(_raw(AnonymousHeadcount.workshop_id), AnonymousHeadcount.age_bracket,
                   AnonymousHeadcount.social_status, AnonymousHeadcount.count)
            .where(AnonymousHeadcount.workshop_id.in_(held), AnonymousHeadcount.deleted_dt.is_(None))):
        counts[workshop_key].age[bracket] += number
        counts[workshop_key].status[status] += number
    return counts


def _present_families(held: Select) -> Select:
    return select(Registration.family_id).where(
        Registration.workshop_id.in_(held), Registration.status == PRESENT, Registration.deleted_dt.is_(None))


def _first_presence(db: Session, held: Select) -> dict[str, datetime]:
    """When each family present in these ateliers was first present at one (any structure, any
    time): its people are "already accompanied" at a later atelier."""
    return dict(db.execute(
        select(_raw(Registration.family_id), func.min(Workshop.start_dt))
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(Registration.family_id.in_(_present_families(held)), Registration.status == PRESENT,
               Registration.deleted_dt.is_(None), Workshop.deleted_dt.is_(None),
               Workshop.status != "cancelled")
        .group_by(Registration.family_id)).all())


def _guardians(db: Session, held: Select) -> dict[str, list[NamedParticipant]]:
    """The live guardians of the families present that agreed to be named, by family, in order."""
    named_families = select(Family.id).where(Family.id.in_(_present_families(held)),
                                             Family.has_naming_consent.is_(True))
    found: dict[str, list[NamedParticipant]] = defaultdict(list)
    for family_key, guardian_id, last, first, phone, email, relation, commune in db.execute(
            select(_raw(Guardian.family_id), Guardian.id, Guardian.last_name, Guardian.first_name,
                   Guardian.phone, Guardian.email, Guardian.relation, Family.commune)
            .join(Family, Family.id == Guardian.family_id)
            .where(Guardian.family_id.in_(named_families), Guardian.deleted_dt.is_(None))
            .order_by(Guardian.family_id, Guardian.position)):
        found[family_key].append(NamedParticipant(guardian_id, last, first, phone, email,
                                                  GENDER_OF_RELATION.get(relation, UNKNOWN), commune))
    return found


def _animators(db: Session, held: Select) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for workshop_key, name in db.execute(
            select(_raw(WorkshopAnimator.workshop_id), User.display_name)
            .join(User, User.id == WorkshopAnimator.user_id)
            .where(WorkshopAnimator.workshop_id.in_(held), WorkshopAnimator.deleted_dt.is_(None))
            .order_by(User.display_name)):
        found[workshop_key].append(name)
    return found


@dataclass(frozen=True)
class Beneficiary:
    """A named guardian over a period: one row of La Coop's beneficiaries import."""

    person: NamedParticipant
    ateliers: int  # ateliers of the period where they were named


def list_beneficiaries(sheets: list[CraSheet]) -> list[Beneficiary]:
    """Every guardian named in the reports, once, by last then first name."""
    people: dict[uuid.UUID, NamedParticipant] = {}
    seen: Counter = Counter()
    for sheet in sheets:
        for person in sheet.named:
            people[person.guardian_id] = person
            seen[person.guardian_id] += 1
    return [Beneficiary(person, seen[person.guardian_id]) for person in in_name_order(people.values())]
