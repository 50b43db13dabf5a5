"""Render printed documents to PDF with WeasyPrint, offline, from plain data.

A `Document` names a Jinja template under `templates/pdf/`, the plain data it shows (no ORM
objects: printing/documents.py and printing/notebooks.py build it) and the language it is
printed in. Templates under `templates/pdf/for_families/` are handed to families and are
translated with the "documents" catalogue (French, English, Arabic...); the others use the
interface catalogue.

Rules kept here, for every document:
- Nothing is fetched from the network: LocalFetcher serves files of `static/` only and
  refuses every other address, stopping the render (FatalURLFetchingError).
- One FontConfiguration and one parsed print stylesheet per process (fonts are bundled TTF,
  `static/fonts/`), so a render does not load them again.
- WeasyPrint's warnings (a missing glyph, a failed fetch) are collected: `render` returns
  them with the PDF so tests can require none, and logs their count, never their text.
- Nothing is written to disk: PDFs are bytes in memory.
- Documents whose HTML is the same (in a batch, the notebook of every family printed in one
  language) are laid out once and their pages drawn again: `Layouts`.
"""

from __future__ import annotations

import gc
import logging
import mimetypes
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import flask_babel
from flask import render_template
from weasyprint import CSS, HTML
from weasyprint.text import ffi
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from workshops.core.i18n import bound_translations

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
TRANSLATIONS = ROOT / "translations"
PRINT_CSS = STATIC / "css" / "print.css"
FAMILY_TEMPLATES = "pdf/for_families/"
DOCUMENTS_DOMAIN = "documents"
# Languages family documents are printed in; right-to-left ones get dir="rtl".
FAMILY_LANGUAGES = ("fr", "en", "ar")
RTL_LANGUAGES = ("ar",)
BASE_URL = "file:///static/"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """What to print: template (under templates/), plain data, language, a file name
    without personal data ("feuille-emargement-2026-03-14.pdf")."""

    template: str
    context: dict[str, Any]
    language: str = "fr"
    filename: str = "document.pdf"


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    warnings: list[str] = field(default_factory=list)


def harfbuzz_problem() -> str | None:
    """None when WeasyPrint can subset fonts with HarfBuzz (fast, small PDFs); else what to
    install, in plain words (untranslated: said at start-up, in the terminal)."""
    if getattr(ffi, "harfbuzz_subset", None) is not None:
        return None
    return ("Printing will be slow and the PDFs large: the HarfBuzz subsetting library is missing. "
            "Install it: on Debian or Ubuntu `sudo apt install libharfbuzz-subset0`; on Windows "
            "reinstall with the GTK runtime given in docs/install.md.")


def static_path(url: str) -> Path | None:
    """The file under static/ that a `file:///static/...` address names, or None for any
    other address (other schemes, hosts, or a path leaving static/)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    if not path.startswith("/static/"):
        return None
    candidate = (STATIC / path.removeprefix("/static/")).resolve()
    return candidate if candidate.is_file() and STATIC.resolve() in candidate.parents else None


class LocalFetcher(URLFetcher):
    """Serves the app's own static files and refuses everything else, stopping the render."""

    def fetch(self, url, headers=None):
        path = static_path(url)
        if path is None:
            raise FatalURLFetchingError(f"refused to fetch a {urlsplit(url).scheme or 'relative'} address")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})


class _Engine:
    """The per-process WeasyPrint state: fetcher, fonts and the parsed stylesheet."""

    def __init__(self) -> None:
        self.fetcher = LocalFetcher()
        self.fonts = FontConfiguration()
        with _collected_warnings() as messages:
            self.stylesheet = CSS(string=PRINT_CSS.read_text(encoding="utf-8"), base_url=BASE_URL,
                                  url_fetcher=self.fetcher, font_config=self.fonts)
        # A warning about the stylesheet (an ignored rule) is reported with every render.
        self.stylesheet_warnings = messages


_engine: _Engine | None = None


def engine() -> _Engine:
    """The process's engine, made on first use. Once it exists, the objects alive then (the
    app, its modules, the fonts and stylesheet) are frozen out of the garbage collector: a
    render makes hundreds of thousands of short-lived layout objects, and each full collection
    they trigger would otherwise walk all the long-lived ones too (a third more time for one
    render in four; bench/README.md)."""
    global _engine  # noqa: PLW0603 (one per process, made on first use)
    if _engine is None:
        _engine = _Engine()
        gc.collect()
        gc.freeze()
    return _engine


class Layouts:
    """Laid-out documents kept by their HTML, so an identical document is laid out once. At
    most `size` are kept (the oldest is forgotten first): memory stays bounded when every
    document differs."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: dict[str, Any] = {}

    def get(self, html: str):
        return self._kept.get(html)

    def keep(self, html: str, laid_out) -> None:
        self._kept[html] = laid_out
        while len(self._kept) > self.size:
            del self._kept[next(iter(self._kept))]


class _WarningsCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collected_warnings():
    logger = logging.getLogger("weasyprint")
    handler = _WarningsCollector()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


# The catalogue of documents handed to families; Flask-Babel caches each language's once.
FAMILY_DOMAIN = flask_babel.Domain(str(TRANSLATIONS), domain=DOCUMENTS_DOMAIN)


def html_of(document: Document) -> str:
    """The document's HTML, in its language (needs an app context)."""
    language = document.language
    with flask_babel.force_locale(language):
        extra: dict[str, Any] = {"lang": language, "dir": "rtl" if language in RTL_LANGUAGES else "ltr"}
        if document.template.startswith(FAMILY_TEMPLATES):
            # The locale is forced: the domain gives that language's catalogue (English: none).
            extra.update(bound_translations(FAMILY_DOMAIN.get_translations()))
        return render_template(document.template, **document.context, **extra)


def render(document: Document) -> Rendered:
    """The document as a PDF in memory, with WeasyPrint's warnings."""
    return render_all([document])


def render_all(documents: Sequence[Document], progress: Callable[[int, int], None] | None = None,
               layouts: Layouts | None = None) -> Rendered:
    """Several documents as one PDF: each laid out alone (page numbers restart), their pages
    joined. A document whose HTML was already laid out (here or in `layouts`, which a batch
    shares between its parts) reuses that layout. `progress(done, total)` is called after each."""
    current = engine()
    layouts = Layouts() if layouts is None else layouts
    rendered, warnings = [], list(current.stylesheet_warnings)
    for done, document in enumerate(documents, start=1):
        html = html_of(document)
        laid_out = layouts.get(html)
        if laid_out is None:
            with _collected_warnings() as messages:
                laid_out = HTML(string=html, base_url=BASE_URL, url_fetcher=current.fetcher).render(
                    stylesheets=[current.stylesheet], font_config=current.fonts)
            warnings += messages
            layouts.keep(html, laid_out)
        rendered.append(laid_out)
        if progress is not None:
            progress(done, len(documents))
    pages = [page for doc in rendered for page in doc.pages]
    # Drawing the text happens here: a missing glyph (.notdef) is reported while writing.
    with _collected_warnings() as messages:
        pdf = rendered[0].copy(pages).write_pdf() if rendered else b""
    warnings += messages
    if warnings:
        log.warning("printing: %d WeasyPrint warning(s) in %d document(s)", len(warnings), len(documents))
    return Rendered(pdf=pdf, pages=len(pages), warnings=warnings)


def languages_of(values: Iterable[str | None]) -> str:
    """The first value that is a family document language, else French."""
    return next((value for value in values if value in FAMILY_LANGUAGES), "fr")


def family_language(family) -> str:
    """The language a family's documents are printed in: the first guardian's (of the live
    ones, in order) when documents exist in it, else French."""
    guardians = sorted((g for g in family.guardians if g.deleted_dt is None), key=lambda g: g.position)
    return languages_of(g.language for g in guardians)

