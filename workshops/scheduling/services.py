"""Rules of venues: what a venue must have to be counted by territory.

Services flush, never commit; the caller (view or command) commits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.auth.models import Epci, Structure
from workshops.core.errors import Reason, ValidationFailed
from workshops.scheduling.models import VENUE_KINDS, Venue
from workshops.scheduling.queries import find_venue


@dataclass(frozen=True)
class VenueData:
    """What a form or the seed gives to create or change a venue."""

    name: str
    commune: str
    epci_id: uuid.UUID | None
    kind: str = "other"
    address: str = ""
    postcode: str = ""
    structure_id: uuid.UUID | None = None
    is_active: bool = True


def save_venue(db: Session, data: VenueData, venue: Venue | None = None) -> Venue:
    """Create a venue, or change `venue`.

    Raises ValidationFailed on an empty name or commune, a name already used in
    the same commune, an unknown kind, a missing or unknown EPCI, an unknown
    structure, or a postcode that is not 5 digits.
    """
    name, commune = " ".join(data.name.split()), " ".join(data.commune.split())
    postcode = data.postcode.strip()
    reasons = _place_problems(db, name, commune, postcode, venue) + _link_problems(db, data)
    if reasons:
        raise ValidationFailed(reasons)
    venue = venue or Venue()
    venue.name, venue.commune, venue.postcode = name, commune, postcode
    venue.address, venue.kind = " ".join(data.address.split()), data.kind
    venue.epci_id, venue.structure_id = data.epci_id, data.structure_id
    venue.is_active = data.is_active
    db.add(venue)
    db.flush()
    return venue


def _place_problems(db: Session, name: str, commune: str, postcode: str,
                    venue: Venue | None) -> list[Reason]:
    reasons = []
    if not name:
        reasons.append(("name", _l("Enter the venue's name.")))
    if not commune:
        reasons.append(("commune", _l("Enter the commune.")))
    if name and commune:
        same = find_venue(db, name, commune)
        if same is not None and same is not venue:
            reasons.append(("name", _l("A venue with this name already exists in this commune.")))
    if postcode and not (len(postcode) == 5 and postcode.isdigit()):
        reasons.append(("postcode", _l("A postcode has 5 digits, for example 86000.")))
    return reasons


def _link_problems(db: Session, data: VenueData) -> list[Reason]:
    reasons = []
    if data.kind not in VENUE_KINDS:
        reasons.append(("kind", _l("Choose a kind from the list.")))
    if data.epci_id is None:
        reasons.append(("epci_id", _l("Choose the EPCI of the commune: figures are counted by EPCI.")))
    elif db.get(Epci, data.epci_id) is None:
        reasons.append(("epci_id", _l("Choose an EPCI from the list.")))
    if data.structure_id is not None and db.get(Structure, data.structure_id) is None:
        reasons.append(("structure_id", _l("Choose a structure from the list.")))
    return reasons
