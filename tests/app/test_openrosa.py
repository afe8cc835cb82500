"""The device protocol (shared/docs/PROTOCOL.md), rule by rule, through HTTP, on both databases."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import get_database
from app.models import Submission, SubmissionAttachment, SubmissionVersion
from forms import safe_xml
from tests.app.conftest import World
from tests.app.openrosa_helpers import (
    OR_HEADERS,
    SIMPLE_FORM,
    device_token,
    instance,
    post_submission,
    publish_xml,
    root,
)

UUID = "uuid:11111111-2222-3333-4444-555555555555"


@pytest.fixture
def device(world: World) -> str:
    publish_xml(world, SIMPLE_FORM)
    return root(world, device_token(world)["token"])


def _rows(world: World) -> tuple[int, int, int]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return (
            s.scalar(select(func.count()).select_from(Submission)) or 0,
            s.scalar(select(func.count()).select_from(SubmissionVersion)) or 0,
            s.scalar(
                select(func.count())
                .select_from(SubmissionAttachment)
                .where(SubmissionAttachment.blob_sha256.is_not(None))
            )
            or 0,
        )


def _assert_openrosa(res, status: int) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == status, res.data
    assert res.headers["X-OpenRosa-Version"] == "1.0"
    assert res.headers["Date"].endswith("GMT")


def test_form_list_headers_hash_and_download(world: World, device: str) -> None:
    res = world.client.get(f"{device}/formList", headers=OR_HEADERS)
    _assert_openrosa(res, 200)
    assert res.headers["Content-Type"] == "text/xml; charset=utf-8"
    doc = safe_xml.parse(res.data)
    assert doc.tag == "{http://openrosa.org/xforms/xformsList}xforms"
    text = res.data.decode()
    url = re.search(r"<downloadUrl>([^<]+)</downloadUrl>", text).group(1)  # type: ignore[union-attr]
    md5 = re.search(r"<hash>md5:([0-9a-f]+)</hash>", text).group(1)  # type: ignore[union-attr]
    assert "manifestUrl" not in text  # no media
    served = world.client.get(url.replace("http://localhost", ""), headers=OR_HEADERS)
    _assert_openrosa(served, 200)
    assert hashlib.md5(served.data).hexdigest() == md5
    assert served.data == SIMPLE_FORM


def test_form_list_omits_closing_closed_and_draft_forms(world: World, device: str) -> None:
    publish_xml(world, SIMPLE_FORM.replace(b'id="photo"', b'id="draftonly"'), query="publish=false")
    listed = world.client.get(f"{device}/formList", headers=OR_HEADERS).data
    assert b"<formID>photo</formID>" in listed and b"draftonly" not in listed
    world.client.patch(
        f"/v1/projects/{world.project_id}/forms/photo",
        json={"state": "closing"},
        headers=world.headers("manager"),
    )
    assert b"<formID>photo</formID>" not in world.client.get(f"{device}/formList").data


def test_manifest_and_media_with_strong_etag(world: World, device: str) -> None:
    from tests.data import data_file

    xml = data_file("forms/with_attachments.xml").read_bytes()
    form = publish_xml(world, xml, query="publish=false")
    base = f"/v1/projects/{world.project_id}/forms/{form['xmlFormId']}"
    manager = world.headers("manager")
    world.client.post(f"{base}/draft/attachments/goodone.csv", data=b"name,label\na,A\n", headers=manager)
    world.client.post(f"{base}/draft/publish?overrideReason=other+files+later", headers=manager)
    listed = world.client.get(f"{device}/formList").data.decode()
    manifest_url = re.search(r"<manifestUrl>([^<]+)</manifestUrl>", listed).group(1)  # type: ignore[union-attr]
    res = world.client.get(manifest_url.replace("http://localhost", ""))
    _assert_openrosa(res, 200)
    assert res.headers["Content-Type"] == "text/xml; charset=utf-8"
    body = res.data.decode()
    assert "<filename>goodone.csv</filename>" in body
    csv_md5 = hashlib.md5(b"name,label\na,A\n").hexdigest()
    assert f"md5:{csv_md5}" in body
    media_url = re.search(r"<downloadUrl>([^<]+)</downloadUrl>", body).group(1)  # type: ignore[union-attr]
    got = world.client.get(media_url.replace("http://localhost", ""))
    assert got.status_code == 200 and got.data == b"name,label\na,A\n"
    etag = got.headers["ETag"]
    assert not etag.startswith("W/")
    again = world.client.get(media_url.replace("http://localhost", ""), headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_head_submission_is_204_with_accepted_length(world: World, device: str) -> None:
    res = world.client.head(f"{device}/submission", headers=OR_HEADERS)
    _assert_openrosa(res, 204)
    assert int(res.headers["X-OpenRosa-Accept-Content-Length"]) > 0


def test_new_submission_is_201_with_human_message_and_metadata(world: World, device: str) -> None:
    xml = instance(UUID)
    res = post_submission(world, device, xml, {"a.jpg": b"jpegbytes"})
    _assert_openrosa(res, 201)
    assert res.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert b'nature="submit_success"' in res.data
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        version = s.scalar(select(SubmissionVersion))
        assert version is not None
        assert version.xml == xml and version.sha256 == hashlib.sha256(xml).hexdigest()
        assert version.device_id == "collect:ABCDEFGH12345678"
        assert version.user_agent and version.user_agent.startswith("org.odk.collect.android")
        assert version.submitter_app_user_id is not None
        assert version.values["age"] == 30 and version.values["name"] == "Ana"
        sub = s.scalar(select(Submission))
        assert sub is not None and sub.instance_id == UUID
        assert (sub.attachments_expected, sub.attachments_present) == (1, 1)


def test_identical_resubmission_is_202_and_adds_nothing(world: World, device: str) -> None:
    xml = instance(UUID)
    assert post_submission(world, device, xml, {"a.jpg": b"jpeg"}).status_code == 201
    before = _rows(world)
    res = post_submission(world, device, xml, {"a.jpg": b"jpeg"})
    _assert_openrosa(res, 202)
    assert _rows(world) == before


def test_identical_resubmission_adds_missing_attachments(world: World, device: str) -> None:
    xml = instance(UUID)
    assert post_submission(world, device, xml, incomplete=True).status_code == 201
    assert _rows(world) == (1, 1, 0)
    assert post_submission(world, device, xml, {"a.jpg": b"jpeg"}).status_code == 201
    assert _rows(world) == (1, 1, 1)


def test_same_instance_id_with_different_xml_is_409_and_changes_nothing(world: World, device: str) -> None:
    assert post_submission(world, device, instance(UUID)).status_code == 201
    before = _rows(world)
    res = post_submission(world, device, instance(UUID, name="Otra"))
    _assert_openrosa(res, 409)
    assert b"deprecatedID" in res.data
    assert _rows(world) == before


def test_edit_by_deprecated_id_makes_a_new_version_of_the_same_record(world: World, device: str) -> None:
    assert post_submission(world, device, instance(UUID)).status_code == 201
    edit = instance("uuid:edit-1", name="Ana María", deprecated=UUID)
    assert post_submission(world, device, edit).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = list(s.scalars(select(Submission)))
        assert len(subs) == 1 and subs[0].instance_id == UUID and subs[0].review_state == "edited"
        current = s.get(SubmissionVersion, subs[0].current_version_id)
        assert current is not None and current.instance_id == "uuid:edit-1"


def test_edit_arriving_before_the_original_resolves_by_chain(world: World, device: str) -> None:
    second = instance("uuid:v2", name="v2", deprecated=UUID)
    third = instance("uuid:v3", name="v3", deprecated="uuid:v2")
    for xml in (third, instance(UUID), second):  # arrival order scrambled
        assert post_submission(world, device, xml).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = list(s.scalars(select(Submission)))
        assert len(subs) == 1
        assert subs[0].instance_id == UUID
        current = s.get(SubmissionVersion, subs[0].current_version_id)
        assert current is not None and current.instance_id == "uuid:v3"
        assert s.scalar(select(func.count()).select_from(SubmissionVersion)) == 3


def test_edit_arriving_before_its_original_still_makes_the_record_edited(world: World, device: str) -> None:
    # The chain decides, not arrival order: two versions of one record mean it was edited.
    edit = instance("uuid:early-edit", name="Ana María", deprecated=UUID)
    assert post_submission(world, device, edit).status_code == 201
    assert post_submission(world, device, instance(UUID)).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = list(s.scalars(select(Submission)))
        assert len(subs) == 1 and subs[0].review_state == "edited"
        current = s.get(SubmissionVersion, subs[0].current_version_id)
        assert current is not None and current.instance_id == "uuid:early-edit"


def test_old_published_versions_are_accepted_and_unknown_versions_refused(world: World, device: str) -> None:
    v3 = SIMPLE_FORM.replace(b'version="2"', b'version="3"')
    manager = world.headers("manager")
    world.client.post(
        f"/v1/projects/{world.project_id}/forms/photo/draft",
        data=v3,
        content_type="application/xml",
        headers=manager,
    )
    world.client.post(f"/v1/projects/{world.project_id}/forms/photo/draft/publish", headers=manager)
    assert post_submission(world, device, instance(UUID, version="2")).status_code == 201
    assert post_submission(world, device, instance("uuid:b", version="3")).status_code == 201
    res = post_submission(world, device, instance("uuid:c", version="99"))
    _assert_openrosa(res, 404)


def test_closed_forms_refuse_and_closing_forms_accept(world: World, device: str) -> None:
    url = f"/v1/projects/{world.project_id}/forms/photo"
    world.client.patch(url, json={"state": "closing"}, headers=world.headers("manager"))
    assert post_submission(world, device, instance("uuid:closing")).status_code == 201
    world.client.patch(url, json={"state": "closed"}, headers=world.headers("manager"))
    res = post_submission(world, device, instance("uuid:closed"))
    _assert_openrosa(res, 409)
    assert b"closed" in res.data


def test_unknown_form_is_404(world: World, device: str) -> None:
    res = post_submission(world, device, instance(UUID).replace(b'id="photo"', b'id="nope"'))
    _assert_openrosa(res, 404)


BILLION = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    b'<data id="photo"><name>&b;</name><meta><instanceID>uuid:x</instanceID></meta></data>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<data id="photo"><name>&x;</name><meta><instanceID>uuid:x</instanceID></meta></data>'
)


@pytest.mark.parametrize(
    ("name", "xml", "files", "status"),
    [
        ("malformed", b"<data id='photo'><name>", None, 400),
        ("no-id", b"<data><meta><instanceID>uuid:x</instanceID></meta></data>", None, 400),
        ("billion-laughs", BILLION, None, 400),
        ("external-entity", XXE, None, 400),
        ("path-traversal-file", instance(UUID), {"../../etc/passwd": b"x"}, 400),
    ],
)
def test_bad_submissions_get_a_clear_4xx_and_store_nothing(
    world: World, device: str, name: str, xml: bytes, files: dict[str, bytes] | None, status: int
) -> None:
    res = post_submission(world, device, xml, files)
    _assert_openrosa(res, status)
    assert b"<message" in res.data
    assert _rows(world) == (0, 0, 0), name


def test_multipart_without_xml_part_is_400(world: World, device: str) -> None:
    import io

    res = world.client.post(
        f"{device}/submission",
        data={"other": (io.BytesIO(b"x"), "x.txt")},
        content_type="multipart/form-data",
        headers=OR_HEADERS,
    )
    _assert_openrosa(res, 400)
    assert b"xml_submission_file" in res.data


def test_huge_content_length_is_413_without_reading(world: World, device: str) -> None:
    res = world.client.post(
        f"{device}/submission",
        data=b"x" * 10,
        headers={**OR_HEADERS, "Content-Type": "multipart/form-data; boundary=x"},
        environ_overrides={"CONTENT_LENGTH": str(2 * 1024**3)},
    )
    assert res.status_code == 413
    assert _rows(world) == (0, 0, 0)


def test_revoked_and_foreign_tokens_are_refused(world: World, device: str) -> None:
    other = device_token(world, project_id=world.other_project_id)
    res = world.client.get(f"{root(world, other['token'])}/formList")  # token of another project
    assert res.status_code in (403, 404)
    res = post_submission(world, root(world, other["token"]), instance(UUID))
    assert res.status_code in (403, 404)
    mine = device_token(world)
    world.client.delete(
        f"/v1/projects/{world.project_id}/app-users/{mine['id']}", headers=world.headers("admin")
    )
    res = post_submission(world, root(world, mine["token"]), instance(UUID))
    _assert_openrosa(res, 401)
    assert b"revoked" in res.data
    assert _rows(world) == (0, 0, 0)


@pytest.mark.parametrize("body", ["malformed", "billion-laughs", "no-xml-part", "too-large", "good"])
def test_who_asks_is_answered_before_what_was_sent(world: World, device: str, body: str) -> None:
    """A device POST reads its body before its one query, but a refused body is never explained to a
    stranger: an unknown or revoked token gets its 401, a token of another project its 404, first."""
    import io

    other = device_token(world, project_id=world.other_project_id)
    revoked = device_token(world)
    world.client.delete(
        f"/v1/projects/{world.project_id}/app-users/{revoked['id']}", headers=world.headers("admin")
    )

    def send(base: str) -> Any:
        if body == "no-xml-part":
            return world.client.post(
                f"{base}/submission",
                data={"other": (io.BytesIO(b"x"), "x.txt")},
                content_type="multipart/form-data",
                headers=OR_HEADERS,
            )
        if body == "too-large":
            return world.client.post(
                f"{base}/submission",
                data=b"x" * 10,
                headers={**OR_HEADERS, "Content-Type": "multipart/form-data; boundary=x"},
                environ_overrides={"CONTENT_LENGTH": str(2 * 1024**3)},
            )
        xml = {"malformed": b"<data id='photo'><name>", "billion-laughs": BILLION}.get(body, instance(UUID))
        return post_submission(world, base, xml)

    for token, status in (("not-a-token", 401), (revoked["token"], 401), (other["token"], 404)):
        res = send(root(world, token))
        _assert_openrosa(res, status)
        assert b"<message" in res.data
    assert _rows(world) == (0, 0, 0)
    res = send(device)  # the device's own token: now the body is judged
    assert res.status_code == {"too-large": 413, "good": 201}.get(body, 400), res.data


def test_account_root_challenges_with_digest_and_accepts_it(world: World, device: str) -> None:
    base = f"/v1/projects/{world.project_id}"
    res = world.client.head(f"{base}/submission", headers=OR_HEADERS)
    _assert_openrosa(res, 401)
    challenges = res.headers.getlist("WWW-Authenticate")
    digest = next(c for c in challenges if c.startswith("Digest"))
    nonce = re.search(r'nonce="([^"]+)"', digest).group(1)  # type: ignore[union-attr]
    realm = re.search(r'realm="([^"]+)"', digest).group(1)  # type: ignore[union-attr]
    email, password = world.emails["enumerator"], world.passwords["enumerator"]

    def digest_header(method: str, uri: str) -> str:
        ha1 = hashlib.md5(f"{email}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}".encode()).hexdigest()
        return (
            f'Digest username="{email}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", opaque="ruta", qop=auth, nc=00000001, cnonce="abc"'
        )

    uri = f"{base}/submission"
    res = world.client.head(uri, headers={**OR_HEADERS, "Authorization": digest_header("HEAD", uri)})
    _assert_openrosa(res, 204)
    res = post_submission(
        world,
        base,
        instance(UUID),
        headers={"Authorization": digest_header("POST", uri + "?deviceID=collect:ABCDEFGH12345678")},
    )
    _assert_openrosa(res, 201)
    bad = digest_header("HEAD", uri).replace('response="', 'response="0')
    res = world.client.head(uri, headers={**OR_HEADERS, "Authorization": bad})
    _assert_openrosa(res, 401)
    # An analyst may log in but not submit.
    res = post_submission(world, base, instance("uuid:z"), headers=world.basic("analyst"))
    _assert_openrosa(res, 403)


def test_device_limited_to_some_forms_sees_and_submits_only_those(world: World, device: str) -> None:
    publish_xml(world, SIMPLE_FORM.replace(b'id="photo"', b'id="other"'))
    scoped = root(world, device_token(world, forms=["other"])["token"])
    listed = world.client.get(f"{scoped}/formList", headers=OR_HEADERS).data
    assert b"<formID>other</formID>" in listed and b"<formID>photo</formID>" not in listed
    assert world.client.get(f"{scoped}/formList/photo.xml").status_code == 404
    res = post_submission(world, scoped, instance(UUID))
    _assert_openrosa(res, 403)
    assert _rows(world) == (0, 0, 0)
