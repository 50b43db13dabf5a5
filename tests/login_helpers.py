"""Logging a test client in the way a person does, second factor included on a hub (R12)."""

from __future__ import annotations

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD
from workshops.auth.models import User, UserTotp
from workshops.core.models import utcnow
from workshops.extensions import db as _db


def next_code(app: Flask, username: str) -> str:
    """A code the account has not used yet: the current step's, or the next one's when the
    current was already used (still inside the accepted window)."""
    with app.app_context():
        user = _db.session.scalars(select(User).filter_by(username=username)).one()
        row = _db.session.get(UserTotp, user.id)
        totp = pyotp.TOTP(row.secret)
        step = totp.timecode(utcnow())
        if row.last_step is not None and row.last_step >= step:
            step = row.last_step + 1
        return totp.generate_otp(step)


def log_in(app: Flask, client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    """Post the password, then, when the app asks for it, a code (enrolling on first use).
    Returns the last response: a redirect away from /login once logged in."""
    response = client.post("/login", data={"username": username, "password": password})
    if response.status_code == 302 and response.headers["Location"].split("?")[0].endswith("/login"):
        response = client.post("/login", data={"code": next_code(app, username)})
    return response
