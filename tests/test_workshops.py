"""Ateliers: rules without HTTP (times across the clock change, codes, scope, life
cycle, duplicates and series), scoped queries, then thin view tests and the
object-level access table."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.models import derived_id
from workshops.extensions import db as _db
from workshops.resources.services import ResourceData, save_resource
from workshops.scheduling import queries, services
from workshops.scheduling import views as scheduling_views
from workshops.scheduling import workshop_services as ws
from workshops.scheduling.localtime import to_utc
from workshops.scheduling.models import Workshop, WorkshopAnimator, WorkshopResource

# Winter: the clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026.
NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
SPRING_SUNDAY = date(2026, 3, 29)
AUTUMN_SUNDAY = date(2026, 10, 25)


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """Accounts are made by the dozen here: hash their passwords cheaply."""
    monkeypatch.setattr(auth_services, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(autouse=True)
def frozen_now():
    """Every test runs on Monday 12 January 2026, 10:00 in Paris, unless it travels."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _user(db, role, structure_id=None, username=None, is_active=True):
    user = auth_services.create_user(db, auth_services.NewUser(
        username=username or f"{role}-{uuid.uuid4().hex[:8]}", display_name=f"{role.title()} Test",
        password=PASSWORD, role=role, structure_id=structure_id))
    user.is_active = is_active
    return user


@pytest.fixture
def world(app):
    """Reference rows, committed: two structures (a, b) with a conseiller each, a
    manager, an admin, a departed account, two venues and two resources. Ids and
    usernames only: each test reads the rows in its own session."""
    with app.app_context():
        db = _db.session
        epci = auth_services.save_epci(db, "200069854", "CU Grand Poitiers")
        a = auth_services.save_structure(db, auth_services.StructureData("Département DAS", "departement"))
        b = auth_services.save_structure(db, auth_services.StructureData("La Poste", "la_poste"))
        college = services.save_venue(db, services.VenueData(
            "Collège Jules Verne", "Poitiers", epci.id, "college"))
        mds = services.save_venue(db, services.VenueData(
            "MDS de Chauvigny", "Chauvigny", epci.id, "france_services"))
        enej = save_resource(db, ResourceData("Lire en Vienne", "lire.vienne.fr", "enej",
                                              descriptions={"fr": "Des livres."}))
        pix = save_resource(db, ResourceData("PIX", "pix.fr", "skills", descriptions={"fr": "Tests."}))
        users = {name: _user(db, role, structure, username=name, is_active=active)
                 for name, role, structure, active in (
                     ("camille", "conseiller", a.id, True), ("bruno", "conseiller", b.id, True),
                     ("dominique", "manager", a.id, True), ("alex", "admin", None, True),
                     ("parti", "conseiller", a.id, False))}
        db.commit()
        return SimpleNamespace(a=a.id, b=b.id, college=college.id, mds=mds.id, enej=enej.id,
                               pix=pix.id, **{name: user.id for name, user in users.items()})


def user_of(db, world, name) -> User:
    return db.get(User, getattr(world, name))


def data_for(world, **overrides) -> ws.WorkshopData:
    values = {"title": "Suivre la scolarité de son enfant en ligne", "day": SPRING_SUNDAY,
              "start_time": time(18), "end_time": time(20), "venue_id": world.college,
              "structure_id": world.a, "languages": ("fr", "ar")}
    return ws.WorkshopData(**{**values, **overrides})


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- services


def test_an_atelier_is_saved_in_utc_with_derived_association_ids(db, world):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(
        world, title="  Suivre  la scolarité ", animator_ids=(world.camille,),
        resource_ids=(world.enej,), capacity=12, level="debutant"), actor)
    assert (workshop.title, workshop.status, workshop.capacity) == ("Suivre la scolarité", "planned", 12)
    assert workshop.thematiques == ["parentalite"], "the kind's usual thématique when none is ticked"
    assert [row.id for row in workshop.animators] == [
        derived_id("workshop_animator", workshop.id, world.camille)]
    assert [row.id for row in workshop.resources] == [
        derived_id("workshop_resource", workshop.id, world.enej)]
    assert workshop.start_dt.tzinfo is not None


@pytest.mark.parametrize("day,start_utc,end_utc", [
    (date(2026, 3, 22), datetime(2026, 3, 22, 17, tzinfo=UTC), datetime(2026, 3, 22, 19, tzinfo=UTC)),
    (SPRING_SUNDAY, datetime(2026, 3, 29, 16, tzinfo=UTC), datetime(2026, 3, 29, 18, tzinfo=UTC)),
    (AUTUMN_SUNDAY, datetime(2026, 10, 25, 17, tzinfo=UTC), datetime(2026, 10, 25, 19, tzinfo=UTC)),
])
def test_local_times_round_trip_across_the_clock_change(app, db, world, day, start_utc, end_utc):
    workshop = ws.save_workshop(db, data_for(world, day=day), user_of(db, world, "camille"))
    db.commit()
    workshop_id = workshop.id
    db.expire_all()
    stored = db.get(Workshop, workshop_id)
    assert (stored.start_dt, stored.end_dt) == (start_utc, end_utc)
    back = ws.workshop_data_of(stored)
    assert (back.day, back.start_time, back.end_time) == (day, time(18), time(20))


def test_the_page_shows_the_paris_time_on_both_sides_of_the_change(app, client, auth, world):
    with app.app_context():
        actor = user_of(_db.session, world, "camille")
        ids = [ws.save_workshop(_db.session, data_for(world, day=day), actor).id
               for day in (SPRING_SUNDAY, AUTUMN_SUNDAY)]
        _db.session.commit()
    auth.login("camille")
    client.post("/language/en", data={"next": "/"})
    for workshop_id in ids:
        page = client.get(f"/ateliers/{workshop_id}").get_data(as_text=True)
        assert "6:00\u202fPM to 8:00\u202fPM" in page or "6:00 PM to 8:00 PM" in page


REFUSALS = [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"day": None}, "day"),
    ({"start_time": None}, "start_time"),
    ({"end_time": time(17)}, "end_time"),
    ({"end_time": time(18)}, "end_time"),
    ({"start_time": time(7), "end_time": time(19, 30)}, "end_time"),
    ({"day": date(2027, 1, 14)}, "day"),
    ({"day": SPRING_SUNDAY, "start_time": time(2, 30), "end_time": time(4)}, "start_time"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": -3}, "capacity"),
    ({"kind": "atelier"}, "kind"),
    ({"level": "expert"}, "level"),
    ({"thematiques": ("parentalite", "cuisine")}, "thematiques"),
    ({"languages": ()}, "languages"),
    ({"languages": ("fr", "xx")}, "languages"),
    ({"venue_id": None}, "venue_id"),
    ({"venue_id": uuid.uuid4()}, "venue_id"),
    ({"structure_id": None}, "structure_id"),
    ({"resource_ids": (uuid.uuid4(),)}, "resource_ids"),
    ({"animator_ids": (uuid.uuid4(),)}, "animator_ids"),
    ({"notes": "x" * 2001}, "notes"),
]


@pytest.mark.parametrize("overrides,field", REFUSALS, ids=[f for _, f in REFUSALS])
def test_each_rule_refuses_with_the_field_to_correct(db, world, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        ws.save_workshop(db, data_for(world, **overrides), user_of(db, world, "dominique"))
    assert {f for f, _ in refused.value.reasons} == {field}
    assert count(db, Workshop) == 0


def test_an_unknown_structure_is_refused_for_a_manager(db, world):
    with pytest.raises(ValidationFailed) as refused:
        ws.save_workshop(db, data_for(world, structure_id=uuid.uuid4()), user_of(db, world, "alex"))
    assert [f for f, _ in refused.value.reasons] == ["structure_id"]


def test_a_time_that_happens_twice_is_taken_the_first_time(db, world):
    workshop = ws.save_workshop(db, data_for(world, day=AUTUMN_SUNDAY, start_time=time(2, 30),
                                             end_time=time(4)), user_of(db, world, "camille"))
    assert workshop.start_dt == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert workshop.end_dt - workshop.start_dt == timedelta(hours=2, minutes=30)


def test_animators_must_be_active_but_a_departed_one_may_stay(db, world):
    actor = user_of(db, world, "camille")
    with pytest.raises(ValidationFailed) as refused:
        ws.save_workshop(db, data_for(world, animator_ids=(world.parti,)), actor)
    assert [f for f, _ in refused.value.reasons] == ["animator_ids"]
    departed = user_of(db, world, "parti")
    departed.is_active = True
    workshop = ws.save_workshop(db, data_for(world, animator_ids=(world.parti,)), actor)
    departed.is_active = False
    ws.save_workshop(db, replace(ws.workshop_data_of(workshop), title="Corrigé"), actor, workshop)
    assert [u.id for u in queries.animators_of(workshop)] == [world.parti]


def test_a_conseiller_works_only_for_their_structure(db, world):
    camille, bruno = user_of(db, world, "camille"), user_of(db, world, "bruno")
    with pytest.raises(NotAllowed):
        ws.save_workshop(db, data_for(world, structure_id=world.b), camille)
    mine = ws.save_workshop(db, data_for(world), camille)
    for attempt in (
        lambda: ws.save_workshop(db, data_for(world, structure_id=world.b), bruno, mine),
        lambda: ws.cancel_workshop(db, mine, "Salle fermée", bruno),
        lambda: ws.duplicate_workshop(db, mine, date(2026, 4, 5), bruno),
        lambda: ws.mark_presented(db, mine, [world.pix], bruno),
    ):
        with pytest.raises(NotAllowed):
            attempt()
    assert (mine.status, count(db, Workshop)) == ("planned", 1)


def test_a_conseiller_cannot_move_an_atelier_to_another_structure(db, world):
    camille = user_of(db, world, "camille")
    mine = ws.save_workshop(db, data_for(world), camille)
    with pytest.raises(NotAllowed):
        ws.save_workshop(db, data_for(world, structure_id=world.b), camille, mine)


def test_managers_and_admins_work_for_every_structure(db, world):
    for name in ("dominique", "alex"):
        workshop = ws.save_workshop(db, data_for(world, structure_id=world.b), user_of(db, world, name))
        assert workshop.structure_id == world.b


def test_a_removed_animator_leaves_a_tombstone_and_comes_back_on_the_same_row(db, world):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(world, animator_ids=(world.camille, world.dominique)), actor)
    ws.save_workshop(db, data_for(world, animator_ids=(world.camille,)), actor, workshop)
    assert [u.id for u in queries.animators_of(workshop)] == [world.camille]
    assert count(db, WorkshopAnimator) == 2, "the removal is kept as a tombstone, to travel"
    ws.save_workshop(db, data_for(world, animator_ids=(world.camille, world.dominique)), actor, workshop)
    assert count(db, WorkshopAnimator) == 2
    assert {u.id for u in queries.animators_of(workshop)} == {world.camille, world.dominique}


def test_saving_unchanged_data_records_no_change_to_sync(db, world, frozen_now):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(world, animator_ids=(world.camille,),
                                             resource_ids=(world.enej,)), actor)
    rows = [workshop, *workshop.animators, *workshop.resources]
    stamps = [row.hlc for row in rows]
    frozen_now.shift(60)
    ws.save_workshop(db, ws.workshop_data_of(workshop), actor, workshop)
    assert [row.hlc for row in rows] == stamps


def test_planned_and_presented_resources(db, world):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(world, resource_ids=(world.enej,)), actor)
    ws.mark_presented(db, workshop, [world.enej, world.pix], actor)
    assert [r.name for r in queries.resources_of(workshop)] == ["Lire en Vienne"]
    assert [r.name for r in queries.resources_of(workshop, presented=True)] == ["Lire en Vienne", "PIX"]
    ws.set_planned_resources(db, workshop, [], actor)
    assert queries.resources_of(workshop) == []
    assert len(queries.resources_of(workshop, presented=True)) == 2, "presented stays recorded"
    ws.mark_presented(db, workshop, [world.pix], actor)
    enej_row = db.get(WorkshopResource, derived_id("workshop_resource", workshop.id, world.enej))
    assert enej_row.deleted_dt is not None, "neither planned nor presented: tombstoned"
    with pytest.raises(ValidationFailed) as refused:
        ws.mark_presented(db, workshop, [uuid.uuid4()], actor)
    assert [f for f, _ in refused.value.reasons] == ["resource_ids"]


def test_duplicate_keeps_the_paris_time_across_the_clock_change(db, world, frozen_now):
    actor = user_of(db, world, "camille")
    source = ws.save_workshop(db, data_for(
        world, day=date(2026, 3, 22), capacity=15, level="debutant", notes="Clé de la salle : gardien",
        thematiques=("parentalite", "scolarite_et_numerique"),
        animator_ids=(world.camille, world.dominique), resource_ids=(world.enej,)), actor)
    ws.mark_presented(db, source, [world.pix], actor)
    frozen_now.move_to(datetime(2026, 3, 22, 19, tzinfo=UTC))
    ws.close_workshop(db, source, actor)
    user_of(db, world, "dominique").is_active = False
    copy = ws.duplicate_workshop(db, source, SPRING_SUNDAY, actor)
    assert copy.id != source.id and copy.status == "planned" and copy.closed_dt is None
    assert copy.start_dt == datetime(2026, 3, 29, 16, tzinfo=UTC), "18:00 in Paris, summer time"
    assert (copy.title, copy.venue_id, copy.structure_id, copy.kind, copy.capacity, copy.level) == (
        source.title, source.venue_id, source.structure_id, source.kind, 15, "debutant")
    assert (copy.thematiques, copy.languages) == (source.thematiques, source.languages)
    assert [u.id for u in queries.animators_of(copy)] == [world.camille], "a departed animator is left out"
    assert [r.name for r in queries.resources_of(copy)] == ["Lire en Vienne"]
    assert queries.resources_of(copy, presented=True) == [] and copy.notes == ""


def test_a_weekly_series_keeps_its_hour_across_the_clock_change(db, world):
    created = ws.create_series(db, data_for(world, day=date(2026, 3, 15), animator_ids=(world.camille,)),
                               user_of(db, world, "camille"), every_days=7, count=4)
    assert len(created) == 4 and len({w.series_id for w in created}) == 1 and created[0].series_id
    assert [w.start_dt for w in created] == [
        datetime(2026, 3, 15, 17, tzinfo=UTC), datetime(2026, 3, 22, 17, tzinfo=UTC),
        datetime(2026, 3, 29, 16, tzinfo=UTC), datetime(2026, 4, 5, 16, tzinfo=UTC)]
    assert all(ws.workshop_data_of(w).start_time == time(18) for w in created)
    assert count(db, WorkshopAnimator) == 4


@pytest.mark.parametrize("every_days,number,field", [
    (7, 1, "count"), (7, 53, "count"), (3, 4, "every_days"), (28, 20, "count"),
])
def test_a_series_is_bounded(db, world, every_days, number, field):
    with pytest.raises(ValidationFailed) as refused:
        ws.create_series(db, data_for(world), user_of(db, world, "camille"),
                         every_days=every_days, count=number)
    assert {f for f, _ in refused.value.reasons} == {field}
    assert count(db, Workshop) == 0


def test_cancel_needs_a_reason_and_freezes_the_atelier_until_reopened(db, world):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(world), actor)
    with pytest.raises(ValidationFailed) as refused:
        ws.cancel_workshop(db, workshop, "  ", actor)
    assert [f for f, _ in refused.value.reasons] == ["reason"]
    ws.cancel_workshop(db, workshop, " Salle  fermée ", actor)
    assert (workshop.status, workshop.cancelled_reason) == ("cancelled", "Salle fermée")
    for attempt in (
        lambda: ws.save_workshop(db, data_for(world, title="Autre"), actor, workshop),
        lambda: ws.close_workshop(db, workshop, actor),
        lambda: ws.cancel_workshop(db, workshop, "Encore", actor),
        lambda: ws.mark_presented(db, workshop, [world.pix], actor),
        lambda: ws.set_planned_resources(db, workshop, [world.pix], actor),
    ):
        with pytest.raises(ValidationFailed) as refused:
            attempt()
        assert refused.value.reasons[0][0] is None and "cancel" in str(refused.value.reasons[0][1])
    assert workshop.title == "Suivre la scolarité de son enfant en ligne"
    ws.reopen_workshop(db, workshop, actor)
    assert (workshop.status, workshop.cancelled_reason) == ("planned", "")


def test_close_only_once_the_atelier_has_started(db, world, frozen_now):
    actor = user_of(db, world, "camille")
    workshop = ws.save_workshop(db, data_for(world), actor)
    with pytest.raises(ValidationFailed) as refused:
        ws.close_workshop(db, workshop, actor)
    assert "not started yet" in str(refused.value.reasons[0][1])
    frozen_now.move_to(datetime(2026, 3, 29, 16, 5, tzinfo=UTC))
    ws.close_workshop(db, workshop, actor)
    assert (workshop.status, workshop.closed_dt) == ("held", datetime(2026, 3, 29, 16, 5, tzinfo=UTC))
    with pytest.raises(ValidationFailed):
        ws.close_workshop(db, workshop, actor)
    with pytest.raises(ValidationFailed):
        ws.cancel_workshop(db, workshop, "Finalement non", actor)
    ws.save_workshop(db, data_for(world, capacity=8), actor, workshop)
    assert workshop.capacity == 8, "a held atelier can still be corrected"
    ws.reopen_workshop(db, workshop, actor)
    assert (workshop.status, workshop.closed_dt) == ("planned", None)
    with pytest.raises(ValidationFailed):
        ws.reopen_workshop(db, workshop, actor)


# ---------------------------------------------------------------- queries


@pytest.fixture
def calendar(app, world):
    """Ateliers committed: two of structure a, one of b, one past of a. Ids by name."""
    with app.app_context():
        db = _db.session
        manager = user_of(db, world, "dominique")
        ids = {
            "sunday": ws.save_workshop(db, data_for(world), manager).id,
            "handover": ws.save_workshop(db, data_for(
                world, day=date(2026, 1, 14), kind="remise_equipement", venue_id=world.mds,
                title="Remise d'ordinateurs"), manager).id,
            "poste": ws.save_workshop(db, data_for(
                world, day=date(2026, 1, 13), structure_id=world.b, title="Atelier La Poste"), manager).id,
            "past": ws.save_workshop(db, data_for(
                world, day=date(2026, 1, 5), title="Atelier de rentrée"), manager).id,
        }
        db.commit()
    return ids


def test_lists_follow_the_scope_and_the_filters(db, world, calendar):
    camille, manager = user_of(db, world, "camille"), user_of(db, world, "dominique")
    titles = lambda found: [w.title for w in found]  # noqa: E731
    assert titles(queries.list_workshops(db, camille)) == [
        "Remise d'ordinateurs", "Suivre la scolarité de son enfant en ligne"]
    assert titles(queries.list_workshops(db, manager)) == [
        "Atelier La Poste", "Remise d'ordinateurs", "Suivre la scolarité de son enfant en ligne"]
    assert titles(queries.list_workshops(db, camille, upcoming=False)) == ["Atelier de rentrée"]
    assert titles(queries.list_workshops(db, manager, kind="remise_equipement")) == ["Remise d'ordinateurs"]
    assert titles(queries.list_workshops(db, manager, venue_id=world.mds)) == ["Remise d'ordinateurs"]
    assert titles(queries.list_workshops(db, manager, structure_id=world.b)) == ["Atelier La Poste"]
    assert queries.list_workshops(db, camille, structure_id=world.b) == []
    start, end = to_utc(date(2026, 1, 13), time(0)), to_utc(date(2026, 1, 15), time(0))
    assert titles(queries.list_workshops(db, manager, start=start, end=end)) == [
        "Atelier La Poste", "Remise d'ordinateurs"]
    assert queries.count_workshops(db, camille) == (2, 1)
    assert queries.count_workshops(db, manager) == (3, 1)


def test_an_atelier_outside_the_scope_is_not_found(db, world, calendar):
    assert queries.get_workshop_for(db, user_of(db, world, "bruno"), calendar["sunday"]) is None
    assert queries.get_workshop_for(db, user_of(db, world, "camille"), calendar["sunday"]) is not None
    assert queries.get_workshop_for(db, user_of(db, world, "alex"), calendar["poste"]) is not None
    assert queries.get_workshop_for(db, user_of(db, world, "alex"), uuid.uuid4()) is None


def test_the_week_groups_by_paris_day(db, world):
    manager = user_of(db, world, "dominique")
    # 00:30 on Monday 19 January in Paris is still Sunday in UTC.
    ws.save_workshop(db, data_for(world, day=date(2026, 1, 19), start_time=time(0, 30),
                                  end_time=time(1, 30), title="Minuit"), manager)
    ws.save_workshop(db, data_for(world, day=date(2026, 1, 25), start_time=time(23),
                                  end_time=time(23, 45), title="Dimanche soir"), manager)
    ws.save_workshop(db, data_for(world, day=date(2026, 1, 26), title="Semaine suivante"), manager)
    days = queries.week(db, manager, date(2026, 1, 19))
    assert [day for day, _ in days] == [date(2026, 1, 19) + timedelta(days=n) for n in range(7)]
    assert [w.title for w in days[0][1]] == ["Minuit"]
    assert [w.title for w in days[6][1]] == ["Dimanche soir"]
    assert sum(len(items) for _, items in days) == 2


# ---------------------------------------------------------------- views


def _english(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/language/en", data={"next": "/"})


def test_the_list_shows_counts_filters_and_past_ateliers(client, world, calendar):
    _english(client, "camille")
    page = client.get("/ateliers").get_data(as_text=True)
    assert "Upcoming (2)" in page and "Past (1)" in page
    assert "Remise d&#39;ordinateurs" in page and "Atelier La Poste" not in page
    past = client.get("/ateliers?when=past").get_data(as_text=True)
    assert "Atelier de rentrée" in past and "Remise d&#39;ordinateurs" not in past
    handover = client.get("/ateliers?kind=remise_equipement").get_data(as_text=True)
    assert "1 upcoming atelier" in handover and "Suivre la scolarité" not in handover
    period = client.get("/ateliers?start=2026-03-01&end=2026-03-31").get_data(as_text=True)
    assert "Suivre la scolarité" in period and "Remise d&#39;ordinateurs" not in period
    nothing = client.get("/ateliers?kind=mixte&start=not-a-date").get_data(as_text=True)
    assert "No atelier matches these filters" in nothing


def test_the_list_pages_through_many_ateliers(client, world, calendar, monkeypatch):
    monkeypatch.setattr(scheduling_views, "PAGE_SIZE", 1)
    _english(client, "camille")
    first = client.get("/ateliers").get_data(as_text=True)
    assert "Showing 1 to 1." in first and "Remise d&#39;ordinateurs" in first
    assert "page=2" in first and "Previous page" not in first
    second = client.get("/ateliers?page=2").get_data(as_text=True)
    assert "Showing 2 to 2." in second and "Suivre la scolarité" in second and "Next page" not in second
    assert "Suivre la scolarité" in client.get("/ateliers?page=99").get_data(as_text=True)


def test_a_manager_sees_every_structure(client, world, calendar):
    _english(client, "dominique")
    page = client.get("/ateliers").get_data(as_text=True)
    assert "Upcoming (3)" in page and "Atelier La Poste" in page


def test_empty_lists_say_what_to_do(client, world):
    _english(client, "camille")
    page = client.get("/ateliers").get_data(as_text=True)
    assert "No atelier planned" in page and 'href="/ateliers/new"' in page
    assert "No past atelier yet" in client.get("/ateliers?when=past").get_data(as_text=True)
    week = client.get("/ateliers/week").get_data(as_text=True)
    assert "No atelier this week" in week


def test_the_week_view_highlights_today_and_links_other_weeks(client, world, calendar):
    _english(client, "camille")
    page = client.get("/ateliers/week").get_data(as_text=True)
    assert "Week of January 12, 2026" in page
    assert page.count('aria-current="date"') == 1 and "Today" in page
    assert "day=2026-01-05" in page and "day=2026-01-19" in page
    assert "Remise d&#39;ordinateurs" in page and "Atelier La Poste" not in page
    spring = client.get("/ateliers/week?day=2026-03-29").get_data(as_text=True)
    assert "Week of March 23, 2026" in spring and "Suivre la scolarité" in spring
    assert 'aria-current="date"' not in spring and "This week" in spring


def _form(world, **overrides):
    values = {"kind": "e_parentalite", "title": "Découvrir l'ENT", "day": "2026-03-29",
              "start_time": "18:00", "end_time": "20:00", "venue_id": str(world.college),
              "structure_id": str(world.a), "capacity": "12", "languages": ["fr", "uk"],
              "animator_ids": [str(world.camille)], "resource_ids": [str(world.enej)],
              "thematiques": ["parentalite", "scolarite_et_numerique"], "level": "debutant",
              "notes": ""}
    return {**values, **overrides}


def test_creating_an_atelier_leads_to_its_page(app, client, world):
    _english(client, "camille")
    form_page = client.get("/ateliers/new?day=2026-03-29").get_data(as_text=True)
    assert 'value="2026-03-29"' in form_page and "Ukrainian" in form_page
    response = client.post("/ateliers/new", data=_form(world))
    assert response.status_code == 302
    with app.app_context():
        workshop = _db.session.scalar(select(Workshop))
        assert response.headers["Location"] == f"/ateliers/{workshop.id}"
        assert workshop.start_dt == datetime(2026, 3, 29, 16, tzinfo=UTC)
        assert workshop.languages == ["fr", "uk"] and workshop.level == "debutant"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Découvrir l&#39;ENT" in page and "Collège Jules Verne" in page and "Ukrainian" in page
    assert "Schooling and digital tools" in page and "Lire en Vienne" in page
    assert "Cancel the atelier" in page and "Close the atelier" not in page, "not started yet"


def test_a_refused_atelier_comes_back_with_the_reason(app, client, world):
    _english(client, "camille")
    response = client.post("/ateliers/new", data=_form(world, end_time="17:00", capacity="0"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The atelier must end after it starts." in page and "Enter a capacity between 1" in page
    with app.app_context():
        assert count(_db.session, Workshop) == 0


def test_editing_shows_the_paris_times_and_saves(app, client, world, calendar):
    _english(client, "camille")
    url = f"/ateliers/{calendar['sunday']}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="18:00"' in page and 'value="2026-03-29"' in page
    response = client.post(url, data=_form(world, title="Nouveau titre", start_time="17:30"))
    assert response.status_code == 302
    with app.app_context():
        workshop = _db.session.get(Workshop, calendar["sunday"])
        assert (workshop.title, workshop.start_dt) == (
            "Nouveau titre", datetime(2026, 3, 29, 15, 30, tzinfo=UTC))


def test_duplicate_series_cancel_close_and_presented_through_the_pages(app, client, world, calendar,
                                                                        frozen_now):
    _english(client, "camille")
    base = f"/ateliers/{calendar['handover']}"
    assert "Date of the new atelier" in client.get(f"{base}/duplicate").get_data(as_text=True)
    copy = client.post(f"{base}/duplicate", data={"day": "2026-02-11"})
    assert copy.status_code == 302 and copy.headers["Location"] != base
    series = client.post("/ateliers/series/new", data={**_form(world), "every_days": "14", "count": "3"})
    assert series.status_code == 302
    frozen_now.move_to(datetime(2026, 1, 14, 17, 30, tzinfo=UTC))
    _english(client, "camille")  # two days later: a new session
    assert "Close the atelier" in client.get(base).get_data(as_text=True)
    client.post(f"{base}/presented", data={"resource_ids": [str(world.pix)]})
    client.post(f"{base}/close")
    with app.app_context():
        db = _db.session
        assert count(db, Workshop) == 4 + 1 + 3
        workshop = db.get(Workshop, calendar["handover"])
        assert workshop.status == "held"
        assert [r.name for r in queries.resources_of(workshop, presented=True)] == ["PIX"]
    refused = client.post(f"{base}/cancel", data={"reason": "Trop tard"}, follow_redirects=True)
    assert "took place and is closed" in refused.get_data(as_text=True)
    client.post(f"{base}/reopen")
    assert client.post(f"{base}/cancel", data={"reason": "Salle fermée"}).status_code == 302
    page = client.get(base).get_data(as_text=True)
    assert "Salle fermée" in page and "Reopen the atelier" in page
    assert client.get(f"{base}/edit").status_code == 302, "a cancelled atelier is reopened first"


def test_closing_before_the_start_is_refused_with_a_message(app, client, world, calendar):
    _english(client, "camille")
    response = client.post(f"/ateliers/{calendar['sunday']}/close", follow_redirects=True)
    assert "has not started yet" in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.get(Workshop, calendar["sunday"]).status == "planned"


# Every route of an atelier: GET pages, then POST actions with what they send.
ATELIER_ROUTES = [
    ("GET", "", None), ("GET", "/edit", None), ("GET", "/duplicate", None), ("GET", "/cancel", None),
    ("POST", "/edit", "form"), ("POST", "/duplicate", {"day": "2026-04-05"}),
    ("POST", "/cancel", {"reason": "Intrusion"}), ("POST", "/close", {}), ("POST", "/reopen", {}),
    ("POST", "/presented", {"resource_ids": []}),
]


@pytest.mark.parametrize("method,suffix,sent", ATELIER_ROUTES, ids=[f"{m} {s}" for m, s, _ in ATELIER_ROUTES])
def test_another_structures_atelier_is_not_found_and_stays_unchanged(app, client, world, calendar,
                                                                     frozen_now, method, suffix, sent):
    frozen_now.move_to(datetime(2026, 3, 30, tzinfo=UTC))  # started: close would be allowed
    with app.app_context():
        before = _db.session.get(Workshop, calendar["sunday"]).hlc
    _english(client, "bruno")
    data = _form(world, structure_id=str(world.b)) if sent == "form" else sent
    response = client.open(f"/ateliers/{calendar['sunday']}{suffix}", method=method, data=data)
    assert response.status_code == 404
    with app.app_context():
        db = _db.session
        assert db.get(Workshop, calendar["sunday"]).hlc == before
        assert count(db, Workshop) == 4


def test_a_conseiller_cannot_create_for_another_structure(app, client, world):
    _english(client, "camille")
    form_page = client.get("/ateliers/new").get_data(as_text=True)
    assert str(world.a) in form_page and str(world.b) not in form_page
    assert client.post("/ateliers/new", data=_form(world, structure_id=str(world.b))).status_code == 403
    with app.app_context():
        assert count(_db.session, Workshop) == 0


def test_a_conseiller_without_structure_is_told_why(client, app, world):
    with app.app_context():
        _user(_db.session, "conseiller", None, username="sans")
        _db.session.commit()
    _english(client, "sans")
    assert "belongs to no structure" in client.get("/ateliers/new").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_atelier_page_renders_and_reads_only(app, client, world, calendar, lang):
    response = client.post("/login", data={"username": "dominique", "password": PASSWORD})
    assert response.status_code == 302
    client.post(f"/language/{lang}", data={"next": "/"})
    with app.app_context():
        hlcs = sorted(_db.session.scalars(select(Workshop.hlc)))
    paths = [rule.rule.replace("<uuid:workshop_id>", str(calendar["sunday"]))
             for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("scheduling.") and "GET" in rule.methods]
    assert len(paths) >= 8
    for path in paths:
        response = client.get(path.replace("<uuid:venue_id>", str(world.college)))
        assert response.status_code == 200, path
        assert f'<html lang="{lang}"'.encode() in response.data
    with app.app_context():
        assert sorted(_db.session.scalars(select(Workshop.hlc))) == hlcs
