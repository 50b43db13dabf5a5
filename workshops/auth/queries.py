"""Reads about accounts, structures and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.auth.models import Epci, Structure, User, UserSession
from workshops.auth.services import hash_token, normalize_username
from workshops.core.models import utcnow


def get_session_user(db: Session, token: str, absolute: timedelta) -> User | None:
    """The active user of a live session token, or None (unknown, ended, too old)."""
    row = db.get(UserSession, hash_token(token))
    if row is None or row.created_dt + absolute < utcnow():
        return None
    user = row.user
    return user if user.is_active and user.deleted_dt is None else None


def get_user(db: Session, user_id: uuid.UUID) -> User | None:
    """An account by id, or None."""
    return db.get(User, user_id)


def list_users(db: Session) -> list[User]:
    """Every account, active first, by name."""
    return list(db.scalars(select(User).order_by(User.is_active.desc(), User.display_name)))


def list_structures(db: Session, *, active_only: bool = False) -> list[Structure]:
    """Structures by name, optionally only the active ones."""
    query = select(Structure).where(Structure.deleted_dt.is_(None)).order_by(Structure.name)
    if active_only:
        query = query.where(Structure.is_active.is_(True))
    return list(db.scalars(query))


def get_structure(db: Session, structure_id: uuid.UUID) -> Structure | None:
    """A structure by id, or None."""
    return db.get(Structure, structure_id)


def list_epcis(db: Session) -> list[Epci]:
    """EPCI by name."""
    return list(db.scalars(select(Epci).where(Epci.deleted_dt.is_(None)).order_by(func.lower(Epci.name))))


def session_started(db: Session, token: str) -> datetime | None:
    """When the session with this token began, or None."""
    row = db.get(UserSession, hash_token(token))
    return row.created_dt if row else None


def get_structure_by_name(db: Session, name: str) -> Structure | None:
    """The structure with exactly this name, or None."""
    return db.scalar(select(Structure).where(Structure.name == name))


def visible_structure_ids(user: User) -> set[uuid.UUID] | None:
    """The structures whose families and ateliers the user may see: None means
    all of them (managers and admins); a conseiller sees their own structure
    only (none if they have no structure yet)."""
    if user.role in ("manager", "admin"):
        return None
    return {user.structure_id} if user.structure_id else set()


def get_user_by_username(db: Session, username: str) -> User | None:
    """The account with this login name (compared as typed at login), or None."""
    return db.scalar(select(User).where(User.username == normalize_username(username)))
