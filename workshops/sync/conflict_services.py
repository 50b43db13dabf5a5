"""Conflicts on the hub: a manager keeps the value the record holds, or puts the other one in.

Keeping the other value is an ordinary edit on the hub: the hub's flush listener gives the
row its next version, its field stamps and a change log entry, so every laptop receives the
chosen value at its next pull. Nothing here commits: the view does.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from workshops.auth.models import User
from workshops.core.errors import ValidationFailed
from workshops.core.models import utcnow
from workshops.sync import registry
from workshops.sync.models import Conflict

CHOICES = ("kept", "other")

ALREADY_RESOLVED = _l("This conflict was already resolved by someone else.")
RECORD_GONE = _l("The record no longer holds personal data or no longer exists: only the value it "
                 "holds can be kept.")


def resolve(db, conflict: Conflict, keep: str, actor: User, now: datetime | None = None) -> None:
    """Close a conflict, keeping the record's value ("kept") or writing the value set aside into
    the record ("other"). Raises ValidationFailed for an unknown choice, a conflict already
    resolved, or "other" on a record erased (purged) or missing."""
    if keep not in CHOICES:
        raise ValidationFailed([("keep", str(_l("Choose which value to keep.")))])
    if conflict.status != "open":
        raise ValidationFailed([(None, str(ALREADY_RESOLVED))])
    if keep == "other":
        _write_other_value(db, conflict)
    conflict.status = "resolved"
    conflict.resolution = keep
    conflict.resolved_by_id = actor.id
    conflict.resolved_dt = now or utcnow()
    db.flush()


def _write_other_value(db, conflict: Conflict) -> None:
    model = registry.MODELS.get(conflict.table_name)
    row = db.get(model, conflict.record_id) if model is not None else None
    if row is None or row.is_purged or conflict.field not in registry.fields_of(conflict.table_name):
        raise ValidationFailed([(None, str(RECORD_GONE))])
    value = registry.from_json(conflict.table_name, conflict.field, conflict.other_value)
    setattr(row, conflict.field, value)
    db.flush()
