"""Reads of the resources catalogue."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from workshops.resources.models import Resource


def list_resources(db: Session, *, category: str | None = None,
                   active_only: bool = False) -> list[Resource]:
    """Resources by name (ignoring case) with their descriptions, optionally of one category or
    only the active ones. Raises nothing."""
    query = (select(Resource).where(Resource.deleted_dt.is_(None))
             .options(selectinload(Resource.descriptions))
             .order_by(func.lower(Resource.name), Resource.name))
    if category:
        query = query.where(Resource.category == category)
    if active_only:
        query = query.where(Resource.is_active.is_(True))
    return list(db.scalars(query))


def get_resource(db: Session, resource_id: uuid.UUID) -> Resource | None:
    """A resource by id, or None when unknown or deleted. Raises nothing."""
    resource = db.get(Resource, resource_id)
    return resource if resource is not None and resource.deleted_dt is None else None


def find_resource_by_name(db: Session, name: str) -> Resource | None:
    """The resource with this name, whatever its case, or None. Raises nothing."""
    name = " ".join(name.split())
    # The exact comparison catches names whose first letter SQLite's lower()
    # leaves alone (É...); lower() catches the other case differences.
    return db.scalar(select(Resource).where(
        or_(Resource.name == name, func.lower(Resource.name) == name.lower())).limit(1))
