"""R39: each consent of a household (follow-up contact, photos, being named to La Coop) is a
record in the audit journal: who, when, which notice version, which purpose, given or
withdrawn; shown on the family page newest first. No consent without a notice version."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select

from tests.test_registrations import build_world, new_workshop
from workshops.audit.models import AuditEntry
from workshops.audit.services import verify_chain
from workshops.auth.models import User
from workshops.core.errors import ValidationFailed
from workshops.extensions import db as _db
from workshops.families import import_rows, import_services, importers, merge_services, registration_services
from workshops.families.consent_queries import consent_history
from workshops.families.models import Family, Guardian
from workshops.families.services import FamilyData, GuardianData, create_family, update_family
from workshops.sync.erasure_services import erase_family

# 13:05 UTC is 14:05 in Paris in March (UTC+1).
MOMENT = datetime(2026, 3, 10, 13, 5, tzinfo=UTC)
FORM = {"guardians-0-last_name": "Quintardzy", "guardians-0-first_name": "Élodie",
        "guardians-0-phone": "06 71 82 93 04", "guardians-0-language": "fr",
        "guardians-0-relation": "mother", "guardians-1-language": "fr", "guardians-1-relation": "guardian",
        "children-0-first_name": "Inès", "children-0-level": "5e", "origin": "phone_line",
        "confirm_new": "1"}


@pytest.fixture
def desk(app, create_user, auth, client):
    """A conseiller "Camille Dupont" of the home structure logged in, in English, and an atelier."""
    with app.app_context():
        world = build_world(_db.session)
        workshop = new_workshop(_db.session, world)
        ids = SimpleNamespace(home=world.home.id, workshop=workshop.id, manager=world.manager.id)
    username = create_user("conseiller", structure_id=ids.home, display_name="Camille Dupont")
    assert auth.login(username).status_code == 302
    client.post("/language/en", data={"next": "/"})
    with app.app_context():
        ids.user = _db.session.scalar(select(User.id).where(User.username == username))
    ids.username = username
    return ids


def read(app, how):
    with app.app_context():
        return how(_db.session)


def consent_entries(app, family_id=None) -> list[AuditEntry]:
    def query(db):
        found = select(AuditEntry).where(AuditEntry.action == "consent_changed").order_by(AuditEntry.id)
        if family_id is not None:
            found = found.where(AuditEntry.object_ref == str(family_id))
        return list(db.scalars(found))
    return read(app, query)


def history_of(client, family_id) -> list[str]:
    """The rows of the consent history on the family page, as text, top to bottom."""
    page = client.get(f"/families/{family_id}").get_data(as_text=True)
    section = page.split('id="consents-title"')[1].split("</section>")[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in section.split("<tbody>")[-1].split("<tr>")[1:]]


def new_family_on_the_form(app, client, **extra) -> uuid.UUID:
    response = client.post("/families/new", data={**FORM, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return uuid.UUID(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_a_consent_given_on_the_form_is_recorded_with_who_when_and_the_notice_version(app, client, auth,
                                                                                      desk):
    with time_machine.travel(MOMENT, tick=False):
        assert auth.login(desk.username).status_code == 302  # a session of that day
        family_id = new_family_on_the_form(app, client, notice_version="2026-01",
                                           has_photo_consent="y")
        rows = history_of(client, family_id)
    assert read(app, lambda db: db.get(Family, family_id).has_photo_consent)
    entry, = consent_entries(app, family_id)
    assert entry.actor_id == desk.user
    assert entry.details == {"purpose": "photos", "given": True, "notice_version": "2026-01", "way": "form"}
    row, = rows
    assert "3/10/26, 2:05" in row, "the time in Paris, not UTC (13:05)"
    for shown in ("Camille Dupont", "Photos", "Agreed", "Version 2026-01", "Family form"):
        assert shown in row


def test_withdrawing_a_consent_shows_a_withdrawal_line_newest_first_and_turns_it_off(app, client, desk):
    family_id = new_family_on_the_form(app, client, notice_version="2026-01", has_naming_consent="y",
                                       has_follow_up_consent="y")
    edited = {**FORM, "notice_version": "2026-01", "has_follow_up_consent": "y"}  # naming unticked
    assert client.post(f"/families/{family_id}/edit", data=edited).status_code == 302

    family = read(app, lambda db: db.get(Family, family_id))
    assert not family.has_naming_consent and family.has_follow_up_consent
    newest, *older = history_of(client, family_id)
    assert "Named in the national reporting tool" in newest and "Withdrawn" in newest
    assert len(older) == 2 and all("Agreed" in row for row in older)
    assert [(e.details["purpose"], e.details["given"]) for e in consent_entries(app, family_id)] == [
        ("follow_up", True), ("naming", True), ("naming", False)]


def test_saving_without_changing_a_consent_records_nothing(app, client, desk):
    family_id = new_family_on_the_form(app, client, notice_version="2026-01", has_photo_consent="y")
    edited = {**FORM, "notice_version": "2026-01", "has_photo_consent": "y", "commune": "Poitiers"}
    assert client.post(f"/families/{family_id}/edit", data=edited).status_code == 302
    assert read(app, lambda db: db.get(Family, family_id).commune) == "Poitiers"
    assert len(consent_entries(app, family_id)) == 1


def _counts(app) -> tuple[int, int]:
    return read(app, lambda db: (db.scalar(select(func.count()).select_from(Family)),
                                 db.scalar(select(func.count()).select_from(AuditEntry))))


def test_a_consent_without_a_notice_version_is_refused_and_nothing_is_written(app, client, desk):
    before = _counts(app)
    page = client.post("/families/new", data={**FORM, "has_follow_up_consent": "y"}).get_data(as_text=True)
    assert "only once the family was given the privacy notice" in page
    assert 'href="#notice_version"' in page, "the message points at the notice field"
    assert _counts(app) == before

    family_id = new_family_on_the_form(app, client)  # no consent: no notice needed
    before = _counts(app)
    page = client.post(f"/families/{family_id}/edit",
                       data={**FORM, "has_photo_consent": "y"}).get_data(as_text=True)
    assert "only once the family was given the privacy notice" in page
    assert _counts(app) == before
    assert not read(app, lambda db: db.get(Family, family_id).has_photo_consent)


def test_a_notice_version_that_is_not_a_version_code_is_refused(app, client, desk):
    before = _counts(app)
    page = client.post("/families/new", data={**FORM, "notice_version": "Madame Quintardzy",
                                              "has_photo_consent": "y"}).get_data(as_text=True)
    assert "as printed at the bottom of the notice" in page
    assert _counts(app) == before


def test_the_journal_holds_no_name_or_phone_and_its_chain_still_verifies(app, client, desk):
    family_id = new_family_on_the_form(app, client, notice_version="2026-01", has_photo_consent="y",
                                       has_naming_consent="y", has_follow_up_consent="y")
    withdrawn = {**FORM, "notice_version": "2026-01"}
    assert client.post(f"/families/{family_id}/edit", data=withdrawn).status_code == 302
    entries = consent_entries(app, family_id)
    assert len(entries) == 6
    written = json.dumps([[e.object_type, e.object_ref, e.details] for e in entries],
                         ensure_ascii=False).lower()
    for personal in ("quintardzy", "élodie", "elodie", "inès", "ines", "0671829304", "671829304", "71 82"):
        assert personal not in written
    result = read(app, verify_chain)
    assert result.ok and result.count == read(app, lambda db: db.scalar(
        select(func.count()).select_from(AuditEntry)))


def test_a_walk_in_at_the_door_records_its_consent_with_the_current_notice(app, client, desk):
    typed = {"last_name": "Nguyenzy", "first_name": "Thi", "phone": "06 12 34 56 78", "adults": "1",
             "children": "0", "notice_given": "y", "has_follow_up_consent": "y", "force": "1"}
    assert client.post(f"/ateliers/{desk.workshop}/checkin/walk-in", data=typed).status_code == 302
    family_id = read(app, lambda db: db.scalar(select(Family.id).where(Family.origin == "walk_in")))
    entry, = consent_entries(app, family_id)
    assert entry.actor_id == desk.user
    assert entry.details == {"purpose": "follow_up", "given": True,
                             "notice_version": registration_services.NOTICE_VERSION, "way": "walk_in"}
    row, = history_of(client, family_id)
    assert "Walk-in at the atelier" in row and "Follow-up contact" in row and "Camille Dupont" in row


def test_a_merge_records_the_consent_the_kept_household_gains(db):
    world = build_world(db)
    actor = world.conseiller
    keep = create_family(db, FamilyData(guardians=(GuardianData("Élodie", "Martin"),),
                                        has_naming_consent=True, notice_version="2026-01"), actor)
    other = create_family(db, FamilyData(guardians=(GuardianData("Elodie", "MARTIN"),),
                                         has_naming_consent=True, has_photo_consent=True,
                                         notice_version="2026-01"), actor)
    before = db.scalar(select(func.count()).select_from(AuditEntry))
    merge_services.merge_families(db, keep, other, actor)
    added = list(db.scalars(select(AuditEntry).where(AuditEntry.id > before)))
    assert [(e.object_ref, e.details["purpose"], e.details["way"]) for e in added] == [
        (str(keep.id), "photos", "merge")], "naming was already given: only photos changes"
    assert keep.has_photo_consent and verify_chain(db).ok


def test_a_merge_keeps_the_familys_newer_withdrawal_made_on_the_other_record(db):
    """The family gave naming on both records, then withdrew it on the one merged away: the
    household must not be named in La Coop's fiche again, and its history ends on a withdrawal."""
    world = build_world(db)
    actor = world.conseiller
    other = create_family(db, FamilyData(guardians=(GuardianData("Élodie", "Martin"),),
                                         has_naming_consent=True, notice_version="2026-01"), actor)
    keep = create_family(db, FamilyData(guardians=(GuardianData("Elodie", "MARTIN"),),
                                        has_naming_consent=True, notice_version="2026-01"), actor)
    update_family(db, other, FamilyData(guardians=(GuardianData("Élodie", "Martin"),),
                                        has_naming_consent=False, notice_version="2026-01"), actor)
    merge_services.merge_families(db, keep, other, actor)
    assert not keep.has_naming_consent
    naming = [event for event in consent_history(db, keep) if event.purpose == "naming"]
    assert (naming[0].is_given, naming[0].way) == (False, "merge")


def test_a_merge_does_not_give_a_consent_no_journal_entry_decides(db):
    """A record received from another laptop holds photos consent, the kept one does not, and
    this laptop's journal says nothing of either: the merge does not give the consent."""
    world = build_world(db)
    actor = world.conseiller
    keep = create_family(db, FamilyData(guardians=(GuardianData("Élodie", "Martin"),),
                                        notice_version="2026-01"), actor)
    other = Family(structure_id=keep.structure_id, has_photo_consent=True, notice_version="2026-01")
    other.guardians.append(Guardian(first_name="Elodie", last_name="MARTIN"))
    db.add(other)
    db.flush()
    merge_services.merge_families(db, keep, other, actor)
    assert not keep.has_photo_consent


def test_an_import_records_the_consents_of_the_list_without_a_notice_version(db):
    world = build_world(db)
    data = "Nom;Prénom;Consentement\r\nMartinzy;Élodie;oui\r\nDurandzy;Paul;non\r\n".encode()
    table = importers.read_table(data)
    mapping, _remembered = importers.proposed_mapping(db, import_rows.KIND, table.headers, import_rows.FIELDS)
    options = import_rows.FamilyImport(world.manager, world.other.id)
    preview = import_rows.preview_families(db, table, mapping, options)
    done = import_services.confirm_family_import(db, preview, options)
    consenting = db.scalar(select(Family).where(Family.has_follow_up_consent.is_(True)))
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.action == "consent_changed")))
    assert done.written == 2
    assert [(e.object_ref, e.details) for e in entries] == [(str(consenting.id), {
        "purpose": "follow_up", "given": True, "notice_version": None, "way": "import"})]
    assert verify_chain(db).ok


def test_an_erased_family_keeps_a_verifiable_journal_of_codes_only(db, tmp_path):
    world = build_world(db)
    family = create_family(db, FamilyData(guardians=(GuardianData("Zoé", "Effacezy", "0611223344"),),
                                          has_photo_consent=True, notice_version="2026-01"), world.conseiller)
    erase_family(db, family, world.conseiller.id, datetime.now(UTC), ledger=tmp_path / "ledger.jsonl")
    db.flush()
    assert family.is_purged
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.object_ref == str(family.id))))
    assert {e.action for e in entries} >= {"consent_changed", "erasure"}
    written = json.dumps([e.details for e in entries]).lower()
    assert "effacezy" not in written and "611223344" not in written
    assert verify_chain(db).ok


def test_a_consent_given_by_a_service_without_notice_is_refused(db):
    world = build_world(db)
    with pytest.raises(ValidationFailed) as refused:
        create_family(db, FamilyData(guardians=(GuardianData("Awa", "Diallo"),), has_photo_consent=True),
                      world.conseiller)
    assert [field for field, _ in refused.value.reasons] == ["notice_version"]


def test_the_history_is_shown_in_the_users_language_with_the_paris_time(app, client, auth, desk):
    with time_machine.travel(MOMENT, tick=False):
        assert auth.login(desk.username).status_code == 302
        family_id = new_family_on_the_form(app, client, notice_version="2026-01",
                                           has_photo_consent="y")
        client.post("/language/fr", data={"next": "/"})
        page = client.get(f"/families/{family_id}").get_data(as_text=True)
    section = page.split('id="consents-title"')[1].split("</section>")[0]
    assert "Enregistré par" in section and "Accepté" in section and "Recorded by" not in section
    assert "10/03/2026 14:05" in section


def test_an_imported_family_with_a_consent_can_still_have_its_commune_changed(app, client, desk):
    with app.app_context():
        actor = _db.session.get(User, desk.user)
        # What confirm_family_import writes for a row "Consentement: oui" (lenient, no notice).
        family = create_family(_db.session, FamilyData(
            guardians=(GuardianData("Élodie", "Quintardzy", "0671829304"),),
            has_follow_up_consent=True, origin="college_list", structure_id=desk.home),
            actor, lenient=True, way="import")
        _db.session.commit()
        family_id = family.id
    form_page = client.get(f"/families/{family_id}/edit").get_data(as_text=True)
    assert 'name="has_follow_up_consent"' in form_page
    # The edit form comes back with the consent ticked (pre-filled); the user only adds a commune.
    edited = {**FORM, "origin": "college_list", "has_follow_up_consent": "y", "commune": "Poitiers"}
    response = client.post(f"/families/{family_id}/edit", data=edited)
    page = response.get_data(as_text=True)
    assert response.status_code == 302, (
        "editing the commune of an imported family is refused: "
        + ("consent" if "A consent can be recorded only" in page else page[:300]))
    assert read(app, lambda db: db.get(Family, family_id).commune) == "Poitiers"
    # And no consent change was journaled by that edit.
    assert len(consent_entries(app, family_id)) == 1


def test_what_is_typed_as_notice_version_never_reaches_the_append_only_journal(db, tmp_path):
    """The journal takes codes, never what a user typed, and is never erased: a typed notice
    version that is not one the app prints is journaled as "other"."""
    world = build_world(db)
    family = create_family(db, FamilyData(guardians=(GuardianData("Awa", "Diallo", "0611223344"),),
                                          has_photo_consent=True, notice_version="Diallo-2026"),
                           world.conseiller)
    erase_family(db, family, world.conseiller.id, datetime.now(UTC), ledger=tmp_path / "ledger.jsonl")
    db.flush()
    kept = [entry.details for entry in db.scalars(select(AuditEntry).where(
        AuditEntry.object_ref == str(family.id)))]
    assert "diallo" not in repr(kept).lower(), kept
    assert [details["notice_version"] for details in kept if "purpose" in details] == ["other"]
