"""Account rules: passwords, login with throttling, sessions, account changes.

Services flush, never commit; the caller (view or command) commits once.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workshops.audit.services import pseudonym, record
from workshops.auth.models import LoginThrottle, Structure, User, UserSession

# Structures and EPCI have their own module; these names stay importable from here.
from workshops.auth.structure_services import StructureData, save_epci, save_structure  # noqa: F401
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.models import utcnow
from workshops.core.security import ROLES

# R05: at least 15 characters, or a passphrase of 5 words or more (and at least 12
# characters); never more than 128, refused before any hashing.
MIN_PASSWORD_LENGTH = 15
MIN_PASSPHRASE_WORDS = 5
MIN_PASSPHRASE_LENGTH = 12
MAX_PASSWORD_LENGTH = 128

# Passwords too common to accept, whatever their length (compared casefolded,
# without spaces). Context words (username, name, structure) are added per call.
COMMON_PASSWORDS = frozenset({
    "motdepasse", "motdepasse123", "motdepasse123!", "password", "password123",
    "azertyuiop", "azertyuiop123", "123456789012", "qwertyuiop123", "soleil123456",
    "bonjour12345", "conseiller123", "conseillernumerique", "mediateurnumerique",
    "administrateur", "workshops123", "departement86",
})

# argon2id with the library's defaults (m=64 MiB, t=3, p=4), above ASVS's floor.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the account does not exist, so both paths take as
    long. Made on first use: hashing at import would slow every start."""
    return _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class NewUser:
    """What a form or command gives to create an account."""

    username: str
    display_name: str
    password: str
    role: str = "conseiller"
    structure_id: uuid.UUID | None = None
    preferred_language: str = "fr"


def normalize_username(username: str) -> str:
    """Login names compare without case or surrounding spaces (NFC)."""
    return unicodedata.normalize("NFC", username).strip().casefold()


def hash_token(token: str) -> str:
    """SHA-256 of a session token; only the hash is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def password_problems(password: str, context: tuple[str, ...] = ()) -> list[str]:
    """Why a new password is refused, empty when it is fine. No composition rules."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return [str(_l("Use at most %(max)s characters.", max=MAX_PASSWORD_LENGTH))]
    passphrase = len(password.split()) >= MIN_PASSPHRASE_WORDS and len(password) >= MIN_PASSPHRASE_LENGTH
    if len(password) < MIN_PASSWORD_LENGTH and not passphrase:
        return [str(_l("Use at least %(min)s characters, or %(words)s words: a short sentence you "
                       "can remember works well.", min=MIN_PASSWORD_LENGTH, words=MIN_PASSPHRASE_WORDS))]
    folded = "".join(password.casefold().split())
    words = {"".join(word.casefold().split()) for word in context if word}
    if folded in COMMON_PASSWORDS or folded in words:
        return [str(_l("This password is too easy to guess. Choose another one."))]
    return []


def hash_password(password: str) -> str:
    """argon2id hash of a password already checked for length."""
    return _hasher.hash(password)


def create_user(db: Session, new: NewUser, *, structure_name: str = "",
                actor_id: uuid.UUID | None = None) -> User:
    """Create an account (journal: user_created). Raises ValidationFailed on a taken name,
    unknown role, unknown structure or weak password."""
    reasons = []
    username = normalize_username(new.username)
    if not username:
        reasons.append(("username", _l("Enter a login name.")))
    elif db.scalar(select(User.id).where(User.username == username)) is not None:
        reasons.append(("username", _l("This login name is already used.")))
    if new.role not in ROLES:
        reasons.append(("role", _l("Choose a role from the list.")))
    if new.structure_id is not None and db.get(Structure, new.structure_id) is None:
        reasons.append(("structure_id", _l("Choose a structure from the list.")))
    context = (username, new.display_name, structure_name)
    reasons += [("password", message) for message in password_problems(new.password, context)]
    if reasons:
        raise ValidationFailed(reasons)
    user = User(
        username=username,
        display_name=new.display_name.strip(),
        role=new.role,
        structure_id=new.structure_id,
        preferred_language=new.preferred_language,
        password_hash=hash_password(new.password),
    )
    db.add(user)
    db.flush()
    record(db, "user_created", actor_id=actor_id, object_type="user", object_ref=str(user.id),
           details={"role": user.role})
    return user


def has_any_user(db: Session) -> bool:
    """True once the first account exists."""
    return db.scalar(select(func.count()).select_from(User)) > 0


def create_first_account(db: Session, new: NewUser) -> User:
    """Create the first administrator; NotAllowed once any account exists."""
    if has_any_user(db):
        raise NotAllowed("an account already exists")
    return create_user(db, NewUser(**{**new.__dict__, "role": "admin"}))


def authenticate(db: Session, username: str, password: str, *, max_failures: int,
                 lock_seconds: int, audit_key: str) -> User | None:
    """The active user for these credentials, or None.

    Per account name (existing or not): after `max_failures` failures the name
    is locked for `lock_seconds` (doubling with each further failure), even for
    the right password. Passwords over the maximum length are refused before
    any hashing. A hash made with older parameters is upgraded. The failures are
    cleared by `log_in`, once every factor passed. Journal: login_failed or
    login_throttled, with a keyed hash of the typed name (never the name).
    """
    key = throttle_key(username)
    now = utcnow()
    if is_locked(db, key, now):
        record(db, "login_throttled", object_type="login", object_ref=pseudonym(audit_key, key))
        return None
    user = db.scalar(select(User).where(User.username == key))
    if len(password) > MAX_PASSWORD_LENGTH or not _verify(user, password):
        failures = register_failure(db, key, now, max_failures=max_failures, lock_seconds=lock_seconds)
        record(db, "login_failed", object_type="login", object_ref=pseudonym(audit_key, key),
               details={"failures": failures})
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.flush()
    return user


def throttle_key(username: str) -> str:
    """The throttle row's key for a typed login name."""
    return normalize_username(username)[:80]


def is_locked(db: Session, key: str, now: datetime) -> bool:
    """True while the account name is locked after too many failures."""
    throttle = db.get(LoginThrottle, key)
    return throttle is not None and throttle.locked_until_dt is not None and throttle.locked_until_dt > now


def register_failure(db: Session, key: str, now: datetime, *, max_failures: int, lock_seconds: int) -> int:
    """Count one failure (password or second factor) for the name; returns the count."""
    throttle = db.get(LoginThrottle, key) or LoginThrottle(username_key=key, failure_count=0)
    throttle.failure_count += 1
    over = throttle.failure_count - max_failures
    if over >= 0:
        throttle.locked_until_dt = now + timedelta(seconds=lock_seconds * 2 ** min(over, 6))
    db.add(throttle)
    db.flush()
    return throttle.failure_count


def _verify(user: User | None, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.is_active


def log_in(db: Session, user: User, *, absolute: timedelta, previous_token: str | None = None) -> str:
    """Open a session for a user who passed every factor; returns the cookie token.

    Clears the name's failed attempts, ends the session this browser had before (R08),
    removes sessions past the absolute lifetime, and records the login.
    """
    db.execute(delete(LoginThrottle).where(LoginThrottle.username_key == user.username))
    if previous_token:
        end_session(db, previous_token)
    purge_expired_sessions(db, absolute)
    user.last_login_dt = utcnow()
    token = start_session(db, user)
    record(db, "login", actor_id=user.id, object_type="user", object_ref=str(user.id))
    return token


def log_out(db: Session, token: str) -> None:
    """End this browser's session (logout) and record it."""
    row = db.get(UserSession, hash_token(token))
    if row is None:
        return
    user_id = row.user_id
    end_session(db, token)
    record(db, "logout", actor_id=user_id, object_type="user", object_ref=str(user_id))


def start_session(db: Session, user: User) -> str:
    """A new server-side session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    db.add(UserSession(token_hash=hash_token(token), user_id=user.id))
    db.flush()
    return token


def purge_expired_sessions(db: Session, absolute: timedelta) -> int:
    """Remove sessions older than the absolute lifetime; returns how many."""
    cutoff = utcnow() - absolute
    return db.execute(delete(UserSession).where(UserSession.created_dt < cutoff)).rowcount


def end_session(db: Session, token: str) -> None:
    """End one session (logout)."""
    db.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))


def end_all_sessions(db: Session, user: User) -> int:
    """End every session of the user at once; returns how many were open."""
    result = db.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return result.rowcount


def end_sessions_of(db: Session, user: User, *, actor: User) -> int:
    """An administrator ends every session of an account (journal: sessions_ended).
    Raises NotAllowed for anyone but an admin."""
    if actor.role != "admin":
        raise NotAllowed("only admins end sessions")
    count = end_all_sessions(db, user)
    record(db, "sessions_ended", actor_id=actor.id, object_type="user", object_ref=str(user.id),
           details={"count": count})
    return count


def change_password(db: Session, user: User, current: str, new_password: str) -> None:
    """Change the user's own password and end all their sessions.

    Raises ValidationFailed when the current password is wrong or the new one weak.
    """
    if len(current) > MAX_PASSWORD_LENGTH or not _verify(user, current):
        raise ValidationFailed([("current_password", _l("The current password is not right."))])
    problems = password_problems(new_password, (user.username, user.display_name))
    if problems:
        raise ValidationFailed([("new_password", message) for message in problems])
    user.password_hash = hash_password(new_password)
    user.password_changed_dt = utcnow()
    count = end_all_sessions(db, user)
    db.flush()
    record(db, "password_changed", actor_id=user.id, object_type="user", object_ref=str(user.id),
           details={"sessions_ended": count})


def update_user(db: Session, user: User, *, actor: User, display_name: str, role: str,
                structure_id: uuid.UUID | None, is_active: bool) -> User:
    """Change an account's name, role, structure or activity (admins only).

    Deactivation ends the account's sessions at once. Journal: role_changed (a new role or
    structure: what the account may see), user_deactivated, user_reactivated. Raises
    NotAllowed for anyone but an admin, ValidationFailed when an admin would remove their
    own admin rights or deactivate themselves.
    """
    if actor.role != "admin":
        raise NotAllowed("only admins change accounts")
    if user.id == actor.id and (role != "admin" or not is_active):
        raise ValidationFailed([(None, _l("You cannot remove your own administrator access."))])
    if role not in ROLES:
        raise ValidationFailed([("role", _l("Choose a role from the list."))])
    if structure_id is not None and db.get(Structure, structure_id) is None:
        raise ValidationFailed([("structure_id", _l("Choose a structure from the list."))])
    changes = []
    if (role, structure_id) != (user.role, user.structure_id):
        changes.append(("role_changed", {"from": user.role, "to": role,
                                         "structure_changed": structure_id != user.structure_id}))
    if is_active != user.is_active:
        changes.append(("user_reactivated" if is_active else "user_deactivated", {}))
    user.display_name = display_name.strip()
    user.role = role
    user.structure_id = structure_id
    if user.is_active and not is_active:
        end_all_sessions(db, user)
    user.is_active = is_active
    db.flush()
    for action, details in changes:
        record(db, action, actor_id=actor.id, object_type="user", object_ref=str(user.id), details=details)
    return user
