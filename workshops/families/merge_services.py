"""Merging two households into one, keeping every registration and resource shown; the
other household stays as a tombstoned alias (`merged_into_id`) for sync. Where the two records'
consents differ, the newer decision in the journal wins, and the change is recorded there.
Services flush, never commit; the caller commits once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.auth.models import User
from workshops.core.errors import ValidationFailed
from workshops.core.models import derived_id, utcnow
from workshops.families import merge_queries, queries
from workshops.families.consent_queries import merge_consent_outcomes
from workshops.families.consent_services import consents_of, record_consent_changes, set_consents
from workshops.families.models import Family, FamilyResource, Registration
from workshops.families.services import check_scope, search_key_of

# Registration statuses from the strongest to the weakest, for merges: what happened at the
# atelier (came, excused, did not come) before what was planned.
STATUS_RANK = ("attended", "excused", "absent", "registered", "invited")


def merge_families(db: Session, keep: Family, other: Family, actor: User) -> Family:
    """Merge `other` into `keep` in one flush, keeping every registration.

    Guardians and children not in `keep` (same folded names) move, the others complete
    keep's blanks; registrations and resources shown move (one row per atelier, the best
    status, the larger head counts); `other` becomes a tombstoned alias (merged_into_id).
    Where the two records' consents differ, the family's newer decision in the journal wins
    (none: not kept); a change to `keep`'s consents is recorded in the journal.
    Raises NotAllowed outside the actor's scope, ValidationFailed for the same household
    or one already merged or removed.
    """
    check_scope(keep, actor)
    check_scope(other, actor)
    if keep.id == other.id or not queries.is_live(keep) or not queries.is_live(other):
        raise ValidationFailed([(None, _l("Choose two households that were not merged or removed."))])
    consents_before = consents_of(keep)
    consents_after = consents_before | merge_consent_outcomes(db, keep, other)
    with db.no_autoflush:
        _merge_people(keep, other)
        for registration in queries.live_registrations(db, other.id):
            _move_registration(db, registration, keep)
        for shown in queries.live_family_resources(db, other.id):
            _move_family_resource(db, shown, keep)
        for alias in merge_queries.families_merged_into(db, other.id):
            alias.merged_into_id = keep.id
        _merge_household_fields(keep, other)
        set_consents(keep, consents_after)
        other.merged_into_id, other.deleted_dt = keep.id, utcnow()
        keep.search_key = search_key_of(keep)
    db.flush()
    record_consent_changes(db, keep, consents_before, actor, "merge")
    return keep


def _merge_people(keep: Family, other: Family) -> None:
    guardians = queries.live_guardians(keep)
    kept = {queries.person_key(g): g for g in guardians}
    position = max((g.position for g in guardians), default=-1) + 1  # after every one kept
    for guardian in queries.live_guardians(other):
        same = kept.get(queries.person_key(guardian))
        if same is None:
            guardian.family, guardian.position = keep, position
            position += 1
        else:
            same.phone, same.email = same.phone or guardian.phone, same.email or guardian.email
    children = {queries.person_key(c): c for c in queries.live_children(keep)}
    for child in queries.live_children(other):
        same = children.get(queries.person_key(child))
        if same is None:
            child.family = keep
        else:
            same.college_id, same.level = same.college_id or child.college_id, same.level or child.level


def _move_registration(db: Session, old: Registration, keep: Family) -> None:
    # A registration's id derives from (atelier, family), so that two laptops
    # checking in the same family make one row. Changing family_id in place
    # would leave an id that no longer matches its key, and another device
    # registering `keep` to that atelier would then create a second row for the
    # same family: instead, the row is re-created under keep's derived id (or
    # joined to keep's own row) and the old one is tombstoned, which travels.
    target = queries.registration_row(db, old.workshop_id, keep.id)
    if target is None or target.deleted_dt is not None:
        target = target or Registration(id=derived_id("registration", old.workshop_id, keep.id),
                                        workshop_id=old.workshop_id, family_id=keep.id)
        db.add(target)
        target.deleted_dt = None
        _copy_registration(old, target)
    else:
        if STATUS_RANK.index(old.status) < STATUS_RANK.index(target.status):
            target.status = old.status
            target.checked_in_dt = target.checked_in_dt or old.checked_in_dt
        target.adults_present = max(target.adults_present, old.adults_present)
        target.children_present = max(target.children_present, old.children_present)
        target.is_signed_on_paper = target.is_signed_on_paper or old.is_signed_on_paper
    old.deleted_dt = utcnow()


def _copy_registration(old: Registration, target: Registration) -> None:
    for name in ("status", "checked_in_dt", "adults_present", "children_present",
                 "is_signed_on_paper", "is_walk_in"):
        setattr(target, name, getattr(old, name))


def _move_family_resource(db: Session, old: FamilyResource, keep: Family) -> None:
    # Same reason as registrations: the id derives from (atelier, family, resource).
    target = queries.family_resource_row(db, old.workshop_id, keep.id, old.resource_id)
    if target is None:
        row_id = derived_id("family_resource", old.workshop_id, keep.id, old.resource_id)
        target = FamilyResource(id=row_id, workshop_id=old.workshop_id, family_id=keep.id,
                                resource_id=old.resource_id, is_shown=False, has_opened_account=False)
        db.add(target)
    elif target.deleted_dt is not None:
        target.deleted_dt, target.is_shown, target.has_opened_account = None, False, False
    target.is_shown = target.is_shown or old.is_shown
    target.has_opened_account = target.has_opened_account or old.has_opened_account
    old.deleted_dt = utcnow()


def _merge_household_fields(keep: Family, other: Family) -> None:
    keep.notes = "\n\n".join(note for note in (keep.notes.strip(), other.notes.strip()) if note)
    keep.commune = keep.commune or other.commune
    keep.computer_wanted = keep.computer_wanted or other.computer_wanted
    newer = keep.notice_date is None or (other.notice_date and other.notice_date > keep.notice_date)
    if newer and other.notice_version:
        keep.notice_version, keep.notice_date = other.notice_version, other.notice_date
