"""Form publishing through the API: corpus XLSForms and XForms, drafts, versions, media, bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import get_database
from app.models import AuditEvent, Blob, Form, FormVersion
from tests.app.conftest import World
from tests.corpus_paths import CORPUS, corpus_available
from tests.data import data_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _manifest() -> list[dict[str, str]]:
    if not corpus_available():
        return []
    with (CORPUS / "MANIFEST.tsv").open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


XLSFORMS = [r for r in _manifest() if r["kind"] == "xlsform"]
XFORMS = [r for r in _manifest() if r["kind"] == "xform"]


def _counts(world: World) -> tuple[int, int, int]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return (
            s.scalar(select(func.count()).select_from(Form)) or 0,
            s.scalar(select(func.count()).select_from(FormVersion)) or 0,
            s.scalar(select(func.count()).select_from(Blob)) or 0,
        )


# Corpus forms are published without the media they name: these tests are about publishing and
# introspection, and the gate (app/services/publishing/gate.py) asks for a reason when files are missing.
CORPUS_PUBLISH = "publish=true&ignoreWarnings=true&overrideReason=conformance+corpus"


def _upload(
    world: World,
    data: bytes,
    *,
    who: str = "manager",
    query: str = "publish=true&ignoreWarnings=true",
    content_type: str = XLSX,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    return world.client.post(
        f"/v1/projects/{world.project_id}/forms?{query}",
        data=data,
        content_type=content_type,
        headers={**world.headers(who), **(headers or {})},
    )


@pytest.mark.conformance
@pytest.mark.parametrize("row", XLSFORMS, ids=lambda r: r["file"])
def test_corpus_xlsform_publishes_or_is_refused_with_pyxforms_message(
    world: World, row: dict[str, str]
) -> None:
    data = (CORPUS / row["file"]).read_bytes()
    before = _counts(world)
    res = _upload(
        world,
        data,
        query=CORPUS_PUBLISH,
        headers={"X-XlsForm-FormId-Fallback": Path(row["file"]).stem.replace(" ", "_")},
    )
    if row["pyxform_4.5.0"].startswith("OK"):
        assert res.status_code == 200, res.json
        body = res.json
        assert body["state"] == "open" and body["publishedAt"]
        assert isinstance(body["xlsFormWarnings"], list)
        served = world.client.get(
            f"/v1/projects/{world.project_id}/forms/{body['xmlFormId']}.xml", headers=world.headers("manager")
        )
        assert hashlib.md5(served.data).hexdigest() == body["hash"]
    else:
        assert res.status_code == 400, res.json
        assert res.json["code"] == "400.6"
        assert res.json["message"]
        assert _counts(world) == before  # nothing left behind


def test_warnings_block_unless_ignored(world: World) -> None:
    data = data_bytes("xlsforms/validate_fails.xlsx")
    world.app.config["ODK_VALIDATE"] = True
    res = _upload(world, data, query="publish=true")
    assert res.status_code == 400
    assert res.json["code"] == "400.16"
    assert any("ODK Validate" in w for w in res.json["details"]["warnings"]["xlsFormWarnings"])
    assert _counts(world)[0] == 0
    # Ignoring the warnings keeps the draft, but publishing a failed form needs a stated reason.
    res = _upload(world, data, query="publish=true&ignoreWarnings=true")
    assert res.status_code == 409 and res.json["code"] == "409.30"
    assert _counts(world)[0] == 0
    res = _upload(world, data, query="publish=true&ignoreWarnings=true&overrideReason=field+test")
    assert res.status_code == 200
    assert res.json["validation"]["status"] == "failed"


def test_odk_validate_result_is_stored_and_shown(world: World) -> None:
    world.app.config["ODK_VALIDATE"] = True
    res = _upload(world, data_bytes("xlsforms/simple.xlsx"))
    assert res.status_code == 200
    assert res.json["validation"]["status"] == "passed"


@pytest.mark.conformance
@pytest.mark.parametrize("row", XFORMS, ids=lambda r: r["file"])
def test_corpus_xform_publishes_with_introspection(world: World, row: dict[str, str]) -> None:
    data = (CORPUS / row["file"]).read_bytes()
    res = _upload(world, data, query=CORPUS_PUBLISH, content_type="application/xml")
    assert res.status_code == 200, res.json
    form_id = res.json["xmlFormId"]
    served = world.client.get(
        f"/v1/projects/{world.project_id}/forms/{form_id}.xml", headers=world.headers("analyst")
    )
    assert served.data == data  # XForms are served exactly as uploaded
    schema = world.client.get(
        f"/v1/projects/{world.project_id}/forms/{form_id}/schema", headers=world.headers("analyst")
    ).json
    assert schema["form_id"] == form_id and schema["fields"]


def test_media_expected_by_a_form_are_listed_and_uploadable_on_a_draft(world: World) -> None:
    data = data_bytes("forms/with_attachments.xml")
    res = _upload(world, data, query="publish=false", content_type="application/xml")
    assert res.status_code == 200
    form_id = res.json["xmlFormId"]
    base = f"/v1/projects/{world.project_id}/forms/{form_id}"
    manager = world.headers("manager")
    listed = world.client.get(f"{base}/draft/attachments", headers=manager).json
    names = {a["name"] for a in listed}
    assert "goodone.csv" in names and all(not a["exists"] for a in listed)
    # An analyst may look but not change.
    assert (
        world.client.post(
            f"{base}/draft/attachments/goodone.csv", data=b"a,b\n", headers=world.headers("analyst")
        ).status_code
        == 403
    )
    assert world.client.post(
        f"{base}/draft/attachments/../etc.csv", data=b"x", headers=manager
    ).status_code in (400, 404)
    assert (
        world.client.post(f"{base}/draft/attachments/unknown.csv", data=b"x", headers=manager).status_code
        == 404
    )
    assert (
        world.client.post(
            f"{base}/draft/attachments/goodone.csv",
            data=b"name\nx\n",
            content_type="text/csv",
            headers=manager,
        ).status_code
        == 200
    )
    assert (
        world.client.post(f"{base}/draft/publish?version=v1", headers=world.headers("analyst")).status_code
        == 403
    )
    # goodtwo.mp3 is still missing: held back until a manager states why it may go out without it.
    held = world.client.post(f"{base}/draft/publish?version=v1", headers=manager)
    assert held.status_code == 409 and held.json["code"] == "409.30"
    assert {"code": "media_missing", "detail": "goodtwo.mp3"} in held.json["details"]["problems"]
    reason = "audio+comes+next+week"
    published = world.client.post(f"{base}/draft/publish?version=v1&overrideReason={reason}", headers=manager)
    assert published.status_code == 200
    got = world.client.get(f"{base}/attachments/goodone.csv", headers=manager)
    assert got.data == b"name\nx\n"
    version = world.client.get(f"{base}/versions/v1", headers=world.headers("analyst")).json
    assert version["version"] == "v1"
    xml = world.client.get(f"{base}/versions/v1.xml", headers=world.headers("analyst"))
    assert b'version="v1"' in xml.data and hashlib.md5(xml.data).hexdigest() == version["hash"]


def test_new_version_keeps_old_versions_and_reports_type_changes(world: World) -> None:
    v1 = (
        b'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
        b'<h:head><h:title>T</h:title><model><instance><data id="typed" version="1"><age/><meta>'
        b'<instanceID/></meta></data></instance><bind nodeset="/data/age" type="int"/>'
        b'<bind nodeset="/data/meta/instanceID" type="string"/></model></h:head>'
        b'<h:body><input ref="/data/age"><label>Age</label></input></h:body></h:html>'
    )
    v2 = v1.replace(b'version="1"', b'version="2"').replace(b'type="int"', b'type="string"')
    assert _upload(world, v1, content_type="application/xml").status_code == 200
    base = f"/v1/projects/{world.project_id}/forms/typed"
    manager = world.headers("manager")
    draft = world.client.post(f"{base}/draft", data=v2, content_type="application/xml", headers=manager)
    assert draft.status_code == 200
    assert draft.json["typeChanges"] == [{"path": "/data/age", "oldType": "int", "newType": "string"}]
    assert world.client.get(f"{base}/draft.xml", headers=manager).data == v2
    assert world.client.post(f"{base}/draft/publish", headers=manager).status_code == 200
    versions = world.client.get(f"{base}/versions", headers=manager).json
    assert [v["version"] for v in versions] == ["2", "1"]
    # Version 1 is still served byte for byte.
    assert world.client.get(f"{base}/versions/1.xml", headers=manager).data == v1
    # Publishing the same version string again is refused.
    world.client.post(f"{base}/draft", data=v2, content_type="application/xml", headers=manager)
    res = world.client.post(f"{base}/draft/publish", headers=manager)
    assert res.status_code == 409 and "already published" in res.json["message"]


def test_form_states(world: World) -> None:
    _upload(world, data_bytes("forms/simple.xml"), content_type="application/xml")
    base = f"/v1/projects/{world.project_id}/forms/simple"
    for state in ("closing", "closed", "open"):
        res = world.client.patch(base, json={"state": state}, headers=world.headers("manager"))
        assert res.status_code == 200 and res.json["state"] == state
    res = world.client.patch(base, json={"state": "deleted"}, headers=world.headers("manager"))
    assert res.status_code == 400


def _zip_not_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    return buf.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head><model><instance>'
    b'<data id="x">&lol2;</data></instance></model></h:head></h:html>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head><model><instance>'
    b'<data id="x">&xxe;</data></instance></model></h:head></h:html>'
)


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("empty", b"", 400),
        ("zip-not-workbook", _zip_not_workbook(), 400),
        ("random-bytes", bytes(range(256)) * 4, 400),
        ("billion-laughs", BILLION_LAUGHS, 400),
        ("external-entity", EXTERNAL_ENTITY, 400),
        (
            "form-id-with-slash",
            data_bytes("forms/simple.xml").replace(b'id="simple"', b'id="../simple"'),
            400,
        ),
        ("not-well-formed", b"<h:html><unclosed>", 400),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_change_nothing(
    world: World, name: str, data: bytes, status: int
) -> None:
    before = _counts(world)
    res = _upload(world, data, content_type="application/octet-stream")
    assert res.status_code == status, (name, res.json)
    assert res.json["message"] and res.json["code"].startswith(str(status))
    assert _counts(world) == before


def test_a_50mb_upload_is_refused_without_being_stored(world: World) -> None:
    before = _counts(world)
    res = _upload(world, b"x" * (50 * 1024 * 1024))
    assert res.status_code == 413
    assert _counts(world) == before


def test_every_form_write_is_audited(world: World) -> None:
    _upload(world, data_bytes("forms/simple.xml"), content_type="application/xml")
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.project_id == world.project_id)))
    assert {"form.create", "form.publish"} <= actions


def test_xlsform_can_be_downloaded_again(world: World) -> None:
    data = data_bytes("xlsforms/simple.xlsx")
    form_id = _upload(world, data).json["xmlFormId"]
    got = world.client.get(
        f"/v1/projects/{world.project_id}/forms/{form_id}.xlsx", headers=world.headers("analyst")
    )
    assert got.status_code == 200 and got.data == data


def _external_choices_workbook() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    survey = wb.active
    survey.title = "survey"
    for row in [
        ["type", "name", "label", "choice_filter"],
        ["select_one country", "country", "Country", ""],
        ["select_one_external city", "city", "City", "country=${country}"],
    ]:
        survey.append(row)
    choices = wb.create_sheet("choices")
    for row in [["list_name", "name", "label"], ["country", "ec", "Ecuador"], ["country", "pe", "Peru"]]:
        choices.append(row)
    external = wb.create_sheet("external_choices")
    for row in [
        ["list_name", "name", "label", "country"],
        ["city", "quito", "Quito", "ec"],
        ["city", "lima", "Lima", "pe"],
    ]:
        external.append(row)
    settings = wb.create_sheet("settings")
    settings.append(["form_id"])
    settings.append(["cities"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_itemsets_csv_from_external_choices_is_attached_by_ruta(world: World) -> None:
    res = _upload(world, _external_choices_workbook())
    assert res.status_code == 200, res.json
    attachments = {a["name"]: a["exists"] for a in res.json["attachments"]}
    assert attachments == {"itemsets.csv": True}
    got = world.client.get(
        f"/v1/projects/{world.project_id}/forms/cities/attachments/itemsets.csv",
        headers=world.headers("manager"),
    )
    assert b"quito" in got.data and b"lima" in got.data
