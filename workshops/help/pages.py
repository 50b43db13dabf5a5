"""The guide's pages: where they are, which page explains which screen, safe names."""

from __future__ import annotations

import re
from pathlib import Path

# The repository's docs/guide (workshops/help/pages.py -> the repository root).
GUIDE_DIR = Path(__file__).resolve().parents[2] / "docs" / "guide"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"  # the guide is written in French first; English falls back to it

# The guide's pages in reading order (docs/guide/<lang>/<page>.md). installation is written
# with the install work; it is listed only when its file is there.
PAGES = ("index", "installation", "prepare", "import", "checkin", "handover", "print", "sync",
         "troubleshooting")

# The guide page explaining a screen: the first prefix of the endpoint that matches wins.
ENDPOINT_PAGES = (
    ("scheduling.", "prepare"),
    ("resources.", "prepare"),
    ("attendance.", "checkin"),
    ("imports.", "import"),
    ("families.", "import"),
    ("equipment_imports.", "handover"),
    ("handovers.", "handover"),
    ("equipment.", "handover"),
    ("printing.", "print"),
    ("sync.", "sync"),
    ("hub.", "sync"),
    ("auth.login", "troubleshooting"),
    ("auth.change_password", "troubleshooting"),
)
TROUBLESHOOTING = "troubleshooting"

_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def page_for(endpoint: str | None, *, read_only: bool = False, failed: bool = False) -> str:
    """The guide page for the screen of `endpoint`: troubleshooting when the database is
    read-only, on an error page or when no route matched; else by prefix; else the index."""
    if read_only or failed or endpoint is None:
        return TROUBLESHOOTING
    for prefix, page in ENDPOINT_PAGES:
        if endpoint.startswith(prefix):
            return page
    return "index"


def is_safe_name(name: str) -> bool:
    """Lowercase letters, digits and dashes only: no dot, no slash, nothing to climb out with."""
    return bool(_SAFE_NAME.match(name))


def page_file(language: str, page: str) -> Path | None:
    """The Markdown file of `page` in `language`, else in French, else None (unknown page)."""
    if page not in PAGES:
        return None
    for lang in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        if lang in LANGUAGES:
            path = GUIDE_DIR / lang / f"{page}.md"
            if path.is_file():
                return path
    return None


def image_dir(language: str) -> Path | None:
    """The folder of the screenshots of `language`, or None for an unknown language."""
    return GUIDE_DIR / "img" / language if language in LANGUAGES else None
