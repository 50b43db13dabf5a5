"""Demonstration data: the reference data, then accounts with one known passphrase (demo instances only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.auth import queries as auth_queries
from workshops.auth.services import NewUser, create_user
from workshops.equipment.models import Equipment
from workshops.scheduling.models import Workshop
from workshops.seed.activity import load_activity
from workshops.seed.equipment import load_equipment
from workshops.seed.reference import DEPARTEMENT_DAS, DEPARTEMENT_MISSION, load_reference

# Known to anyone who reads this file: which is why only a DEMO instance, on its
# own database file, may ever hold these accounts (see cli.demo_command).
DEMO_PASSPHRASE = "essai des ateliers vienne"  # noqa: S105 (public on purpose, demo only)

# A small, lively data set: a few months of ateliers around today.
DEMO_ACTIVITY = {"families": 48, "workshops": 12, "registrations_per_workshop": 10}

# Login name, full name, role, structure.
DEMO_ACCOUNTS = (
    ("demo-conseiller", "Camille Martin (démo)", "conseiller", DEPARTEMENT_DAS),
    ("demo-manager", "Dominique Bernard (démo)", "manager", DEPARTEMENT_MISSION),
    ("demo-admin", "Alex Moreau (démo)", "admin", DEPARTEMENT_MISSION),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as printed in the terminal."""

    username: str
    role: str
    structure: str
    is_new: bool


def load_demo(db: Session) -> tuple[list[tuple[str, int, int]], list[DemoAccount]]:
    """Load the reference data, then the demo accounts that are missing.

    Accounts already there keep their password. Flushes, never commits.
    Returns the reference counts and the accounts. Raises ValidationFailed if
    a row of the data breaks a rule.
    """
    counts = load_reference(db)
    accounts = [_ensure_account(db, *row) for row in DEMO_ACCOUNTS]
    # Ateliers and families once, for the demo conseiller: a second run adds none.
    if db.scalars(select(Workshop.id).limit(1)).first() is None:
        conseiller = auth_queries.get_user_by_username(db, "demo-conseiller")
        made = load_activity(db, conseiller, **DEMO_ACTIVITY)
        counts += [("ateliers", made.workshops, made.workshops), ("families", made.families, made.families),
                   ("registrations", made.registrations, made.registrations)]
    # Machines once too, after the ateliers and families they were handed over to.
    if db.scalars(select(Equipment.id).limit(1)).first() is None:
        conseiller = auth_queries.get_user_by_username(db, "demo-conseiller")
        machines = load_equipment(db, conseiller)
        counts.append(("machines", machines, machines))
    return counts, accounts


def _ensure_account(db: Session, username: str, display_name: str, role: str,
                    structure_name: str) -> DemoAccount:
    user = auth_queries.get_user_by_username(db, username)
    is_new = user is None
    if is_new:
        structure = auth_queries.get_structure_by_name(db, structure_name)
        user = create_user(db, NewUser(username=username, display_name=display_name,
                                       password=DEMO_PASSPHRASE, role=role,
                                       structure_id=structure.id),
                           structure_name=structure_name)
    return DemoAccount(user.username, user.role, user.structure.name if user.structure else "-", is_new)
