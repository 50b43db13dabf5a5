"""Households: service rules, the two-of-four duplicate rule, merges that keep every
registration, structure scope, and the family pages."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.test_normalize import NAMES
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.models import derived_id
from workshops.extensions import db as _db
from workshops.families import forms, merge_services, normalize, queries, services
from workshops.families.models import Family, FamilyResource, Guardian, Registration
from workshops.families.services import ChildData, FamilyData, GuardianData
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop


@pytest.fixture
def structures(app):
    """Two structures and a collège, committed: {"a": id, "b": id, "college": id}."""
    with app.app_context():
        ids = {key: auth_services.save_structure(_db.session, auth_services.StructureData(name, kind)).id
               for key, name, kind in (("a", "Grand Poitiers", "intercommunalite"),
                                       ("b", "CC du Civraisien", "intercommunalite"),
                                       ("college", "Collège Jean Moulin", "college"))}
        _db.session.commit()
    return ids


@pytest.fixture
def user_of(app, create_user, structures):
    """user_of("conseiller", "a") -> (username, User) of a fresh account in that structure."""

    def make(role="conseiller", structure="a"):
        username = create_user(role, structure_id=structures[structure] if structure else None)
        with app.app_context():
            user = _db.session.scalar(select(User).where(User.username == username))
        return username, user

    return make


@pytest.fixture
def people(db, structures):
    """Accounts for service tests (no password hashing needed), in the test session:
    {"a": conseiller of A, "b": conseiller of B, "manager": ..., "homeless": conseiller
    without structure}."""
    made = {}
    for key, role, structure in (("a", "conseiller", "a"), ("b", "conseiller", "b"),
                                 ("manager", "manager", None), ("homeless", "conseiller", None)):
        made[key] = User(id=uuid.uuid4(), username=f"{key}-{role}", display_name=key, role=role,
                         structure_id=structures.get(structure), password_hash="-")
        db.add(made[key])
    db.flush()
    return made


@pytest.fixture
def actor(people):
    """The conseiller of structure A."""
    return people["a"]


def household(last="Martin", first="Élodie", phone="", email="", **fields) -> FamilyData:
    return FamilyData(guardians=(GuardianData(first, last, phone, email),), **fields)


@pytest.fixture
def add_family(app, user_of):
    """add_family(data, structure="a") -> id, committed, created by a conseiller of that structure."""

    creators = {}

    def add(data: FamilyData, structure="a"):
        if structure not in creators:
            creators[structure] = user_of("conseiller", structure)[1]
        user = creators[structure]
        with app.app_context():
            family = services.create_family(_db.session, data, _db.session.merge(user))
            _db.session.commit()
            return family.id

    return add


@pytest.fixture
def workshop_factory(db, structures):
    """workshop_factory() -> a new atelier of structure A (flushed)."""
    epci = auth_services.save_epci(db, "200069854", "CU Grand Poitiers")
    venue = Venue(name="Collège Jean Moulin", commune="Poitiers", epci_id=epci.id)
    db.add(venue)
    start = datetime(2026, 11, 20, 17, tzinfo=UTC)

    def make():
        workshop = Workshop(title="Pronote et ENT", start_dt=start, end_dt=start + timedelta(hours=2),
                            venue=venue, structure_id=structures["a"])
        db.add(workshop)
        db.flush()
        return workshop

    return make


def register(db, workshop, family, status="registered", adults=0, children=0):
    row = Registration(id=derived_id("registration", workshop.id, family.id), workshop_id=workshop.id,
                       family_id=family.id, status=status, adults_present=adults,
                       children_present=children)
    db.add(row)
    db.flush()
    return row


def refused(call) -> dict:
    with pytest.raises(ValidationFailed) as error:
        call()
    return dict(error.value.reasons)


# --- rules ------------------------------------------------------------------------------


def test_a_household_is_saved_clean_with_its_search_key(db, actor, structures):
    family = services.create_family(db, FamilyData(
        guardians=(GuardianData(" E\u0301lodie ", "N’Diaye", "06 03 05 38 14 ", " Parent@Exemple.fr ",
                                "ar", "mother"), GuardianData("", "", "", "")),
        children=(ChildData("Inès", structures["college"], "5e"), ChildData("")),
        commune=" Poitiers ", computer_wanted="laptop", origin="college_list",
        notice_version="2026-09", notice_date=date(2026, 9, 1)), actor)
    guardian, = family.guardians
    assert (guardian.first_name, guardian.phone, guardian.email) == ("Élodie", "+33603053814",
                                                                     "Parent@exemple.fr")
    assert [c.first_name for c in family.children] == ["Inès"]
    assert family.structure_id == structures["a"] and family.commune == "Poitiers"
    assert family.search_key == "n'diaye | elodie | ines"


@pytest.mark.parametrize("data,field", [
    (FamilyData(guardians=()), "guardians-0-last_name"),
    (household(last=""), "guardians-0-last_name"),
    (household(last="Martin\u202e"), "guardians-0-last_name"),
    (household(first="Él0die"), "guardians-0-first_name"),
    (household(phone="0651764142 / 0782950623"), "guardians-0-phone"),
    (household(phone="745298688"), "guardians-0-phone"),
    (household(email="a@b"), "guardians-0-email"),
    (FamilyData(guardians=(GuardianData("A", "B", language="xx"),)), "guardians-0-language"),
    (FamilyData(guardians=(GuardianData("A", "B", relation="uncle"),)), "guardians-0-relation"),
    (household(children=(ChildData("", level="5e"),)), "children-0-first_name"),
    (household(children=(ChildData("Inès", level="CM2"),)), "children-0-level"),
    (household(computer_wanted="tablet"), "computer_wanted"),
    (household(origin="internet"), "origin"),
])
def test_refusals_name_the_field(db, actor, data, field):
    assert field in refused(lambda: services.create_family(db, data, actor))
    assert db.scalar(select(func.count()).select_from(Family)) == 0


def test_a_second_guardian_may_have_a_first_name_only(db, actor):
    family = services.create_family(db, FamilyData(guardians=(
        GuardianData("Élodie", "Martin"), GuardianData("Karim", ""))), actor)
    assert [g.first_name for g in family.guardians] == ["Élodie", "Karim"]


def test_import_mode_repairs_phones_and_warns(db, actor):
    data = household(phone="0651764142 / 0782950623", notice_version="2026-09")
    reasons, warnings = services.family_problems(data, lenient=True)
    assert reasons == [] and len(warnings) == 1
    assert services.create_family(db, data, actor, lenient=True).guardians[0].phone == "+33651764142"
    assert services.family_problems(household(phone="745298688"), lenient=True)[0] == []


def test_a_child_goes_to_a_college_only(db, actor, structures):
    data = household(children=(ChildData("Inès", structures["b"], "6e"),))
    assert "children-0-college_id" in refused(lambda: services.create_family(db, data, actor))


def test_a_conseiller_creates_in_their_own_structure_only(db, actor, structures, people):
    with pytest.raises(NotAllowed):
        services.create_family(db, household(structure_id=structures["b"]), actor)
    with pytest.raises(NotAllowed):
        services.create_family(db, household(), people["homeless"])


def test_a_manager_chooses_the_structure(db, people, structures):
    manager = people["manager"]
    assert "structure_id" in refused(lambda: services.create_family(db, household(), manager))
    family = services.create_family(db, household(structure_id=structures["b"]), manager)
    assert family.structure_id == structures["b"]


def test_an_update_tombstones_who_is_gone_and_keeps_the_rows_of_who_stays(db, actor):
    family = services.create_family(db, FamilyData(
        guardians=(GuardianData("Élodie", "Martin"), GuardianData("Karim", "Martin")),
        children=(ChildData("Inès"), ChildData("Yanis"))), actor)
    yanis = next(c for c in family.children if c.first_name == "Yanis")
    services.update_family(db, family, FamilyData(
        guardians=(GuardianData("Élodie", "Martin-Roux"),),
        children=(ChildData("Yanis", level="4e"),)), actor)
    assert [g.last_name for g in queries.live_guardians(family)] == ["Martin-Roux"]
    assert queries.live_children(family) == [yanis] and yanis.level == "4e"
    assert db.scalar(select(func.count()).select_from(Guardian)) == 2, "the removed guardian is a tombstone"
    assert family.search_key == "martin-roux | elodie | yanis"


# --- duplicates -------------------------------------------------------------------------

KNOWN = household("Martin", "Élodie", "0601020304", "elodie@exemple.fr")
CRITERIA = {
    "last_name": {"last": "Martinn"},  # fuzzy: one letter more still matches
    "first_name": {"first": "elodie"},
    "phone": {"phone": "06 01 02 03 04"},
    "email": {"email": "Elodie@exemple.fr"},
}
STRANGER = {"last": "Durand", "first": "Paul", "phone": "0699999999", "email": "paul@exemple.fr"}


def _typed(*criteria):
    values = dict(STRANGER)
    for criterion in criteria:
        values.update(CRITERIA[criterion])
    return household(values["last"], values["first"], values["phone"], values["email"])


PAIRS = [(a, b) for i, a in enumerate(CRITERIA) for b in list(CRITERIA)[i + 1:]]


@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_any_two_of_the_four_criteria_point_to_a_duplicate(db, actor, pair):
    known = services.create_family(db, KNOWN, actor)
    found = services.find_duplicates(db, _typed(*pair), actor)
    assert [c.family for c in found] == [known]
    assert set(found[0].matched) == set(pair)


@pytest.mark.parametrize("criterion", list(CRITERIA))
def test_one_criterion_alone_is_not_a_duplicate(db, actor, criterion):
    services.create_family(db, KNOWN, actor)
    assert services.find_duplicates(db, _typed(criterion), actor) == []


def test_duplicates_compare_guardian_by_guardian_within_scope(db, actor, people):
    services.create_family(db, FamilyData(guardians=(GuardianData("Paul", "Durand"),
                                                     GuardianData("Élodie", "Martin"))), actor)
    services.create_family(db, KNOWN, people["b"])
    typed = household("MARTIN", "Elodie")
    assert len(services.find_duplicates(db, typed, actor)) == 1, "B's household is out of scope"
    assert len(services.find_duplicates(db, typed, people["manager"])) == 2


def test_merged_and_removed_households_are_no_duplicates(db, actor):
    keep = services.create_family(db, household("Dupont", "Anne"), actor)
    other = services.create_family(db, KNOWN, actor)
    merge_services.merge_families(db, keep, other, actor)
    assert services.find_duplicates(db, KNOWN, actor, exclude_id=keep.id) == []


def test_a_mistyped_start_of_surname_is_still_found(db, actor):
    services.create_family(db, household("Abdelkader", "Samia"), actor)
    assert services.find_duplicates(db, household("Obdelkader", "Samia"), actor)


# --- merge ------------------------------------------------------------------------------


def test_a_merge_keeps_the_absence_recorded_rather_than_an_invitation(db, actor, workshop_factory):
    """One record was only invited to the atelier, the other was marked absent on the sheet:
    the household did not come, the merged registration says so."""
    keep = services.create_family(db, household("Martin", "Élodie"), actor)
    other = services.create_family(db, household("Martin", "Elodie"), actor)
    atelier = workshop_factory()
    register(db, atelier, keep, "invited")
    register(db, atelier, other, "absent")
    merge_services.merge_families(db, keep, other, actor)
    assert [r.status for r in queries.live_registrations(db, keep.id)] == ["absent"]


def test_a_merge_keeps_every_registration_and_counts_the_family_once(db, actor, workshop_factory):
    keep = services.create_family(db, household("Martin", "Élodie", notes="Vient avec sa sœur",
                                                children=(ChildData("Inès"),)), actor)
    other = services.create_family(db, FamilyData(
        guardians=(GuardianData("Elodie", "MARTIN", "0601020304"), GuardianData("Karim", "Martin")),
        children=(ChildData("Ines", level="5e"), ChildData("Yanis")), has_photo_consent=True,
        has_naming_consent=True, notes="Parle arabe", notice_version="2026-01"), actor)
    both, only_other, only_keep = workshop_factory(), workshop_factory(), workshop_factory()
    register(db, both, keep, "absent")
    register(db, both, other, "attended", adults=2, children=1)
    old = register(db, only_other, other, "excused")
    register(db, only_keep, keep, "registered")
    resource = Resource(id=uuid.uuid4(), name="Pronote", category="school")
    db.add(resource)
    db.add(FamilyResource(id=uuid.uuid4(), workshop_id=both.id, family_id=other.id,
                          resource_id=resource.id, has_opened_account=True))
    db.flush()

    merge_services.merge_families(db, keep, other, actor)

    assert (other.merged_into_id, other.deleted_dt is not None) == (keep.id, True)
    assert {(g.first_name, g.phone) for g in queries.live_guardians(keep)} == {
        ("Élodie", "+33601020304"), ("Karim", None)}
    assert {(c.first_name, c.level) for c in queries.live_children(keep)} == {("Inès", "5e"), ("Yanis", None)}
    live = {r.workshop_id: r for r in queries.live_registrations(db, keep.id)}
    assert set(live) == {both.id, only_other.id, only_keep.id}
    assert (live[both.id].status, live[both.id].adults_present) == ("attended", 2)
    assert live[only_other.id].id == derived_id("registration", only_other.id, keep.id)
    assert old.deleted_dt is not None and queries.live_registrations(db, other.id) == []
    present = db.scalar(select(func.count()).select_from(Registration).where(
        Registration.workshop_id == both.id, Registration.deleted_dt.is_(None)))
    assert present == 1
    shown, = queries.live_family_resources(db, keep.id)
    assert shown.has_opened_account
    assert keep.has_photo_consent and keep.has_naming_consent
    assert keep.notes == "Vient avec sa sœur\n\nParle arabe"
    assert "karim" in keep.search_key and "yanis" in keep.search_key


def test_a_guardian_joining_by_merge_comes_after_every_guardian_kept(db, actor):
    """The household kept has two guardians whose names fold alike (a mother and a daughter,
    say): the one joining must not take the second one's place in the order."""
    keep = services.create_family(db, FamilyData(guardians=(
        GuardianData("Élodie", "Martin"), GuardianData("Elodie", "MARTIN", "0601020304"))), actor)
    other = services.create_family(db, household("Martin", "Karim"), actor)

    merge_services.merge_families(db, keep, other, actor)

    guardians = queries.live_guardians(keep)
    assert [(g.position, g.first_name, g.phone) for g in guardians] == [
        (0, "Élodie", None), (1, "Elodie", "+33601020304"), (2, "Karim", None)]


def test_a_merge_revives_the_kept_households_removed_row_at_the_same_atelier(db, actor, workshop_factory):
    keep = services.create_family(db, household(), actor)
    other = services.create_family(db, household("Durand"), actor)
    workshop = workshop_factory()
    removed = register(db, workshop, keep, "registered")
    removed.deleted_dt = datetime.now(UTC)
    register(db, workshop, other, "attended", adults=1)
    merge_services.merge_families(db, keep, other, actor)
    live, = queries.live_registrations(db, keep.id)
    assert (live.id, live.status, live.adults_present) == (removed.id, "attended", 1)


def test_a_household_cannot_be_merged_twice_or_into_itself(db, actor):
    keep = services.create_family(db, household(), actor)
    other = services.create_family(db, household("Durand"), actor)
    refused(lambda: merge_services.merge_families(db, keep, keep, actor))
    merge_services.merge_families(db, keep, other, actor)
    refused(lambda: merge_services.merge_families(db, keep, other, actor))


def test_a_merge_outside_scope_is_not_allowed(db, actor, people):
    keep = services.create_family(db, household(), actor)
    other = services.create_family(db, household("Durand"), people["b"])
    with pytest.raises(NotAllowed):
        merge_services.merge_families(db, keep, other, actor)


# --- queries ----------------------------------------------------------------------------


def test_search_is_accent_case_and_apostrophe_insensitive(db, actor):
    services.create_family(db, household("N’Diaye", "Élodie", "0603053814"), actor)
    services.create_family(db, household("Noël", "Paul"), actor)
    for text in ("elodie", "n'diaye", "N’DIAYE", "ÉLO", "diaye elo",
                 "06 03 05 38 14", "0538"):
        assert [f.search_key for f in queries.search_families(db, actor, text)] == [
            "n'diaye | elodie"], text
    assert [f.search_key for f in queries.search_families(db, actor, "NOEL")] == ["noel | paul"]
    assert queries.search_families(db, actor, "e") == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, data=st.data())
def test_search_finds_a_name_by_any_three_letters(db, actor, name, data):
    nested = db.begin_nested()
    try:
        family = services.create_family(db, household(last=name, first="Anne"), actor)
        folded = normalize.fold(family.guardians[0].last_name)
        start = data.draw(st.integers(0, max(0, len(folded) - 3)))
        part = folded[start:start + 3]
        assume(len(part.replace(" ", "")) >= 2)
        assert family in queries.search_families(db, actor, part, limit=1000)
    finally:
        nested.rollback()


def test_search_and_pages_stay_in_scope(db, actor, people):
    services.create_family(db, household("Martin", "Élodie"), people["b"])
    services.create_family(db, household("Martin", "Paul"), actor)
    assert [f.search_key for f in queries.search_families(db, actor, "martin")] == ["martin | paul"]
    assert queries.list_families(db, actor, 1).total == 1


# --- pages ------------------------------------------------------------------------------

FORM = {"guardians-0-last_name": "Martin", "guardians-0-first_name": "Élodie",
        "guardians-0-phone": "06 01 02 03 04", "guardians-0-language": "fr",
        "guardians-0-relation": "mother", "guardians-1-language": "fr", "guardians-1-relation": "guardian",
        "children-0-first_name": "Inès", "children-0-level": "5e", "origin": "walk_in"}


def _count_families(app):
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(Family).where(
            Family.deleted_dt.is_(None)))


def test_search_page_lists_elodie_for_elodie(client, auth, user_of, add_family):
    add_family(household("Martin", "Élodie"))
    auth.login(user_of("conseiller", "a")[0])
    page = client.get("/families?q=elodie").get_data(as_text=True)
    assert "Élodie Martin" in page
    assert "Élodie" not in client.get("/families?q=durand").get_data(as_text=True)


def test_create_shows_duplicates_then_creates_anyway(app, client, auth, user_of, add_family):
    existing = add_family(household("Martin", "Elodie", "0601020304"))
    auth.login(user_of("conseiller", "a")[0])
    wrong = client.post("/families/new", data={**FORM, "guardians-0-phone": "12"}).get_data(as_text=True)
    assert 'href="#guardians-0-phone"' in wrong and "confirm_new" not in wrong, "fix the form first"
    response = client.post("/families/new", data=FORM)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f"/families/{existing}" in page
    assert _count_families(app) == 1
    response = client.post("/families/new", data={**FORM, "confirm_new": "1"})
    assert response.status_code == 302 and _count_families(app) == 2


def test_create_without_duplicate_goes_to_the_family_page(app, client, auth, user_of):
    auth.login(user_of("conseiller", "a")[0])
    response = client.post("/families/new", data=FORM)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "06 01 02 03 04" in page and "Inès" in page


def test_a_refused_form_says_which_block_to_fix(client, auth, user_of):
    auth.login(user_of("conseiller", "a")[0])
    page = client.post("/families/new", data={**FORM, "guardians-0-phone": "0651764142 / 0782950623"})
    assert page.status_code == 200 and 'href="#guardians-0-phone"' in page.get_data(as_text=True)


def test_another_structures_family_is_a_404_and_stays_unchanged(app, client, auth, user_of, add_family):
    family_id = add_family(household("Martin", "Élodie"), structure="b")
    auth.login(user_of("conseiller", "a")[0])
    for path in (f"/families/{family_id}", f"/families/{family_id}/edit", f"/families/{family_id}/merge"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/families/{family_id}/edit", data={**FORM, "guardians-0-last_name": "Intrus"}
                       ).status_code == 404
    with app.app_context():
        assert _db.session.get(Family, family_id).guardians[0].last_name == "Martin"


def test_edit_page_saves_changes(app, client, auth, user_of, add_family):
    family_id = add_family(household("Martin", "Élodie"))
    auth.login(user_of("conseiller", "a")[0])
    form = client.get(f"/families/{family_id}/edit").get_data(as_text=True)
    assert 'value="Martin"' in form
    response = client.post(f"/families/{family_id}/edit",
                           data={**FORM, "guardians-0-last_name": "Martin-Roux"})
    assert response.status_code == 302
    with app.app_context():
        assert _db.session.get(Family, family_id).search_key.startswith("martin-roux")


def test_notes_a_merge_made_longer_than_the_form_allows_stay_editable_but_cannot_grow(
        app, client, auth, user_of, add_family):
    """Each record's notes fit the form; joined by the merge they do not. Changing the phone
    must not ask the conseiller to cut the family's notes first."""
    keep = add_family(household("Martin", "Élodie", notes="Joignable sur WhatsApp 📱\n" + "a" * 1400))
    other = add_family(household("Martin", "Elodie", notes="Parle arabe.\n" + "b" * 1400))
    auth.login(user_of("conseiller", "a")[0])
    assert client.post(f"/families/{keep}/merge", data={"other_id": str(other)}).status_code == 302
    with app.app_context():
        notes = _db.session.get(Family, keep).notes
    assert len(notes) > forms.NOTES_MAX
    # The browser counts in UTF-16 units, an emoji as two: the box must take the notes as they are.
    browser_length = len(notes.encode("utf-16-le")) // 2
    assert browser_length == len(notes) + 1
    assert f'maxlength="{browser_length}"' in client.get(f"/families/{keep}/edit").get_data(as_text=True)
    typed = notes.replace("\n", "\r\n")  # a browser sends a textarea's line breaks as CR LF
    client.post("/language/fr", data={"next": "/"})
    response = client.post(f"/families/{keep}/edit",
                           data={**FORM, "guardians-0-phone": "06 99 88 77 66", "notes": typed})
    assert response.status_code == 302
    with app.app_context():
        family = _db.session.get(Family, keep)
        assert (family.guardians[0].phone, family.notes) == ("+33699887766", notes)
    response = client.post(f"/families/{keep}/edit", data={**FORM, "notes": typed + " Et le samedi."})
    assert response.status_code == 200
    assert (f"Les remarques peuvent contenir au plus {len(notes)} caractères : raccourcissez-les."
            in response.get_data(as_text=True))
    with app.app_context():
        assert _db.session.get(Family, keep).notes == notes


def test_notes_count_a_line_break_once_as_the_browser_does(app, client, auth, user_of, add_family):
    family_id = add_family(household("Martin", "Élodie"))
    auth.login(user_of("conseiller", "a")[0])
    client.post("/language/fr", data={"next": "/"})
    typed = "\r\n".join(["Mercredi."] * 200)  # 1,999 characters in the browser, 2,198 sent
    assert len(typed.replace("\r\n", "\n")) <= forms.NOTES_MAX < len(typed)
    assert client.post(f"/families/{family_id}/edit", data={**FORM, "notes": typed}).status_code == 302
    response = client.post(f"/families/{family_id}/edit", data={**FORM, "notes": typed + "\r\nJeudi."})
    assert "Les remarques peuvent contenir au plus 2000 caractères" in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.get(Family, family_id).notes == typed.replace("\r\n", "\n")


def test_consent_to_be_named_is_given_then_withdrawn_on_the_edit_page(app, client, auth, user_of,
                                                                     add_family):
    family_id = add_family(household("Martin", "Élodie"))
    auth.login(user_of("conseiller", "a")[0])
    client.post("/language/en", data={"next": "/"})
    for agreed, shown in ((True, "Agreed"), (False, "Not agreed")):
        data = {**FORM, "notice_version": "2026-01", **({"has_naming_consent": "y"} if agreed else {})}
        assert client.post(f"/families/{family_id}/edit", data=data).status_code == 302
        with app.app_context():
            assert _db.session.get(Family, family_id).has_naming_consent is agreed
        page = client.get(f"/families/{family_id}").get_data(as_text=True)
        assert f"<dt>Named in the national reporting tool</dt><dd>{shown}</dd>" in page


def test_merge_screen_previews_then_merges(app, client, auth, user_of, add_family):
    keep = add_family(household("Martin", "Élodie", "0601020304"))
    other = add_family(household("Martin", "Elodie", children=(ChildData("Yanis"),)))
    auth.login(user_of("conseiller", "a")[0])
    assert f"other={other}" in client.get(f"/families/{keep}/merge").get_data(as_text=True)
    preview = client.get(f"/families/{keep}/merge?other={other}").get_data(as_text=True)
    assert "Yanis" in preview
    assert _count_families(app) == 2
    response = client.post(f"/families/{keep}/merge", data={"other_id": str(other)})
    assert response.status_code == 302 and _count_families(app) == 1
    assert client.get(f"/families/{other}").headers["Location"] == f"/families/{keep}"


def test_merge_screen_says_which_differing_consents_are_kept_and_the_merge_does_so(app, client, auth, user_of,
                                                                                  add_family):
    """Photos were given on the other record on this computer (journaled); follow-up contact
    came on it from another device (no decision here): photos stay, follow-up is asked again."""
    keep = add_family(household("Martin", "Élodie"))
    other = add_family(household("Martin", "Elodie", notice_version="2026-01", has_photo_consent=True))
    with app.app_context():
        _db.session.get(Family, other).has_follow_up_consent = True
        _db.session.commit()
    auth.login(user_of("conseiller", "a")[0])
    client.post("/language/en", data={"next": "/"})
    preview = client.get(f"/families/{keep}/merge?other={other}").get_data(as_text=True)
    assert "Photos: kept" in preview
    assert "Follow-up contact: not kept, ask the family again" in preview
    assert "Named in the national reporting tool:" not in preview  # the same on both: not listed
    assert client.post(f"/families/{keep}/merge", data={"other_id": str(other)}).status_code == 302
    with app.app_context():
        merged = _db.session.get(Family, keep)
        assert (merged.has_photo_consent, merged.has_follow_up_consent) == (True, False)


def test_family_pages_render_for_a_manager(client, auth, user_of, add_family, structures):
    family_id = add_family(replace(household(), notice_version="2026-09", notice_date=date(2026, 9, 1)))
    auth.login(user_of("manager", None)[0])
    for path in ("/families", f"/families/{family_id}", "/families/new", f"/families/{family_id}/edit"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path
    assert "Grand Poitiers" in client.get("/families/new").get_data(as_text=True)
    client.post("/language/en", data={"next": "/"})
    page = client.get(f"/families/{family_id}").get_data(as_text=True)
    assert "Version 2026-09, shown on" in page and "Edit" in page


def test_a_manager_without_structure_must_choose_one(app, client, auth, user_of, structures):
    auth.login(user_of("manager", None)[0])
    page = client.post("/families/new", data=FORM).get_data(as_text=True)
    assert 'href="#structure_id"' in page and _count_families(app) == 0
    response = client.post("/families/new", data={**FORM, "structure_id": str(structures["b"])})
    assert response.status_code == 302 and _count_families(app) == 1


def test_a_notice_given_just_after_midnight_in_paris_is_not_in_the_future(db, actor):
    """At 00:30 in Paris (22:30 UTC the day before in summer) the notice date is today."""
    with time_machine.travel(datetime(2026, 6, 15, 22, 30, tzinfo=UTC), tick=False):
        data = services.FamilyData(guardians=(services.GuardianData("Élodie", "Martin"),),
                                   notice_version="2026-01", notice_date=date(2026, 6, 16))
        family = services.create_family(db, data, actor)
    assert family.notice_date == date(2026, 6, 16)


def test_control_characters_pasted_into_notes_or_commune_are_dropped(db, actor):
    """A NUL or an escape code pasted by mistake is not stored (PostgreSQL could not hold a NUL,
    and the hub would refuse the change); line breaks stay, text is NFC."""
    pasted = household(commune="Poi\x00tiers\x1b", notes="Parle\x00 arabe\r\nE\u0301lodie vient aussi\x07")
    family = services.create_family(db, pasted, actor)
    assert family.commune == "Poitiers"
    assert family.notes == "Parle arabe\nÉlodie vient aussi"
