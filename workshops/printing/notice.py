"""The privacy notice handed to families (issue 8, part 2): one version's wording, in French,
English or Arabic, printed as a PDF or shown on screen.

The wording of each version lives in its own template (families/notices.py): a family's
recorded version can always be printed again as it was given.
"""

from __future__ import annotations

from flask import current_app
from markupsafe import Markup

from workshops.families.notices import CURRENT_NOTICE, notice_template
from workshops.printing import pdf


def _context(version: str, large_print: bool) -> dict:
    template = notice_template(version)
    if template is None:
        raise ValueError(f"unknown notice version {version!r}")
    config = current_app.config
    return {"version": version, "text_template": template, "large_print": large_print,
            "controller": config["PRIVACY_CONTROLLER"], "contact": config["PRIVACY_CONTACT"],
            "retention_months": config["RETENTION_MONTHS"], "helpline": config["HELPLINE_PHONE"]}


def notice_document(language: str, version: str = CURRENT_NOTICE, *,
                    large_print: bool = False) -> pdf.Document:
    """The printed notice. Raises ValueError for an unknown version or language."""
    if language not in pdf.FAMILY_LANGUAGES:
        raise ValueError(f"no family documents in {language!r}")
    return pdf.Document("pdf/for_families/notice.html", _context(version, large_print), language,
                        f"notice-{version}-{language}.pdf")


def notice_html(language: str, version: str = CURRENT_NOTICE) -> Markup:
    """The notice's wording as HTML in the family's language, to show on screen (rendered from
    our own template, autoescaped)."""
    document = pdf.Document("pdf/for_families/_notice_screen.html", _context(version, False), language, "")
    return Markup(pdf.html_of(document))  # noqa: S704 - our template's output, already escaped
