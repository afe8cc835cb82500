"""The XLSX row writer writes the very sheet XML XlsxWriter's own API writes for the same cells.

``_RowWriter`` bypasses XlsxWriter's per-cell API for speed and writes into its constant-memory row
files (internals of the pinned version). This test is the guard on that: the same rows through
XlsxWriter's public ``write_string``/``write_number`` must give byte-identical worksheets, so an
XlsxWriter upgrade that changes what it writes fails here instead of producing odd files."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import xlsxwriter

from app.exports.writers import _cell, xlsx_file

TABLES = [("root", [["name", "age", "score", "note"], ["#x_name", "#x_age", "", ""]]), ("members", [["m"]])]
TEXTS = [
    "Ana María",
    "https://example.org/?a=1&b=2",
    "=SUM(A1:A2)",
    "00123",
    "a & b < c > d \"q\" 'q'",
    "_x0041_ literal",
    "bell\x07 and tab\t",
    "  padded  ",
    "ñandú 🦜",
    "",
]


def _rows() -> list[tuple[int, list[Any]]]:
    rows: list[tuple[int, list[Any]]] = []
    for i, text in enumerate(TEXTS):
        rows.append((0, [text, 18 + i, 2.5 * i, None if i % 3 else True]))
        rows.append((1, [f"member {i}"]))
        if i % 4 == 0:
            rows.append((1, [None]))  # an empty row: no cells
    rows.append((0, [None, 10**15, -0.000123, [1, "x"]]))
    return rows


def _reference(tables: list[tuple[str, list[list[str]]]], rows: list[tuple[int, list[Any]]]) -> bytes:
    """The same workbook through XlsxWriter's public API only."""
    out = io.BytesIO()
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "nan_inf_to_errors": True,
    }
    workbook = xlsxwriter.Workbook(out, options)
    bold = workbook.add_format({"bold": True})
    sheets, next_row = [], []
    for name, headers in tables:
        sheet = workbook.add_worksheet(name)
        for r, header in enumerate(headers):
            sheet.write_row(r, 0, header, bold)
        sheets.append(sheet)
        next_row.append(len(headers))
    for index, row in rows:
        r = next_row[index]
        next_row[index] += 1
        for c, value in enumerate(row):
            if value is None:
                continue
            value = value if type(value) in (str, int) else _cell(value)
            if isinstance(value, str):
                sheets[index].write_string(r, c, value)
            else:
                sheets[index].write_number(r, c, value)
    workbook.close()
    return out.getvalue()


def _worksheets(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}


def test_row_writer_writes_what_xlsxwriter_writes() -> None:
    rows = _rows()
    with xlsx_file(TABLES, rows) as handle:
        ours = _worksheets(handle.read())
    theirs = _worksheets(_reference(TABLES, rows))
    assert set(ours) == set(theirs) == {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"}
    for name in ours:
        assert ours[name] == theirs[name], name
