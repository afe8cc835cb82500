"""Reading a submission's identity: every corpus instance, hostile XML, and the documented errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sync.submission import Envelope, SubmissionError, parse_submission

INSTANCES = "central-backend/instances"
# Central's test data uses orx:/entities: without declaring them: not well-formed XML. Ruta answers a
# clear 400 rather than guessing a repair (a guessed namespace could silently change what a node means).
UNDECLARED_PREFIXES = ["doubleRepeat.double", "offlineEntity.one", "simpleEntity.one", "updateEntity.one"]
# file stem → (form id, version, instanceID)
EXPECTED = {
    "binaryType.both": ("binaryType", None, "both"),
    "binaryType.unicode": ("binaryType", None, "both"),
    "clientAudits.one": ("audits", None, "one"),
    "encrypted.one": ("encrypted", "working3", "uuid:dcf4a151-5088-453f-99e6-369d67828f7a"),
    "groupRepeat.one": ("groupRepeat", None, "uuid:2be07915-2c9c-401a-93ea-1c8f3f8e68f6"),
    "multiEntityFarm.one": ("multiEntityFarm", "2", "uuid:fccb4433-27cc-487c-9d4c-98786a20c5b6"),
    "nestedGroup.one": ("nestedGroup", None, "uuid:f7908274-ef70-4169-90a0-e1389ab732ff"),
    "repeatEntityHousehold.one": ("repeatEntityHousehold", "2", "one"),
    "selectMultiple.one": ("selectMultiple", None, "one"),
    "simple.one": ("simple", None, "one"),
    "withrepeat.one": ("withrepeat", "1.0", "rone"),
    "withrepeat.two": ("withrepeat", "1.0", "rtwo"),
}


def test_the_expectations_cover_every_corpus_instance(corpus: Path) -> None:
    stems = {p.stem for p in (corpus / INSTANCES).glob("*.xml")}
    assert stems == set(EXPECTED) | set(UNDECLARED_PREFIXES)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_corpus_instances_parse(corpus: Path, stem: str) -> None:
    parsed = parse_submission((corpus / INSTANCES / f"{stem}.xml").read_bytes())
    assert (parsed.form_id, parsed.version, parsed.instance_id) == EXPECTED[stem]
    assert parsed.root_name == "data"
    assert parsed.deprecated_id is None
    assert parsed.is_encrypted == (stem == "encrypted.one")


@pytest.mark.parametrize("stem", UNDECLARED_PREFIXES)
def test_undeclared_namespace_prefixes_are_malformed_xml(corpus: Path, stem: str) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_submission((corpus / INSTANCES / f"{stem}.xml").read_bytes())
    assert err.value.code == "malformed_xml"
    assert "unbound prefix" in err.value.message  # the parser's detail, so a developer can find it


def test_instance_name_is_read_from_meta(corpus: Path) -> None:
    parsed = parse_submission((corpus / INSTANCES / "multiEntityFarm.one.xml").read_bytes())
    assert parsed.instance_name == "Farm 123-Barb"


def test_nested_meta_blocks_are_not_the_submission_meta(corpus: Path) -> None:
    # multiEntityFarm has meta/entity blocks inside groups; only the root's meta identifies the record.
    parsed = parse_submission((corpus / INSTANCES / "multiEntityFarm.one.xml").read_bytes())
    assert parsed.instance_id == "uuid:fccb4433-27cc-487c-9d4c-98786a20c5b6"


def test_encrypted_envelope_in_its_own_default_namespace(corpus: Path) -> None:
    parsed = parse_submission((corpus / "central-backend/encrypted/submission.xml").read_bytes())
    assert parsed.namespace == "http://www.opendatakit.org/xforms/encrypted"
    assert parsed.instance_id == "uuid:99b303d9-6494-477b-a30d-d8aae8867335"
    envelope = parsed.envelope
    assert envelope is not None
    assert envelope.xml_file_name == "submission.xml.enc"
    assert envelope.media_file_names == ("1561432532482.jpg.enc",)
    assert envelope.encrypted_key_b64.startswith("iyEB1LAlvVE8")
    assert envelope.signature_b64 is not None and envelope.signature_b64.endswith("GfN1jA==")


def test_envelope_with_several_media_keeps_their_order() -> None:
    xml = (
        b'<data id="f" encrypted="yes" xmlns="http://www.opendatakit.org/xforms/encrypted">'
        b"<base64EncryptedKey>a2V5</base64EncryptedKey>"
        b'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>uuid:1</orx:instanceID></orx:meta>'
        b"<media><file>b.jpg.enc</file></media><media><file>a.m4a.enc</file></media>"
        b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>"
    )
    parsed = parse_submission(xml)
    assert parsed.envelope == Envelope("a2V5", "submission.xml.enc", ("b.jpg.enc", "a.m4a.enc"), None)


@pytest.mark.parametrize("name", ["../../etc/passwd.enc", "a/b.enc", "..", "c:\\x.enc"])
def test_envelope_file_names_with_paths_are_refused(name: str) -> None:
    xml = (
        '<data id="f" encrypted="yes"><base64EncryptedKey>a2V5</base64EncryptedKey>'
        "<meta><instanceID>uuid:1</instanceID></meta>"
        f"<media><file>{name}</file></media><encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>"
    ).encode()
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "bad_envelope"


def test_envelope_without_key_is_refused() -> None:
    xml = b'<data id="f" encrypted="yes"><meta><instanceID>u</instanceID></meta></data>'
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "bad_envelope"


def test_instance_without_instance_id_is_refused_with_the_reason(corpus: Path) -> None:
    # javarosa's populate-nodes-attributes instance is real client output without meta.
    with pytest.raises(SubmissionError) as err:
        parse_submission((corpus / "javarosa/populate-nodes-attributes-instance.xml").read_bytes())
    assert err.value.code == "no_instance_id"
    assert "instanceID" in err.value.message


def test_soak_template_with_placeholders_filled(corpus: Path) -> None:
    template = (corpus / "central-backend/soak-250q/250q-submission.template.xml").read_text()
    uid = str(uuid.uuid4())
    xml = template.replace("{{uuid}}", uid).replace("{{randInt}}", "7").encode()
    parsed = parse_submission(xml)
    assert parsed.form_id == "250_questions"
    assert parsed.instance_id == f"uuid:{uid}"


def test_edit_carries_deprecated_id_and_strips_whitespace() -> None:
    xml = b"""<?xml version="1.0"?>
    <data xmlns="http://opendatakit.org/submissions" id="needs" version="3">
      <meta>
        <instanceID>
          uuid:new
        </instanceID>
        <deprecatedID>uuid:old</deprecatedID>
        <instanceName>  Familia P\xc3\xa9rez </instanceName>
      </meta>
    </data>"""
    parsed = parse_submission(xml)
    assert parsed.instance_id == "uuid:new"
    assert parsed.deprecated_id == "uuid:old"
    assert parsed.instance_name == "Familia Pérez"
    assert parsed.namespace == "http://opendatakit.org/submissions"
    assert parsed.version == "3"


def test_legacy_instance_id_attribute_on_the_root() -> None:
    parsed = parse_submission(b'<data id="f" instanceID="uuid:legacy"><q>1</q></data>')
    assert parsed.instance_id == "uuid:legacy"


def test_meta_instance_id_wins_over_the_legacy_attribute() -> None:
    xml = b'<data id="f" instanceID="uuid:attr"><meta><instanceID>uuid:meta</instanceID></meta></data>'
    assert parse_submission(xml).instance_id == "uuid:meta"


def test_empty_version_means_no_version() -> None:
    assert (
        parse_submission(b'<d id="f" version=""><meta><instanceID>u</instanceID></meta></d>').version is None
    )


def test_parsed_submissions_compare_by_identity_fields_not_by_tree() -> None:
    a = parse_submission(b'<d id="f"><meta><instanceID>u</instanceID></meta></d>')
    b = parse_submission(b'<d id="f"><meta><instanceID>u</instanceID></meta>\n</d>')
    assert a == b
    assert "root=" not in repr(a)


@pytest.mark.parametrize(
    "xml",
    [
        b"<data><meta><instanceID>u</instanceID></meta></data>",
        b'<data id=""><meta><instanceID>u</instanceID></meta></data>',
        b'<data id="   "><meta><instanceID>u</instanceID></meta></data>',
    ],
)
def test_missing_form_id(xml: bytes) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "no_form_id"
    assert err.value.message.startswith("the submission's root element has no id attribute")


@pytest.mark.parametrize(
    "xml",
    [
        b'<data id="f"><meta/></data>',
        b'<data id="f"><meta><instanceID>  </instanceID></meta></data>',
        b'<data id="f"><group><meta><instanceID>nested</instanceID></meta></group></data>',
    ],
)
def test_missing_instance_id(xml: bytes) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "no_instance_id"


@pytest.mark.parametrize("xml", [b"", b"   \n", b"<data id='f'>", b"not xml", b"<a></b>", b"\xff\xfe<"])
def test_empty_or_broken_bodies_are_malformed_xml(xml: bytes) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "malformed_xml"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<data id="f"><meta><instanceID>u</instanceID></meta><q>&lol3;</q></data>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<data id="f"><meta><instanceID>u</instanceID></meta><q>&xxe;</q></data>"""
DOCTYPE_ONLY = b'<!DOCTYPE data><data id="f"><meta><instanceID>u</instanceID></meta></data>'


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE, DOCTYPE_ONLY], ids=["billion-laughs", "xxe", "doctype"])
def test_dtds_and_entities_are_unsafe_xml(xml: bytes) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_submission(xml)
    assert err.value.code == "unsafe_xml"
