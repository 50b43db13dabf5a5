"""The second factor of manager and admin accounts on the hub: TOTP codes (R12).

A code is checked with pyotp against the current time step and one step either side
(valid_window=1), accepted once (`UserTotp.last_step`), and every wrong code counts in the
same per-account throttle as wrong passwords. Services flush, never commit.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.auth.models import User, UserTotp
from workshops.auth.services import is_locked, register_failure
from workshops.core.errors import NotAllowed
from workshops.core.models import utcnow

# Roles that need a second factor on a hub.
TOTP_ROLES = ("manager", "admin")
VALID_WINDOW = 1
ISSUER = "Ateliers numériques"


def needs_second_factor(user: User, installation_role: str) -> bool:
    """True for a manager or admin logging in to a hub (laptops rely on the device, its OS
    login and full-disk encryption: docs/security-decisions.md)."""
    return installation_role == "hub" and user.role in TOTP_ROLES


def get_totp(db: Session, user: User) -> UserTotp | None:
    """The account's TOTP row (confirmed or still being enrolled), or None."""
    return db.scalar(select(UserTotp).where(UserTotp.user_id == user.id))


def is_enrolled(db: Session, user: User) -> bool:
    """True once the account confirmed a first code."""
    row = get_totp(db, user)
    return row is not None and row.confirmed_dt is not None


def start_enrolment(db: Session, user: User) -> UserTotp:
    """The account's TOTP row, making a new secret when it has none yet. An unconfirmed
    secret is kept, so a phone that already scanned it keeps working."""
    row = get_totp(db, user)
    if row is None:
        row = UserTotp(user_id=user.id, secret=pyotp.random_base32())
        db.add(row)
        db.flush()
    return row


def provisioning_uri(row: UserTotp, username: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(row.secret).provisioning_uri(name=username, issuer_name=ISSUER)


def grouped_secret(secret: str) -> str:
    """The secret in groups of 4 characters, easier to type into an app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code equals `code` (this step or one either side), or None."""
    code = "".join(code.split())
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_code(db: Session, user: User, code: str, *, max_failures: int, lock_seconds: int,
               now: datetime | None = None) -> bool:
    """Check a code typed at login, or at enrolment for a secret not yet confirmed.

    True when the code matches a step later than the last accepted one (a code works once);
    a first good code confirms the enrolment (journal: totp_enrolled). A wrong or replayed
    code counts as a failed login for the account (journal: totp_failed); while the account
    is locked every code is refused (journal: login_throttled).
    """
    now = now or utcnow()
    row = get_totp(db, user)
    if is_locked(db, user.username, now):
        record(db, "login_throttled", actor_id=user.id, object_type="user", object_ref=str(user.id))
        return False
    step = matching_step(row.secret, code, now) if row is not None else None
    if step is None or (row.last_step is not None and step <= row.last_step):
        failures = register_failure(db, user.username, now, max_failures=max_failures,
                                    lock_seconds=lock_seconds)
        record(db, "totp_failed", actor_id=user.id, object_type="user", object_ref=str(user.id),
               details={"failures": failures, "replayed": step is not None})
        return False
    row.last_step = step
    if row.confirmed_dt is None:
        row.confirmed_dt = now
        record(db, "totp_enrolled", actor_id=user.id, object_type="user", object_ref=str(user.id))
    db.flush()
    return True


def reset_totp(db: Session, user: User, *, actor: User | None) -> bool:
    """Remove the account's TOTP secret (a lost phone): it enrols again at its next login.
    `actor` None is the server's operator (`flask users reset-code`, when no admin can log
    in). Journal: totp_reset. Returns False when there was none. Raises NotAllowed for a
    user who is not an admin."""
    if actor is not None and actor.role != "admin":
        raise NotAllowed("only admins reset a second factor")
    row = get_totp(db, user)
    if row is None:
        return False
    db.delete(row)
    db.flush()
    record(db, "totp_reset", actor_id=actor.id if actor else None, object_type="user",
           object_ref=str(user.id))
    return True
