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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.families.models import AnonymousHeadcount, Family, Guardian, Registration
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
    query = (select(Workshop.id, Workshop.start_dt, Workshop.end_dt, Workshop.title, Workshop.kind,
                    Workshop.level, Workshop.thematiques, Venue.name, Venue.address, Venue.postcode,
                    Venue.commune, Structure.name)
             .join(Venue, Venue.id == Workshop.venue_id)
             .join(Structure, Structure.id == Workshop.structure_id)
             .where(*workshop_conditions(filters, now))
             .order_by(Workshop.start_dt, Workshop.title))
    if workshop_ids is not None:
        query = query.where(Workshop.id.in_(workshop_ids))
    ateliers = db.execute(query).all()
    ids = [row[0] for row in ateliers]
    counts = _participants(db, ids, {row[0]: row[1] for row in ateliers})
    animators = _animators(db, ids)
    sheets = []
    for (workshop_id, start, end, title, kind, level, thematiques, venue, address, postcode,
         commune, structure) in ateliers:
        found = counts[workshop_id]
        anonymous = sum(found.age.values())
        sheets.append(CraSheet(
            workshop_id=workshop_id, day=to_local(start).date(),
            minutes=int((end - start).total_seconds() // 60), title=title, kind=kind, level=level,
            thematiques=tuple(thematiques or ()), materiel=MATERIEL_OF_KIND.get(kind, ()), venue=venue,
            address=address, postcode=postcode, commune=commune, structure=structure,
            animators=tuple(animators.get(workshop_id, ())), named=tuple(found.named),
            already_accompanied=found.already,
            by_gender={code: anonymous if code == UNKNOWN else 0 for code in GENDERS},
            by_age={code: found.age[code] for code in AGE_BRACKETS},
            by_status={code: found.status[code] for code in SOCIAL_STATUSES}))
    return sheets


def _participants(db: Session, ids: list[uuid.UUID], starts: dict[uuid.UUID, datetime]
                  ) -> defaultdict[uuid.UUID, _Counts]:
    counts: defaultdict[uuid.UUID, _Counts] = defaultdict(_Counts)
    if not ids:
        return counts
    present = db.execute(
        select(Registration.workshop_id, Registration.family_id, Registration.adults_present,
               Registration.children_present, Family.has_naming_consent, Family.commune)
        .join(Family, Family.id == Registration.family_id)
        .where(Registration.workshop_id.in_(ids), Registration.status == PRESENT,
               Registration.deleted_dt.is_(None))).all()
    families = {row.family_id for row in present}
    first_seen = _first_presence(db, families)
    guardians = _guardians(db, {row.family_id for row in present if row.has_naming_consent})
    for row in present:
        found = counts[row.workshop_id]
        named = guardians.get(row.family_id, [])[:row.adults_present] if row.has_naming_consent else []
        found.named += [NamedParticipant(g.id, g.last_name, g.first_name, g.phone, g.email,
                                         GENDER_OF_RELATION.get(g.relation, UNKNOWN), row.commune)
                        for g in named]
        adults, children = row.adults_present - len(named), row.children_present
        found.age[UNKNOWN] += adults + children
        found.status[UNKNOWN] += adults
        found.status[CHILD_STATUS] += children
        if first_seen[row.family_id] < starts[row.workshop_id]:
            found.already += adults + children
    for workshop_id, bracket, status, number in db.execute(
            select(AnonymousHeadcount.workshop_id, AnonymousHeadcount.age_bracket,
                   AnonymousHeadcount.social_status, AnonymousHeadcount.count)
            .where(AnonymousHeadcount.workshop_id.in_(ids), AnonymousHeadcount.deleted_dt.is_(None))):
        counts[workshop_id].age[bracket] += number
        counts[workshop_id].status[status] += number
    return counts


def _first_presence(db: Session, families: set[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """When each family was first present at an atelier (any structure, any time)."""
    if not families:
        return {}
    return dict(db.execute(
        select(Registration.family_id, func.min(Workshop.start_dt))
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(Registration.family_id.in_(families), Registration.status == PRESENT,
               Registration.deleted_dt.is_(None), Workshop.deleted_dt.is_(None),
               Workshop.status != "cancelled")
        .group_by(Registration.family_id)).all())


def _guardians(db: Session, families: set[uuid.UUID]) -> dict[uuid.UUID, list[Guardian]]:
    found: dict[uuid.UUID, list[Guardian]] = defaultdict(list)
    if families:
        for guardian in db.scalars(select(Guardian).where(
                Guardian.family_id.in_(families), Guardian.deleted_dt.is_(None))
                .order_by(Guardian.family_id, Guardian.position)):
            found[guardian.family_id].append(guardian)
    return found


def _animators(db: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    if ids:
        for workshop_id, name in db.execute(
                select(WorkshopAnimator.workshop_id, User.display_name)
                .join(User, User.id == WorkshopAnimator.user_id)
                .where(WorkshopAnimator.workshop_id.in_(ids), WorkshopAnimator.deleted_dt.is_(None))
                .order_by(User.display_name)):
            found[workshop_id].append(name)
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
    return [Beneficiary(person, seen[key]) for key, person in sorted(
        people.items(), key=lambda item: (item[1].last_name.casefold(), item[1].first_name.casefold()))]
