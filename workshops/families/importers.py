"""Lists sent as CSV or XLSX, made into rows: reading any bytes without raising, mapping
columns to fields, and the preview of each row (ok, warning, refused). Reads only.

Nothing here knows what a row means: import_rows.py turns a family list's rows into
households; an equipment list can reuse the same reading, mapping and preview.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from typing import Any

import openpyxl
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.core.errors import Reason
from workshops.families.models import ImportMapping
from workshops.families.normalize import fold

# The limits of an import, in one place (the web route and the command use them).
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 60
MAX_SHEET_ROWS = 2 * MAX_ROWS + 100
# An XLSX is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_UNZIPPED_BYTES = 40 * 1024 * 1024
# Rows looked at to guess the delimiter (the sniffer is slow on long samples).
SNIFF_LINES, SNIFF_CHARS = 20, 4096
DELIMITERS = ";,\t"
# A cell starting with one of these would be a formula in a spreadsheet (R26).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
OUTCOMES = ("ok", "warning", "refused")
XLSX_MAGIC = b"PK\x03\x04"
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"
# Control characters other than tab and line breaks: many of them mean a binary file.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Table:
    """A file's header line and rows: (line in the file, cells) with 1-based lines, the
    header being line 1 in a plain file. `problem` says why a file could not be read."""

    headers: tuple[str, ...] = ()
    rows: tuple[tuple[int, tuple[str, ...]], ...] = ()
    problem: str | None = None


class _Unreadable(Exception):
    """Internal: the file cannot become a table; the message is for the user."""


def read_table(data: bytes, *, max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS) -> Table:
    """The table in a CSV (UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252;
    `;`, `,` or tab) or an XLSX file (found by its content, never its name).

    Raises nothing: a file that cannot be read gives a Table whose `problem` says why.
    """
    try:
        if not data:
            raise _Unreadable(_l("The file is empty."))
        if len(data) > max_bytes:
            raise _Unreadable(_l("The file is larger than %(size)s MB: split it into smaller files.",
                                 size=max_bytes // (1024 * 1024)))
        records = _xlsx_records(data) if data.startswith(XLSX_MAGIC) else _csv_records(data)
        return _table(records, max_rows)
    except _Unreadable as error:
        return Table(problem=str(error.args[0]))


def _table(records: Iterator[tuple[int, list[str]]], max_rows: int) -> Table:
    _line, headers = next(((line, cells) for line, cells in records if any(cells)), (0, []))
    headers = _trim(headers)
    if not headers:
        raise _Unreadable(_l("The file has no header line: its first line must name the columns."))
    if len(headers) > MAX_COLUMNS:
        raise _Unreadable(_l("The file has more than %(max)s columns.", max=MAX_COLUMNS))
    width, rows = len(headers), []
    for line, cells in records:
        row = tuple((cells + [""] * width)[:width])
        if not any(row):
            continue
        if len(rows) == max_rows:
            raise _Unreadable(_l("The file has more than %(max)s rows: split it into smaller files.",
                                 max=max_rows))
        rows.append((line, row))
    if not rows:
        raise _Unreadable(_l("The file has a header line but no rows under it."))
    return Table(tuple(headers), tuple(rows))


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells = cells[:-1]
    return cells


def clean_cell(value: Any) -> str:
    """A cell as plain text, never a formula: our own export guard (a quote before a
    formula sign) removed, everything else kept as typed; numbers without a useless ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date | time):
        value = value.isoformat()
    text = str(value)
    if text.startswith("'") and text[1:2] and text[1:2] in FORMULA_STARTS:
        text = text[1:]
    return text.strip()


# ---------- CSV ----------

def _decode_text(data: bytes) -> str:
    """Text of a CSV file: BOMs first, then strict UTF-8, then Windows-1252."""
    encodings = ["utf-16"] if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
        else ["utf-8-sig", "cp1252"]
    if data.startswith(OLD_EXCEL_MAGIC):
        raise _Unreadable(_l("This is an old Excel file (.xls): open it and save it as an Excel "
                             "workbook (.xlsx) or as CSV."))
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise _Unreadable(_l("This file is neither a CSV nor an XLSX file. Save it from the "
                         "spreadsheet as CSV or as an Excel workbook (.xlsx)."))


def _looks_like_text(text: str) -> bool:
    return "\0" not in text and len(_CONTROLS.findall(text)) * 100 <= len(text)


def sniff_delimiter(text: str) -> str:
    """`;`, `,` or tab: the csv sniffer's guess when the header line has it, else the
    one the header line has most of (`;` when none)."""
    lines = text.splitlines()
    header = next((line for line in lines if line.strip()), "")
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:SNIFF_LINES])[:SNIFF_CHARS],
                                      delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in header:
        return sniffed
    return max(DELIMITERS, key=header.count)


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text),
                        quotechar='"', doublequote=True, strict=False)
    return _numbered(reader)


def _numbered(reader) -> Iterator[tuple[int, list[str]]]:
    """Each record with the file line it starts on (quoted cells may span lines)."""
    line = 1
    try:
        for cells in reader:
            yield line, [clean_cell(cell) for cell in cells[:MAX_COLUMNS + 1]]
            line = reader.line_num + 1
    except csv.Error as error:
        raise _Unreadable(_l("Line %(line)s of the file cannot be read: check its quotes.",
                             line=line)) from error


# ---------- XLSX ----------

def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    _check_workbook_zip(data)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (data validation, styles): not our concern.
            warnings.simplefilter("ignore")
            return iter(_sheet_rows(data))
    # openpyxl raises many kinds of errors on a damaged workbook (zip, XML, KeyError,
    # ValueError...): all mean the same thing to the user.
    except Exception as error:
        raise _Unreadable(_l("The workbook could not be read: open it and save it again as "
                             ".xlsx or as CSV.")) from error


def _sheet_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet's cached values (formulas are never evaluated), row by row."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        # Blank rows count too: a sheet may claim a million of them.
        values = islice(workbook.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS + 1),
                        MAX_SHEET_ROWS)
        return [(number, [clean_cell(value) for value in cells]) for number, cells in enumerate(values, 1)]
    finally:
        workbook.close()


def _check_workbook_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception as error:  # damaged zips raise more than BadZipFile
        raise _Unreadable(_l("The workbook could not be read: open it and save it again as "
                             ".xlsx or as CSV.")) from error
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise _Unreadable(_l("This file is neither a CSV nor an XLSX file. Save it from the "
                             "spreadsheet as CSV or as an Excel workbook (.xlsx)."))
    if sum(entry.file_size for entry in entries) > MAX_UNZIPPED_BYTES:
        raise _Unreadable(_l("The workbook is too large once opened: split it into smaller files."))


# ---------- Column mapping ----------

@dataclass(frozen=True)
class Field:
    """A field a column can fill: header names that mean it (any case or accents),
    and groups of words that, all present in a header, mean it too."""

    key: str
    label: Any
    synonyms: tuple[str, ...] = ()
    keywords: tuple[tuple[str, ...], ...] = ()
    is_required: bool = False


def header_key(text: str) -> str:
    """A header as compared: folded, punctuation as spaces ("Tél." -> "tel")."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text).replace("_", " ")).split())


def headers_hash(headers: Sequence[str]) -> str:
    """The key of a file layout, to find its mapping again (same headers, same order)."""
    return hashlib.sha256("\x1f".join(header_key(h) for h in headers).encode()).hexdigest()


def guess_mapping(headers: Sequence[str], fields: Sequence[Field]) -> dict[str, int]:
    """field key -> column index, from header names: exact synonyms first, then words."""
    keys = [header_key(header) for header in headers]
    mapping: dict[str, int] = {}
    for spec in fields:
        synonyms = {header_key(s) for s in spec.synonyms}
        column = next((i for i, key in enumerate(keys) if key in synonyms
                       and i not in mapping.values()), None)
        if column is not None:
            mapping[spec.key] = column
    for spec in fields:
        for words in spec.keywords:
            column = next((i for i, key in enumerate(keys) if set(words) <= set(key.split())
                           and i not in mapping.values()), None)
            if spec.key not in mapping and column is not None:
                mapping[spec.key] = column
    return mapping


def clean_mapping(raw: Mapping[str, Any], headers: Sequence[str], fields: Sequence[Field]) -> dict[str, int]:
    """Only known fields pointing at an existing column (a remembered or posted mapping)."""
    known, mapping = {spec.key for spec in fields}, {}
    for key, column in raw.items():
        if key in known and isinstance(column, int) and not isinstance(column, bool) \
                and 0 <= column < len(headers):
            mapping[key] = column
    return mapping


def mapping_problems(mapping: Mapping[str, int], fields: Sequence[Field]) -> list[Reason]:
    """(field, message) for a required field without a column or a column used twice."""
    problems: list[Reason] = [(spec.key, str(_l("Choose the column that holds this.")))
                              for spec in fields if spec.is_required and spec.key not in mapping]
    used = Counter(mapping.values())
    problems += [(key, str(_l("This column is already chosen for something else.")))
                 for key, column in mapping.items() if used[column] > 1]
    return problems


def remembered_mapping(db: Session, kind: str, headers: Sequence[str],
                       fields: Sequence[Field]) -> dict[str, int] | None:
    """The mapping chosen last time for these headers, or None. Raises nothing."""
    row = db.scalar(select(ImportMapping).where(ImportMapping.kind == kind,
                                                ImportMapping.headers_hash == headers_hash(headers)))
    if row is None or not isinstance(row.mapping, dict):
        return None
    return clean_mapping(row.mapping, headers, fields)


def proposed_mapping(db: Session, kind: str, headers: Sequence[str],
                     fields: Sequence[Field]) -> tuple[dict[str, int], bool]:
    """(mapping, remembered): the remembered one when these headers came before, else a guess."""
    remembered = remembered_mapping(db, kind, headers, fields)
    if remembered is not None:
        return remembered, True
    return guess_mapping(headers, fields), False


def row_values(cells: Sequence[str], mapping: Mapping[str, int]) -> dict[str, str]:
    """field key -> the cell of its column ("" when the field has no column)."""
    return {key: cells[column] for key, column in mapping.items() if column < len(cells)}


# ---------- Preview ----------

@dataclass(frozen=True)
class RowResult:
    """One row's outcome: ok, warning or refused, with (code, message) reasons, who it is
    about, and what confirming would write (None when refused)."""

    line: int
    outcome: str
    reasons: tuple[Reason, ...] = ()
    label: str = ""
    data: Any = None

    @property
    def messages(self) -> list[str]:
        return [str(message) for _code, message in self.reasons]

    def has(self, code: str) -> bool:
        return any(reason_code == code for reason_code, _ in self.reasons)

    @property
    def is_possible_duplicate(self) -> bool:
        """Flagged as a possible duplicate (of a known family or an earlier line): such
        rows are left out unless the user ticks them."""
        return self.has("duplicate") or self.has("duplicate_in_file")


def row_result(line: int, label: str, data: Any, refusals: Iterable[Reason],
               warnings: Iterable[Reason]) -> RowResult:
    """The outcome from the reasons: refused if any refusal, else warning if any warning."""
    refusals, warnings = tuple(refusals), tuple(warnings)
    if refusals:
        return RowResult(line, "refused", refusals + warnings, label, None)
    return RowResult(line, "warning" if warnings else "ok", warnings, label, data)


@dataclass(frozen=True)
class Preview:
    """Every row's outcome, in file order; nothing written."""

    rows: tuple[RowResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row.outcome for row in self.rows)
        return {outcome: counted[outcome] for outcome in OUTCOMES}

    def default_included(self) -> set[int]:
        """The warned lines the preview ticks at first: all but the possible duplicates."""
        return {row.line for row in self.rows
                if row.outcome == "warning" and not row.is_possible_duplicate}

    def to_write(self, included_warnings: Collection[int] | None = None) -> list[RowResult]:
        """Rows confirming writes: every ok row, and the warned rows whose line is
        included (all of them when None). Refused rows never."""
        return [row for row in self.rows if row.outcome == "ok" or (
            row.outcome == "warning" and (included_warnings is None or row.line in included_warnings))]

    def report(self) -> list[dict[str, Any]]:
        """The rows as the JSON report lists them."""
        return [{"line": row.line, "outcome": row.outcome, "reasons": row.messages} for row in self.rows]


RowConverter = Callable[[int, dict[str, str]], RowResult]


def build_preview(table: Table, mapping: Mapping[str, int], convert: RowConverter) -> Preview:
    """Each row of the table through `convert` (line, field values) -> RowResult."""
    return Preview(tuple(convert(line, row_values(cells, mapping)) for line, cells in table.rows))
