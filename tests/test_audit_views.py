"""The administrator's page of the audit journal (R41): admins only, newest first, times in
Paris, the acting account's name, pages of 50, an empty state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from workshops.audit.services import record
from workshops.auth.models import User
from workshops.extensions import db as _db

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("role", ["conseiller", "manager"])
def test_only_admins_see_the_journal(client, logged_in, role):
    logged_in(role)
    assert client.get("/admin/audit/").status_code == 403


def test_the_journal_newest_first_with_names_in_paris_time_and_pages(app, client, logged_in):
    admin = logged_in("admin")
    with app.app_context():
        actor = _db.session.scalar(select(User).where(User.username == admin))
        for number in range(51):
            record(_db.session, "export", actor_id=actor.id, object_type="report", object_ref="cra",
                   details={"rows": number}, now=T0 + timedelta(minutes=number))
        _db.session.commit()
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "Admin Test" in page and "rows=50<" in page and "rows=0<" not in page
    assert "10:50" in page, "08:50 UTC is 10:50 in Paris in July"
    assert page.index("rows=50<") < page.index("rows=49<") and "Next page" in page
    older = client.get("/admin/audit/?page=2").get_data(as_text=True)
    assert "rows=0<" in older and "rows=50<" not in older and "Previous page" in older


def test_one_action_and_its_empty_state(app, client, logged_in):
    logged_in("admin")
    logins = client.get("/admin/audit/?action=login").get_data(as_text=True)
    assert "<code>login</code>" in logins and "<code>user_created</code>" not in logins
    none = client.get("/admin/audit/?action=erasure")
    assert none.status_code == 200 and "No entry to show." in none.get_data(as_text=True)
