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

from workshops.auth.models import (
    STRUCTURE_KINDS,
    Epci,
    LoginThrottle,
    Structure,
    User,
    UserSession,
)
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.core.security import ROLES

MIN_PASSWORD_LENGTH = 12
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
    if len(password) < MIN_PASSWORD_LENGTH:
        return [str(_l("Use at least %(min)s characters: a short sentence you can remember works well.",
                       min=MIN_PASSWORD_LENGTH))]
    folded = "".join(password.casefold().split())
    words = {"".join(word.casefold().split()) for word in context if word}
    if folded in COMMON_PASSWORDS or folded in words:
        return [str(_l("This password is too easy to guess. Choose another one."))]
    return []


def hash_password(password: str) -> str:
    """argon2id hash of a password already checked for length."""
    return _hasher.hash(password)


def create_user(db: Session, new: NewUser, *, structure_name: str = "") -> User:
    """Create an account. Raises ValidationFailed on a taken name, unknown role,
    unknown structure or weak password."""
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
                 lock_seconds: int) -> User | None:
    """The active user for these credentials, or None.

    Per account name (existing or not): after `max_failures` failures the name
    is locked for `lock_seconds` (doubling with each further failure), even for
    the right password. Passwords over the maximum length are refused before
    any hashing. A hash made with older parameters is upgraded.
    """
    key = normalize_username(username)[:80]
    now = utcnow()
    throttle = db.get(LoginThrottle, key) or LoginThrottle(username_key=key, failure_count=0)
    if throttle.locked_until_dt is not None and throttle.locked_until_dt > now:
        return None
    user = db.scalar(select(User).where(User.username == key))
    if len(password) > MAX_PASSWORD_LENGTH or not _verify(user, password):
        _record_failure(db, throttle, now, max_failures, lock_seconds)
        return None
    if throttle in db:
        db.delete(throttle)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_dt = now
    db.flush()
    return user


def _verify(user: User | None, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.is_active


def _record_failure(db: Session, throttle: LoginThrottle, now: datetime, max_failures: int,
                    lock_seconds: int) -> None:
    throttle.failure_count += 1
    over = throttle.failure_count - max_failures
    if over >= 0:
        throttle.locked_until_dt = now + timedelta(seconds=lock_seconds * 2 ** min(over, 6))
    db.add(throttle)
    db.flush()


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
    end_all_sessions(db, user)
    db.flush()


def update_user(db: Session, user: User, *, actor: User, display_name: str, role: str,
                structure_id: uuid.UUID | None, is_active: bool) -> User:
    """Change an account's name, role, structure or activity (admins only).

    Deactivation ends the account's sessions at once. Raises NotAllowed when an
    admin would remove their own admin rights or deactivate themselves.
    """
    if actor.role != "admin":
        raise NotAllowed("only admins change accounts")
    if user.id == actor.id and (role != "admin" or not is_active):
        raise ValidationFailed([(None, _l("You cannot remove your own administrator access."))])
    if role not in ROLES:
        raise ValidationFailed([("role", _l("Choose a role from the list."))])
    if structure_id is not None and db.get(Structure, structure_id) is None:
        raise ValidationFailed([("structure_id", _l("Choose a structure from the list."))])
    user.display_name = display_name.strip()
    user.role = role
    user.structure_id = structure_id
    if user.is_active and not is_active:
        end_all_sessions(db, user)
    user.is_active = is_active
    db.flush()
    return user


@dataclass(frozen=True)
class StructureData:
    """What a form or the seed gives to create or change a structure."""

    name: str
    kind: str = "other"
    commune: str = ""
    epci_id: uuid.UUID | None = None
    is_active: bool = True


def save_structure(db: Session, data: StructureData, structure: Structure | None = None) -> Structure:
    """Create a structure, or change `structure`. Raises ValidationFailed on an
    empty or taken name, an unknown kind or EPCI."""
    name = " ".join(data.name.split())
    reasons = []
    if not name:
        reasons.append(("name", _l("Enter the structure's name.")))
    else:
        same = db.scalar(select(Structure).where(func.lower(Structure.name) == name.lower()))
        if same is not None and same is not structure:
            reasons.append(("name", _l("A structure with this name already exists.")))
    if data.kind not in STRUCTURE_KINDS:
        reasons.append(("kind", _l("Choose a kind from the list.")))
    if data.epci_id is not None and db.get(Epci, data.epci_id) is None:
        reasons.append(("epci_id", _l("Choose an EPCI from the list.")))
    if reasons:
        raise ValidationFailed(reasons)
    structure = structure or Structure()
    structure.name, structure.kind = name, data.kind
    structure.commune, structure.epci_id = data.commune.strip(), data.epci_id
    structure.is_active = data.is_active
    db.add(structure)
    db.flush()
    return structure


def save_epci(db: Session, siren: str, name: str, commune_count: int | None = None) -> Epci:
    """Create or update the EPCI with this SIREN number. Raises ValidationFailed
    when the SIREN is not 9 digits or the name is empty."""
    siren = siren.strip()
    reasons = []
    if not (len(siren) == 9 and siren.isdigit()):
        reasons.append(("siren", _l("A SIREN number has 9 digits.")))
    if not name.strip():
        reasons.append(("name", _l("Enter the EPCI's name.")))
    if reasons:
        raise ValidationFailed(reasons)
    # The id derives from the SIREN, so every installation makes the same row.
    epci = db.scalar(select(Epci).where(Epci.siren == siren)) or Epci(
        id=derived_id("epci", siren), siren=siren)
    epci.name, epci.commune_count = name.strip(), commune_count
    db.add(epci)
    db.flush()
    return epci
