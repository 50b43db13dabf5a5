"""The register of processing activities (GDPR art. 30, R38), generated from the inventory: one
section per purpose with the persons concerned, the personal data (every personal column), the
recipients, transfers, retention and security measures. Markdown, in the current language."""

from __future__ import annotations

from flask_babel import gettext as _

from workshops.privacy.inventory import DATA_INVENTORY, PERSONAL, PERSONS, PURPOSES, RETENTION


def controller_of(config) -> str:
    """The controller and its data-protection contact, as the register names them."""
    contact = config["PRIVACY_CONTACT"] or _("PRIVACY_CONTACT not set: add the DPO's address")
    return "{} ({})".format(config["PRIVACY_CONTROLLER"], contact)


def _field(label: str, value: str) -> str:
    """"**label**: value", with the colon of the current language ("**label** : value" in French)."""
    return _("%(label)s: %(value)s", label="**" + label + "**", value=value).rstrip()


def register_markdown(controller: str, months: int) -> str:
    """The register as Markdown text."""
    lines = [
        "# {}".format(_("Register of processing activities")),
        "",
        _field(_("Controller"), controller),
        "",
        _(
            "Legal basis: public-interest mission of the Département (GDPR art. 6(1)(e)); "
            "optional uses (follow-up contact, photos, naming in the national report) need "
            "the family's explicit consent, recorded with the version of the notice."
        ),
        "",
    ]
    for purpose, label in PURPOSES.items():
        tables = {name: entry for name, entry in DATA_INVENTORY.items() if entry.purpose == purpose}
        personal = [(name, entry) for name, entry in tables.items() if entry.of_class(PERSONAL)]
        if not personal:
            continue
        lines += [f"## {label}", ""]
        persons = sorted(
            {str(PERSONS[entry.persons]) for _name, entry in personal if entry.persons in PERSONS}
        )
        lines.append("- " + _field(_("Persons concerned"), ", ".join(persons) or "-"))
        lines.append("- " + _field(_("Personal data"), ""))
        for name, entry in personal:
            lines.append(f"  - `{name}`: {', '.join(f'`{column}`' for column in entry.of_class(PERSONAL))}")
        recipients = (
            _("the hub of the Département (synchronised laptops of the same structure)")
            if any(entry.synced for _name, entry in personal)
            else _("none (kept on this installation)")
        )
        lines.append("- " + _field(_("Recipients"), recipients))
        lines.append("- " + _field(_("Transfers outside the EU"), _("none")))
        retentions = sorted({str(RETENTION[entry.retention]) % {"months": months} for _n, entry in personal})
        lines.append("- " + _field(_("Retention"), "; ".join(retentions)))
        lines.append("")
    lines += [
        "## {}".format(_("Security measures")),
        "",
        _(
            "See docs/security.md: full-disk encryption of laptops, accounts with argon2id "
            "passwords and a second factor for managers, server-side sessions, an append-only "
            "audit journal, HTTPS to the hub, signed and encrypted sync, backups, "
            "erasure ledger."
        ),
        "",
    ]
    return "\n".join(lines)
