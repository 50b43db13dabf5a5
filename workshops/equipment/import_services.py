"""Writes of a delivery list import: the confirmed rows, each through add_equipment (an
"imported" event in its history), all in one transaction.

The pending file and the remembered column mapping are those of the family import
(families/import_services.py: store_upload, load_upload, update_upload, discard_upload,
remember_mapping). Services flush, never commit: the view or the command commits once,
so an error on any row leaves nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.auth.models import User
from workshops.core.errors import ValidationFailed
from workshops.core.models import utcnow
from workshops.equipment import services
from workshops.families.importers import Preview


@dataclass(frozen=True)
class EquipmentImportResult:
    """What a confirmed import wrote."""

    written: int
    skipped: int
    equipment_ids: tuple[uuid.UUID, ...]


def confirm_equipment_import(db: Session, preview: Preview, structure_id: uuid.UUID, actor: User, *,
                             included_warnings: Collection[int] | None = None,
                             now: datetime | None = None) -> EquipmentImportResult:
    """Add the machines of the ok rows and of the warned rows included (all when None) to
    the stock of `structure_id`, each with an "imported" event. Refused rows are never
    written. Records one "import" entry in the audit journal (counts only). Flushes only: the
    caller commits once.

    Raises ValidationFailed when a row is refused on writing (its line in the message:
    the asset tag was taken meanwhile, say), NotAllowed when the structure is outside the
    actor's scope; anything raised leaves the session to be rolled back.
    """
    when = now or utcnow()
    ids = []
    for row in preview.to_write(included_warnings):
        try:
            item = services.add_equipment(db, replace(row.data, structure_id=structure_id), actor,
                                          kind="imported", now=when)
        except ValidationFailed as error:
            raise ValidationFailed([(None, _l("Line %(line)s: %(reason)s", line=row.line, reason=message))
                                    for _field, message in error.reasons]) from error
        ids.append(item.id)
    done = EquipmentImportResult(len(ids), len(preview.rows) - len(ids), tuple(ids))
    record(db, "import", actor_id=actor.id, object_type="equipment", object_ref=str(structure_id),
           details={"created": done.written, "skipped": done.skipped}, now=when)
    return done
