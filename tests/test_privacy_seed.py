"""A household with unique canary strings in every personal field, and rows in every table that
points to a family (shared by the privacy tests; holds no test itself)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from workshops.auth.models import Epci, Structure, User
from workshops.equipment.models import Equipment, EquipmentEvent, Handover
from workshops.families.models import Child, Family, FamilyResource, Guardian, Registration
from workshops.families.services import search_key_of
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop


@dataclass
class Seeded:
    family_id: uuid.UUID
    workshop_id: uuid.UUID
    handover_id: uuid.UUID
    canaries: list[str] = field(default_factory=list)


def canaries_of(tag: str) -> dict[str, str]:
    """Unique strings per personal field (the phone is digits only, as stored)."""
    digits = "".join(str(ord(char) % 10) for char in tag)[:6].ljust(6, "7")
    return {
        "commune": f"Commune{tag}ville",
        "notes": f"Notenote{tag}xyz",
        "first_name": f"Prenom{tag}q",
        "last_name": f"Nomfam{tag}w",
        "phone": f"+336{digits}12",
        "email": f"mail.{tag.lower()}@example.org",
        "child": f"Enfant{tag}k",
        "handover_notes": f"Handnote{tag}h",
        "place": f"Lieu{tag}p",
        "reason": f"Raison{tag}r",
    }


def world(db, structure_id: uuid.UUID | None = None) -> tuple[Structure, Venue, Resource, User]:
    """A structure, venue, resource and conseiller (made when missing)."""
    structure = db.get(Structure, structure_id) if structure_id else None
    if structure is None:
        epci = Epci(siren=str(uuid.uuid4().int)[:9], name="Epci test")
        structure = Structure(
            name=f"France Services {uuid.uuid4().hex[:6]}", kind="france_services", epci=epci
        )
        db.add_all([epci, structure])
        db.flush()
    venue = Venue(
        name=f"Salle {uuid.uuid4().hex[:6]}",
        commune="Poitiers",
        epci_id=structure.epci_id or db.scalar(select(Epci.id)),
        structure_id=structure.id,
    )
    resource = Resource(name=f"ENEJ {uuid.uuid4().hex[:6]}")
    user = User(
        username=f"cn{uuid.uuid4().hex[:8]}",
        display_name="Conseiller",
        role="conseiller",
        structure_id=structure.id,
        password_hash="x",
    )
    db.add_all([venue, resource, user])
    db.flush()
    return structure, venue, resource, user


def seed_canary_family(
    db, tag: str = "CANARYZQ", structure_id: uuid.UUID | None = None, when: datetime | None = None
) -> Seeded:
    """A family with a guardian, a child, a registration, a resource shown, a machine handed
    over (with notes) and its events (place and reason), every personal field a canary."""
    when = when or datetime(2026, 3, 10, 14, tzinfo=UTC)
    text = canaries_of(tag)
    structure, venue, resource, user = world(db, structure_id)
    family = Family(
        structure_id=structure.id,
        commune=text["commune"],
        notes=text["notes"],
        notice_version="2026-01",
        notice_date=date(2026, 1, 5),
        has_naming_consent=True,
    )
    family.guardians.append(
        Guardian(
            first_name=text["first_name"],
            last_name=text["last_name"],
            phone=text["phone"],
            email=text["email"],
            relation="mother",
        )
    )
    family.children.append(Child(first_name=text["child"], level="6e"))
    db.add(family)
    db.flush()
    family.search_key = search_key_of(family)
    workshop = Workshop(
        title="Atelier e-parentalité",
        start_dt=when,
        end_dt=when + timedelta(hours=2),
        venue_id=venue.id,
        structure_id=structure.id,
    )
    db.add(workshop)
    db.flush()
    machine = Equipment(
        asset_tag=f"AT-{uuid.uuid4().hex[:8]}", structure_id=structure.id, status="handed_over"
    )
    db.add_all(
        [
            Registration(
                workshop_id=workshop.id,
                family_id=family.id,
                status="attended",
                adults_present=1,
                children_present=1,
                checked_in_dt=when,
            ),
            FamilyResource(workshop_id=workshop.id, family_id=family.id, resource_id=resource.id),
            machine,
        ]
    )
    db.flush()
    handover = Handover(
        equipment_id=machine.id,
        family_id=family.id,
        workshop_id=workshop.id,
        mode="gift",
        handed_dt=when,
        terms_version="1",
        terms_text="Terms",
        terms_sha256="0" * 64,
        actor_id=user.id,
        notes=text["handover_notes"],
    )
    db.add(handover)
    db.flush()
    db.add(
        EquipmentEvent(
            equipment_id=machine.id,
            kind="handed_over",
            from_status="in_stock",
            to_status="handed_over",
            occurred_dt=when,
            actor_id=user.id,
            family_id=family.id,
            handover_id=handover.id,
            place=text["place"],
            reason=text["reason"],
        )
    )
    db.flush()
    db.add(Equipment(asset_tag=f"AT-{uuid.uuid4().hex[:8]}", structure_id=structure.id, status="reserved",
                     reserved_family_id=family.id, reserved_workshop_id=workshop.id))
    db.flush()
    return Seeded(family.id, workshop.id, handover.id, list(text.values()))


def files_holding(canaries: list[str], *paths: Path) -> list[str]:
    """'file: canary' for every canary found (case-insensitively) in these files or folders."""
    found = []
    for path in paths:
        files = (
            [path]
            if path.is_file()
            else (sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else [])
        )
        for one in files:
            data = one.read_bytes().lower()
            found += [f"{one.name}: {canary}" for canary in canaries if canary.lower().encode() in data]
    return found
