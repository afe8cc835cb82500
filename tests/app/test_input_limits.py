"""One length policy for every stored identifier (``sync/limits.py``), the same on SQLite and PostgreSQL:
over-long values are a clear 4xx at parse time, on the OpenRosa path and item by item in a hub's batch,
and nothing is stored for them. Plus the other bad input that used to be a 500: deep XML, NUL bytes,
ids past 2**31, digits that are not ASCII."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import Base, get_database
from app.models import Submission, SubmissionAttachment, SubmissionVersion
from sync import limits
from tests.app.batch_helpers import make_zip
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root

LONG = "x" * 300


def _count(world: World, model: Any) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_every_limit_is_its_columns_length() -> None:
    tables = Base.metadata.tables
    for name, columns in limits.COLUMNS.items():
        for dotted in columns:
            table, column = dotted.split(".")
            assert tables[table].c[column].type.length == limits.MAX_LENGTHS[name], dotted
    # Every string column of those tables that a client fills is listed (a new one must be added).
    listed = {c for cols in limits.COLUMNS.values() for c in cols}
    client_filled = {
        "submissions.instance_id", "submissions.instance_name", "submissions.device_id",
        "submissions.user_agent", "submission_versions.instance_id", "submission_versions.deprecated_id",
        "submission_versions.instance_name", "submission_versions.device_id",
        "submission_versions.user_agent", "submission_attachments.name", "form_attachments.name",
        "forms.xml_form_id", "forms.name", "form_versions.version", "form_versions.xlsform_name",
    }  # fmt: skip
    assert client_filled <= listed


def _with_meta(instance_id: str, extra: str) -> bytes:
    return instance(instance_id).replace(b"</meta>", extra.encode() + b"</meta>")


POISONED = {
    "instanceID": lambda: instance(f"uuid:{LONG}"),
    "deprecatedID": lambda: instance("uuid:edit-long", deprecated=f"uuid:{LONG}"),
    "instanceName": lambda: _with_meta("uuid:name-long", f"<instanceName>{'n' * 600}</instanceName>"),
    "formId": lambda: instance("uuid:form-long").replace(b'id="photo"', f'id="{LONG}"'.encode()),
    "version": lambda: instance("uuid:version-long", version=LONG),
}


@pytest.mark.parametrize("field", sorted(POISONED))
def test_an_overlong_identifier_in_a_direct_post_is_a_400_and_stores_nothing(
    world: World, field: str
) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    res = post_submission(world, root(world, token), POISONED[field]())
    assert res.status_code == 400, res.data
    assert b"400.13" in res.data or field in res.data.decode()
    assert field.encode() in res.data  # the message names what to shorten
    assert _count(world, SubmissionVersion) == 0


def test_overlong_device_id_and_file_name_are_400_and_a_long_user_agent_is_clipped(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    base = root(world, device_token(world)["token"])
    assert post_submission(world, base, instance("uuid:d"), device_id="collect:" + LONG).status_code == 400
    res = post_submission(
        world, base, instance("uuid:f", photo="p" * 300 + ".jpg"), {"p" * 300 + ".jpg": b"x"}
    )
    assert res.status_code == 400 and b"fileName" in res.data
    assert _count(world, SubmissionVersion) == 0
    ok = post_submission(
        world, base, instance("uuid:ua"), {"a.jpg": b"x"}, headers={"User-Agent": "ua" * 600}
    )
    assert ok.status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        version = s.scalar(select(SubmissionVersion))
        assert version is not None and version.user_agent == ("ua" * 600)[:512]


def test_a_file_name_in_the_values_too_long_to_store_is_a_value_problem_not_an_expected_file(
    world: World,
) -> None:
    publish_xml(world, SIMPLE_FORM)
    base = root(world, device_token(world)["token"])
    assert post_submission(world, base, instance("uuid:v", photo="p" * 300 + ".jpg")).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        version = s.scalar(select(SubmissionVersion))
        assert version is not None and s.scalar(select(func.count()).select_from(SubmissionAttachment)) == 0
        assert any("file name too long" in p["message"] for p in version.value_problems)


def test_a_hubs_batch_answers_each_poisoned_item_with_a_4xx_and_stores_the_rest(world: World) -> None:
    """The central side of a hub (PostgreSQL in production): one bad value used to sink the batch."""
    publish_xml(world, SIMPLE_FORM)
    issued = world.client.post(
        f"/v1/projects/{world.project_id}/hubs", json={"name": "Rumichaca"}, headers=world.headers("admin")
    ).json
    items: dict[str, dict[str, bytes]] = {"good1": {"good1.xml": instance("uuid:good1"), "a.jpg": b"1"}}
    for field, build in POISONED.items():
        items[f"bad-{field}"] = {f"bad-{field}.xml": build()}
    items["bad-fileName"] = {"bad-fileName.xml": instance("uuid:badfile"), "f" * 300 + ".jpg": b"2"}
    items["bad-deviceId"] = {"bad-deviceId.xml": instance("uuid:baddevice")}
    items["bad-deep"] = {"bad-deep.xml": b'<data id="photo">' + b"<g>" * 2000 + b"</g>" * 2000 + b"</data>"}
    items["good2"] = {"good2.xml": instance("uuid:good2", photo="")}
    batch = make_zip(items)
    # batch.json carries each instance's deviceId, as a hub forwards it.
    buf = io.BytesIO(batch)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("batch.json", json.dumps({"bad-deviceId": {"deviceId": "collect:" + LONG}}))
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=buf.getvalue(),
        content_type="application/zip",
        headers={"Authorization": f"Hub {issued['token']}"},
    )
    assert res.status_code == 200, res.json
    by_key = {r["key"]: r for r in res.json["results"]}
    assert by_key["good1"]["status"] == "created" and by_key["good2"]["status"] == "created"
    for key, result in by_key.items():
        if key.startswith("bad-"):
            assert result["status"] == "error" and 400 <= result["httpStatus"] < 500, (key, result)
    assert by_key["bad-instanceID"]["code"] == "400.13" and by_key["bad-fileName"]["code"] == "400.11"
    assert _count(world, Submission) == 2 and _count(world, SubmissionVersion) == 2
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert sorted(s.scalars(select(SubmissionVersion.instance_id))) == ["uuid:good1", "uuid:good2"]


def test_deep_xml_nul_bytes_big_ids_and_odd_digits_are_4xx(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    base = root(world, token)
    deep = (
        b'<data id="photo">'
        + b"<g>" * 2000
        + b"</g>" * 2000
        + b"<meta><instanceID>uuid:d</instanceID></meta></data>"
    )
    assert post_submission(world, base, deep).status_code == 400
    assert post_submission(world, base, instance("uuid:n"), device_id="collect:%00x").status_code == 400
    admin = world.headers("admin")
    big = 2**31 + 5
    for path in (
        f"/v1/projects/{big}",
        f"/v1/projects/{big}/formList",
        f"/v1/key/{token}/projects/{big}/formList",
        f"/v1/projects/{world.project_id}/forms/photo/submissions?limit=abc",
        f"/v1/projects/{world.project_id}/forms/photo/submissions?limit=%C2%B2",
        f"/v1/projects/{world.project_id}/forms/photo/submissions?offset=-1",
        f"/v1/projects/{world.project_id}/forms/photo.svc/Submissions?%24top=%C2%B2",
        f"/v1/projects/{world.project_id}/forms/ph%00oto",
        f"/v1/projects/{world.project_id}/forms/photo/versions?version=%00",
    ):
        for headers in ({}, admin):
            res = world.client.get(path, headers=headers)
            assert 400 <= res.status_code < 500, (path, res.status_code, res.data[:300])
    res = world.client.get(
        f"/v1/projects/{world.project_id}/forms/photo/submissions?limit=abc", headers=admin
    )
    assert res.status_code == 400 and res.json["code"] == "400.4" and "limit" in res.json["message"]


def test_api_text_too_long_for_its_column_or_with_nul_is_a_400_on_every_database(world: World) -> None:
    admin = world.headers("admin")
    hubs = f"/v1/projects/{world.project_id}/hubs"
    assert world.client.post(hubs, json={"name": "a\x00b"}, headers=admin).status_code == 400
    project = world.client.post(
        "/v1/projects", json={"organisationId": world.org_id, "name": "p" * 300}, headers=admin
    )
    assert project.status_code == 400 and project.json["details"]["field"] == "projects.name", project.json
    org = world.client.post("/v1/organisations", json={"code": "C-1", "name": "O" * 256}, headers=admin)
    assert org.status_code == 400 and org.json["details"]["field"] == "organisations.name", org.json
    assert world.client.post(hubs, json={"name": "h" * 255}, headers=admin).status_code == 200
