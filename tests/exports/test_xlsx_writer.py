"""XLSX cells as the export writes them: numbers stay numbers, text stays text (whatever it looks like),
and the escapes the sheet XML needs are made, read back with openpyxl."""

from __future__ import annotations

import math
from typing import Any

import openpyxl

from app.exports.writers import xlsx_file

TEXTS = [
    "https://example.org/a?b=1&c=2",  # not a hyperlink
    "=SUM(A1:A2)",  # not a formula
    "00123",  # not a number
    "1e5",
    "<r><t>rich</t></r>",  # not XlsxWriter's raw rich string: the XML stays well formed
    "a & b < c > d \"q\" 'q'",
    "_x0041_ literal",  # not read back as an escape ("A")
    "bell\x07 and tab\t",
    "  leading and trailing  ",
    "ñandú 🦜",
    "",
]


def _read(tables: list[tuple[str, list[list[str]]]], rows: list[tuple[int, list[Any]]]) -> Any:
    with xlsx_file(tables, rows) as handle:
        return openpyxl.load_workbook(handle)


def test_types_and_escapes_survive() -> None:
    rows = [(0, [t, 30, 2.5, None, True, 12.0, [1, "x"]]) for t in TEXTS]
    book = _read([("data", [["text", "int", "float", "none", "bool", "whole", "list"]])], rows)
    sheet = book["data"]
    got = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert (
        [r[0] for r in got]
        == [
            *TEXTS[:6],
            "_x005F_x0041_ literal",  # escaped as Excel does (Excel reads it back as written; openpyxl not)
            "bell_x0007_ and tab\t",  # control characters as Excel escapes them (openpyxl leaves them)
            *TEXTS[8:10],
            "",
        ]
    )
    for r in got:
        assert r[1:] == [30, 2.5, None, "true", 12, "1 x"]
        assert type(r[1]) is int and type(r[2]) is float and type(r[5]) is int
    assert sheet["A1"].font.b and sheet.max_row == len(TEXTS) + 1 and sheet.max_column == 7


def test_sheets_interleaved_and_odd_values() -> None:
    tables = [("root", [["a", "b"], ["#x", "#y"]]), ("repeat", [["c"]])]
    rows: list[tuple[int, list[Any]]] = [
        (0, ["r1", 1]),
        (1, ["c1"]),
        (1, [None]),  # an empty row: no cells
        (1, ["c3"]),
        (0, ["r2", math.nan]),  # NaN: through XlsxWriter, an error cell
        (0, ["x" * 40_000, math.inf]),  # too long: truncated as XlsxWriter does
        (0, ["r4", -7]),
    ]
    book = _read(tables, rows)
    root = [list(r) for r in book["root"].iter_rows(values_only=True)]
    assert root[:4] == [["a", "b"], ["#x", "#y"], ["r1", 1], ["r2", "=#NUM!"]]
    assert root[4][0] == "x" * 32_767 and root[4][1] == "=1/0"
    assert root[5] == ["r4", -7]
    repeat = [list(r) for r in book["repeat"].iter_rows(values_only=True)]
    assert repeat == [["c"], ["c1"], [None], ["c3"]]
    assert book["repeat"].max_row == 4 and book["root"].max_row == 6


def test_cells_past_excels_last_column_are_dropped() -> None:
    wide = [f"c{i}" for i in range(16_390)]
    book = _read([("wide", [["h"]])], [(0, wide), (0, ["next"])])
    sheet = book["wide"]
    assert sheet.max_column == 16_384
    assert sheet.cell(2, 16_384).value == "c16383" and sheet.cell(3, 1).value == "next"
