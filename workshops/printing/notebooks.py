"""The password notebook and the family guide to the resources: plain data for the templates
of templates/pdf/for_families/, printed in the family's language.

The notebook is a blank form filled BY HAND at home: the app never asks for, stores or prints a
family's password. It holds no personal data unless the conseiller asks for the guardian's name
on the cover (`show_name`). Every sentence the family reads is in the templates (the "documents"
catalogue); this module gives names, addresses, QR codes and counts only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

import flask_babel
from flask import current_app
from markupsafe import Markup
from sqlalchemy.orm import Session

from workshops.families.models import Family
from workshops.families.queries import live_family_resources, live_guardians, live_registrations
from workshops.printing import pdf
from workshops.printing.qr import qr_svg
from workshops.resources.models import Resource
from workshops.scheduling.models import Workshop
from workshops.scheduling.queries import resources_of

PAGE_FORMATS = ("a4", "a5")
EDUCONNECT_ADDRESS = "https://educonnect.education.gouv.fr"
FRANCECONNECT_ADDRESS = "https://franceconnect.gouv.fr"
# Account blocks per page of the notebook, by (format, large print): every block has the same
# height (print.css, section p2), so blank blocks fill the last page exactly.
BLOCKS_PER_PAGE = {("a4", False): 4, ("a5", False): 3, ("a4", True): 3, ("a5", True): 2}
MIN_BLANK_BLOCKS = 4


@dataclass(frozen=True)
class Account:
    """One block of the notebook. `kind` names the pre-printed title the template gives
    ("mailbox", "educonnect", "franceconnect"), or "resource" (titled `name`), or "blank"."""

    kind: str
    name: str = ""
    address: str = ""
    qr: Markup | None = None


@dataclass(frozen=True)
class GuideEntry:
    """A resource in the family guide; `description_language` is the language the description
    is actually written in (it may be French in an Arabic guide)."""

    name: str
    address: str
    qr: Markup | None
    needs_account: bool
    description: str
    description_language: str


def web_address(url: str) -> str:
    """The address as printed and encoded in the QR code: with its scheme, so a phone opens it
    ("pix.fr" -> "https://pix.fr"); "" when the resource has none."""
    url = (url or "").strip()
    if not url:
        return ""
    return url if "://" in url else f"https://{url}"


def _same_address(first: str, second: str) -> bool:
    def key(url: str) -> str:
        return url.split("://", 1)[-1].rstrip("/").lower().removeprefix("www.")
    return key(first) == key(second)


def _planned_or_presented(workshop: Workshop) -> list[Resource]:
    both = {r.id: r for r in [*resources_of(workshop), *resources_of(workshop, presented=True)]}
    return sorted(both.values(), key=lambda resource: resource.name.casefold())


def _family_resources(db: Session, family: Family) -> list[Resource]:
    """Without an atelier: what was planned or presented at the family's ateliers, and what
    was shown to it."""
    found: dict = {}
    for registration in live_registrations(db, family.id):
        found.update((r.id, r) for r in _planned_or_presented(registration.workshop))
    found.update((row.resource.id, row.resource) for row in live_family_resources(db, family.id)
                 if row.is_shown and row.resource.deleted_dt is None)
    return sorted(found.values(), key=lambda resource: resource.name.casefold())


def notebook_accounts(resources: list[Resource]) -> list[Account]:
    """The pre-titled blocks: the mailbox, EduConnect, FranceConnect, then each resource with a
    web address (one whose address is EduConnect's or FranceConnect's is not printed twice)."""
    fixed = [Account("mailbox"),
             Account("educonnect", address=EDUCONNECT_ADDRESS, qr=qr_svg(EDUCONNECT_ADDRESS)),
             Account("franceconnect", address=FRANCECONNECT_ADDRESS, qr=qr_svg(FRANCECONNECT_ADDRESS))]
    accounts = list(fixed)
    for resource in resources:
        address = web_address(resource.url)
        if not address or any(_same_address(address, a.address) for a in accounts if a.address):
            continue
        accounts.append(Account("resource", resource.name, address, qr_svg(address)))
    return accounts


def blank_count(titled: int, page_format: str, large_print: bool) -> int:
    """Blank blocks after the titled ones: at least MIN_BLANK_BLOCKS, and enough to fill the
    last page."""
    per_page = BLOCKS_PER_PAGE[(page_format, large_print)]
    pages = math.ceil((titled + MIN_BLANK_BLOCKS) / per_page)
    return pages * per_page - titled


def today() -> date:
    """Today in the app's time zone (Paris): the "printed on" date."""
    return flask_babel.to_user_timezone(datetime.now(UTC)).date()


def _language(family: Family, language: str | None) -> str:
    if language is None:
        return pdf.family_language(family)
    if language not in pdf.FAMILY_LANGUAGES:
        raise ValueError(f"no family documents in {language!r}; use one of {pdf.FAMILY_LANGUAGES}")
    return language


def owner_name(family: Family) -> str:
    """The first guardian's name, for a cover that asks for it."""
    guardians = live_guardians(family)
    if not guardians:
        return ""
    return " ".join(part for part in (guardians[0].first_name, guardians[0].last_name) if part)


def notebook_document(db: Session, family: Family, *, workshop: Workshop | None = None,
                      language: str | None = None, page_format: str = "a4", large_print: bool = False,
                      show_name: bool = False) -> pdf.Document:
    """The family's password notebook: a cover (its name only with `show_name`), advice, then one
    block per account to fill by hand, pre-titled for the atelier's resources (else those of the
    family's ateliers), then blank blocks. Raises ValueError for an unknown format or language."""
    if page_format not in PAGE_FORMATS:
        raise ValueError(f"unknown page format {page_format!r}; use one of {PAGE_FORMATS}")
    language = _language(family, language)
    resources = _planned_or_presented(workshop) if workshop is not None else _family_resources(db, family)
    accounts = notebook_accounts(resources)
    blanks = blank_count(len(accounts), page_format, large_print)
    structure = workshop.structure if workshop is not None else family.structure
    context = {
        "owner": owner_name(family) if show_name else "",
        "structure": structure.name if structure is not None else "",
        "printed_on": today(),
        "helpline": current_app.config["HELPLINE_PHONE"],
        "accounts": accounts + [Account("blank")] * blanks,
        "page_format": page_format,
        "large_print": large_print,
    }
    suffix = "-gros-caracteres" if large_print else ""
    return pdf.Document("pdf/for_families/notebook.html", context, language,
                        f"carnet-{page_format}{suffix}-{language}.pdf")


def guide_resources(workshop: Workshop) -> list[Resource]:
    """The resources presented at the atelier, else those planned."""
    return resources_of(workshop, presented=True) or resources_of(workshop)


def guide_entry(resource: Resource, language: str) -> GuideEntry:
    address = web_address(resource.url)
    description = resource.description_in(language)
    return GuideEntry(name=resource.name, address=address, qr=qr_svg(address) if address else None,
                      needs_account=resource.needs_account, description=description.text,
                      description_language=description.language)


def guide_document(db: Session, family: Family, workshop: Workshop, *, language: str | None = None,
                   large_print: bool = False) -> pdf.Document:
    """The family guide to the resources of an atelier: what each is for, its address and QR
    code, whether an account is needed. Raises ValueError for an unknown language."""
    language = _language(family, language)
    context = {
        "atelier": workshop.title,
        "atelier_start": workshop.start_dt,
        "structure": workshop.structure.name,
        "entries": [guide_entry(resource, language) for resource in guide_resources(workshop)],
        "helpline": current_app.config["HELPLINE_PHONE"],
        "large_print": large_print,
    }
    return pdf.Document("pdf/for_families/guide.html", context, language,
                        f"guide-{workshop.start_dt:%Y-%m-%d}-{language}.pdf")
