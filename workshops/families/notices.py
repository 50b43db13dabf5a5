"""The versions of the privacy notice given to families.

Each version is a wording, kept as its own template so that what a family was given can be
shown and printed again years later; a family records the version and the date it was given
(`Family.notice_version`, `Family.notice_date`). To change the wording: add a template and a
version here, and make it `CURRENT_NOTICE`; never edit a version already handed out.
"""

from __future__ import annotations

# Version -> template of its wording (in the family documents' catalogue: French, English, Arabic).
NOTICE_TEMPLATES = {
    "2026-01": "pdf/for_families/_notice_2026_01.html",
}
CURRENT_NOTICE = "2026-01"


def notice_template(version: str) -> str | None:
    """The wording of a version, None for a version this app does not know."""
    return NOTICE_TEMPLATES.get(version)
