"""Registrations, check-in, walk-ins, headcounts, sheet re-entry and resources shown: the
services and queries, without HTTP. The fixtures here are reused by test_checkin.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from workshops.auth.models import Epci, Structure, User
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.models import derived_id
from workshops.families import attendance_services as attendance
from workshops.families import registration_queries as queries
from workshops.families import registration_services as services
from workshops.families.models import AnonymousHeadcount, Family, FamilyResource, Registration
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop

START = datetime(2026, 3, 14, 13, 30, tzinfo=UTC)  # a Saturday afternoon in Poitiers


def build_world(db) -> SimpleNamespace:
    """Two structures, a venue, a conseiller of each and a manager, committed."""
    epci = Epci(siren="200069854", name="CU Grand Poitiers")
    home = Structure(name="Département de la Vienne - DAS", kind="departement", epci=epci)
    other = Structure(name="La Poste", kind="la_poste")
    venue = Venue(name="Collège Jules Verne", commune="Poitiers", epci=epci)
    people = {
        "conseiller": User(username="camille", display_name="Camille", role="conseiller",
                           structure=home, password_hash="-"),
        "outsider": User(username="dominique", display_name="Dominique", role="conseiller",
                         structure=other, password_hash="-"),
        "manager": User(username="alex", display_name="Alex", role="manager", structure=other,
                        password_hash="-"),
    }
    db.add_all([epci, home, other, venue, *people.values()])
    db.commit()
    return SimpleNamespace(home=home, other=other, venue=venue, **people)


def new_workshop(db, world, capacity=None, status="planned", structure=None,
                 title="Parents et numérique") -> Workshop:
    """A committed atelier of `structure` (default: the home structure)."""
    workshop = Workshop(title=title, start_dt=START, end_dt=START + timedelta(hours=2),
                        venue=world.venue, structure=structure or world.home, capacity=capacity,
                        status=status)
    db.add(workshop)
    db.commit()
    return workshop


def new_family(db, world, last_name, first_name, phone="", structure=None) -> Family:
    """A committed household of one guardian, created by the households service."""
    data = FamilyData(guardians=(GuardianData(first_name=first_name, last_name=last_name, phone=phone),),
                      structure_id=(structure or world.home).id, notice_version="2026-01")
    family = create_family(db, data, world.manager)
    db.commit()
    return family


@pytest.fixture
def world(db):
    return build_world(db)


@pytest.fixture
def make_workshop(db, world):
    """make_workshop(capacity=..., status=..., structure=...) -> a committed atelier."""
    return lambda **options: new_workshop(db, world, **options)


@pytest.fixture
def make_family(db, world):
    """make_family("Martin", "Élodie", phone=..., structure=...) -> a committed household."""
    return lambda *names, **options: new_family(db, world, *names, **options)


def count(db, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.scalar(query)


# ---------- Registrations ----------

def test_registering_twice_gives_the_same_row_with_the_derived_id(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")

    first = services.register_family(db, workshop, family, world.conseiller)
    again = services.register_family(db, workshop, family, world.conseiller)

    assert first is again
    assert first.id == derived_id("registration", workshop.id, family.id)
    assert first.status == "registered"
    assert count(db, Registration, workshop_id=workshop.id) == 1


def test_an_invited_family_becomes_registered_but_a_present_one_is_not_downgraded(
        db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    registration = services.register_family(db, workshop, family, world.conseiller, status="invited")
    assert registration.status == "invited"
    services.register_family(db, workshop, family, world.conseiller)
    assert registration.status == "registered"
    services.check_in(db, workshop, family, world.conseiller)
    services.register_family(db, workshop, family, world.conseiller, status="invited")
    assert registration.status == "attended"


def test_capacity_counts_registered_and_present_not_invited(db, world, make_workshop, make_family):
    workshop = make_workshop(capacity=2)
    a, b, c, d = (make_family(name, "Anne") for name in ("Arnaud", "Bernard", "Chevalier", "Dupuis"))
    services.register_family(db, workshop, a, world.conseiller)
    services.check_in(db, workshop, b, world.conseiller)
    services.register_family(db, workshop, c, world.conseiller, status="invited")

    with pytest.raises(services.CapacityReached) as refused:
        services.register_family(db, workshop, d, world.conseiller)
    assert refused.value.capacity == 2
    assert "2" in str(refused.value.reasons[0][1])
    with pytest.raises(services.CapacityReached):
        services.register_family(db, workshop, c, world.conseiller)  # invited -> registered

    over = services.register_family(db, workshop, d, world.conseiller, allow_overbooking=True)
    assert over.status == "registered"
    figures = queries.counters(db, workshop)
    assert (figures.registered, figures.capacity, figures.invited) == (3, 2, 1)
    assert figures.is_over_capacity and figures.places_left == 0


def test_nobody_at_the_door_is_refused_for_capacity(db, world, make_workshop, make_family):
    workshop = make_workshop(capacity=1)
    services.register_family(db, workshop, make_family("Arnaud", "Anne"), world.conseiller)
    registration = services.check_in(db, workshop, make_family("Bernard", "Lucie"), world.conseiller)
    assert registration.status == "attended"


def test_set_status_checks_capacity_and_clears_the_check_in(db, world, make_workshop, make_family):
    workshop = make_workshop(capacity=1)
    present = services.check_in(db, workshop, make_family("Arnaud", "Anne"), world.conseiller, adults=2)
    excused = services.register_family(db, workshop, make_family("Bernard", "Lucie"), world.conseiller,
                                       status="excused")
    with pytest.raises(services.CapacityReached):
        services.set_status(db, excused, "registered", world.conseiller)
    services.set_status(db, present, "absent", world.conseiller)
    assert (present.status, present.checked_in_dt, present.adults_present) == ("absent", None, 0)
    services.set_status(db, excused, "registered", world.conseiller)
    assert excused.status == "registered"
    with pytest.raises(ValidationFailed):
        services.set_status(db, excused, "gone", world.conseiller)


def test_cancelled_ateliers_take_no_registration_check_in_or_headcount(db, world, make_workshop,
                                                                        make_family):
    workshop, family = make_workshop(status="cancelled"), make_family("Martin", "Élodie")
    with pytest.raises(ValidationFailed, match="cancelled"):
        services.register_family(db, workshop, family, world.conseiller)
    with pytest.raises(ValidationFailed):
        services.check_in(db, workshop, family, world.conseiller)
    with pytest.raises(ValidationFailed):
        attendance.set_headcount(db, workshop, "non_communique", "non_communique", 2, world.conseiller)
    assert count(db, Registration) == 0


def test_another_structures_atelier_or_family_is_not_allowed(db, world, make_workshop, make_family):
    mine, theirs = make_workshop(), make_workshop(structure=world.other)
    family, foreign = make_family("Martin", "Élodie"), make_family("Diallo", "Awa", structure=world.other)
    with pytest.raises(NotAllowed):
        services.register_family(db, theirs, foreign, world.conseiller)
    with pytest.raises(NotAllowed):
        services.check_in(db, mine, foreign, world.conseiller)
    with pytest.raises(NotAllowed):
        services.register_family(db, mine, family, world.outsider)
    # A manager sees every structure.
    assert services.register_family(db, mine, foreign, world.manager).status == "registered"


# ---------- Check-in ----------

def test_check_in_records_the_time_at_the_event_and_counts_once(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    services.register_family(db, workshop, family, world.conseiller)
    at = START + timedelta(minutes=4)

    first = services.check_in_family(db, workshop, family, world.conseiller, adults=2, children=1, at=at)
    again = services.check_in_family(db, workshop, family, world.conseiller,
                                     at=at + timedelta(minutes=20))

    assert first.previous_status == "registered" and again.was_present
    assert again.registration.checked_in_dt == at
    assert (again.registration.adults_present, again.registration.children_present) == (2, 1)
    figures = queries.counters(db, workshop)
    assert (figures.families_present, figures.adults_present, figures.children_present) == (1, 2, 1)


def test_a_family_not_on_the_list_can_be_checked_in(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    done = services.check_in_family(db, workshop, family, world.conseiller)
    assert done.previous_status is None
    assert done.registration.is_walk_in and done.registration.status == "attended"
    assert done.registration.checked_in_dt.tzinfo is not None
    assert (done.registration.adults_present, done.registration.children_present) == (1, 0)


def test_counts_are_corrected_without_a_second_arrival(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    services.check_in(db, workshop, family, world.conseiller)
    registration = services.check_in(db, workshop, family, world.conseiller, adults=2, children=3)
    assert (registration.adults_present, registration.children_present) == (2, 3)
    assert queries.counters(db, workshop).families_present == 1
    with pytest.raises(ValidationFailed):
        services.check_in(db, workshop, family, world.conseiller, adults=0, children=0)
    with pytest.raises(ValidationFailed):
        services.check_in(db, workshop, family, world.conseiller, adults=-1)


def test_undo_goes_back_to_the_previous_status(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    services.register_family(db, workshop, family, world.conseiller, status="invited")
    done = services.check_in_family(db, workshop, family, world.conseiller, adults=2)

    services.undo_check_in(db, done.registration, world.conseiller, previous_status=done.previous_status)

    assert done.registration.status == "invited"
    assert done.registration.checked_in_dt is None and done.registration.adults_present == 0
    assert queries.counters(db, workshop).families_present == 0
    services.undo_check_in(db, done.registration, world.conseiller)  # a second tap: nothing
    assert done.registration.status == "invited"


def test_undoing_the_check_in_of_a_family_not_on_the_list_removes_it(db, world, make_workshop,
                                                                      make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    done = services.check_in_family(db, workshop, family, world.conseiller)
    services.undo_check_in(db, done.registration, world.conseiller, previous_status=None)
    assert done.registration.deleted_dt is not None
    assert queries.sheet_order_roster(db, workshop) == []
    # Checked in again later: the same row comes back, never a second one.
    again = services.check_in(db, workshop, family, world.conseiller)
    assert again.id == done.registration.id and again.deleted_dt is None
    assert count(db, Registration, workshop_id=workshop.id) == 1


def test_a_naive_time_is_refused(db, world, make_workshop, make_family):
    with pytest.raises(ValueError):
        services.check_in(db, make_workshop(), make_family("Martin", "Élodie"), world.conseiller,
                          at=datetime(2026, 3, 14, 14, 0))  # noqa: DTZ001


# ---------- Walk-ins ----------

def test_a_walk_in_needs_the_notice(db, world, make_workshop):
    workshop = make_workshop()
    with pytest.raises(ValidationFailed) as refused:
        services.add_walk_in(db, workshop, world.conseiller, last_name="Nguyen", first_name="Thi",
                             phone="06 12 34 56 78", notice_given=False)
    assert [field for field, _ in refused.value.reasons] == ["notice_given"]
    assert count(db, Family) == 0


def test_a_walk_in_creates_the_family_with_the_notice_and_checks_it_in(db, world, make_workshop):
    workshop = make_workshop()
    registration = services.add_walk_in(
        db, workshop, world.conseiller, last_name="Nguyen", first_name="Thi", phone="06 12 34 56 78",
        notice_given=True, has_follow_up_consent=True, adults=2, children=1,
        at=datetime(2026, 3, 14, 23, 30, tzinfo=UTC))
    family = registration.family
    assert family.origin == "walk_in" and family.structure_id == workshop.structure_id
    assert family.notice_version == services.NOTICE_VERSION
    assert family.notice_date.isoformat() == "2026-03-15", "the day in Paris, not in UTC"
    assert family.has_follow_up_consent
    assert family.guardians[0].phone == "+33612345678"
    assert registration.is_walk_in and registration.status == "attended"
    assert (registration.adults_present, registration.children_present) == (2, 1)


def test_a_walk_in_that_looks_known_offers_the_duplicates_first(db, world, make_workshop, make_family):
    workshop = make_workshop()
    known = make_family("Martin", "Élodie", phone="0601020304")

    with pytest.raises(services.PossibleDuplicates) as found:
        services.add_walk_in(db, workshop, world.conseiller, last_name="MARTIN", first_name="elodie",
                             phone="", notice_given=True)
    assert [candidate.family.id for candidate in found.value.candidates] == [known.id]
    assert count(db, Family) == 1 and count(db, Registration) == 0

    forced = services.add_walk_in(db, workshop, world.conseiller, last_name="MARTIN", first_name="elodie",
                                  phone="", notice_given=True, force=True)
    assert forced.family_id != known.id
    assert count(db, Family) == 2


def test_walk_in_fields_are_checked(db, world, make_workshop):
    with pytest.raises(ValidationFailed) as refused:
        services.add_walk_in(db, make_workshop(), world.conseiller, last_name="", first_name="Thi",
                             phone="12", notice_given=True)
    assert {field for field, _ in refused.value.reasons} == {"last_name", "phone"}


# ---------- Headcount ----------

def test_headcount_rows_are_upserted_with_derived_ids(db, world, make_workshop):
    workshop = make_workshop()
    row = attendance.set_headcount(db, workshop, "quarante_cinquante_neuf", "en_emploi", 3, world.conseiller)
    assert row.id == derived_id("headcount", workshop.id, "quarante_cinquante_neuf", "en_emploi")
    attendance.set_headcount(db, workshop, "quarante_cinquante_neuf", "en_emploi", 5, world.conseiller)
    assert attendance.set_headcount(db, workshop, "moins_de_douze", "scolarise", 0, world.conseiller) is None
    assert count(db, AnonymousHeadcount) == 1
    assert queries.headcount_grid(db, workshop) == {("quarante_cinquante_neuf", "en_emploi"): 5}
    assert attendance.adjust_headcount(db, workshop, 1, world.conseiller) == 1
    assert attendance.adjust_headcount(db, workshop, -3, world.conseiller) == 0
    assert queries.counters(db, workshop).anonymous_total == 5


@pytest.mark.parametrize("bracket,status,number", [
    ("quarante_ans", "en_emploi", 1), ("moins_de_douze", "chomage", 1), ("moins_de_douze", "scolarise", -1),
])
def test_headcount_refuses_unknown_codes_and_negative_counts(db, world, make_workshop, bracket, status,
                                                             number):
    with pytest.raises(ValidationFailed):
        attendance.set_headcount(db, make_workshop(), bracket, status, number, world.conseiller)


def test_headcount_grid_is_all_or_nothing(db, world, make_workshop):
    workshop = make_workshop()
    with pytest.raises(ValidationFailed):
        attendance.set_headcounts(db, workshop, {("moins_de_douze", "scolarise"): 2,
                                                 ("moins_de_douze", "retraite"): 1000}, world.conseiller)
    assert count(db, AnonymousHeadcount) == 0


# ---------- Resources shown to each family ----------

def test_family_resources_are_recorded_per_family_with_derived_ids(db, world, make_workshop, make_family):
    workshop, family = make_workshop(), make_family("Martin", "Élodie")
    lire, pix, ent = (Resource(name=name, needs_account=True) for name in ("Lire en Vienne", "PIX", "ENT"))
    db.add_all([lire, pix, ent])
    db.flush()
    with pytest.raises(ValidationFailed):
        attendance.record_family_resources(db, workshop, family, [lire.id], [], world.conseiller)
    services.check_in(db, workshop, family, world.conseiller)

    attendance.record_family_resources(db, workshop, family, [lire.id, pix.id], [pix.id, ent.id],
                                       world.conseiller)
    assert queries.family_resources(db, workshop) == {family.id: {lire.id: False, pix.id: True,
                                                                  ent.id: True}}
    row = db.get(FamilyResource, derived_id("family_resource", workshop.id, family.id, pix.id))
    assert row.has_opened_account
    presented = {r.resource_id for r in workshop.resources if r.is_presented and r.deleted_dt is None}
    assert presented == {lire.id, pix.id, ent.id}, "shown to a family means presented at the atelier"

    attendance.record_family_resources(db, workshop, family, [lire.id], [], world.conseiller)
    assert queries.family_resources(db, workshop) == {family.id: {lire.id: False}}
    assert sum(r.is_presented for r in workshop.resources) == 3, "presented stays presented"
    assert count(db, FamilyResource) == 3, "unticked rows are tombstoned, not deleted"
    with pytest.raises(ValidationFailed):
        attendance.record_family_resources(db, workshop, family, [uuid.uuid4()], [], world.conseiller)


# ---------- Roster, search ----------

def test_sheet_order_roster_sorts_folded_names_and_puts_walk_ins_last(db, world, make_workshop,
                                                                      make_family):
    workshop = make_workshop()
    for last, first in (("Zola", "Émile"), ("élie", "Marc"), ("Eliot", "Anne"), ("N’Diaye", "Awa")):
        services.register_family(db, workshop, make_family(last, first), world.conseiller)
    services.check_in(db, workshop, make_family("Abel", "Luc"), world.conseiller)  # not on the list

    roster = queries.sheet_order_roster(db, workshop)

    assert [(row.number, row.last_name) for row in roster] == [
        (1, "élie"), (2, "Eliot"), (3, "N’Diaye"), (4, "Zola"), (5, "Abel")]
    assert roster[4].is_walk_in and roster[4].is_present


def test_checkin_search_lists_the_atelier_families_first(db, world, make_workshop, make_family):
    workshop = make_workshop()
    listed = make_family("Martinez", "Paula")
    services.register_family(db, workshop, listed, world.conseiller)
    other = make_family("Martin", "Élodie", phone="0601020304")
    make_family("Martin", "Awa", structure=world.other)  # another structure's family

    hits = queries.checkin_search(db, workshop, world.manager, "mart")
    assert [(hit.family_id, hit.status) for hit in hits] == [(listed.id, "registered"), (other.id, None)]
    assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.conseiller, "ELODIE")] \
        == [other.id]
    assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.conseiller, "01 02 03")] \
        == [other.id]
    assert queries.checkin_search(db, workshop, world.conseiller, "m") == []
    ndiaye = make_family("N’Diaye", "Awa")
    services.register_family(db, workshop, ndiaye, world.conseiller)
    for typed in ("ndi", "n'diaye", "NDIAYE awa"):
        assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.conseiller, typed)] \
            == [ndiaye.id], typed



def test_checkin_search_orders_listed_families_then_others_up_to_the_limit(db, world, make_workshop,
                                                                           make_family):
    workshop = make_workshop()
    # Many households of another structure sort before ours: they must not crowd ours out.
    for index in range(45):
        make_family(f"Aa{chr(97 + index // 26)}{chr(97 + index % 26)} Moreau", "Paul", structure=world.other)
    others = [make_family(name, "Luc") for name in ("Moreau", "Moreau-Blanc", "Moreaux")]
    listed = [make_family(name, first) for name, first in (("Zamoreau", "Anne"), ("N’Diaye-Moreau", "Awa"),
                                                           ("Bmoreau", "Eve"))]
    for family in listed:
        services.register_family(db, workshop, family, world.conseiller)
    removed = make_family("Moreauzz", "Zoé")  # its registration removed: among the others
    services.register_family(db, workshop, removed, world.conseiller).deleted_dt = START
    db.commit()

    hits = queries.checkin_search(db, workshop, world.manager, "moreau")
    registered = [listed[2].id, listed[1].id, listed[0].id]  # Bmoreau, N’Diaye-Moreau, Zamoreau
    assert [hit.family_id for hit in hits][:3] == registered
    assert all(hit.status == "registered" for hit in hits[:3])
    assert [(hit.family_id, hit.status) for hit in hits[3:]] \
        == [(family.id, None) for family in (*others, removed)]
    assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.manager, "moreau", limit=4)] \
        == [*registered, others[0].id]
    assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.manager, "moreau", limit=2)] \
        == registered[:2]
    for typed in ("ndiayemoreau", "NDIAYE moreau awa", "diaye-mor"):
        assert [hit.family_id for hit in queries.checkin_search(db, workshop, world.conseiller, typed)] \
            == [listed[1].id], typed
    assert queries.checkin_search(db, workshop, world.conseiller, "100%") == []


# ---------- Re-entry of the paper sheet ----------

def test_a_paper_sheet_is_recorded_in_one_go(db, world, make_workshop, make_family):
    workshop = make_workshop()
    came, away, sick = (make_family(name, "Anne") for name in ("Arnaud", "Bernard", "Chevalier"))
    rows = {f.id: services.register_family(db, workshop, f, world.conseiller) for f in (came, away, sick)}

    attendance.reenter_sheet(db, workshop, [
        attendance.SheetMark(rows[came.id].id, "attended", adults=2, children=1, is_signed_on_paper=True),
        attendance.SheetMark(rows[away.id].id, "absent"),
        attendance.SheetMark(rows[sick.id].id, "excused"),
        attendance.SheetWalkIn("Nguyen", "Thi", "0612345678", notice_given=True, adults=1, children=2),
    ], world.conseiller)

    statuses = {row.last_name: (row.status, row.adults_present, row.children_present)
                for row in queries.sheet_order_roster(db, workshop)}
    assert statuses == {"Arnaud": ("attended", 2, 1), "Bernard": ("absent", 0, 0),
                        "Chevalier": ("excused", 0, 0), "Nguyen": ("attended", 1, 2)}
    assert rows[came.id].is_signed_on_paper and rows[came.id].checked_in_dt is None


def test_sheet_walk_ins_that_look_known_write_nothing_until_chosen(db, world, make_workshop, make_family):
    workshop = make_workshop()
    known = make_family("Martin", "Élodie", phone="0601020304")
    first = services.register_family(db, workshop, make_family("Arnaud", "Anne"), world.conseiller)
    mark = attendance.SheetMark(first.id, "attended")
    typed = attendance.SheetWalkIn("Martin", "Elodie", "06 01 02 03 04", notice_given=True)

    with pytest.raises(services.PossibleDuplicates) as found:
        attendance.reenter_sheet(db, workshop, [mark, typed], world.conseiller)
    assert [c.family.id for c in found.value.by_row[0]] == [known.id]
    assert first.status == "registered" and count(db, Family) == 2

    chosen = attendance.SheetWalkIn("Martin", "Elodie", "", family_id=known.id)
    attendance.reenter_sheet(db, workshop, [mark, chosen], world.conseiller)
    assert first.status == "attended"
    assert queries.get_family_registration(db, workshop, known.id).status == "attended"
    assert count(db, Family) == 2


def test_sheet_rows_are_all_checked_before_anything_is_written(db, world, make_workshop, make_family):
    workshop = make_workshop()
    first = services.register_family(db, workshop, make_family("Arnaud", "Anne"), world.conseiller)
    foreign = services.register_family(db, make_workshop(title="Autre"), make_family("Bernard", "Luc"),
                                       world.conseiller)
    with pytest.raises(ValidationFailed) as refused:
        attendance.reenter_sheet(db, workshop, [
            attendance.SheetMark(first.id, "attended"),
            attendance.SheetMark(foreign.id, "absent"),
            attendance.SheetWalkIn("Nguyen", "Thi", notice_given=False),
        ], world.conseiller)
    fields = {field for field, _ in refused.value.reasons}
    assert fields == {"marks-1-status", "walk_ins-0-notice_given"}
    assert first.status == "registered"
