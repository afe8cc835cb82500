"""XForm introspection over the project's own fixtures (tests/data/forms): the shapes the conformance suite
checks on real forms, kept in the default run so a clone alone covers them."""

from __future__ import annotations

import pytest

from forms.schema import FormSchema
from forms.xform import parse_xform
from tests.data import DATA, data_bytes
from tests.forms.test_forms_xform import assert_parses_consistently

OWN_FORMS = sorted(p.name for p in (DATA / "forms").glob("*.xml"))


def _fields(schema: FormSchema) -> dict[str, tuple[str, str, str | None]]:
    return {f.path: (f.kind, f.type, f.repeat) for f in schema.fields}


@pytest.mark.parametrize("name", OWN_FORMS)
def test_every_own_form_parses_and_its_schema_round_trips(name: str) -> None:
    assert_parses_consistently(data_bytes(f"forms/{name}"))


def test_geo_types_and_nested_repeats() -> None:
    schema = parse_xform(data_bytes("forms/geo_types.xml"))
    fields = _fields(schema)
    assert fields["/data/singular/input_geopoint"] == ("question", "geopoint", None)
    assert fields["/data/singular/input_geotrace"] == ("question", "geotrace", None)
    assert fields["/data/singular/input_geoshape"] == ("question", "geoshape", None)
    assert fields["/data/plural"] == ("repeat", "repeat", None)
    assert fields["/data/plural/input_geoshape_repeat"] == ("question", "geoshape", "/data/plural")
    assert fields["/data/plural/nested_repeat"] == ("repeat", "repeat", "/data/plural")
    deep = "/data/plural/nested_repeat/repeatnested_group/input_geopoint_deeply_nested"
    assert fields[deep] == ("question", "geopoint", "/data/plural/nested_repeat")
    assert fields["/data/survey_started_at"] == ("question", "dateTime", None)
    by_path = schema.field_by_path()
    assert by_path["/data/plural"].labels == {"English (en)": "In the Plural (repeatgroup)"}
    assert by_path["/data/singular/input_geopoint"].control == "input"
    assert (schema.version, schema.languages, schema.default_language) == (
        "10",
        ["English (en)"],
        "English (en)",
    )


def test_attachments_keep_only_the_file_name() -> None:
    schema = parse_xform(data_bytes("forms/with_attachments.xml"))
    media = {(m.name, m.kind, m.source) for m in schema.media}
    # sites.xls (no jr:// scheme) and jr://files/ (not a Collect scheme) are not attachments; a nested
    # jr://file/ path is, under its file name.
    assert media == {
        ("goodone.csv", "file", "instance"),
        ("nested.csv", "file", "instance"),
        ("goodtwo.mp3", "audio", "itext"),
    }
    assert schema.title == "withAttachments"  # no <h:title>: the form id stands in
    assert schema.field_by_path()["/data/hometown"].type == "select1"  # from the bind alone


def test_encrypted_form_exposes_its_public_key() -> None:
    schema = parse_xform(data_bytes("forms/encrypted.xml"))
    assert schema.is_encrypted
    assert schema.public_key is not None and schema.public_key.startswith("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A")
    assert schema.submission_url is None
    upload = schema.field_by_path()["/data/file"]
    assert (upload.type, upload.control, upload.mediatype) == ("binary", "upload", "image/*")
    assert schema.version == "working3"
    assert not parse_xform(data_bytes("forms/simple.xml")).is_encrypted


def test_svg_image_map_is_listed_as_image_media() -> None:
    # Introspection only names the file; whoever serves or shows it must treat it as hostile.
    media = parse_xform(data_bytes("forms/svg_media.xml")).media
    assert [(m.name, m.kind, m.source) for m in media] == [("malicious.svg", "image", "itext")]


def test_nested_repeats_and_select_multiple() -> None:
    fields = _fields(parse_xform(data_bytes("forms/nested_repeats.xml")))
    details = "/nested_repeats/kids/kids_details"
    assert fields[details] == ("repeat", "repeat", None)
    assert fields[f"{details}/immunization_info"] == ("repeat", "repeat", details)
    assert fields[f"{details}/immunization_info/date"] == ("question", "date", f"{details}/immunization_info")
    assert fields["/nested_repeats/web_browsers"][1] == "select"
