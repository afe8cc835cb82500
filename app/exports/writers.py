"""File formats of an export, each written as a stream of byte chunks from a stream of rows, so memory
stays flat whatever the number of submissions: CSV, a zip of CSVs (and media files), XLSX (XlsxWriter in
``constant_memory`` mode, one sheet per table, spooled to a temporary file), GeoJSON.

Rows come from callables that run their own paged database reads; writers never hold more than a
chunk of output.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import xlsxwriter

CHUNK = 256 * 1024
Table = tuple[str, list[list[str]]]  # file stem, header rows
TableRows = Iterable[tuple[int, list[Any]]]  # (table index, row), as the export reads them
_AS_IS = frozenset({str, int, type(None)})


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value: Any) -> Any:
    """A stored value as a CSV/XLSX cell: numbers as numbers (30, not 30.0, as the XML had it),
    booleans as XForms writes them, anything odd (a list, a group where a question was) as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e15 else value
    return _text(value)


def clean(row: list[Any]) -> list[Any]:
    return [v if type(v) in _AS_IS else _cell(v) for v in row]


class _Sink(io.RawIOBase):
    """A write-only, unseekable file whose bytes are taken out in chunks (zipfile writes through it
    with data descriptors, as it does to a pipe)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out


class _Text:
    """A text buffer for csv.writer that is emptied into bytes once it grows past a chunk."""

    def __init__(self) -> None:
        self.buf = io.StringIO()

    def full(self) -> bool:
        return self.buf.tell() >= CHUNK

    def take(self) -> bytes:
        out = self.buf.getvalue().encode("utf-8")
        self.buf.seek(0)
        self.buf.truncate()
        return out


def csv_chunks(
    header_rows: list[list[str]], rows: Iterable[list[Any]], *, bom: bool = True
) -> Iterator[bytes]:
    """One table as UTF-8 CSV (with a BOM so Excel reads the accents), in chunks."""
    text = _Text()
    if bom:
        text.buf.write("\ufeff")
    writer = csv.writer(text.buf, lineterminator="\r\n")
    writer.writerows(header_rows)
    for row in rows:
        writer.writerow(clean(row))
        if text.full():
            yield text.take()
    yield text.take()


def _spool(headers: list[list[str]]) -> tuple[Any, Any]:
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (closed once copied into the zip)
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(headers)
    return text, writer


def zip_chunks(
    tables: list[Table],
    rows: TableRows,
    media: Callable[[], Iterable[tuple[str, Iterable[bytes]]]] | None = None,
) -> Iterator[bytes]:
    """A zip of one CSV per table, then media files, streamed from one pass over the rows: the first
    table goes straight into the zip, the others to temporary files copied in after it."""
    sink = _Sink()
    now = datetime.now(UTC).timetuple()[:6]
    spooled = [_spool(headers) for _, headers in tables[1:]]
    copied: set[int] = set()
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:

            def entry(name: str, stored: bool = False) -> Any:
                info = zipfile.ZipInfo(name, date_time=now)
                # Photos and audio are compressed already.
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                return archive.open(info, "w", force_zip64=True)

            first_name, first_headers = tables[0]
            with entry(f"{first_name}.csv") as out:
                text = _Text()
                text.buf.write("\ufeff")
                writer = csv.writer(text.buf, lineterminator="\r\n")
                writer.writerows(first_headers)
                for index, row in rows:
                    if index == 0:
                        writer.writerow(clean(row))
                        if text.full():
                            out.write(text.take())
                            if sink.size >= CHUNK:
                                yield sink.take()
                    else:
                        spooled[index - 1][1].writerow(clean(row))
                out.write(text.take())
            yield sink.take()
            for (name, _), (text_file, _) in zip(tables[1:], spooled, strict=True):
                text_file.flush()
                raw = text_file.detach()
                copied.add(len(copied))
                raw.seek(0)
                with entry(f"{name}.csv") as out:
                    for chunk in file_chunks(raw):
                        out.write(chunk)
                        if sink.size >= CHUNK:
                            yield sink.take()
                yield sink.take()
            if media is not None:
                for name, parts in media():
                    with entry(name, stored=True) as out:
                        for part in parts:
                            out.write(part)
                            if sink.size >= CHUNK:
                                yield sink.take()
                    yield sink.take()
        yield sink.take()
    finally:
        # Whether or not the client read to the end (copied ones are closed already).
        for i, (text_file, _) in enumerate(spooled):
            if i not in copied:
                text_file.close()


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    candidate, n = clean, 1
    while candidate.lower() in used:
        n += 1
        suffix = f"~{n}"
        candidate = clean[: 31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


def xlsx_file(tables: list[Table], rows: TableRows) -> Any:
    """An XLSX workbook, one sheet per table, from one pass over the rows (constant_memory: XlsxWriter
    flushes each sheet's rows to that sheet's temporary file as it goes), in a temporary file,
    returned rewound. Empty cells are skipped, and each cell goes to the writer of its type."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "nan_inf_to_errors": True,
        },
    )
    used: set[str] = set()
    bold = workbook.add_format({"bold": True})
    sheets = []
    next_row = []
    for name, headers in tables:
        sheet = workbook.add_worksheet(_sheet_name(name, used))
        for r, header in enumerate(headers):
            sheet.write_row(r, 0, header, bold)
        sheets.append(sheet)
        next_row.append(len(headers))
    for index, row in rows:
        sheet = sheets[index]
        r = next_row[index]
        next_row[index] = r + 1
        write_string, write_number = sheet.write_string, sheet.write_number
        for c, v in enumerate(row):
            if v is None:
                continue
            t = type(v)
            if t is str:
                write_string(r, c, v)
            elif t is int or t is float:
                write_number(r, c, v)
            else:
                v = _cell(v)
                if isinstance(v, str):
                    write_string(r, c, v)
                else:
                    write_number(r, c, v)
    workbook.close()
    out.seek(0)
    return out


def file_chunks(handle: Any) -> Iterator[bytes]:
    try:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()


def geojson_chunks(features: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A GeoJSON FeatureCollection, one feature at a time."""
    parts: list[str] = ['{"type":"FeatureCollection","features":[']
    size = 0
    first = True
    for feature in features:
        text = ("" if first else ",") + json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
        first = False
        parts.append(text)
        size += len(text)
        if size >= CHUNK:
            yield "".join(parts).encode("utf-8")
            parts.clear()
            size = 0
    parts.append("]}")
    yield "".join(parts).encode("utf-8")
