"""detect_kind decides from bytes, and refuses everything else with a message that says what to do."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from forms import detect
from forms.detect import FormFileError, detect_kind

EXPECTED_BY_SUFFIX = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsm",
    ".xls": "xls",
    ".csv": "csv",
    ".md": "md",
    ".xml": "xml",
}


def test_every_corpus_xlsform_is_detected_by_content(corpus: Path, any_xlsform: str) -> None:
    path = corpus / any_xlsform
    assert detect_kind(path.read_bytes(), path.name) == EXPECTED_BY_SUFFIX[path.suffix]


def test_every_corpus_xform_is_xml(corpus: Path, corpus_xform: str) -> None:
    assert detect_kind((corpus / corpus_xform).read_bytes()) == "xml"


def test_legacy_xls_named_xlsx_is_detected_as_xls(corpus: Path) -> None:
    data = (corpus / "pyxform/widgets.xls").read_bytes()
    assert detect_kind(data, "widgets.xlsx") == "xls"


def test_workbook_named_csv_is_detected_as_xlsx(corpus: Path) -> None:
    assert detect_kind((corpus / "central-backend/simple.xlsx").read_bytes(), "simple.csv") == "xlsx"


def test_macro_enabled_workbook_is_xlsm_whatever_its_name(corpus: Path) -> None:
    assert detect_kind((corpus / "pyxform/excel_with_macros.xlsm").read_bytes(), "form.xlsx") == "xlsm"


def test_bom_prefixed_xform_is_xml() -> None:
    assert detect_kind(b'\xef\xbb\xbf<?xml version="1.0"?><h:html/>') == "xml"


@pytest.mark.parametrize("data", [b"", b"   \n\t  "])
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(FormFileError, match="is empty") as caught:
        detect_kind(data, "form.xlsx")
    assert "“form.xlsx”" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    data = _zip({"form.xml": b"<h:html/>", "media/a.png": b"\x89PNG"})
    with pytest.raises(FormFileError, match="is a zip archive but not an Excel workbook"):
        detect_kind(data, "forms.zip")


def test_word_document_is_a_zip_but_not_a_workbook() -> None:
    content_types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    with pytest.raises(FormFileError, match="not an Excel workbook"):
        detect_kind(_zip({"[Content_Types].xml": content_types, "word/document.xml": b"<w/>"}))


def test_opendocument_spreadsheet_gets_its_own_advice() -> None:
    data = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    with pytest.raises(FormFileError, match=r"OpenDocument spreadsheet \(\.ods\).*save it as"):
        detect_kind(data, "form.ods")


def test_truncated_workbook_is_reported_as_damaged(corpus: Path) -> None:
    data = (corpus / "central-backend/simple.xlsx").read_bytes()
    with pytest.raises(FormFileError, match="damaged"):
        detect_kind(data[: len(data) // 2])


def test_random_bytes_are_refused() -> None:
    data = random.Random(20240601).randbytes(4096)
    with pytest.raises(FormFileError, match="not a file type Ruta recognises"):
        detect_kind(data)


def test_known_binary_is_named_and_only_the_base_name_is_echoed() -> None:
    with pytest.raises(FormFileError) as caught:
        detect_kind(b"%PDF-1.7\n...", "../../etc/report.pdf")
    assert "“report.pdf” is a PDF document" in str(caught.value)
    assert "etc" not in str(caught.value)


def test_word_97_document_is_not_taken_for_xls() -> None:
    ole2_without_workbook = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + bytes(512)
    )
    with pytest.raises(FormFileError, match="not an Excel workbook"):
        detect_kind(ole2_without_workbook, "form.xls")


def test_semicolon_separated_text_gets_csv_advice() -> None:
    with pytest.raises(FormFileError, match="must use commas"):
        detect_kind(b"survey;;\n;type;name\n;text;q1\n")


def test_non_utf8_text_gets_encoding_advice() -> None:
    with pytest.raises(FormFileError, match="not UTF-8"):
        detect_kind("survey,,\n,type,name,label\n,text,q,Año\n".encode("latin-1"))


def test_html_page_is_refused_as_a_web_page() -> None:
    with pytest.raises(FormFileError, match="web page"):
        detect_kind(b"<!DOCTYPE html><html><body>Sign in</body></html>")


def test_markdown_with_leading_comment_is_md() -> None:
    assert detect_kind(b"# my form\n| survey |\n| | type | name |\n| | text | q |\n") == "md"


def test_zip_declaring_a_huge_unpacked_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "UNPACKED_LIMIT", 1000)
    data = _zip({"xl/workbook.xml": b"<workbook/>" + b" " * 2000})
    with pytest.raises(FormFileError, match="would unpack to more than"):
        detect_kind(data)
