"""`flask print ...` from the command line, and the start-up check of `flask serve`."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from pypdf import PdfReader
from weasyprint.text import ffi

from tests.test_print_views import make_desk
from workshops.core import cli as core_cli
from workshops.extensions import db as _db


@pytest.fixture
def desk(app):
    with app.app_context():
        return make_desk(_db.session)


def pages_of(data: bytes) -> int:
    assert data.startswith(b"%PDF")
    return len(PdfReader(io.BytesIO(data)).pages)


def test_sheet_to_a_file(runner, desk, tmp_path):
    out = tmp_path / "sheet.pdf"
    result = runner.invoke(args=["print", "sheet", str(desk.workshop), "--lines", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pages_of(out.read_bytes()) >= 1
    text = " ".join(page.extract_text() for page in PdfReader(out).pages).upper()
    assert all(text.count(name) == 1 for name in ("MARTIN", "SMITH", "HADDAD"))


def test_notebook_to_stdout_in_arabic_a5_large_print(runner, desk):
    result = runner.invoke(args=["print", "notebook", str(desk.haddad), "--lang", "ar", "--format", "a5",
                                 "--large", "--out", "-"])
    assert result.exit_code == 0, result.stderr
    assert pages_of(result.stdout_bytes) >= 1
    assert "warning" not in result.stderr


def test_receipt_to_a_file(runner, desk, tmp_path):
    out = tmp_path / "receipt.pdf"
    result = runner.invoke(args=["print", "receipt", str(desk.handover), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pages_of(out.read_bytes()) >= 1


def test_batch_reports_its_progress_on_stderr(runner, desk, tmp_path):
    out = tmp_path / "all.pdf"
    result = runner.invoke(args=["print", "batch", str(desk.workshop), "--out", str(out)])
    assert result.exit_code == 0, result.output
    progress = re.findall(r"^(\d+)/(\d+)$", result.stderr, flags=re.M)
    assert progress == [(str(done), "7") for done in range(1, 8)], "the sheet, 3 notebooks, 3 guides"
    assert pages_of(out.read_bytes()) >= 7
    assert "warning" not in result.stderr, "French, English and Arabic documents render cleanly"


def test_unknown_ids_and_values_are_refused(runner, desk, tmp_path):
    out = tmp_path / "x.pdf"
    unknown = runner.invoke(args=["print", "sheet", str(uuid.uuid4()), "--out", str(out)])
    assert unknown.exit_code != 0 and "No atelier" in unknown.output and not out.exists()
    assert runner.invoke(args=["print", "sheet", "not-a-uuid", "--out", str(out)]).exit_code != 0
    wrong_language = ["print", "notebook", str(desk.martin), "--lang", "xx", "--out", "-"]
    assert runner.invoke(args=wrong_language).exit_code != 0


def test_serve_says_plainly_when_harfbuzz_subsetting_is_missing(runner, monkeypatch):
    served = []
    monkeypatch.setattr(core_cli, "serve", lambda app, **options: served.append(options))
    quiet = runner.invoke(args=["serve"])
    assert quiet.exit_code == 0 and "harfbuzz" not in quiet.output.lower()
    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    result = runner.invoke(args=["serve"])
    assert result.exit_code == 0 and len(served) == 2
    assert "libharfbuzz-subset0" in result.stderr
