"""The delivery list preview never raises, whatever the bytes or the cells (issue 4 item 7):
every row comes out ok, warned or refused, and only refused rows lack a machine."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workshops.equipment import import_rows
from workshops.equipment.models import EQUIPMENT_KINDS, GRADES
from workshops.extensions import db as _db
from workshops.families import importers

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
STRUCTURE = uuid.uuid4()
TODAY = date(2026, 1, 15)
HEADERS = ["N° inventaire", "Type", "Marque", "RAM (Go)", "Date reconditionnement", "État", "Remarques"]
CELL = st.one_of(
    st.sampled_from(["", "Portable", "Fixe", "UC", "Très bon", "A", "16 Go", "8GB", "31/02/2025",
                     "15/05/2025", "2025-05-15", "45792", "0", "=1+1", "LR-1", "lr-1 ", "99999999"]),
    st.text(max_size=30),
)


@pytest.fixture
def context(app):
    with app.app_context():
        yield


def _check(preview: importers.Preview, table: importers.Table) -> None:
    assert [row.line for row in preview.rows] == [line for line, _cells in table.rows]
    for row in preview.rows:
        assert row.outcome in importers.OUTCOMES
        assert all(isinstance(message, str) and message for message in row.messages)
        if row.outcome == "refused":
            assert row.data is None and row.reasons
        else:
            data = row.data
            assert data.asset_tag and data.kind in EQUIPMENT_KINDS and data.structure_id == STRUCTURE
            assert data.grade in (*GRADES, None)
            assert data.refurbished_on is None or date(2000, 1, 1) <= data.refurbished_on <= TODAY
    tags = [row.data.asset_tag for row in preview.rows if row.data is not None]
    assert len(tags) == len(set(tags)), "a tag is never written twice"


def _preview(data: bytes) -> None:
    table = importers.read_table(data)
    if table.problem:
        return
    mapping = importers.guess_mapping(table.headers, import_rows.FIELDS)
    _check(import_rows.preview_equipment(_db.session, table, mapping, STRUCTURE, today=TODAY), table)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(context, data):
    _preview(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_under_a_real_header_never_raise(context, data):
    _preview(";".join(HEADERS).encode("utf-8-sig") + b"\r\n" + data)


@FUZZ
@given(st.lists(st.lists(CELL, min_size=len(HEADERS), max_size=len(HEADERS)), min_size=1, max_size=20),
       st.sampled_from([";", ","]), st.sampled_from(["utf-8-sig", "cp1252"]))
def test_arbitrary_cells_never_raise(context, rows, delimiter, encoding):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    _preview(buffer.getvalue().encode(encoding, errors="replace"))
