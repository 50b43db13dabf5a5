"""The managers' indicators on a small world whose figures are counted by hand below
(issue 7, parts 1, 3 and 5).

The world, all times Paris, period 2026-01-01 to 2026-06-30:
- W1 e-parentalité, home structure, venue V1 (collège Jules Verne, EPCI Grand Poitiers),
  10 March, animated by Camille: F1 present (2 adults, 1 child), F2 present (1 adult),
  F3 registered only, F4 absent; anonymous 3 × (40-59, in work) + 2 × (70+, retired);
  resources Lire en Vienne and Enseigno presented; Lire en Vienne shown to F1 (account
  opened) and F2. Laptop E1 given to F1 there.
- W2 e-parentalité, home, venue V2 (médiathèque de Civray, EPCI Civraisien), 14 April:
  F1 present (1 adult), F4 present (1 adult, 2 children); Lire en Vienne presented and shown
  to F1 again; Enseigno shown to F4 (account opened).
- W3 remise d'équipement, other structure (La Poste), V1, 20 April: F2 (1 adult) and F5
  (2 adults) present; anonymous 1 × (40-59, in work). Desktop E3 lent to F2 (due 1 May,
  so overdue now). Desktop E4 given to F4 then voided (does not count).
- W4 cancelled (home, V1, 20 March) with 5 anonymous: never counted.
- W5 held (home, V2, 5 May) with nobody recorded: the collection status lists it.
- W6 (1 December 2025, before the period) with F3 present: outside.

By hand: ateliers held 4 (3 e-parentalité, 1 remise); distinct families present 4 (F1, F2,
F4, F5) for 6 attendances; named adults 2+1+1+1+1+2 = 8, children 1+2 = 3; anonymous 6;
people 17; per EPCI: Grand Poitiers 3 (F1, F2, F5), Civraisien 2 (F1, F4); structures
involved 3 (the two organisers and the collège owning V1); machines: 1 given (laptop, good,
Jules Verne), 1 lent (desktop, fair, Camille Guérin); stock today 3 in stock (E2, E4, E5),
1 on loan and overdue; Lire en Vienne presented at 2 ateliers, shown to 2 families, 1
account; Enseigno 1 atelier, 1 family, 1 account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from workshops import create_app
from workshops.auth.models import Epci, Structure, User
from workshops.equipment import services as equipment_services
from workshops.extensions import db as _db
from workshops.families.models import AnonymousHeadcount, FamilyResource, Registration
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.reports import queries, status_queries
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop, WorkshopAnimator, WorkshopResource
from workshops.sync.models import Device

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
TODAY = date(2026, 7, 1)
PERIOD = queries.Filters(date(2026, 1, 1), date(2026, 6, 30))
HOSTILE = '=HYPERLINK("http://evil.example","clic")'


@dataclass
class World:
    ids: dict

    def __getitem__(self, name):
        return self.ids[name]


def _paris(day: date, hour: int = 18) -> datetime:
    # Paris is UTC+1 before 29 March 2026 and UTC+2 after: an evening stays the same day.
    return datetime(day.year, day.month, day.day, hour - 2, 0, tzinfo=UTC)


def build_reports_world(db) -> World:
    """The world above, committed; returns the ids by name."""
    poitiers = Epci(siren="200069854", name="CU Grand Poitiers")
    civray = Epci(siren="200070043", name="CC du Civraisien en Poitou")
    home = Structure(name="Département de la Vienne - DAS", kind="departement", epci=poitiers)
    other = Structure(name="La Poste", kind="la_poste")
    college = Structure(name="Collège Jules Verne", kind="college", epci=poitiers)
    v1 = Venue(name="Collège Jules Verne", commune="Poitiers", epci=poitiers, structure=college,
               kind="college")
    v2 = Venue(name="Médiathèque de Civray", commune="Civray", epci=civray)
    camille = User(username="camille", display_name="Camille", role="conseiller", structure=home,
                   password_hash="-")
    manager = User(username="alex", display_name="Alex", role="manager", structure=other, password_hash="-")
    db.add_all([poitiers, civray, home, other, college, v1, v2, camille, manager])
    db.flush()

    def atelier(title, kind, structure, venue, day, status="planned"):
        start = _paris(day)
        row = Workshop(title=title, kind=kind, structure=structure, venue=venue, start_dt=start,
                       end_dt=start + timedelta(hours=2), status=status, thematiques=["parentalite"])
        db.add(row)
        return row

    w1 = atelier("Parents et numérique", "e_parentalite", home, v1, date(2026, 3, 10))
    w2 = atelier(HOSTILE, "e_parentalite", home, v2, date(2026, 4, 14), status="held")
    w3 = atelier("Remise d'ordinateurs", "remise_equipement", other, v1, date(2026, 4, 20))
    w4 = atelier("Annulé", "e_parentalite", home, v1, date(2026, 3, 20), status="cancelled")
    w5 = atelier("Sans feuille", "e_parentalite", home, v2, date(2026, 5, 5))
    w6 = atelier("Décembre", "e_parentalite", home, v1, date(2025, 12, 1))
    db.add(WorkshopAnimator(workshop=w1, user=camille))
    db.flush()

    def family(name, structure=home):
        return create_family(db, FamilyData(guardians=(GuardianData(first_name="Awa", last_name=name),),
                                            structure_id=structure.id, notice_version="2026-01"), manager)

    f1, f2, f3, f4 = (family(n) for n in ("Martin", "Bernard", "Petit", "Durand"))
    f5 = family("Moreau", other)

    def came(w, f, status="attended", adults=0, children=0):
        db.add(Registration(workshop_id=w.id, family_id=f.id, status=status, adults_present=adults,
                            children_present=children))

    came(w1, f1, adults=2, children=1)
    came(w1, f2, adults=1)
    came(w1, f3, status="registered")
    came(w1, f4, status="absent")
    came(w2, f1, adults=1)
    came(w2, f4, adults=1, children=2)
    came(w3, f2, adults=1)
    came(w3, f5, adults=2)
    came(w6, f3, adults=1)
    for w, bracket, status, count in ((w1, "quarante_cinquante_neuf", "en_emploi", 3),
                                      (w1, "soixante_dix_plus", "retraite", 2),
                                      (w3, "quarante_cinquante_neuf", "en_emploi", 1),
                                      (w4, "vingt_cinq_trente_neuf", "sans_emploi", 5)):
        db.add(AnonymousHeadcount(workshop_id=w.id, age_bracket=bracket, social_status=status, count=count))

    lire, enseigno = Resource(name="Lire en Vienne"), Resource(name="Enseigno")
    db.add_all([lire, enseigno])
    db.flush()
    for w, r in ((w1, lire), (w1, enseigno), (w2, lire)):
        db.add(WorkshopResource(workshop_id=w.id, resource_id=r.id, is_presented=True))
    db.add(WorkshopResource(workshop_id=w3.id, resource_id=enseigno.id, is_presented=False))
    for w, f, r, account in ((w1, f1, lire, True), (w1, f2, lire, False), (w2, f1, lire, False),
                             (w2, f4, enseigno, True)):
        db.add(FamilyResource(workshop_id=w.id, family_id=f.id, resource_id=r.id, has_opened_account=account))

    def machine(tag, kind, grade, origin):
        return equipment_services.add_equipment(db, equipment_services.EquipmentData(
            asset_tag=tag, structure_id=home.id, kind=kind, grade=grade, origin=origin), manager)

    e1 = machine("LR-0001", "laptop", "good", "Collège Jules Verne")
    machine("LR-0002", "laptop", "very_good", "Collège Jules Verne")
    e3 = machine("LR-0003", "desktop", "fair", "Collège Camille Guérin")
    e4 = machine("LR-0004", "desktop", "good", "Collège Camille Guérin")
    machine("LR-0005", "tablet", None, "")
    equipment_services.hand_over(db, e1, f1, manager, mode="gift", workshop=w1, now=w1.start_dt)
    equipment_services.hand_over(db, e3, f2, manager, mode="loan", workshop=w3, due_on=date(2026, 5, 1),
                                 now=w3.start_dt)
    voided = equipment_services.hand_over(db, e4, f4, manager, mode="gift", workshop=w2, now=w2.start_dt)
    equipment_services.void_handover(db, voided, manager, "Wrong machine", now=w2.start_dt)
    db.commit()
    names = {"home": home, "other": other, "college": college, "v1": v1, "v2": v2, "camille": camille,
             "manager": manager, "poitiers": poitiers, "civray": civray, "w1": w1, "w5": w5, "f5": f5}
    return World({name: row.id for name, row in names.items()})


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, monkeypatch):
    """A session on a SQLite file, then on PostgreSQL when WORKSHOPS_TEST_POSTGRES_URL is set:
    the aggregates must give the same figures on the laptop and on the hub."""
    url = f"sqlite:///{tmp_path / 'reports.sqlite'}"
    if request.param == "postgresql":
        url = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL") or pytest.skip(
            "set WORKSHOPS_TEST_POSTGRES_URL to run this on PostgreSQL")
    monkeypatch.setenv("WORKSHOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": url,
                      "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context():
        _db.drop_all()
        _db.create_all()
        yield _db.session
        _db.session.rollback()
        if request.param == "postgresql":
            _db.drop_all()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def world(db):
    return build_reports_world(db)


def _user(db, world, name):
    return db.get(User, world[name])


def test_the_manager_sees_the_figures_counted_by_hand(db, world):
    figures = queries.get_indicators(db, _user(db, world, "manager"), PERIOD, NOW, TODAY)
    assert figures.ateliers_by_kind == {"e_parentalite": 3, "remise_equipement": 1}
    assert (figures.families_reached, figures.attendances) == (4, 6)
    assert (figures.adults_named, figures.children_named, figures.anonymous_total) == (8, 3, 6)
    assert figures.people == 17
    assert figures.anonymous == {("quarante_cinquante_neuf", "en_emploi"): 4,
                                 ("soixante_dix_plus", "retraite"): 2}
    assert figures.structures_by_kind == {"departement": 1, "la_poste": 1, "college": 1}


def test_machines_handed_over_against_the_stock(db, world):
    figures = queries.get_indicators(db, _user(db, world, "manager"), PERIOD, NOW, TODAY)
    handed = figures.handed
    assert (handed.totals["gift"], handed.totals["loan"]) == (1, 1)  # the voided gift is not counted
    assert handed.by_kind["laptop"]["gift"] == 1 and handed.by_kind["desktop"]["loan"] == 1
    assert handed.by_grade["good"]["gift"] == 1 and handed.by_grade["fair"]["loan"] == 1
    assert handed.by_origin == {"Collège Jules Verne": {"gift": 1}, "Collège Camille Guérin": {"loan": 1}}
    assert figures.stock.totals["in_stock"] == 3 and figures.stock.totals["overdue"] == 1


def test_resources_presented_and_accounts_opened(db, world):
    figures = queries.get_indicators(db, _user(db, world, "manager"), PERIOD, NOW, TODAY)
    assert [(r.name, r.ateliers, r.families, r.accounts) for r in figures.resources] == [
        ("Lire en Vienne", 2, 2, 1), ("Enseigno", 1, 1, 1)]


def test_parents_reached_per_epci_and_ateliers_per_month(db, world):
    assert queries.list_families_by_epci(db, PERIOD, NOW) == [
        ("CU Grand Poitiers", 3), ("CC du Civraisien en Poitou", 2)]
    months = queries.list_held_months(db, PERIOD, NOW)
    assert months == [(date(2026, m, 1), n) for m, n in ((1, 0), (2, 0), (3, 1), (4, 2), (5, 1), (6, 0))]


@pytest.mark.parametrize("narrowed,ateliers,families", [
    ({"epci_id": "civray"}, 2, 2),            # W2, W5: F1, F4
    ({"venue_id": "v1"}, 2, 3),               # W1, W3: F1, F2, F5
    ({"college_id": "college"}, 2, 3),        # V1 belongs to the collège
    ({"structure_id": "other"}, 1, 2),        # W3: F2, F5
    ({"conseiller_id": "camille"}, 1, 2),     # W1: F1, F2
])
def test_each_filter_narrows_the_figures(db, world, narrowed, ateliers, families):
    filters = queries.Filters(PERIOD.date_from, PERIOD.date_to, **{k: world[v] for k, v in narrowed.items()})
    figures = queries.get_indicators(db, _user(db, world, "manager"), filters, NOW, TODAY)
    assert (figures.ateliers, figures.families_reached) == (ateliers, families)


def test_the_period_is_made_of_paris_days(db, world):
    march_10 = queries.Filters(date(2026, 3, 10), date(2026, 3, 10))
    assert queries.count_ateliers_by_kind(db, march_10, NOW) == {"e_parentalite": 1}
    after = queries.Filters(date(2026, 3, 11), date(2026, 3, 19))
    assert queries.count_ateliers_by_kind(db, after, NOW) == {}


def test_an_atelier_not_ended_yet_is_not_held(db, world):
    before_w3_ends = datetime(2026, 4, 20, 17, 0, tzinfo=UTC)
    assert queries.count_ateliers_by_kind(db, PERIOD, before_w3_ends) == {"e_parentalite": 2}


def test_a_conseiller_sees_only_their_structure(db, world):
    figures = queries.get_indicators(db, _user(db, world, "camille"), PERIOD, NOW, TODAY)
    # W1, W2, W5 of the home structure: F1, F2, F4; even when asking for La Poste's.
    assert (figures.ateliers, figures.families_reached) == (3, 3)
    asked = queries.Filters(PERIOD.date_from, PERIOD.date_to, structure_id=world["other"])
    assert queries.get_indicators(db, _user(db, world, "camille"), asked, NOW, TODAY).ateliers == 3


def test_collection_status_lists_ateliers_without_attendance(db, world):
    missing = status_queries.list_missing_attendance(db, PERIOD, NOW)
    assert [m.id for m in missing] == [world["w5"]]
    assert status_queries.count_conflicts(db) == 0


def test_stale_laptops_are_those_silent_for_more_than_n_days(db, world):
    db.add_all([
        Device(name="Portable Civray", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=30),
                         last_seen_dt=NOW - timedelta(days=8)),
        Device(name="Portable Poitiers", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=30),
                         last_seen_dt=NOW - timedelta(days=2)),
        Device(name="Jamais", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=3)),
        Device(name="Volé", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=30),
                         revoked_dt=NOW - timedelta(days=20)),
    ])
    db.flush()
    # "Jamais" was enrolled 3 days ago and never synced: late only past 3 days.
    stale = status_queries.list_stale_devices(db, NOW, 7)
    assert [d.name for d in stale] == ["Portable Civray"]
    assert [d.name for d in status_queries.list_stale_devices(db, NOW, 1)] == [
        "Jamais", "Portable Civray", "Portable Poitiers"]

