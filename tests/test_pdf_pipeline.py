"""The PDF pipeline itself (printing/pdf.py): nothing is fetched but the app's static files,
no socket is opened while rendering, WeasyPrint's warnings are collected, the HarfBuzz check
says what to install, and batches join the pages of documents rendered one by one."""

from __future__ import annotations

import io
import socket

import pytest
from pypdf import PdfReader
from weasyprint.text import ffi
from weasyprint.urls import FatalURLFetchingError

from workshops.printing import pdf

PROBE = "pdf/_probe.html"


def probe(pages=1, text="Probe", image=None, language="en", title="Pipeline probe") -> pdf.Document:
    return pdf.Document(PROBE, {"title": title, "pages": pages, "text": text, "image": image},
                        language=language, filename="probe.pdf")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name during the test fails and is recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def text_of(rendered: pdf.Rendered) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(rendered.pdf)).pages]


@pytest.mark.parametrize("url", [
    "http://example.org/x.png", "https://example.org/x.png", "ftp://example.org/x.png",
    "file:///etc/passwd", "file:///static/../workshops/config.py", "file:///static/%2e%2e/pyproject.toml",
    "file:///static/css/../../pyproject.toml", "file://example.org/static/css/print.css",
    "file:///static/img/no-such-file.png", "static/css/print.css", "//example.org/static/css/print.css",
])
def test_the_fetcher_refuses_everything_but_static_files(url, no_network):
    with pytest.raises(FatalURLFetchingError):
        pdf.LocalFetcher().fetch(url)
    assert no_network == []


def test_the_fetcher_serves_the_apps_static_files():
    response = pdf.LocalFetcher().fetch("file:///static/css/print.css")
    assert b"@page" in response.read()
    assert response.content_type == "text/css"


def test_a_remote_image_stops_the_render_and_opens_no_socket(app, no_network):
    with app.app_context(), pytest.raises(FatalURLFetchingError):
        pdf.render(probe(image="https://example.org/x.png"))
    assert no_network == [], "a connection was attempted"


def test_a_render_opens_no_socket_and_has_no_warning(app, no_network):
    with app.app_context():
        rendered = pdf.render(probe(image="file:///static/img/icon-book.svg"))
    assert rendered.pdf.startswith(b"%PDF") and rendered.pages == 1
    assert rendered.warnings == [] and no_network == []
    assert "Pipeline probe" in text_of(rendered)[0]


def test_arabic_is_right_to_left_and_renders_without_warning(app):
    with app.app_context():
        html = pdf.html_of(probe(language="ar", text="مرحبا"))
        rendered = pdf.render(probe(language="ar", text="مرحبا"))
    assert '<html lang="ar" dir="rtl">' in html
    assert rendered.warnings == []


def test_weasyprint_warnings_are_collected(app):
    with app.app_context():
        rendered = pdf.render(probe(text="\U0010fffd"))  # a character no font has
    assert rendered.pdf.startswith(b"%PDF")
    assert rendered.warnings, "the missing glyph was not reported"


def test_render_all_joins_the_pages_and_reports_progress(app):
    calls = []
    with app.app_context():
        rendered = pdf.render_all([probe(pages=2, title="First"), probe(pages=3, title="Second")],
                                  progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    assert rendered.pages == 5 and rendered.warnings == []
    texts = text_of(rendered)
    assert len(texts) == 5
    assert "First" in texts[0] and "Second" in texts[2]


def test_identical_documents_are_laid_out_once_and_printed_each_time(app, monkeypatch):
    layouts = []
    real_html = pdf.HTML

    def counting_html(*args, **kwargs):
        layouts.append(kwargs["string"])
        return real_html(*args, **kwargs)

    monkeypatch.setattr(pdf, "HTML", counting_html)
    first, other = probe(pages=2, title="Carnet"), probe(pages=1, title="Carnet", language="fr")
    with app.app_context():
        rendered = pdf.render_all([first, other, first, first])
    texts = text_of(rendered)
    assert rendered.pages == 2 + 1 + 2 + 2 and len(texts) == 7
    assert len(layouts) == 2, "the same HTML was laid out again"
    assert texts[3:5] == texts[0:2] == texts[5:7]
    assert "1 / 2" in texts[3] and "2 / 2" in texts[6], "a reused document lost its page numbers"


def test_a_shared_layout_store_keeps_only_its_newest_documents(app):
    layouts = pdf.Layouts(size=2)
    with app.app_context():
        for title in ("One", "Two", "Three"):
            pdf.render_all([probe(title=title)], layouts=layouts)
        kept = [title for title in ("One", "Two", "Three")
                if layouts.get(pdf.html_of(probe(title=title))) is not None]
    assert kept == ["Two", "Three"]


def test_render_all_of_nothing_is_empty(app):
    with app.app_context():
        assert pdf.render_all([]).pages == 0


def test_harfbuzz_problem_says_what_to_install(monkeypatch):
    assert pdf.harfbuzz_problem() is None, "libharfbuzz-subset0 is installed on this machine"
    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    message = pdf.harfbuzz_problem()
    assert "libharfbuzz-subset0" in message and "slow" in message
