"""Reading an import file (CSV or XLSX) into rows of text keyed by column name."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

MAX_ROWS = 20_000
MAX_UNPACKED = 64 * 1024 * 1024  # an XLSX whose parts unpack to more is refused unread (zip bomb)
XLSX_MAGIC = b"PK\x03\x04"


class TableError(ValueError):
    """The file is not a CSV or XLSX table Ruta can read; the message says what to send instead."""


def read_table(data: bytes) -> list[dict[str, Any]]:
    """Rows of the first sheet (XLSX, recognised by its zip signature) or of the CSV (UTF-8, , or ;)."""
    if not data.strip():
        raise TableError("The file is empty; send a CSV or XLSX with a header row and one site per row.")
    rows = _xlsx(data) if data.startswith(XLSX_MAGIC) else _csv(data)
    if len(rows) > MAX_ROWS:
        raise TableError(f"The file has {len(rows)} rows; at most {MAX_ROWS} are read at once. Split it.")
    return rows


def _csv(data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError("The CSV is not UTF-8 text; save it as 'CSV UTF-8' and send it again.") from exc
    if "\x00" in text:
        raise TableError("The file holds NUL characters; send a CSV (UTF-8) or an XLSX workbook.")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        table = list(reader)
    except csv.Error as exc:
        raise TableError(f"The CSV cannot be read: {exc}.") from exc
    return _rows(table)


def _xlsx(data: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook  # imported here: only XLSX imports need it

    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TableError(
            "The XLSX workbook cannot be opened; save it again from Excel or send a CSV."
        ) from exc
    if unpacked > MAX_UNPACKED:
        raise TableError("The XLSX workbook unpacks to more than 64 MiB; send the sites as a CSV.")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TableError(
            "The XLSX workbook cannot be opened; save it again from Excel or send a CSV."
        ) from exc
    try:
        sheet = book.worksheets[0]
        table = [
            list(r) for _, r in zip(range(MAX_ROWS + 2), sheet.iter_rows(values_only=True), strict=False)
        ]
    finally:
        book.close()
    return _rows(table)


def _rows(table: list[list[Any]]) -> list[dict[str, Any]]:
    if not table:
        raise TableError("The file has no header row.")
    header = [str(h).strip().lower() if h is not None else "" for h in table[0]]
    if "code" not in header:
        raise TableError(
            "The header row has no 'code' column; the first row must name the columns (code, name_es, ...)."
        )
    return [{h: (r[i] if i < len(r) else None) for i, h in enumerate(header) if h} for r in table[1:]]
