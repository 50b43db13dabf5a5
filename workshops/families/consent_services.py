"""Consents of households as records: each change of an optional use (follow-up contact,
photos, being named to La Coop) is appended to the audit journal, in the transaction that
changes the household, with who, when, which purpose, given or withdrawn, the notice version
and how (the household form, a walk-in, an import, a merge).

The household keeps its booleans (what holds now); the journal holds the history (R39).
Entries carry codes only: the family's id, a purpose code, a flag, the notice version when it
is one the app prints (NOTICE_TEMPLATES; "other" for anything else typed, which the journal,
never erased, must not keep) and the way.
Services flush, never commit.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from workshops.audit.services import NewEntry, record_many
from workshops.auth.models import User
from workshops.families.models import Family
from workshops.families.notices import NOTICE_TEMPLATES

# Purpose code (in the journal, never renamed) -> the household's column.
CONSENTS = {"follow_up": "has_follow_up_consent", "photos": "has_photo_consent",
            "naming": "has_naming_consent"}
# How a change was recorded (in the journal, never renamed).
WAYS = ("form", "walk_in", "import", "merge")
# A notice version as printed on the notice ("2026-01"): a code with at least one digit and
# no space, so that a name (names hold no digit) never reaches the journal; and no long run of
# digits, which the journal refuses as a phone number.
NOTICE_VERSION_RE = re.compile(r"(?=[^0-9]*[0-9])[0-9A-Za-z._-]{1,32}")
_DIGIT_RUN = re.compile(r"\d{9,}")
ACTION = "consent_changed"

Consents = dict[str, bool]
NO_CONSENT: Consents = dict.fromkeys(CONSENTS, False)


def consents_of(family: Family) -> Consents:
    """What the household agrees to now, by purpose code."""
    return {purpose: bool(getattr(family, column)) for purpose, column in CONSENTS.items()}


def set_consents(family: Family, consents: Consents) -> None:
    """Give the household these consents, by purpose code (journal them with
    `record_consent_changes`)."""
    for purpose, column in CONSENTS.items():
        setattr(family, column, consents[purpose])


def is_notice_version(text: str | None) -> bool:
    """True for a version written as printed on the notice (see NOTICE_VERSION_RE)."""
    return (bool(text) and NOTICE_VERSION_RE.fullmatch(text) is not None
            and _DIGIT_RUN.search(re.sub(r"[.-]", "", text)) is None)


def record_consent_changes(db: Session, family: Family, before: Consents, actor: User | None,
                           way: str) -> int:
    """Append one `consent_changed` entry per purpose whose value differs from `before`
    (all False for a new household), in the caller's transaction; returns how many.

    Call it once the household holds its new values. Raises ValueError for an unknown way.
    """
    return len(record_many(db, consent_entries(family, before, actor, way)))


def record_new_households_consents(db: Session, families: list[Family], actor: User | None,
                                   way: str) -> int:
    """The consents of households just made (an import): the entries of all of them appended
    at once, in order; returns how many."""
    entries = [entry for family in families for entry in consent_entries(family, NO_CONSENT, actor, way)]
    return len(record_many(db, entries))


def consent_entries(family: Family, before: Consents, actor: User | None, way: str) -> list[NewEntry]:
    """The journal entries of a household's consent changes since `before`."""
    if way not in WAYS:
        raise ValueError(f"unknown way of recording a consent {way!r}")
    now = consents_of(family)
    # Only a version the app printed goes to the append-only journal: whatever else was typed
    # (even shaped like a code) is recorded as "other", never as written.
    version = family.notice_version if family.notice_version in NOTICE_TEMPLATES else (
        "other" if family.notice_version else None)
    return [NewEntry(ACTION, actor_id=actor.id if actor is not None else None, object_type="family",
                     object_ref=str(family.id), details={"purpose": purpose, "given": now[purpose],
                                                         "notice_version": version, "way": way})
            for purpose in CONSENTS if now[purpose] != before.get(purpose, False)]
