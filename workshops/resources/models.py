"""The resources catalogue: what families are shown, with a short description per language."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workshops.core.models import Base, SyncMixin, TimestampMixin

RESOURCE_CATEGORIES = ("enej", "school", "public_service", "skills", "other")
AUDIENCES = ("parents", "pupils", "both")

# Languages a description can be written in: those of the printed family
# documents. Adding one is adding its code here and its label in forms.py.
DESCRIPTION_LANGUAGES = ("fr", "en", "ar", "uk", "tr", "pt")
# Every resource has a French description: it is shown when the wanted
# language has none.
FALLBACK_LANGUAGE = "fr"
# Printed in a table cell of the family guide: keep it short.
MAX_DESCRIPTION_LENGTH = 400


class LocalizedText(NamedTuple):
    """A text and the language it is actually written in (after any fallback)."""

    language: str
    text: str


class Resource(SyncMixin, TimestampMixin, Base):
    """An online service shown to families: Lire en Vienne, PIX, FranceConnect..."""

    __tablename__ = "resources"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    url: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(32), default="other")
    audience: Mapped[str] = mapped_column(String(16), default="both")
    needs_account: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    descriptions: Mapped[list[ResourceDescription]] = relationship(
        back_populates="resource", order_by="ResourceDescription.language")

    def descriptions_by_language(self) -> dict[str, str]:
        """The descriptions that have a text, by language code."""
        return {d.language: d.text for d in self.descriptions if d.text and d.deleted_dt is None}

    def description_in(self, language: str) -> LocalizedText:
        """The description in `language` (a locale such as "pt_BR" counts as "pt"),
        else the French one, else an empty French text."""
        texts = self.descriptions_by_language()
        code = language.split("_")[0].split("-")[0]
        if code in texts:
            return LocalizedText(code, texts[code])
        return LocalizedText(FALLBACK_LANGUAGE, texts.get(FALLBACK_LANGUAGE, ""))


class ResourceDescription(SyncMixin, TimestampMixin, Base):
    """The short description of a resource in one language (data, not a message id).

    Its id is derived from (resource, language), so two devices writing the
    same description make the same row.
    """

    __tablename__ = "resource_descriptions"
    __table_args__ = (UniqueConstraint("resource_id", "language"),)

    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")

    resource: Mapped[Resource] = relationship(back_populates="descriptions")


def description_id(resource_id: uuid.UUID, language: str) -> uuid.UUID:
    """The deterministic id of a resource's description in a language."""
    return uuid.uuid5(resource_id, language)
