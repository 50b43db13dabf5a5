"""The large print variant of family documents is really large (issue 9, item 4; design.md §6).

Read back from the PDF a family takes home (pypdf, every run of text with its font and its size
on the page): in the large print password notebook (A4 and A5), family guide and privacy notice,
every text, page footers included, is at least 15 pt as static/css/print.css promises (the
usual large print threshold being 14 pt), in the bundled DejaVu Sans, and lines of running text
are spaced at least 1.5 times their size (WCAG 1.4.12, the advice for DYS readers). The usual
variant is measured the same way and is smaller: the measure sees the difference.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

import pytest
from pypdf import PdfReader

from tests.test_registrations import build_world, new_family, new_workshop
from workshops.printing import notebooks, notice, pdf
from workshops.resources.models import Resource, ResourceDescription
from workshops.scheduling.models import WorkshopResource

LARGE_PT = 15  # print.css: "Large print: every text at least 15 pt"
LINE_SPACING = 1.5
# An embedded subset of the bundled DejaVu Sans, regular or bold (static/fonts).
DEJAVU_SANS = re.compile(r"^/[A-Z]{6}\+DejaVu-?Sans(-Bold)?$")
LANGUAGES = ("fr", "en", "ar")


@dataclass(frozen=True)
class Run:
    """A run of text as drawn: its page, font, size in points, left edge and baseline (points
    from the top of the page)."""

    page: int
    text: str
    font: str
    size: float
    x: float
    y: float


def runs_of(pdf_bytes: bytes) -> list[Run]:
    """Every non-blank run of text of the document, in drawing order."""
    found: list[Run] = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf_bytes)).pages, start=1):
        def visit(text, cm, tm, font, size, number=number):
            if not text.strip() or font is None:
                return
            # The text matrix, then the page's transformation: [a b c d e f] row vectors.
            a = tm[0] * cm[0] + tm[1] * cm[2]
            b = tm[0] * cm[1] + tm[1] * cm[3]
            c = tm[2] * cm[0] + tm[3] * cm[2]
            d = tm[2] * cm[1] + tm[3] * cm[3]
            e = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            f = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = abs(a * d - b * c) ** 0.5
            found.append(Run(number, text.strip(), str(font.get("/BaseFont")), size * scale, e, -f))
        page.extract_text(visitor_text=visit)
    return found


def body_size(runs: list[Run]) -> float:
    """The size most of the text is set in."""
    weights = Counter()
    for run in runs:
        weights[round(run.size, 1)] += len(run.text)
    return weights.most_common(1)[0][0]


def line_spacings(runs: list[Run], size: float) -> list[float]:
    """Baseline to baseline distances, over the size, between the lines of text at `size` that
    follow each other down a page less than two sizes apart (the next line of a paragraph, or
    the first of the next one). Left edges are not compared: Arabic lines end on the right."""
    lines = sorted({(r.page, round(r.y, 1)) for r in runs if abs(r.size - size) < 0.05})
    spacings = []
    for (page, y), (next_page, next_y) in zip(lines, lines[1:], strict=False):
        if page == next_page and 0 < next_y - y < 2 * size:
            spacings.append((next_y - y) / size)
    return spacings


@pytest.fixture
def scene(db):
    """An atelier with two resources shown to families (one needs an account), and a family."""
    world = build_world(db)
    workshop = new_workshop(db, world, title="Parents et numérique")
    for name, url, account in (("Lire en Vienne", "https://www.lireenvienne.fr", True),
                               ("Annuaire", "https://lannuaire.service-public.fr", False)):
        resource = Resource(name=name, url=url, needs_account=account)
        resource.descriptions = [
            ResourceDescription(language="fr", text=f"{name} : des livres et des services en ligne, "
                                "gratuits, à consulter depuis la maison ou la médiathèque la plus proche."),
            ResourceDescription(language="en", text=f"{name}: free books and services online, to read "
                                "from home or from the nearest library.")]
        db.add(resource)
        db.add(WorkshopResource(workshop=workshop, resource=resource, is_planned=True, is_presented=True))
    family = new_family(db, world, "Benali", "Yasmina")
    db.commit()
    return workshop, family


def documents(db, scene, language: str, large_print: bool) -> dict[str, pdf.Document]:
    workshop, family = scene
    return {
        "notebook A4": notebooks.notebook_document(db, family, workshop=workshop, language=language,
                                                   large_print=large_print, show_name=True),
        "notebook A5": notebooks.notebook_document(db, family, workshop=workshop, language=language,
                                                   page_format="a5", large_print=large_print),
        "guide": notebooks.guide_document(db, family, workshop, language=language, large_print=large_print),
        "notice": notice.notice_document(language, large_print=large_print),
    }


def measure(document: pdf.Document) -> list[Run]:
    result = pdf.render(document)
    assert result.warnings == []
    runs = runs_of(result.pdf)
    assert len(runs) > 20, "the document has text to measure"
    return runs


@pytest.mark.parametrize("language", LANGUAGES)
def test_large_print_is_large_spaced_and_in_dejavu_sans(db, scene, language):
    for name, document in documents(db, scene, language, large_print=True).items():
        runs = measure(document)
        smallest = min(runs, key=lambda run: run.size)
        assert smallest.size >= LARGE_PT - 0.05, (
            f"{name} ({language}): {smallest.text!r} on page {smallest.page} is {smallest.size:.1f} pt")
        fonts = {run.font for run in runs}
        assert all(DEJAVU_SANS.match(font) for font in fonts), f"{name} ({language}): fonts {fonts}"
        body = body_size(runs)
        spacings = line_spacings(runs, body)
        assert spacings, f"{name} ({language}): no two lines of running text to measure"
        assert min(spacings) >= LINE_SPACING - 0.01, (
            f"{name} ({language}): lines of {body:.1f} pt text are {min(spacings):.2f} sizes apart")


def test_the_usual_variant_is_measured_smaller(db, scene):
    """The same measures on the usual documents find smaller text, and running text smaller
    than large print's: the test above tells the two variants apart."""
    for name, document in documents(db, scene, "fr", large_print=False).items():
        runs = measure(document)
        assert min(run.size for run in runs) < LARGE_PT - 1, name
        assert body_size(runs) * 1.4 <= LARGE_PT, name
