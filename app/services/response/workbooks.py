"""Reading an uploaded workbook safely: a real .xlsx (not a renamed file, not a zip bomb, no formulas),
within a row limit, with its header row found among the first rows even under merged group headers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import openpyxl

from app.errors import InvalidValueError, PayloadTooLargeError

UNPACKED_LIMIT = 64 * 1024 * 1024  # a 5W of a whole region unpacks to a few MB
MAX_ROWS = 200_000
HEADER_SCAN_ROWS = 12


def _check_archive(data: bytes, what: str) -> None:
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidValueError(
            f"The {what} is not an Excel workbook (.xlsx). Save it from Excel or LibreOffice as "
            "Excel Workbook (.xlsx) and upload that."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(m.file_size for m in archive.infolist()) > UNPACKED_LIMIT:
                raise PayloadTooLargeError(
                    f"The {what} would unpack to more than {UNPACKED_LIMIT // 2**20} MB; no 5W or plan "
                    "workbook is that large. Remove pictures and unused sheets, or split it by month."
                )
            if "xl/workbook.xml" not in archive.namelist():
                raise InvalidValueError(f"The {what} is a zip archive but not an Excel workbook.")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError) as err:
        raise InvalidValueError(
            f"The {what} is damaged or password-protected and cannot be opened. Remove any password, "
            "save it again as .xlsx and upload that."
        ) from err


def read_sheet(
    data: bytes, *, what: str, column_for: Callable[[object], str | None], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of the first sheet that has the required columns, as ``(row number, {column: value})``.

    The header row is the one among the first rows that names the most known columns; a header cell left
    empty under a merged group header takes the group's name (R4V's template puts "Población" over the
    population-type columns, and some copies name only the group). Formulas are refused: what a partner
    sees in Excel is a computed value that openpyxl cannot compute, and importing the formula text as a
    number would be wrong."""
    _check_archive(data, what)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as err:  # openpyxl raises many kinds on a broken workbook
        raise InvalidValueError(f"The {what} cannot be read as a workbook: {err}") from err
    try:
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows()
            head: list[list[Any]] = []
            for _ in range(HEADER_SCAN_ROWS):
                try:
                    head.append([c.value for c in next(rows)])
                except StopIteration:
                    break
            best, mapping = _header(head, column_for)
            if not all(name in mapping.values() for name in required):
                continue
            for number, cells in _data_rows(head[best + 1 :], rows, best):
                if number - best > MAX_ROWS:
                    raise PayloadTooLargeError(
                        f"The {what} has more than {MAX_ROWS} rows; split it (for example by month)."
                    )
                values = {}
                for index, name in mapping.items():
                    cell = cells[index] if index < len(cells) else None
                    value = getattr(cell, "value", cell)
                    if getattr(cell, "data_type", None) == "f" or (
                        isinstance(value, str) and value.startswith("=")
                    ):
                        raise InvalidValueError(
                            f"Row {number} of the {what} has a formula in column {name!r}. Copy the sheet, "
                            "paste values only (Paste special > Values) and upload that.",
                            details={"row": number, "column": name},
                        )
                    values[name] = value
                if any(v not in (None, "") for v in values.values()):
                    yield number, values
            return
        raise InvalidValueError(
            f"No sheet of the {what} has the columns {', '.join(required)} in its first {HEADER_SCAN_ROWS} "
            "rows. Use the template's headers (Spanish, Portuguese or English).",
            details={"required": list(required)},
        )
    finally:
        workbook.close()


def _header(head: list[list[Any]], column_for: Callable[[object], str | None]) -> tuple[int, dict[int, str]]:
    best, best_map = 0, dict[int, str]()
    for index, row in enumerate(head):
        parent: list[Any] = head[index - 1] if index else []
        mapping: dict[int, str] = {}
        group = None
        for col, value in enumerate(row):
            above = parent[col] if col < len(parent) else None
            group = above if above not in (None, "") else group
            name = column_for(value) or (column_for(f"{group} {value}") if group and value else None)
            if name is not None and name not in mapping.values():
                mapping[col] = name
        if len(mapping) > len(best_map):
            best, best_map = index, mapping
    return best, best_map


def _data_rows(
    buffered: list[list[Any]], rest: Iterator[Any], header_index: int
) -> Iterator[tuple[int, list[Any]]]:
    number = header_index + 1
    for values in buffered:
        number += 1
        yield number, values
    for cells in rest:
        number += 1
        yield number, list(cells)
