"""Rules of the resources catalogue: what a resource must have, and its descriptions.

Services flush, never commit; the caller (view or command) commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from workshops.core.errors import Reason, ValidationFailed
from workshops.resources.models import (
    AUDIENCES,
    DESCRIPTION_LANGUAGES,
    FALLBACK_LANGUAGE,
    MAX_DESCRIPTION_LENGTH,
    RESOURCE_CATEGORIES,
    Resource,
    ResourceDescription,
    description_id,
)
from workshops.resources.queries import find_resource_by_name


@dataclass(frozen=True)
class ResourceData:
    """What a form or the seed gives to create or change a resource.

    `descriptions` maps a language code to its text; a language left out
    keeps its current text, an empty text clears it.
    """

    name: str
    url: str = ""
    category: str = "other"
    audience: str = "both"
    needs_account: bool = False
    is_active: bool = True
    descriptions: Mapping[str, str] = field(default_factory=dict)


def save_resource(db: Session, data: ResourceData, resource: Resource | None = None) -> Resource:
    """Create a resource, or change `resource`.

    Raises ValidationFailed on an empty or taken name, an address that is not a
    web address, an unknown category, audience or language, a missing French
    description or a description over the maximum length.
    """
    name = " ".join(data.name.split())
    descriptions = {code: " ".join(text.split()) for code, text in data.descriptions.items()}
    reasons = _name_problems(db, name, resource) + _field_problems(data)
    reasons += _description_problems(descriptions, resource)
    if reasons:
        raise ValidationFailed(reasons)
    if resource is None:
        # The id is needed now: the descriptions' ids derive from it.
        resource = Resource(id=uuid.uuid4())
    db.add(resource)  # also a new resource given with a chosen id
    resource.name, resource.url = name, data.url.strip()
    resource.category, resource.audience = data.category, data.audience
    resource.needs_account, resource.is_active = data.needs_account, data.is_active
    for code, text in descriptions.items():
        _set_description(db, resource, code, text)
    db.flush()
    return resource


def _name_problems(db: Session, name: str, resource: Resource | None) -> list[Reason]:
    if not name:
        return [("name", _l("Enter the resource's name."))]
    same = find_resource_by_name(db, name)
    if same is not None and same is not resource:
        return [("name", _l("A resource with this name already exists."))]
    return []


def _field_problems(data: ResourceData) -> list[Reason]:
    reasons = []
    if data.url.strip() and not is_web_address(data.url.strip()):
        reasons.append(("url", _l("Enter a web address such as pix.fr, without spaces.")))
    if data.category not in RESOURCE_CATEGORIES:
        reasons.append(("category", _l("Choose a category from the list.")))
    if data.audience not in AUDIENCES:
        reasons.append(("audience", _l("Choose who the resource is for from the list.")))
    return reasons


def _description_problems(descriptions: Mapping[str, str], resource: Resource | None) -> list[Reason]:
    unknown = set(descriptions) - set(DESCRIPTION_LANGUAGES)
    if unknown:
        return [(None, _l("A description is written in a language the catalogue does not offer."))]
    reasons = []
    current_french = resource.descriptions_by_language().get(FALLBACK_LANGUAGE, "") if resource else ""
    if not descriptions.get(FALLBACK_LANGUAGE, current_french):
        reasons.append((f"description_{FALLBACK_LANGUAGE}", _l(
            "Write a short description in French: it is shown when no other language has one.")))
    reasons += [(f"description_{code}", _l("Keep the description under %(max)s characters.",
                                           max=MAX_DESCRIPTION_LENGTH))
                for code, text in descriptions.items() if len(text) > MAX_DESCRIPTION_LENGTH]
    return reasons


def is_web_address(url: str) -> bool:
    """True for an http(s) address, with or without its scheme (pix.fr, https://pix.fr/)."""
    if any(character.isspace() for character in url):
        return False
    parts = urlsplit(url if "://" in url else f"https://{url}")
    try:
        host, _port = parts.hostname or "", parts.port  # port raises ValueError when malformed
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and "." in host.strip(".")


def _set_description(db: Session, resource: Resource, code: str, text: str) -> None:
    """Write one language's text; an empty text is kept as an empty row so the
    clearing travels to other devices like any other change."""
    row = next((d for d in resource.descriptions if d.language == code), None)
    if row is None:
        if not text:
            return
        row = ResourceDescription(id=description_id(resource.id, code), language=code)
        resource.descriptions.append(row)
        db.add(row)
    row.text = text
