"""Structures and EPCI: the settings of who works where, edited by managers and admins.

Services flush, never commit; the caller commits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.auth.models import STRUCTURE_KINDS, Epci, Structure
from workshops.core.errors import ValidationFailed
from workshops.core.models import derived_id


@dataclass(frozen=True)
class StructureData:
    """What a form or the seed gives to create or change a structure."""

    name: str
    kind: str = "other"
    commune: str = ""
    epci_id: uuid.UUID | None = None
    is_active: bool = True


def save_structure(db: Session, data: StructureData, structure: Structure | None = None, *,
                   actor_id: uuid.UUID | None = None) -> Structure:
    """Create a structure, or change `structure`. A person's edit (`actor_id` given) is
    journaled as settings_changed; the seed and reference loads pass none. Raises
    ValidationFailed on an empty or taken name, an unknown kind or EPCI."""
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
    if actor_id is not None:
        record(db, "settings_changed", actor_id=actor_id, object_type="structure",
               object_ref=str(structure.id))
    return structure


def save_epci(db: Session, siren: str, name: str, commune_count: int | None = None, *,
              actor_id: uuid.UUID | None = None) -> Epci:
    """Create or update the EPCI with this SIREN number; a person's edit (`actor_id` given)
    is journaled as settings_changed. Raises ValidationFailed when the SIREN is not 9
    digits or the name is empty."""
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
    if actor_id is not None:
        record(db, "settings_changed", actor_id=actor_id, object_type="epci", object_ref=str(epci.id))
    return epci
