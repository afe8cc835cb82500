"""Builders for device-protocol tests: publish a form, issue a device token, POST like Collect."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from tests.app.conftest import World

OR_HEADERS = {"X-OpenRosa-Version": "1.0"}


# Fixture forms are published whatever media they expect (the tests send what they need); the reason
# is what the publish gate (app/services/publishing/gate.py) asks for when files are missing.
FIXTURE_PUBLISH = "publish=true&ignoreWarnings=true&overrideReason=test+fixture"


def publish_xml(world: World, xml: bytes, *, query: str = FIXTURE_PUBLISH) -> dict[str, Any]:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?{query}",
        data=xml,
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def device_token(world: World, project_id: int | None = None, **body: Any) -> dict[str, Any]:
    res = world.client.post(
        f"/v1/projects/{project_id or world.project_id}/app-users",
        json={"displayName": "Phone", **body},
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def root(world: World, token: str, project_id: int | None = None) -> str:
    return f"/v1/key/{token}/projects/{project_id or world.project_id}"


def post_submission(
    world: World,
    base: str,
    xml: bytes,
    files: dict[str, bytes] | None = None,
    *,
    incomplete: bool = False,
    headers: dict[str, str] | None = None,
    device_id: str = "collect:ABCDEFGH12345678",
) -> TestResponse:
    data: MultiDict[str, Any] = MultiDict()
    data.add("xml_submission_file", (io.BytesIO(xml), "xml_submission_file.xml", "text/xml"))
    for name, content in (files or {}).items():
        data.add(name, (io.BytesIO(content), name, "application/octet-stream"))
    if incomplete:
        data.add("*isIncomplete*", "yes")
    return world.client.post(
        f"{base}/submission?deviceID={device_id}",
        data=data,
        content_type="multipart/form-data",
        headers={**OR_HEADERS, "User-Agent": "org.odk.collect.android/v2026.1.0", **(headers or {})},
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


SIMPLE_FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head><h:title>Photo form</h:title>
    <model><instance><data id="photo" version="2">
      <name/><age/><photo/><meta><instanceID/><deprecatedID/></meta>
    </data></instance>
    <bind nodeset="/data/name" type="string"/>
    <bind nodeset="/data/age" type="int"/>
    <bind nodeset="/data/photo" type="binary"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body><input ref="/data/name"><label>Name</label></input>
    <input ref="/data/age"><label>Age</label></input>
    <upload ref="/data/photo" mediatype="image/*"><label>Photo</label></upload></h:body></h:html>"""


def instance(
    instance_id: str,
    *,
    name: str = "Ana",
    age: str = "30",
    photo: str = "a.jpg",
    version: str = "2",
    deprecated: str | None = None,
) -> bytes:
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" id="photo" version="{version}"><name>{name}</name>'
        f"<age>{age}</age><photo>{photo}</photo><meta><instanceID>{instance_id}</instanceID>{dep}</meta>"
        "</data>"
    ).encode()


def form_xml(form_id: str, *, media: int = 0) -> bytes:
    """A one-question XForm; ``media`` images in its itext make it expect that many media files."""
    texts = "".join(
        f'<text id="m{i}"><value form="image">jr://images/m{i}.png</value></text>' for i in range(media)
    )
    itext = (
        f'<itext><translation lang="default"><text id="q:label"><value>Q</value></text>{texts}'
        "</translation></itext>"
        if media
        else ""
    )
    label = "<label ref=\"jr:itext('q:label')\"/>" if media else "<label>Q</label>"
    return f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa"><h:head><h:title>Form {form_id}</h:title>
  <model>{itext}<instance><data id="{form_id}" version="1"><q/><meta><instanceID/></meta></data></instance>
  <bind nodeset="/data/q" type="string"/>
  <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/></model></h:head>
  <h:body><input ref="/data/q">{label}</input></h:body></h:html>""".encode()
