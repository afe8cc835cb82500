"""XLSForm conversion: corpus forms pyxform accepts convert, those it rejects give pyxform's own message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyxform import xls2xform
from pyxform.errors import PyXFormError

from forms import paths, safe_xml
from forms.errors import FormFileError, XLSFormError
from forms.safe_xml import local_name
from forms.xform import parse_xform
from forms.xlsform import Conversion, convert

# What pyxform 4.5 says about each corpus form it rejects (README: real partners upload forms like these).
EXPECTED_FAILURES = {
    "humanitarian/liberiaCoverage.xlsx": ["[row : 126]", "allow_choice_duplicates"],
    "humanitarian/liberiaCoverageVillageForm.xlsx": ["[row : 35]", "allow_choice_duplicates"],
    "humanitarian/unhcr_XlsForm_master.xlsx": ["[row : 29]", "'warning'", "must be unique"],
    "pyxform/calculate_without_calculation.xls": ["[row : 34] Missing calculation."],
    "pyxform/duplicate_columns.xlsx": ["Duplicate column header: label"],
}


def test_corpus_xlsform_pyxform_accepts_converts_and_parses(
    ok_xlsform: str, converted: Callable[[str], Conversion]
) -> None:
    conversion = converted(ok_xlsform)
    assert conversion.source_kind == Path(ok_xlsform).suffix.lstrip(".")
    assert conversion.form_id
    assert conversion.title
    assert all(isinstance(w, str) and w for w in conversion.warnings)
    schema = parse_xform(conversion.xform)
    assert schema.form_id == conversion.form_id
    assert schema.version == conversion.version
    # Every node pyxform binds is a field Ruta knows (attribute binds such as entity/@id excepted).
    field_paths = {f.path for f in schema.fields}
    model = next(e for e in safe_xml.parse(conversion.xform).iter() if local_name(e.tag) == "model")
    for bind in (e for e in model if local_name(e.tag) == "bind"):
        path = paths.canonical(bind.get("nodeset"), "/" + schema.root)
        assert path is None or path in field_paths


def test_corpus_xlsform_pyxform_rejects_raises_its_message(
    failing_xlsform: str, converted: Callable[[str], Conversion]
) -> None:
    assert failing_xlsform in EXPECTED_FAILURES, "a new FAIL row in MANIFEST.tsv needs its expected message"
    with pytest.raises(XLSFormError) as caught:
        converted(failing_xlsform)
    for fragment in EXPECTED_FAILURES[failing_xlsform]:
        assert fragment in caught.value.message


def test_pyxform_message_is_passed_through_verbatim(corpus: Path) -> None:
    data = (corpus / "pyxform/calculate_without_calculation.xls").read_bytes()
    with pytest.raises(PyXFormError) as direct:
        xls2xform.convert(xlsform=data, file_type=".xls")
    with pytest.raises(XLSFormError) as ours:
        convert(data)
    assert ours.value.message == str(direct.value)


def test_pyxform_warnings_come_back_verbatim(corpus: Path, converted: Callable[[str], Conversion]) -> None:
    name = "pyxform/attribute_columns_test.xlsx"
    direct: list[str] = []
    xls2xform.convert(xlsform=(corpus / name).read_bytes(), file_type=".xlsx", warnings=direct)
    assert converted(name).warnings == direct
    assert any("[row : 36]" in w for w in direct)


def test_xform_that_pyxform_accepts_but_validate_rejects_still_converts(
    converted: Callable[[str], Conversion],
) -> None:
    conversion = converted("pyxform/xl_date_ambiguous.xlsx")
    assert b"names_list" in conversion.xform


def test_settings_form_id_and_version_are_read_back(converted: Callable[[str], Conversion]) -> None:
    conversion = converted("web-forms/all-question-types-v2024091201-3.xlsx")
    assert conversion.version == "2024091201-3"
    assert conversion.xform.startswith(b"<?xml")


def test_fallback_form_id_applies_only_when_the_file_sets_none(
    corpus: Path, make_xlsx: Callable[..., bytes]
) -> None:
    simple = (corpus / "central-backend/simple.xlsx").read_bytes()
    assert convert(simple).form_id == "data"  # pyxform's default for in-memory input
    assert convert(simple, fallback_form_id="border_survey").form_id == "border_survey"
    with_id = make_xlsx(
        [["type", "name", "label"], ["text", "q", "Q"]],
        settings=[["form_id", "form_title"], ["own_id", "Own"]],
    )
    conversion = convert(with_id, fallback_form_id="border_survey")
    assert (conversion.form_id, conversion.title) == ("own_id", "Own")


def test_external_choices_come_back_as_itemsets_csv(converted: Callable[[str], Conversion]) -> None:
    conversion = converted("pyxform/case_insensitivity.csv")
    assert conversion.itemsets_csv is not None
    assert conversion.itemsets_csv.startswith(b'"LIST_NAME","NAME","LABEL"')
    media = parse_xform(conversion.xform).media
    assert [(m.name, m.source) for m in media] == [("itemsets.csv", "itemsets")]


def test_form_without_external_choices_has_no_itemsets(converted: Callable[[str], Conversion]) -> None:
    assert converted("central-backend/simple.xlsx").itemsets_csv is None


def test_pulldata_form_expects_its_csv(converted: Callable[[str], Conversion]) -> None:
    schema = parse_xform(converted("pyxform/pull_data.xlsx").xform)
    assert [m.name for m in schema.media] == ["fruits.csv"]
    assert schema.media[0].kind == "file"


HXL_SURVEY = [
    ["type", "name", "label", "hxl", "sensitive"],
    ["begin_group", "household", "Household", "#household", ""],
    ["integer", "size", "Household size", "#affected+hh_size", "no"],
    ["text", "phone", "Phone", "", "yes"],
    ["select_one yn", "pregnant", "Pregnant?", "#affected+f+pregnant", "TRUE"],
    ["end_group", "", "", "", ""],
]
HXL_CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]


def _hxl_and_sensitive(xform: bytes) -> dict[str, tuple[str | None, bool]]:
    return {f.name: (f.hxl, f.sensitive) for f in parse_xform(xform).fields}


def test_kobo_hxl_and_sensitive_columns_survive_an_xlsx(make_xlsx: Callable[..., bytes]) -> None:
    conversion = convert(make_xlsx(HXL_SURVEY, choices=HXL_CHOICES))
    assert b'hxl="#affected+hh_size"' in conversion.xform
    fields = _hxl_and_sensitive(conversion.xform)
    assert fields["household"] == ("#household", False)
    assert fields["size"] == ("#affected+hh_size", False)
    assert fields["phone"] == (None, True)
    assert fields["pregnant"] == ("#affected+f+pregnant", True)
    assert fields["instanceID"] == (None, False)


def test_kobo_columns_survive_a_markdown_form() -> None:
    md = b"""
| survey |
|        | type    | name  | label | hxl          | sensitive |
|        | integer | size  | Size  | #affected    |           |
|        | text    | phone | Phone |              | yes       |
"""
    fields = _hxl_and_sensitive(convert(md).xform)
    assert fields["size"] == ("#affected", False)
    assert fields["phone"] == (None, True)


def test_kobo_columns_survive_a_csv_form() -> None:
    csv_form = b"survey,,,,\n,type,name,label,hxl\n,integer,size,Size,#affected+total\n"
    conversion = convert(csv_form)
    assert conversion.source_kind == "csv"
    assert _hxl_and_sensitive(conversion.xform)["size"] == ("#affected+total", False)


def test_existing_instance_hxl_column_wins(make_xlsx: Callable[..., bytes]) -> None:
    survey = [["type", "name", "label", "hxl", "instance::hxl"], ["integer", "n", "N", "#plain", "#explicit"]]
    assert _hxl_and_sensitive(convert(make_xlsx(survey)).xform)["n"] == ("#explicit", False)


def test_xform_xml_is_refused_with_directions(corpus: Path) -> None:
    with pytest.raises(XLSFormError, match="is an XForm"):
        convert((corpus / "central-backend/forms/simple.xml").read_bytes())


def test_unreadable_file_raises_form_file_error() -> None:
    with pytest.raises(FormFileError, match="empty"):
        convert(b"")


def test_workbook_without_survey_sheet_gets_pyxform_message(make_xlsx: Callable[..., bytes]) -> None:
    data = make_xlsx(
        [["list_name", "name", "label"], ["yn", "yes", "Yes"]],
        settings=[["form_id"], ["x"]],
        survey_title="opciones",
    )
    with pytest.raises(XLSFormError, match="You must have a sheet named 'survey'"):
        convert(data)


def test_corrupt_xls_keeps_the_reader_message() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "Workbook".encode("utf-16-le") + bytes(600)
    with pytest.raises(
        XLSFormError, match=r"^The file could not be read as an XLSForm in xls format \(CompDocError"
    ):
        convert(data, filename="form.xls")


def test_unexpected_pyxform_crash_becomes_xlsform_error(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(**_: object) -> None:
        raise KeyError("list_name")

    monkeypatch.setattr(xls2xform, "convert", crash)
    with pytest.raises(XLSFormError, match=r"pyxform could not convert this XLSForm \(KeyError"):
        convert((corpus / "central-backend/simple.xlsx").read_bytes())


def test_form_id_pyxform_allows_but_ruta_cannot_store_is_refused(make_xlsx: Callable[..., bytes]) -> None:
    data = make_xlsx([["type", "name", "label"], ["text", "q", "Q"]], settings=[["form_id"], ["a/b"]])
    with pytest.raises(XLSFormError, match="cannot be used"):
        convert(data)
