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
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

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


# OWASP's CSV injection rule: a text cell starting with one of these is read by spreadsheets as a
# formula (``=HYPERLINK(...)``, ``=cmd|...``, ``+``, ``-``, ``@``; tab and CR hide one after a blank).
FORMULA_START = frozenset("=+-@\t\r")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will show as text: prefixed with ``'`` when it could start a formula."""
    return "'" + text if text[:1] in FORMULA_START else text


def clean(row: list[Any], *, escape_formulas: bool = False) -> list[Any]:
    """A data row as CSV cells. ``escape_formulas`` (the CSV exports' default, option escapeFormulas)
    neutralises text that a spreadsheet would run; numbers are numbers, never text, and are not touched."""
    # Most rows hold only text, whole numbers and blanks: one C-level pass over the types settles it.
    if not _AS_IS.issuperset(map(type, row)):
        row = [v if type(v) in _AS_IS else _cell(v) for v in row]
    if escape_formulas:
        return [neutralise(v) if type(v) is str else v for v in row]
    return row


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
    header_rows: list[list[str]], rows: Iterable[list[Any]], *, bom: bool = True, escape_formulas: bool = True
) -> Iterator[bytes]:
    """One table as UTF-8 CSV (with a BOM so Excel reads the accents), in chunks; see :func:`clean`."""
    text = _Text()
    if bom:
        text.buf.write("\ufeff")
    writer = csv.writer(text.buf, lineterminator="\r\n")
    writer.writerows(header_rows)
    for row in rows:
        writer.writerow(clean(row, escape_formulas=escape_formulas))
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
    *,
    escape_formulas: bool = True,
    readme: str | None = None,
) -> Iterator[bytes]:
    """A zip of one CSV per table, then media files, streamed from one pass over the rows: the first
    table goes straight into the zip, the others to temporary files copied in after it. Cells as
    :func:`clean` writes them."""
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
                        writer.writerow(clean(row, escape_formulas=escape_formulas))
                        if text.full():
                            out.write(text.take())
                            if sink.size >= CHUNK:
                                yield sink.take()
                    else:
                        spooled[index - 1][1].writerow(clean(row, escape_formulas=escape_formulas))
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
            if readme is not None:
                with entry("README.txt") as out:
                    out.write(readme.encode("utf-8"))
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


# What a cell's text needs beyond copying: XML escapes, control characters and literal ``_xHHHH_``
# (which Excel would read as an escape), the two non-characters. One search per string; most match none.
_XML_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_XML_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_XML_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_PRESERVE = ' xml:space="preserve"'  # leading or trailing whitespace kept
XLSX_ROWS = 1_048_576  # Excel's limits; XlsxWriter drops rows past them, and so do we
XLSX_COLUMNS = 16_384
_SAFE_STRING = 16_383  # below half of Excel's 32,767 UTF-16 units: no truncation check needed


def _xml_text(text: str) -> str:
    """A string as XlsxWriter writes an inline string's ``<t>`` (the same escapes), but never a raw
    rich string: XlsxWriter copies ``<r>...</r>`` unescaped, which a submitted value must not do."""
    text = _XML_ESCAPED.sub(r"_x005F\1", text)
    text = _XML_CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _RowWriter:
    """Writes a sheet's data rows as XML straight into the row file XlsxWriter keeps for the sheet in
    ``constant_memory`` mode, the XML XlsxWriter itself writes for them (``<row>``, inline strings,
    numbers as ``%.16G``). XlsxWriter's per-cell API (argument checks, a cell tuple, a dispatch on its
    type, attribute lists) was most of an XLSX export's time. A row with a value the fast path does not
    cover (NaN or infinity, a string that may need truncating) goes through XlsxWriter's API instead.

    Relies on XlsxWriter's (pinned) constant-memory internals: ``fh`` is the row file, rows before
    ``previous_row`` are written, ``dim_*`` are the sheet's extent."""

    def __init__(self, sheet: Any, first_row: int) -> None:
        self.sheet = sheet
        sheet._write_single_row(first_row)  # out with the last header row; the file is ours from here
        self.write_text = sheet.fh.write
        self.row = first_row
        self.refs: list[str] = []
        self.max_col = -1
        self.last_row = -1  # the last row written here with a cell

    def _refs(self, n: int) -> list[str]:
        while len(self.refs) < n:
            self.refs.append(xl_col_to_name(len(self.refs)))
        return self.refs

    def write(self, row: list[Any]) -> None:
        r = self.row
        if r >= XLSX_ROWS:
            return
        self.row = r + 1
        if len(row) > XLSX_COLUMNS:
            return self._slow(r, row)  # XlsxWriter drops the cells past Excel's last column
        number = str(r + 1)
        refs = self.refs if len(self.refs) >= len(row) else self._refs(len(row))
        parts = [f'<row r="{number}">']
        last = -1
        for c, v in enumerate(row):
            if v is None:
                continue
            t = type(v)
            if t is not str and t is not int:
                v = _cell(v)
                t = type(v)
            if t is str:
                if len(v) > _SAFE_STRING:
                    return self._slow(r, row)
                if _XML_SPECIAL.search(v):
                    v = _xml_text(v)
                space = _PRESERVE if v and (v[0].isspace() or v[-1].isspace()) else ""
                parts.append(f'<c r="{refs[c]}{number}" t="inlineStr"><is><t{space}>{v}</t></is></c>')
            elif t is float and (v != v or v in (math.inf, -math.inf)):
                return self._slow(r, row)
            else:
                parts.append(f'<c r="{refs[c]}{number}"><v>{v:.16G}</v></c>')
            last = c
        if last < 0:
            return  # no cells: XlsxWriter writes no row element either
        parts.append("</row>")
        self.write_text("".join(parts))
        self.last_row = r
        if last > self.max_col:
            self.max_col = last

    def _slow(self, r: int, row: list[Any]) -> None:
        sheet = self.sheet
        sheet.previous_row = r
        for c, v in enumerate(row):
            if v is None:
                continue
            v = v if type(v) in _AS_IS else _cell(v)
            if isinstance(v, str):
                sheet.write_string(r, c, v)
            else:
                sheet.write_number(r, c, v)
        sheet._write_single_row(r + 1)

    def finish(self) -> None:
        """The sheet's extent (its ``<dimension>``) with the rows written here."""
        sheet = self.sheet
        if self.last_row > (sheet.dim_rowmax or 0):
            sheet.dim_rowmax = self.last_row
        if self.max_col > (sheet.dim_colmax or 0):
            sheet.dim_colmax = self.max_col
        sheet.previous_row = max(sheet.previous_row, min(self.row, XLSX_ROWS))


def xlsx_file(tables: list[Table], rows: TableRows, metadata: list[tuple[str, str]] | None = None) -> Any:
    """An XLSX workbook, one sheet per table, from one pass over the rows (constant_memory: XlsxWriter
    flushes each sheet's rows to that sheet's temporary file as it goes), in a temporary file,
    returned rewound. Empty cells are skipped; data rows are written by :class:`_RowWriter`."""
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
    for name, headers in tables:
        sheet = workbook.add_worksheet(_sheet_name(name, used))
        for r, header in enumerate(headers):
            sheet.write_row(r, 0, header, bold)
        sheets.append(sheet)
    fast = [_RowWriter(sheet, len(headers)) for sheet, (_, headers) in zip(sheets, tables, strict=True)]
    for index, row in rows:
        fast[index].write(row)
    for writer in fast:
        writer.finish()
    if metadata:
        about = workbook.add_worksheet(_sheet_name("metadata", used))
        for r, (key, value) in enumerate(metadata):
            about.write_string(r, 0, key, bold)
            about.write_string(r, 1, value)
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


def geojson_chunks(
    features: Iterable[dict[str, Any]], members: dict[str, Any] | None = None
) -> Iterator[bytes]:
    """A GeoJSON FeatureCollection, one feature at a time; ``members`` are foreign members of the
    collection (RFC 7946 section 6.1), such as its sensitivity class."""
    extra = "".join(
        f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))},"
        for k, v in (members or {}).items()
    )
    parts: list[str] = ['{"type":"FeatureCollection",' + extra + '"features":[']
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
