"""The data inventory: every column of every table, classified, with its purpose and retention
(R34, R38). The export of a household, the register of processing and the tests read it: a
column added without being classified here fails tests/test_privacy_inventory.py.

Classes: "personal" (identifies a person or says something about them), "pseudonymous" (an id
or keyed hash that points to a person only through another table), "operational" (bookkeeping
of the app and the sync), "not_personal" (reference data, machines, ateliers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

PERSONAL, PSEUDONYMOUS, OPERATIONAL, NOT_PERSONAL = "personal", "pseudonymous", "operational", "not_personal"
CLASSES = (PERSONAL, PSEUDONYMOUS, OPERATIONAL, NOT_PERSONAL)

# Retention rules, referred to by key.
RETENTION = {
    "family": _l("anonymised %(months)s months after the household's last activity (or at its request)"),
    "counts": _l("kept as anonymous counts (ids, statuses, dates): attendance and indicators"),
    "staff": _l("while the account is active; deactivated accounts keep their name for the history"),
    "journal": _l("kept (append-only, ids and counts only)"),
    "sync_copy": _l("until the hub acknowledges it; wiped at once when the household is erased"),
    "session": _l("until logout or expiry"),
    "reference": _l("while in use"),
}

# Columns every synced table has (core/models.py SyncMixin, TimestampMixin).
_SYNC_COLUMNS = {
    "id": PSEUDONYMOUS,
    "version": OPERATIONAL,
    "hlc": OPERATIONAL,
    "deleted_dt": OPERATIONAL,
    "is_purged": OPERATIONAL,
    "created_dt": OPERATIONAL,
    "updated_dt": OPERATIONAL,
}


@dataclass(frozen=True)
class TableEntry:
    """What a table holds: its purpose, persons concerned, retention key, the column that ties a
    row to a household (None: not tied) and the class of every column."""

    purpose: str
    persons: str
    retention: str
    columns: dict[str, str]
    family_key: str | None = None
    synced: bool = True
    recipients: tuple[str, ...] = field(default=("hub",))

    def of_class(self, kind: str) -> list[str]:
        return [name for name, value in self.columns.items() if value == kind]


def _columns(personal: str, pseudonymous: str, operational: str, not_personal: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for kind, names in ((PERSONAL, personal), (PSEUDONYMOUS, pseudonymous), (OPERATIONAL, operational),
                        (NOT_PERSONAL, not_personal)):
        found.update(dict.fromkeys(names.split(), kind))
    return found


def _synced(purpose: str, persons: str, retention: str, family_key: str | None = None, *, p: str = "",
            s: str = "", o: str = "", n: str = "") -> TableEntry:
    return TableEntry(purpose, persons, retention, {**_columns(p, s, o, n), **_SYNC_COLUMNS}, family_key)


def _local(purpose: str, persons: str, retention: str, *, p: str = "", s: str = "", o: str = "",
           n: str = "") -> TableEntry:
    return TableEntry(purpose, persons, retention, _columns(p, s, o, n), None, False, ())


FAMILIES, STAFF, NOBODY = "families", "staff", ""

# p: personal, s: pseudonymous, o: operational, n: not personal.
DATA_INVENTORY: dict[str, TableEntry] = {
    "families": _synced("follow_up", FAMILIES, "family", "id", n="structure_id", s="merged_into_id",
                        p="commune computer_wanted origin notice_version notice_date has_follow_up_consent "
                          "has_photo_consent has_naming_consent notes search_key"),
    "guardians": _synced("follow_up", FAMILIES, "family", "family_id", s="family_id", o="position",
                         p="first_name last_name phone email language relation"),
    "children": _synced("follow_up", FAMILIES, "family", "family_id", s="family_id",
                        p="first_name college_id level"),
    "registrations": _synced("attendance", FAMILIES, "counts", "family_id", n="workshop_id", s="family_id",
                             p="status checked_in_dt adults_present children_present is_signed_on_paper "
                               "is_walk_in"),
    "family_resources": _synced("attendance", FAMILIES, "counts", "family_id", n="workshop_id resource_id",
                                s="family_id", p="is_shown has_opened_account"),
    "handovers": _synced("equipment", FAMILIES, "counts", "family_id", s="family_id actor_id",
                         n="equipment_id workshop_id terms_version terms_text terms_sha256",
                         p="mode handed_dt due_on terms_language notes"),
    "equipment_events": _synced("equipment", FAMILIES, "counts", "family_id", p="place reason",
                                s="actor_id family_id handover_id",
                                n="equipment_id kind from_status to_status occurred_dt workshop_id due_on"),
    "equipment": _synced("equipment", NOBODY, "reference", "reserved_family_id",
                         s="reserved_family_id current_handover_id",
                         n="asset_tag structure_id kind serial brand model cpu ram_gb storage "
                           "operating_system accessories origin refurbisher refurbished_on grade notes "
                           "status "
                           "reserved_workshop_id loan_due_on"),
    "anonymous_headcounts": _synced("attendance", NOBODY, "counts",
                                    n="workshop_id age_bracket social_status count"),
    "users": _synced("accounts", STAFF, "staff", n="structure_id",
                     p="username display_name role password_hash is_active preferred_language "
                       "password_changed_dt last_login_dt"),
    "workshops": _synced("workshops", NOBODY, "reference",
                         n="kind title start_dt end_dt venue_id structure_id capacity thematiques level "
                           "languages status notes series_id closed_dt cancelled_reason"),
    "workshop_animators": _synced("workshops", STAFF, "staff", n="workshop_id", s="user_id"),
    "workshop_resources": _synced("workshops", NOBODY, "reference",
                                  n="workshop_id resource_id is_planned is_presented"),
    "epcis": _synced("reference", NOBODY, "reference", n="siren name commune_count"),
    "structures": _synced("reference", NOBODY, "reference", n="name kind commune epci_id is_active"),
    "venues": _synced("reference", NOBODY, "reference",
                      n="name kind address postcode commune epci_id structure_id is_active"),
    "resources": _synced("reference", NOBODY, "reference",
                         n="name url category audience needs_account is_active"),
    "resource_descriptions": _synced("reference", NOBODY, "reference", n="resource_id language text"),
    "audit_entries": _local("security", STAFF, "journal", s="actor_id object_ref",
                            o="id occurred_dt action object_type details prev_hash entry_hash"),
    "user_sessions": _local("security", STAFF, "session", s="token_hash user_id", o="created_dt"),
    "user_totps": _local("security", STAFF, "staff", s="user_id",
                         o="secret created_dt confirmed_dt last_step"),
    "login_throttles": _local("security", STAFF, "session", s="username_key",
                              o="failure_count locked_until_dt"),
    "import_mappings": _local("imports", NOBODY, "reference",
                              o="id kind headers_hash mapping created_dt updated_dt"),
    "device_state": _local("sync", NOBODY, "reference", o="id device_id hlc_physical hlc_counter"),
    # Copies of synced rows kept by the sync: personal while they hold values of personal fields.
    "sync_pending": _local("sync", NOBODY, "sync_copy", s="record_id",
                           o="table_name fields base_version first_hlc"),
    "sync_outbox": _local("sync", FAMILIES, "sync_copy", p="body",
                          o="batch_seq batch_id sha256 changes status created_dt acked_dt result"),
    "sync_rejected": _local("sync", FAMILIES, "sync_copy", p="fields", s="record_id",
                            o="id batch_seq table_name reason created_dt dismissed_dt"),
    "sync_extra": _local("sync", FAMILIES, "sync_copy", p="fields", s="record_id", o="table_name"),
    "sync_state": _local("sync", NOBODY, "reference",
                         o="id hub_url device_id device_name token structure_id hub_id hub_epoch pull_cursor "
                           "hub_box_key hub_verify_key signing_key last_attempt_dt last_success_dt "
                           "last_failure_dt last_error last_result clock_offset_ms"),
    "sync_change_log": _local("sync", FAMILIES, "sync_copy", p="payload", s="record_id",
                              o="seq table_name version hlc structure_id device_id committed_dt"),
    "sync_field_meta": _local("sync", NOBODY, "reference", s="record_id", o="table_name meta"),
    "sync_conflicts": _local("sync", FAMILIES, "sync_copy", p="kept_value other_value",
                             s="record_id resolved_by_id",
                             o="id table_name field kept_hlc other_hlc device_id status created_dt "
                               "resolved_dt resolution"),
    "sync_devices": _local("sync", NOBODY, "reference", s="created_by_id",
                           o="id name structure_id created_dt token_hash verify_key enrolled_dt revoked_dt "
                             "last_batch_seq last_seen_dt app_version schema_version clock_offset_ms "
                             "reported_cursor"),
    "sync_pairing_codes": _local("sync", NOBODY, "reference", o="code_hash device_id expires_dt used_dt"),
    "sync_applied_batches": _local("sync", NOBODY, "reference",
                                   o="device_id batch_seq batch_id sha256 answer applied_dt"),
    "sync_hub_state": _local("sync", NOBODY, "reference", o="id hub_id epoch last_seq box_key signing_key"),
}

PURPOSES = {
    "follow_up": _l("Following a household: who they are, how to reach them, their consents"),
    "attendance": _l("Ateliers attended and resources shown (attendance sheets, indicators)"),
    "equipment": _l("Computers given or lent, and their terms"),
    "accounts": _l("Staff accounts and roles"),
    "workshops": _l("Planning the ateliers"),
    "security": _l("Security: sessions, second factor, throttling, the audit journal"),
    "imports": _l("Remembering the layout of imported lists"),
    "sync": _l("Synchronising laptops with the hub"),
    "reference": _l("Reference data (territories, structures, venues, resources)"),
}
PERSONS = {
    FAMILIES: _l("Families (guardians and their collégiens)"),
    STAFF: _l("Staff (conseillers, managers)"),
}


def family_tables() -> dict[str, TableEntry]:
    """The tables whose rows belong to a household (the export reads these)."""
    return {name: entry for name, entry in DATA_INVENTORY.items() if entry.family_key}


def personal_columns() -> list[tuple[str, str]]:
    """Every (table, column) classified personal."""
    return [(name, column) for name, entry in DATA_INVENTORY.items() for column in entry.of_class(PERSONAL)]
