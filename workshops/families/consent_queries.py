"""Reading a household's consent history from the audit journal (consent_services writes it):
newest first, with the staff member's display name. Read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.audit.models import AuditEntry
from workshops.auth.models import User
from workshops.families.consent_services import ACTION, CONSENTS, Consents, consents_of
from workshops.families.merge_queries import household_ids
from workshops.families.models import Family

MAX_HISTORY = 200


@dataclass(frozen=True)
class ConsentEvent:
    """A consent given or withdrawn, as the journal holds it."""

    occurred_dt: datetime
    actor_name: str | None  # None: no account recorded, or the account was removed
    purpose: str  # a key of consent_services.CONSENTS
    is_given: bool
    notice_version: str | None
    way: str | None  # a code of consent_services.WAYS


def consent_history(db: Session, family: Family) -> list[ConsentEvent]:
    """The consent changes of the household and of those merged into it (through chains of
    merges too), newest first (at most MAX_HISTORY). Journal entries are local: changes made on
    another device are in that device's journal. Raises nothing."""
    refs = [str(household_id) for household_id in household_ids(db, family.id)]
    query = (select(AuditEntry, User.display_name)
             .outerjoin(User, User.id == AuditEntry.actor_id)
             .where(AuditEntry.action == ACTION, AuditEntry.object_type == "family",
                    AuditEntry.object_ref.in_(refs))
             .order_by(AuditEntry.id.desc()).limit(MAX_HISTORY))
    events = []
    for entry, name in db.execute(query):
        details = entry.details or {}
        if details.get("purpose") not in CONSENTS:
            continue
        events.append(ConsentEvent(entry.occurred_dt, name, details["purpose"], bool(details.get("given")),
                                   details.get("notice_version"), details.get("way")))
    return events


def latest_decisions(db: Session, family_ids: list) -> dict[str, bool]:
    """The newest decision in the journal (given or withdrawn) per purpose, over these
    households; a purpose the journal says nothing of is absent."""
    query = (select(AuditEntry.details)
             .where(AuditEntry.action == ACTION, AuditEntry.object_type == "family",
                    AuditEntry.object_ref.in_([str(family_id) for family_id in family_ids]))
             .order_by(AuditEntry.id.desc()))
    decisions: dict[str, bool] = {}
    for details in db.scalars(query):
        purpose = (details or {}).get("purpose")
        if purpose in CONSENTS and purpose not in decisions:
            decisions[purpose] = bool(details.get("given"))
    return decisions


def merge_consent_outcomes(db: Session, keep: Family, other: Family) -> Consents:
    """For each consent the two records of a merge disagree on, whether the merged household
    keeps it: the family's newer decision in the journal (one record may hold a consent the
    family withdrew later on the other). Without one it is not kept: a merge never gives back
    a consent the family may have withdrawn, staff ask again."""
    mine, theirs = consents_of(keep), consents_of(other)
    differing = [purpose for purpose in CONSENTS if mine[purpose] != theirs[purpose]]
    if not differing:
        return {}
    latest = latest_decisions(db, household_ids(db, keep.id) + household_ids(db, other.id))
    return {purpose: latest.get(purpose, False) for purpose in differing}
