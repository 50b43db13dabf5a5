"""The second login step of hub managers and admins, kept between two requests.

After a right password the signed cookie session holds who is half logged in (for five
minutes at most); no server-side session exists until the code is right.
"""

from __future__ import annotations

import time
import uuid

from flask import current_app, render_template, session
from sqlalchemy.orm import Session

from workshops.auth import queries, totp_services
from workshops.auth.models import User
from workshops.core.qr import qr_svg

PENDING_KEY = "second_factor"
PENDING_SECONDS = 300


def begin(user: User, next_url: str | None) -> None:
    """Remember that `user` gave the right password and now owes a code. A session this
    browser already had stays until the login completes (then it is ended)."""
    kept = {key: session[key] for key in ("lang", "sid", "seen") if key in session}
    session.clear()
    session.update(kept)
    session[PENDING_KEY] = {"user": str(user.id), "since": int(time.time()), "next": next_url or ""}


def clear() -> None:
    """Forget a half-done login."""
    session.pop(PENDING_KEY, None)


def pending_user(db: Session) -> User | None:
    """The account owing a code, or None (nothing pending, too old, account gone or off)."""
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    user = None
    if time.time() - pending.get("since", 0) <= PENDING_SECONDS:
        user = queries.get_user(db, uuid.UUID(pending["user"]))
    if user is None or not user.is_active or current_app.config["ROLE"] != "hub":
        clear()
        return None
    return user


def pending_next() -> str | None:
    """Where the user was heading before login."""
    return (session.get(PENDING_KEY) or {}).get("next") or None


def render_step(db: Session, user: User, form):
    """The enrolment page (QR code and secret to type) or the code page."""
    row = totp_services.get_totp(db, user)
    if row is not None and row.confirmed_dt is None:
        uri = totp_services.provisioning_uri(row, user.username)
        return render_template("auth/totp_enrol.html", form=form, qr=qr_svg(uri, scale=4),
                               secret=totp_services.grouped_secret(row.secret))
    return render_template("auth/totp_code.html", form=form)
