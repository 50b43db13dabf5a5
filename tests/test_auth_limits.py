"""Per-address login limit from REMOTE_ADDR only (R06, R53), and a fresh session row at each login (R08)."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from workshops.auth.models import UserSession
from workshops.extensions import db as _db


def _fail(client, n, address="203.0.113.7"):
    return client.post("/login", headers={"X-Forwarded-For": f"198.51.100.{n}", "X-Real-IP": f"10.9.9.{n}"},
                       environ_base={"REMOTE_ADDR": address},
                       data={"username": f"someone{n}", "password": "not a password at all"})


def test_many_failures_from_one_address_are_refused_whatever_the_forwarded_headers(app, create_user):
    app.config.update(LOGIN_IP_MAX_FAILURES=3, LOGIN_IP_WINDOW_SECONDS=300)
    username = create_user()
    client = app.test_client()
    for n in range(3):
        assert _fail(client, n).status_code == 200, "a plain failure first"
    assert _fail(client, 99).status_code == 429, "a new X-Forwarded-For does not escape the limit"
    refused = client.post("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                          data={"username": username, "password": PASSWORD})
    assert refused.status_code == 429 and b"Too many attempts" in refused.data
    other = app.test_client().post("/login", environ_base={"REMOTE_ADDR": "203.0.113.8"},
                                   data={"username": username, "password": PASSWORD})
    assert other.status_code == 302, "another address still logs in: the limit is not global"
    with time_machine.travel(timedelta(seconds=301)):
        later = client.post("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                            data={"username": username, "password": PASSWORD})
        assert later.status_code == 302, "the window slid past the failures"


def test_a_new_login_ends_the_session_the_browser_had(app, client, create_user):
    first = create_user()
    second = create_user()
    client.post("/login", data={"username": first, "password": PASSWORD})
    before = client.get_cookie("session").value
    client.post("/login", data={"username": second, "password": PASSWORD})
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(UserSession)) == 1
    replay = app.test_client()
    replay.set_cookie("session", before)
    assert replay.get("/").status_code == 302, "the earlier session id is gone"
