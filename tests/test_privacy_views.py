"""The staff pages: export and erase from the family page, the register (R34, R35, R38)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from tests.test_privacy_seed import seed_canary_family
from workshops.auth.models import User
from workshops.extensions import db as _db
from workshops.families.merge_services import merge_families
from workshops.families.models import Family


def _household(app):
    with app.app_context():
        seeded = seed_canary_family(_db.session(), tag="VIEWQQ")
        structure_id = _db.session.get(Family, seeded.family_id).structure_id
        _db.session.commit()
    return seeded, structure_id


def _login(create_user, auth, role, structure_id=None):
    username = create_user(role, structure_id=structure_id)
    assert auth.login(username).status_code == 302


def test_a_conseiller_of_the_structure_exports_then_erases_after_a_confirmation(app, client, create_user,
                                                                               auth):
    seeded, structure_id = _household(app)
    _login(create_user, auth, "conseiller", structure_id)
    page = client.get(f"/families/{seeded.family_id}").get_data(as_text=True)
    assert "Export this family's data (JSON)" in page and "Erase this family" in page
    assert client.get(f"/families/{seeded.family_id}/export").status_code == 405
    response = client.post(f"/families/{seeded.family_id}/export", data={"format": "json"})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert json.loads(response.data)["guardians"][0]["last_name"] == "NomfamVIEWQQw"
    confirm = client.get(f"/families/{seeded.family_id}/erase").get_data(as_text=True)
    assert "1 atelier registration (attendance counts)" in confirm
    assert "1 computer handed over" in confirm
    with app.app_context():
        assert not _db.session.get(Family, seeded.family_id).is_purged, "a GET erases nothing"
    response = client.post(f"/families/{seeded.family_id}/erase")
    assert response.status_code == 302
    with app.app_context():
        assert _db.session.get(Family, seeded.family_id).is_purged
    assert client.get(f"/families/{seeded.family_id}").status_code == 404


def test_a_conseiller_of_another_structure_can_neither_export_nor_erase(app, client, create_user, auth):
    seeded, _structure_id = _household(app)
    with app.app_context():
        other = seed_canary_family(_db.session(), tag="OTHERQQ")
        other_structure = _db.session.get(Family, other.family_id).structure_id
        _db.session.commit()
    _login(create_user, auth, "conseiller", other_structure)
    assert client.post(f"/families/{seeded.family_id}/export", data={"format": "json"}).status_code == 404
    assert client.post(f"/families/{seeded.family_id}/erase").status_code == 404
    with app.app_context():
        assert not _db.session.get(Family, seeded.family_id).is_purged


def test_the_register_is_for_managers_and_admins(app, client, create_user, auth, logged_in):
    logged_in("manager")
    page = client.get("/privacy/register").get_data(as_text=True)
    assert "Register of processing activities" in page and "`guardians`" in page
    auth.logout()
    logged_in("conseiller")
    assert client.get("/privacy/register").status_code == 403


def test_after_a_merge_the_erase_page_announces_what_the_erasure_keeps(app, client, create_user, auth):
    """Two records of one household, each with an atelier, merged: the page announced the
    merged record's registration twice (its tombstone and the moved copy)."""
    seeded, structure_id = _household(app)
    with app.app_context():
        other = seed_canary_family(_db.session(), tag="TWINQQ", structure_id=structure_id,
                                   when=datetime(2026, 3, 17, 14, tzinfo=UTC))
        keep, gone = (_db.session.get(Family, seeded.family_id), _db.session.get(Family, other.family_id))
        merge_families(_db.session(), keep, gone, _db.session.scalars(select(User)).first())
        _db.session.commit()
    _login(create_user, auth, "conseiller", structure_id)
    confirm = client.get(f"/families/{seeded.family_id}/erase").get_data(as_text=True)
    assert "2 atelier registrations (attendance counts)" in confirm
    assert "1 household merged into this one" in confirm
    response = client.post(f"/families/{seeded.family_id}/erase", follow_redirects=True)
    assert "2 registrations and 2 handovers stay as anonymous counts" in response.get_data(as_text=True)
