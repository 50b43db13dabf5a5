"""The list reader never raises, whatever the bytes (issue 3 item 4, R25), and gives back
what a spreadsheet wrote, in any encoding and with any delimiter we accept."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workshops.families import importers
from workshops.families.import_rows import FIELDS
from workshops.families.importers import Table, guess_mapping, read_table

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_well_formed(table: Table) -> None:
    if table.problem is not None:
        assert isinstance(table.problem, str) and table.problem
        assert table.headers == () and table.rows == ()
        return
    assert table.headers and all(isinstance(h, str) for h in table.headers)
    lines = [line for line, _cells in table.rows]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)
    assert all(len(cells) == len(table.headers) for _line, cells in table.rows)
    guess_mapping(table.headers, FIELDS)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data):
    _assert_well_formed(read_table(data))


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_behind_a_zip_or_bom_never_raise(data):
    for prefix in (importers.XLSX_MAGIC, b"\xef\xbb\xbf", b"\xff\xfe", importers.OLD_EXCEL_MAGIC):
        _assert_well_formed(read_table(prefix + data))


@FUZZ
@given(st.text(max_size=2000), st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_arbitrary_text_in_any_encoding_never_raises(text, encoding):
    _assert_well_formed(read_table(text.encode(encoding, errors="replace")))


WORD = st.text(alphabet=st.characters(codec="cp1252", categories=("L", "Nd")), min_size=1, max_size=12)
CELL = st.one_of(
    st.just(""),
    st.lists(WORD, min_size=1, max_size=3).map(" ".join),
    st.text(alphabet=st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=20),
)


@FUZZ
@given(st.lists(WORD, min_size=2, max_size=8, unique_by=str.casefold),
       st.lists(st.lists(CELL, min_size=1, max_size=10), max_size=15),
       st.sampled_from([";", ",", "\t"]), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       st.sampled_from(["\r\n", "\n"]))
def test_a_written_table_reads_back_the_same(headers, rows, delimiter, encoding, newline):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(headers)
    writer.writerows(rows)
    table = read_table(buffer.getvalue().encode(encoding))
    expected = [tuple((list(map(importers.clean_cell, row)) + [""] * len(headers))[:len(headers)])
                for row in rows]
    expected = [row for row in expected if any(row)]
    if not expected:
        assert table.problem is not None
        return
    assert table.problem is None, table.problem
    assert table.headers == tuple(headers)
    assert [cells for _line, cells in table.rows] == expected
