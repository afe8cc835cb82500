"""Which kind of form file an upload is, decided from its bytes.

People rename files, e-mail clients mangle extensions and Excel saves legacy ``.xls`` under any name, so
the file name is used only to word messages; the bytes decide. Kinds: ``xlsx``, ``xlsm`` (macro-enabled
workbook), ``xls`` (legacy BIFF), ``csv`` and ``md`` (pyxform's text XLSForm formats) and ``xml``
(an XForm). Everything else raises :class:`FormFileError` with a message that says what to do.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from forms import safe_xml
from forms.errors import FormFileError

__all__ = ["KINDS", "FormFileError", "detect_kind"]

KINDS = ("xlsx", "xlsm", "xls", "csv", "md", "xml")

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Stream names in an OLE2 directory are UTF-16LE; an Excel file has "Workbook" (BIFF8) or "Book" (BIFF5).
_OLE2_WORKBOOK_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le"))
# [Content_Types].xml of a real workbook is a few KB; refuse to inflate more than this from a stranger.
_CONTENT_TYPES_LIMIT = 1024 * 1024
# The largest real XLSForms unpack to tens of MB; a zip declaring more is a zip bomb or not a form.
# (zipfile never inflates a member past its declared size, so the declared sizes can be trusted.)
UNPACKED_LIMIT = 256 * 1024 * 1024

# Main-part content types of the OOXML workbook family (openpyxl reads all four).
_MAIN_PART_KINDS = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroenabled.main+xml": "xlsm",
}

# Well-known binary formats people upload by mistake: magic bytes -> what to call them.
_KNOWN_BINARIES = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)

_WHAT_TO_UPLOAD = "Upload the XLSForm (.xlsx, .xls, .csv or .md) or the XForm (.xml)."


def detect_kind(data: bytes, filename: str | None = None) -> str:
    """Return the kind of form file ``data`` holds (one of :data:`KINDS`); raise FormFileError otherwise."""
    subject = _subject(filename)
    if not data or not data.strip():
        raise FormFileError(
            f"{subject} is empty. {_WHAT_TO_UPLOAD} If it came from e-mail or a shared drive, "
            "download it again and check that it opens."
        )
    if data.startswith(_OLE2_MAGIC):
        return _ole2_kind(data, subject)
    if data.startswith(_ZIP_MAGICS):
        return _zip_kind(data, subject)
    for magic, what in _KNOWN_BINARIES:
        if data.startswith(magic):
            raise FormFileError(f"{subject} is {what}, not a form. {_WHAT_TO_UPLOAD}")
    return _text_kind(data, subject)


def _subject(filename: str | None) -> str:
    # Only the base name: a browser may send a full client-side path.
    name = PurePath(filename.replace("\\", "/")).name if filename else ""
    return f"“{name}”" if name else "The file"


def _ole2_kind(data: bytes, subject: str) -> str:
    # Word .doc and Outlook .msg files are OLE2 too; only a workbook stream makes it a spreadsheet.
    if any(stream in data for stream in _OLE2_WORKBOOK_STREAMS):
        return "xls"
    raise FormFileError(
        f"{subject} is an old-style Office document (for example a Word .doc), not an Excel workbook. "
        f"{_WHAT_TO_UPLOAD}"
    )


def _zip_kind(data: bytes, subject: str) -> str:
    not_workbook = (
        f"{subject} is a zip archive but not an Excel workbook. Upload the XLSForm itself (.xlsx), "
        "not a zip that contains it or another kind of document; if it is a workbook, open it in a "
        "spreadsheet program and save it again as .xlsx."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if sum(member.file_size for member in archive.infolist()) > UNPACKED_LIMIT:
                raise FormFileError(
                    f"{subject} would unpack to more than {UNPACKED_LIMIT // (1024 * 1024)} MB, far more "
                    "than any form needs. Remove embedded pictures or unused sheets and upload it again."
                )
            if "mimetype" in names and _read_member(archive, "mimetype").startswith(
                b"application/vnd.oasis.opendocument.spreadsheet"
            ):
                raise FormFileError(
                    f"{subject} is an OpenDocument spreadsheet (.ods). Open it in LibreOffice or Excel "
                    "and save it as Excel 2007-365 (.xlsx), then upload that."
                )
            content_types = (
                _read_member(archive, "[Content_Types].xml") if "[Content_Types].xml" in names else b""
            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError) as err:
        # RuntimeError: encrypted members; OSError/EOFError: truncated archives.
        raise FormFileError(
            f"{subject} looks like an Excel workbook or zip archive but it is damaged or password-protected "
            f"and cannot be opened ({err}). Remove any password, save it again as .xlsx and upload that."
        ) from err
    kind = _main_part_kind(content_types)
    if kind == "xlsb":
        raise FormFileError(
            f"{subject} is an Excel binary workbook (.xlsb), which XLSForm tools cannot read. "
            "Open it in Excel and save it as Excel Workbook (.xlsx), then upload that."
        )
    if kind is not None:
        return kind
    if "xl/workbook.xml" in names:
        # Some generators write a sparse [Content_Types].xml; the workbook part itself is proof enough.
        return "xlsx"
    raise FormFileError(not_workbook)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as member:
        content = member.read(_CONTENT_TYPES_LIMIT + 1)
    if len(content) > _CONTENT_TYPES_LIMIT:
        raise zipfile.BadZipFile(f"{name} is implausibly large")
    return content


def _main_part_kind(content_types: bytes) -> str | None:
    if not content_types:
        return None
    try:
        types = safe_xml.parse(content_types)
    except ValueError:
        return None
    for override in types:
        content_type = override.get("ContentType", "").strip().lower()
        if content_type in _MAIN_PART_KINDS:
            return _MAIN_PART_KINDS[content_type]
        if content_type.startswith("application/vnd.ms-excel.sheet.binary.macroenabled.main"):
            return "xlsb"
    return None


def _text_kind(data: bytes, subject: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormFileError(
            f"{subject} is UTF-16 text (Excel's “Unicode Text”). Save the sheet as “CSV UTF-8” or, "
            f"better, as .xlsx, and upload that."
        )
    if b"\x00" in data[:8192]:
        raise FormFileError(f"{subject} is not a file type Ruta recognises. {_WHAT_TO_UPLOAD}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormFileError(
            f"{subject} is text but not UTF-8 (byte {err.start} cannot be read). If it is a CSV, save it "
            "again choosing “CSV UTF-8”; if it is an XForm, save it as UTF-8."
        ) from err
    stripped = text.lstrip()
    head = stripped[:200].lower()
    if head.startswith("<!doctype html"):
        raise FormFileError(
            f"{subject} is a web page, not a form: a sharing link was probably saved instead of the file. "
            f"Download the file itself. {_WHAT_TO_UPLOAD}"
        )
    if stripped.startswith("<"):
        return "xml"
    if stripped.startswith(("{", "[")):
        raise FormFileError(
            f"{subject} looks like JSON, which Ruta does not take as a form. {_WHAT_TO_UPLOAD}"
        )
    first_line = next(
        (
            line.strip()
            for line in stripped.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ),
        "",
    )
    if first_line.startswith("|"):
        return "md"
    sample = stripped[:5000]
    if "," in sample:
        return "csv"
    if ";" in sample or "\t" in sample:
        raise FormFileError(
            f"{subject} is text separated by semicolons or tabs; XLSForm CSV files must use commas. "
            "Save the sheet as “CSV UTF-8 (comma delimited)” or as .xlsx, and upload that."
        )
    raise FormFileError(f"{subject} is not a file type Ruta recognises. {_WHAT_TO_UPLOAD}")
