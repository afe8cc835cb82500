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
Rows = Callable[[], Iterable[list[Any]]]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


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
        writer.writerow([_cell(v) for v in row])
        if text.full():
            yield text.take()
    yield text.take()


def zip_chunks(
    tables: list[tuple[str, list[list[str]], Rows]],
    media: Callable[[], Iterable[tuple[str, Iterable[bytes]]]] | None = None,
) -> Iterator[bytes]:
    """A zip of one CSV per table (``name``, header rows, rows), then media files, streamed."""
    sink = _Sink()
    now = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, headers, make_rows in tables:
            info = zipfile.ZipInfo(f"{name}.csv", date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in csv_chunks(headers, make_rows()):
                    entry.write(chunk)
                    if sink.size >= CHUNK:
                        yield sink.take()
            yield sink.take()
        if media is not None:
            for name, parts in media():
                info = zipfile.ZipInfo(name, date_time=now)
                info.compress_type = zipfile.ZIP_STORED  # photos and audio are compressed already
                with archive.open(info, "w", force_zip64=True) as entry:
                    for part in parts:
                        entry.write(part)
                        if sink.size >= CHUNK:
                            yield sink.take()
                yield sink.take()
    yield sink.take()


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    candidate, n = clean, 1
    while candidate.lower() in used:
        n += 1
        suffix = f"~{n}"
        candidate = clean[: 31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


def xlsx_file(tables: list[tuple[str, list[list[str]], Rows]]) -> Any:
    """An XLSX workbook, one sheet per table, written row by row (constant_memory: XlsxWriter flushes
    each row to its temporary file) into a spooled temporary file, returned rewound."""
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
    for name, headers, make_rows in tables:
        sheet = workbook.add_worksheet(_sheet_name(name, used))
        r = 0
        for header in headers:
            sheet.write_row(r, 0, header, bold)
            r += 1
        for row in make_rows():
            sheet.write_row(r, 0, [None if v is None else v for v in row])
            r += 1
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
