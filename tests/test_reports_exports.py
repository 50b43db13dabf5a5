"""Exports of the reports (issue 7, parts 4 and 5): CSV for French Excel and XLSX give, once
re-read with the csv module and openpyxl, the figures counted by hand in
tests/test_reports_queries.py; formula-like cells are neutralised; nobody is named."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import time_machine

from tests.test_reports_queries import HOSTILE, NOW, PERIOD, TODAY, build_reports_world
from workshops.auth.models import User
from workshops.reports import exports


@pytest.fixture
def world(db):
    return build_reports_world(db)


def _export(db, world, kind, fmt):
    body, mimetype, name = exports.export(kind, fmt, db, db.get(User, world["manager"]), PERIOD, NOW, TODAY)
    return body, mimetype, name


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "French Excel needs the BOM to read UTF-8"
    assert b"\r\n" in body and b"\n" not in body.replace(b"\r\n", b"")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def read_xlsx(body: bytes) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


def _as_dict(rows):
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+33 5 49", "'+33 5 49"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("\0x", "'\0x"), ("Martin", "Martin"), ("", ""), (-2, -2),
    (None, None),
])
def test_formula_like_text_gets_an_apostrophe(value, expected):
    assert exports.neutralise(value) == expected


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_the_indicators_file_gives_the_figures_counted_by_hand(db, world, fmt, read):
    body, mimetype, name = _export(db, world, "indicators", fmt)
    assert name == f"indicators-2026-01-01-2026-06-30.{fmt}" and mimetype == exports.MIME_TYPES[fmt]
    values = {row[0]: row[2] for row in read(body)[1:]}
    figure = (lambda v: int(v)) if fmt == "csv" else (lambda v: v)
    assert figure(values["Ateliers held"]) == 4
    assert figure(values["Parents reached (distinct families present)"]) == 4
    assert figure(values["People present"]) == 17
    assert figure(values["Anonymous people"]) == 6
    assert figure(values["Anonymous people: 40 - 59"]) == 4
    assert figure(values["Anonymous people: Retired"]) == 2
    assert figure(values["Structures involved"]) == 3
    assert (figure(values["Computers given"]), figure(values["Computers lent"])) == (1, 1)
    assert figure(values["Loans overdue today"]) == 1
    assert figure(values["Accounts opened: Lire en Vienne (families)"]) == 1


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_the_attendance_file_adds_up_to_the_dashboard(db, world, fmt, read):
    rows = _as_dict(read(_export(db, world, "attendance", fmt)[0]))
    assert len(rows) == 4  # the ateliers held, the cancelled one left out
    total = lambda column: sum(int(row[column]) for row in rows)  # noqa: E731
    assert total("Families present") == 6 and total("Adults present") == 8 and total("Children present") == 3
    assert total("Anonymous 40 - 59 (quarante_cinquante_neuf)") == 4
    assert total("People present") == 17


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_the_ateliers_file_lists_every_atelier_of_the_period(db, world, fmt, read):
    rows = _as_dict(read(_export(db, world, "ateliers", fmt)[0]))
    assert [row["Status"] for row in rows].count("Cancelled") == 1 and len(rows) == 5
    held = [row for row in rows if row["Status"] != "Cancelled"]
    assert sum(int(row["People present"]) for row in held) == 17
    assert {row["Thématiques (national codes)"] for row in rows} == {"parentalite"}
    assert {int(row["Duration (min)"]) for row in rows} == {120}


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_the_handovers_file_leaves_out_the_voided_one(db, world, fmt, read):
    rows = _as_dict(read(_export(db, world, "handovers", fmt)[0]))
    assert [(row["Asset tag"], row["Mode"], row["Origin"]) for row in rows] == [
        ("LR-0001", "Given", "Collège Jules Verne"), ("LR-0003", "Lent", "Collège Camille Guérin")]


def xlsx_text_cells(body: bytes) -> dict[str, str]:
    """Every text-like cell of the first sheet: its value -> its type ("s" text, "f" formula)."""
    book = openpyxl.load_workbook(io.BytesIO(body))
    found = {cell.value: cell.data_type for row in book.worksheets[0].iter_rows() for cell in row
             if isinstance(cell.value, str)}
    book.close()
    return found


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_a_formula_typed_as_a_title_stays_text_and_nobody_is_named(db, world, fmt, read):
    for kind in ("ateliers", "attendance"):
        body = _export(db, world, kind, fmt)[0]
        cells = [cell for row in read(body) for cell in row]
        if fmt == "csv":
            assert "'" + HOSTILE in cells and HOSTILE not in cells
        else:  # the exact text, in a cell typed as text: never a formula
            assert xlsx_text_cells(body)[HOSTILE] == "s"
        assert not any(isinstance(cell, str) and ("Martin" in cell or "Awa" in cell) for cell in cells)


def test_the_command_line_writes_the_same_file(app, db, world, runner, tmp_path):
    out = tmp_path / "presence.csv"
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["reports", "export", "attendance", "--from", "2026-01-01",
                                     "--to", "2026-06-30", "--format", "csv", "--out", str(out),
                                     "--as", "alex"])
    assert result.exit_code == 0, result.output
    rows = _as_dict(read_csv(out.read_bytes()))
    assert sum(int(row["Families present"]) for row in rows) == 6


def test_the_command_line_refuses_a_reversed_period(runner, tmp_path, world):
    result = runner.invoke(args=["reports", "export", "ateliers", "--from", "2026-06-30",
                                 "--to", "2026-01-01", "--out", str(tmp_path / "x.xlsx"), "--as", "alex"])
    assert result.exit_code == 1 and "--from is after --to" in result.output
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize("fmt,read", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_leading_rows_go_above_the_headers_and_are_neutralised(fmt, read):
    table = exports.Table("Sheet", ["Name"], [["Martin"]], leading=[["A title"], [HOSTILE]])
    body = exports.to_csv(table) if fmt == "csv" else exports.to_xlsx([table])
    hostile = "'" + HOSTILE if fmt == "csv" else HOSTILE  # XLSX: a text cell, exactly
    assert read(body) == [["A title"], [hostile], ["Name"], ["Martin"]]
