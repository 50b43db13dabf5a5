"""Made-up ateliers, families and attendance for demonstrations and benchmarks.

Everything goes through the features' services, so demo data obeys the same
rules as real data. Names are drawn from a fixed seed: two runs on empty
databases give the same households.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.models import utcnow
from workshops.families import attendance_services, registration_services
from workshops.families.models import Family
from workshops.families.normalize import normalize_phone
from workshops.families.registration_services import NOTICE_VERSION
from workshops.families.services import ChildData, FamilyData, GuardianData, create_family
from workshops.resources.models import Resource
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Venue, Workshop
from workshops.scheduling.workshop_services import WorkshopData, close_workshop, save_workshop

LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Girard", "Roux", "Fontaine", "Chevalier",
    "Yilmaz", "N’Diaye", "Nguyen", "Kowalski", "Haddad", "Benali", "Traoré", "Da Silva", "Petrenko",
    "Lefèvre", "Rousseau", "Gauthier", "Perrin", "Mercier", "Boyer", "Blanc", "Guérin", "Diallo",
    "Kaya", "Ferreira", "Bondarenko", "Mahamat", "Said", "Lemoine", "Caron", "Renaud", "Brunet",
)
FIRST_NAMES = (
    "Élodie", "Nadia", "Sébastien", "Fatou", "Thi Huong", "Karim", "Olena", "Aylin", "João",
    "Marie", "Stéphane", "Aminata", "Loïc", "Samira", "Mehmet", "Isabelle", "Franck", "Nathalie",
    "Youssef", "Céline", "Oksana", "Mamadou", "Sandrine", "Ali", "Ana", "Christelle", "Rachid",
)
CHILD_NAMES = (
    "Zoé", "Lucas", "Inès", "Noah", "Lina", "Adam", "Chloé", "Yanis", "Léa", "Rayan", "Emma",
    "Ibrahim", "Manon", "Mohamed", "Jade", "Eliott", "Sofia", "Hugo", "Maëlys", "Ilyes",
)
LANGUAGES = ("fr",) * 12 + ("ar", "ar", "tr", "uk", "pt", "en")
LEVELS = ("6e", "5e", "4e", "3e")


@dataclass(frozen=True)
class ActivityCounts:
    """What a run created."""

    workshops: int
    families: int
    registrations: int


def make_family_data(rng: random.Random, structure_id, colleges: list[Structure]) -> FamilyData:
    """A believable household: one or two guardians, one to three collégiens."""
    last = rng.choice(LAST_NAMES)
    guardians = [GuardianData(rng.choice(FIRST_NAMES), last, phone=_phone(rng),
                              language=rng.choice(LANGUAGES), relation=rng.choice(("mother", "father")))]
    if rng.random() < 0.3:
        guardians.append(GuardianData(rng.choice(FIRST_NAMES), last, relation="guardian"))
    college = rng.choice(colleges) if colleges else None
    children = tuple(ChildData(rng.choice(CHILD_NAMES), college.id if college else None, rng.choice(LEVELS))
                     for _ in range(rng.choice((1, 1, 2, 3))))
    follow_up = rng.random() < 0.6
    return FamilyData(
        guardians=tuple(guardians), children=children,
        commune=college.commune if college else "",
        computer_wanted=rng.choice((None, None, "desktop", "laptop")), origin="college_list",
        notice_version=NOTICE_VERSION, notice_date=to_local(utcnow()).date(),
        # Half of those who accept a follow-up also accept to be named (no extra draw: the
        # rest of the demo stays the same).
        has_follow_up_consent=follow_up, has_naming_consent=follow_up and len(children) % 2 == 1,
        structure_id=structure_id)


def _phone(rng: random.Random) -> str:
    """A mobile number from an allocated range (most households give one)."""
    if rng.random() >= 0.85:
        return ""
    while not normalize_phone(number := f"0{rng.choice((6, 7))}{rng.randrange(10**8):08d}").e164:
        pass
    return number


def _workshop_data(rng: random.Random, day: date, venue: Venue, structure_id, animator: User,
                   resources: list[Resource], kind: str) -> WorkshopData:
    title = {"e_parentalite": "Les écrans et nos enfants",
             "remise_equipement": "Remise d'ordinateurs et prise en main",
             "mixte": "Ordinateur et ENT du collège"}[kind]
    start = rng.choice((time(9, 30), time(14, 0), time(17, 30)))
    return WorkshopData(
        title=title, day=day, start_time=start, end_time=time(start.hour + 2, start.minute),
        venue_id=venue.id, structure_id=structure_id, kind=kind, capacity=rng.choice((12, 15, 20)),
        level="debutant", languages=("fr",), animator_ids=(animator.id,),
        resource_ids=tuple(r.id for r in rng.sample(resources, min(3, len(resources)))))


def load_activity(db: Session, actor: User, *, families: int, workshops: int,
                  registrations_per_workshop: int, seed: int = 86) -> ActivityCounts:
    """Create families, ateliers spread from six months ago to two months ahead,
    and registrations; past ateliers get check-ins, a headcount and are closed.

    Flushes, never commits. Raises ValidationFailed if generated data breaks a rule.
    """
    rng = random.Random(seed)  # noqa: S311 (made-up data, reproducible on purpose)
    structure_id = actor.structure_id
    venues = list(db.scalars(select(Venue).where(Venue.is_active.is_(True)).order_by(Venue.name)))
    colleges = list(db.scalars(select(Structure).where(Structure.kind == "college").order_by(Structure.name)))
    resources = list(db.scalars(select(Resource).order_by(Resource.name)))
    households = [create_family(db, make_family_data(rng, structure_id, colleges), actor)
                  for _ in range(families)]
    made_registrations = 0
    for day in _days(rng, workshops):
        kind = rng.choice(("e_parentalite", "e_parentalite", "remise_equipement", "mixte"))
        workshop = save_workshop(db, _workshop_data(rng, day, rng.choice(venues), structure_id, actor,
                                                    resources, kind), actor)
        made_registrations += _attend(db, rng, workshop, rng.sample(
            households, min(registrations_per_workshop, len(households))), actor)
    return ActivityCounts(workshops, families, made_registrations)


def _days(rng: random.Random, count: int) -> Iterator[date]:
    today = to_local(utcnow()).date()
    for _ in range(count):
        yield today + timedelta(days=rng.randrange(-180, 60))


def _attend(db: Session, rng: random.Random, workshop: Workshop, chosen: list[Family], actor: User) -> int:
    is_past = workshop.end_dt < utcnow()
    for family in chosen:
        registration_services.register_family(db, workshop, family, actor, allow_overbooking=True)
        if is_past and rng.random() < 0.8:
            registration_services.check_in(db, workshop, family, actor, adults=rng.choice((1, 1, 2)),
                                           children=rng.choice((0, 0, 1)),
                                           at=workshop.start_dt + timedelta(minutes=rng.randrange(20)))
    if is_past:
        attendance_services.set_headcount(db, workshop, "quarante_cinquante_neuf", "en_emploi",
                                          rng.randrange(4), actor)
        close_workshop(db, workshop, actor)
    return len(chosen)
