"""One safe Content-Disposition for every download: names that are not Latin-1 (Arabic form media,
Kobo's ``test\\u202Fnarrow.png``) download with an ASCII fallback and the exact name in ``filename*``,
on the device path, the API and the admin."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select

from app.db import get_database
from app.models import Submission
from app.web.downloads import ascii_fallback, content_disposition
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root

NAMES = ["صورة.png", "test\u202fnarrow.png", 'quote"d; name.png', "café.png"]

MEDIA_FORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa">
  <h:head><h:title>Media</h:title>
    <model><itext><translation lang="es" default="true()">
      {texts}
    </translation></itext>
    <instance><data id="media" version="1"><q/><meta><instanceID/></meta></data></instance>
    <bind nodeset="/data/q" type="string"/>
    </model></h:head>
  <h:body><input ref="/data/q"><label ref="jr:itext('q0:label')"/></input></h:body></h:html>"""


def _filename_star(header: str) -> str:
    assert header.isascii(), header
    return unquote(header.split("filename*=UTF-8''", 1)[1])


def test_the_header_is_ascii_with_the_exact_name_in_filename_star() -> None:
    for name in NAMES:
        header = content_disposition(name)
        header.encode("latin-1")
        assert _filename_star(header) == name
        assert '"' not in ascii_fallback(name) and ascii_fallback(name).isascii()
    assert ascii_fallback("صورة.png") == "download.png"
    assert ascii_fallback("test\u202fnarrow.png") == "test narrow.png"


def test_form_media_with_non_latin_names_download_on_the_device_path_and_the_api(world: World) -> None:
    texts = "".join(
        f'<text id="q{i}:label"><value form="image">jr://images/{name}</value></text>'
        for i, name in enumerate(NAMES[:2])
    )
    publish_xml(world, MEDIA_FORM.format(texts=texts).encode(), query="publish=false")
    base = f"/v1/projects/{world.project_id}/forms/media"
    admin = world.headers("admin")
    for name in NAMES[:2]:
        res = world.client.post(f"{base}/draft/attachments/{quote(name)}", data=name.encode(), headers=admin)
        assert res.status_code == 200, res.json
    assert world.client.post(f"{base}/draft/publish", headers=admin).status_code == 200
    token = device_token(world)["token"]
    device = root(world, token)
    manifest = world.client.get(f"{device}/formList/media/manifest").data.decode()
    for name in NAMES[:2]:
        got = world.client.get(f"{device}/formList/media/media/{quote(name)}")
        assert got.status_code == 200 and got.data == name.encode()
        assert _filename_star(got.headers["Content-Disposition"]) == name
        assert name in manifest
        api = world.client.get(f"{base}/attachments/{quote(name)}", headers=admin)
        assert api.status_code == 200 and _filename_star(api.headers["Content-Disposition"]) == name


# (A '"' cannot travel in a multipart file name the way Collect writes them; the header test covers it.)
@pytest.mark.parametrize("name", [n for n in NAMES if '"' not in n])
def test_submission_files_with_any_name_download_from_the_api_and_the_admin(world: World, name: str) -> None:
    publish_xml(world, SIMPLE_FORM)
    base = root(world, device_token(world)["token"])
    xml = instance("uuid:dl", photo=name)
    assert post_submission(world, base, xml, {name: b"bytes"}).status_code == 201
    api = world.client.get(
        f"/v1/projects/{world.project_id}/forms/photo/submissions/uuid:dl/attachments/{quote(name)}",
        headers=world.headers("admin"),
    )
    assert api.status_code == 200 and api.data == b"bytes"
    assert _filename_star(api.headers["Content-Disposition"]) == name
    admin = login(world, "admin")
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        submission_id = s.scalar(select(Submission.id))
    page = admin.get(f"/admin/submissions/{submission_id}/files/{quote(name)}?download=1")
    assert page.status_code == 200 and _filename_star(page.headers["Content-Disposition"]) == name


def test_exports_carry_the_same_header(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    res = world.client.get(
        f"/v1/projects/{world.project_id}/forms/photo/submissions.csv", headers=world.headers("admin")
    )
    assert res.status_code == 200
    header = res.headers["Content-Disposition"]
    assert header.startswith('attachment; filename="') and _filename_star(header).endswith(".csv")
