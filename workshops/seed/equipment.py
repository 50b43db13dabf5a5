"""Made-up refurbished machines for demonstrations: a stock and one example of each moment of
a machine's life (reserved, given, lent, overdue, returned, faulty, recycled, a voided handover).

Everything goes through the equipment services, so the demo obeys the same rules as real
data; events are dated at the ateliers they happened at.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth.models import Structure, User
from workshops.core.models import utcnow
from workshops.equipment import services
from workshops.equipment.models import Equipment
from workshops.families.models import Family, Registration
from workshops.scheduling.localtime import to_local
from workshops.scheduling.models import Workshop

REFURBISHER = "EBE Le Ressort"
# Brand, model, CPU, RAM (GB), storage, kind.
MODELS = (
    ("Dell", "OptiPlex 7050", "Intel Core i5-7500", 8, "SSD 256 GB", "desktop"),
    ("HP", "EliteDesk 800 G3", "Intel Core i5-6500", 8, "SSD 240 GB", "desktop"),
    ("Lenovo", "ThinkCentre M710q", "Intel Core i3-7100T", 8, "SSD 128 GB", "desktop"),
    ("Lenovo", "ThinkPad T470", "Intel Core i5-7300U", 8, "SSD 256 GB", "laptop"),
    ("HP", "EliteBook 840 G4", "Intel Core i5-7200U", 8, "SSD 256 GB", "laptop"),
)
GRADES = ("very_good", "good", "good", "fair")


def load_equipment(db: Session, actor: User, *, machines: int = 20, seed: int = 4) -> int:
    """Add `machines` machines to the actor's structure, then reserve, give, lend (one loan
    overdue), return, void, mark faulty and recycle a few, at the past demo ateliers.

    Flushes, never commits. Returns the number of machines. Raises ValidationFailed or
    TransitionRefused if the demo breaks a rule (a bug of this module).
    """
    rng = random.Random(seed)  # noqa: S311 (made-up data, reproducible on purpose)
    today = to_local(utcnow()).date()
    delivered = utcnow() - timedelta(days=200)
    colleges = list(db.scalars(select(Structure.name).where(Structure.kind == "college")
                               .order_by(Structure.name)))
    items = [services.add_equipment(db, _machine(rng, number, actor, colleges, today), actor,
                                    kind="imported" if number > 2 else "added", now=delivered,
                                    reason="" if number <= 2 else "livraison-demo.csv")
             for number in range(1, machines + 1)]
    _life(db, actor, items, today)
    return len(items)


def _machine(rng: random.Random, number: int, actor: User, colleges: list[str], today: date):
    brand, model, cpu, ram, storage, kind = MODELS[number % len(MODELS)]
    return services.EquipmentData(
        asset_tag=f"LR-DEMO-{number:04d}", structure_id=actor.structure_id, kind=kind,
        serial=f"SN{rng.randrange(10**8):08d}", brand=brand, model=model, cpu=cpu, ram_gb=ram,
        storage=storage, operating_system="Linux Mint 21" if number % 3 else "Windows 10",
        accessories="clavier, souris, écran" if kind == "desktop" else "chargeur",
        origin=rng.choice(colleges) if colleges and number % 4 else "Don Crédit Agricole",
        refurbisher=REFURBISHER, refurbished_on=today - timedelta(days=210),
        grade=rng.choice(GRADES), notes="")


def _life(db: Session, actor: User, items: list[Equipment], today: date) -> None:
    """One example of each moment of a machine's life, on the oldest machines."""
    past = list(db.scalars(select(Workshop).where(Workshop.structure_id == actor.structure_id,
                                                  Workshop.end_dt < utcnow())
                           .order_by(Workshop.start_dt)))
    families = _families(db, actor)
    laptops = [m for m in items if m.kind == "laptop"]
    desktops = [m for m in items if m.kind == "desktop"]
    if len(families) < 5 or len(laptops) < 3 or len(desktops) < 5:
        return
    oldest = past[0] if past else None
    latest = past[-1] if past else None
    when = (oldest.start_dt if oldest else utcnow() - timedelta(days=90)) + timedelta(hours=1)
    recent = (latest.start_dt if latest else utcnow() - timedelta(days=7)) + timedelta(hours=1)
    # An overdue loan: lent at the oldest atelier, due two weeks later.
    services.hand_over(db, desktops[0], families[0], actor, mode="loan", workshop=oldest,
                       due_on=to_local(when).date() + timedelta(days=14), now=when)
    # A gift, and a loan returned after a while.
    services.hand_over(db, laptops[0], families[1], actor, mode="gift", workshop=oldest, now=when)
    services.hand_over(db, desktops[1], families[2], actor, mode="loan", workshop=oldest, now=when)
    services.record_return(db, desktops[1], actor, reason="Fin du prêt, machine en bon état",
                           place="Permanence DAS", now=recent - timedelta(days=1))
    # A handover recorded for the wrong family, voided; then the running loan of the day.
    wrong = services.hand_over(db, desktops[2], families[4], actor, mode="gift", workshop=latest,
                               now=recent)
    services.void_handover(db, wrong, actor, "Erreur de famille à la saisie",
                           now=recent + timedelta(minutes=5))
    services.hand_over(db, desktops[2], families[3], actor, mode="loan", workshop=latest,
                       now=recent + timedelta(minutes=10))
    # A reservation before the next atelier, a faulty machine and a recycled one.
    laptop_family = next((f for f in families[4:] if f.computer_wanted == "laptop"), families[4])
    services.reserve(db, laptops[1], laptop_family, actor, allow_other_kind=True, now=recent)
    services.mark_faulty(db, desktops[3], actor, "Ne démarre plus : alimentation", now=recent)
    services.mark_faulty(db, desktops[4], actor, "Carte mère hors service", now=recent - timedelta(days=3))
    services.recycle(db, desktops[4], actor, reason="Réparation trop coûteuse", now=recent)


def _families(db: Session, actor: User) -> list[Family]:
    """Families of the structure who asked for a computer, those who came to an atelier first."""
    came = select(Registration.family_id).where(Registration.status == "attended")
    query = (select(Family).where(Family.structure_id == actor.structure_id,
                                  Family.computer_wanted.is_not(None), Family.deleted_dt.is_(None))
             .order_by(Family.id.in_(came).desc(), Family.search_key))
    return list(db.scalars(query))
