"""The OpenRosa documents Ruta sends: well-formed, in the right namespaces, and immune to hostile names."""

from __future__ import annotations

import hashlib

import pytest

from forms import safe_xml
from sync import openrosa
from sync.openrosa import FormListEntry, ManifestFile

HOSTILE = "<script>alert('x')</script> & \"quotes\" ]]>"
MD5 = hashlib.md5(b"<h:html/>").hexdigest()
XL = "{http://openrosa.org/xforms/xformsList}"
MF = "{http://openrosa.org/xforms/xformsManifest}"
RS = "{http://openrosa.org/http/response}"


def test_form_list_has_every_field_in_the_xforms_list_namespace() -> None:
    body = openrosa.form_list(
        [
            FormListEntry(
                form_id="needs",
                name="Needs assessment",
                version="2024061201",
                md5_hex=MD5,
                download_url="https://ruta.example/v1/key/t/projects/1/forms/needs.xml",
                manifest_url="https://ruta.example/v1/key/t/projects/1/forms/needs/manifest",
                description_text="Rumichaca",
            ),
            FormListEntry(form_id="flow", name="Flow", version=None, md5_hex=MD5, download_url="https://x/f"),
        ]
    )
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = safe_xml.parse(body)
    assert root.tag == f"{XL}xforms"
    first, second = root.findall(f"{XL}xform")
    assert first.findtext(f"{XL}formID") == "needs"
    assert first.findtext(f"{XL}name") == "Needs assessment"
    assert first.findtext(f"{XL}version") == "2024061201"
    assert first.findtext(f"{XL}hash") == f"md5:{MD5}"
    assert first.findtext(f"{XL}descriptionText") == "Rumichaca"
    assert first.findtext(f"{XL}manifestUrl", "").endswith("/manifest")
    # No media → no manifestUrl at all (Collect would otherwise fetch an empty manifest every time).
    assert second.find(f"{XL}manifestUrl") is None
    assert second.findtext(f"{XL}version") == ""


def test_form_list_escapes_hostile_names_and_urls() -> None:
    url = "https://x/forms/a?x=1&y=<2>"
    body = openrosa.form_list(
        [FormListEntry(form_id="f&<1>", name=HOSTILE, version='"v"', md5_hex=MD5, download_url=url)]
    )
    assert b"<script>" not in body
    xform = safe_xml.parse(body).find(f"{XL}xform")
    assert xform is not None
    assert xform.findtext(f"{XL}name") == HOSTILE
    assert xform.findtext(f"{XL}formID") == "f&<1>"
    assert xform.findtext(f"{XL}version") == '"v"'
    assert xform.findtext(f"{XL}downloadUrl") == url


def test_characters_xml_cannot_carry_are_replaced_not_emitted() -> None:
    body = openrosa.form_list([FormListEntry("f", "bad\x00\x1bname", None, MD5, "https://x/f")])
    xform = safe_xml.parse(body).find(f"{XL}xform")
    assert xform is not None
    assert xform.findtext(f"{XL}name") == "bad\ufffd\ufffdname"


def test_empty_form_list_is_still_a_document() -> None:
    assert len(safe_xml.parse(openrosa.form_list([]))) == 0


@pytest.mark.parametrize("bad", ["", "md5:" + MD5, MD5.upper(), MD5[:-1], "z" * 32])
def test_hash_must_be_a_bare_lowercase_md5(bad: str) -> None:
    with pytest.raises(ValueError, match="md5"):
        FormListEntry("f", "F", None, bad, "https://x/f")
    with pytest.raises(ValueError, match="md5"):
        ManifestFile("a.csv", bad, "https://x/a.csv")


def test_manifest_lists_media_files_with_md5_hashes() -> None:
    body = openrosa.manifest(
        [
            ManifestFile("itemsets.csv", MD5, "https://x/attachments/itemsets.csv"),
            ManifestFile(HOSTILE, MD5, "https://x/attachments/a?b=1&c=2"),
        ]
    )
    root = safe_xml.parse(body)
    assert root.tag == f"{MF}manifest"
    files = root.findall(f"{MF}mediaFile")
    assert [f.findtext(f"{MF}filename") for f in files] == ["itemsets.csv", HOSTILE]
    assert {f.findtext(f"{MF}hash") for f in files} == {f"md5:{MD5}"}
    assert files[1].findtext(f"{MF}downloadUrl") == "https://x/attachments/a?b=1&c=2"


def test_openrosa_response_carries_a_human_message_and_its_nature() -> None:
    root = safe_xml.parse(openrosa.openrosa_response("Received: Encuesta <3 & más"))
    assert root.tag == f"{RS}OpenRosaResponse"
    message = root.find(f"{RS}message")
    assert message is not None
    assert message.get("nature") == "submit_success"
    assert message.text == "Received: Encuesta <3 & más"

    error = safe_xml.parse(openrosa.openrosa_response("no", nature='error" x="1')).find(f"{RS}message")
    assert error is not None
    assert error.get("nature") == 'error" x="1'
    assert error.get("x") is None


def test_header_constants() -> None:
    assert openrosa.OPENROSA_VERSION == "1.0"
    assert openrosa.XML_CONTENT_TYPE == "text/xml; charset=utf-8"
