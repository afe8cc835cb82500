"""POST /v1/projects/{pid}/submissions/batch: zip, multipart and JSON batches answered per item,
hostile archives refused as a whole with a clear 4xx, and resends that change nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from sqlalchemy import func, select

from app.db import get_database
from app.models import AuditEvent, Submission, SubmissionAttachment, SubmissionVersion
from tests.app.batch_helpers import make_zip
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root


def _url(world: World, pid: int | None = None) -> str:
    return f"/v1/projects/{pid or world.project_id}/submissions/batch"


def _post_zip(world: World, data: bytes, headers: dict[str, str]) -> Any:
    return world.client.post(_url(world), data=data, content_type="application/zip", headers=headers)


def _count(world: World, model: Any) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_mixed_batch_is_answered_item_by_item(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:stored"), {"a.jpg": b"x"}).status_code
        == 201
    )
    headers = world.headers("manager")
    batch = make_zip(
        {
            "new1": {"new1.xml": instance("uuid:new1"), "a.jpg": b"photo-1"},
            "new2": {"new2.xml": instance("uuid:new2", photo="")},
            "again": {"again.xml": instance("uuid:stored")},
            "clash": {"clash.xml": instance("uuid:stored", name="Other")},
            "edit": {"edit.xml": instance("uuid:stored-e", deprecated="uuid:stored", name="Ana M")},
            "broken": {"broken.xml": b"<data id='photo'><unclosed></data>"},
            "noform": {"noform.xml": instance("uuid:nf").replace(b'id="photo"', b'id="nope"')},
            "empty": {"photo.jpg": b"no xml here"},
            "twice": {"twice.xml": instance("uuid:new1")},
        }
    )
    res = _post_zip(world, batch, headers)
    assert res.status_code == 200, res.json
    by_key = {r["key"]: r for r in res.json["results"]}
    assert [r["key"] for r in res.json["results"]] == [
        "new1", "new2", "again", "clash", "edit", "broken", "noform", "empty", "twice"
    ]  # fmt: skip
    assert by_key["new1"]["status"] == "created" and by_key["new1"]["filesAdded"] == ["a.jpg"]
    assert by_key["new2"]["status"] == "created"
    assert by_key["again"]["status"] == "duplicate" and by_key["again"]["httpStatus"] == 202
    assert by_key["clash"]["status"] == "conflict" and by_key["clash"]["code"] == "409.4"
    assert by_key["edit"]["status"] == "edit" and by_key["edit"]["httpStatus"] == 201
    assert by_key["broken"]["status"] == "error" and by_key["broken"]["code"] == "400.9"
    assert by_key["noform"]["status"] == "error" and by_key["noform"]["httpStatus"] == 404
    assert by_key["empty"]["status"] == "error" and "no instance XML" in by_key["empty"]["message"]
    assert by_key["twice"]["status"] == "duplicate"
    assert res.json["counts"] == {"created": 2, "duplicate": 2, "conflict": 1, "edit": 1, "error": 3}
    assert _count(world, Submission) == 3
    assert _count(world, SubmissionVersion) == 4
    # Resending the whole batch changes nothing: every stored item is a duplicate now.
    again = _post_zip(world, batch, headers)
    assert {r["key"]: r["status"] for r in again.json["results"]} == {
        "new1": "duplicate", "new2": "duplicate", "again": "duplicate", "clash": "conflict",
        "edit": "duplicate", "broken": "error", "noform": "error", "empty": "error", "twice": "duplicate",
    }  # fmt: skip
    assert _count(world, Submission) == 3 and _count(world, SubmissionVersion) == 4


def test_bulk_path_stores_what_per_item_ingest_stores(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:one"), {"a.jpg": b"p"}).status_code == 201
    )
    res = _post_zip(
        world, make_zip({"two": {"two.xml": instance("uuid:two"), "a.jpg": b"p"}}), world.headers("admin")
    )
    assert res.json["results"][0]["status"] == "created"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = {x.instance_id: x for x in s.scalars(select(Submission))}
        vers = {x.instance_id: x for x in s.scalars(select(SubmissionVersion))}
        for field in (
            "review_state",
            "instance_name",
            "attachments_expected",
            "attachments_present",
            "is_encrypted",
        ):
            assert getattr(subs["uuid:one"], field) == getattr(subs["uuid:two"], field), field
        assert subs["uuid:two"].current_version_id == vers["uuid:two"].id
        assert {k: v for k, v in vers["uuid:one"].values.items() if k != "meta"} == {
            k: v for k, v in vers["uuid:two"].values.items() if k != "meta"
        }
        assert vers["uuid:two"].values["meta"] == {"instanceID": "uuid:two"}
        assert vers["uuid:one"].value_problems == vers["uuid:two"].value_problems
        atts = [
            (a.name, a.is_expected, a.blob_sha256)
            for a in s.scalars(
                select(SubmissionAttachment).order_by(SubmissionAttachment.submission_version_id)
            )
        ]
        assert atts[0] == atts[1]
        audits = s.scalars(select(AuditEvent).where(AuditEvent.action == "submission.create")).all()
        assert {a.subject_id for a in audits} == {"uuid:one", "uuid:two"}


def test_path_traversal_is_refused_whole(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    for bad in ("instances/../../etc/passwd", "/abs/a.xml", "a\\b/c.xml", "a/b/c/d.xml"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("ok/ok.xml", instance("uuid:ok"))
            zf.writestr(bad, b"x")
        res = _post_zip(world, buf.getvalue(), world.headers("manager"))
        assert res.status_code == 400, bad
        assert res.json["code"] == "400.20" and res.json["message"]
    assert _count(world, Submission) == 0


def test_zip_bomb_is_refused_before_inflating(world: World) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb/bomb.xml", instance("uuid:b"))
        zf.writestr("bomb/zeros.jpg", b"\0" * (50 * 1024 * 1024))
    assert len(buf.getvalue()) < 200_000
    res = _post_zip(world, buf.getvalue(), world.headers("manager"))
    assert res.status_code == 400 and res.json["code"] == "400.21", res.json
    assert "zip bomb" in res.json["message"]


def test_too_many_entries_and_not_a_zip(world: World) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(10_000):
            zf.writestr(f"f{i}/f{i}.xml", b"")
    res = _post_zip(world, buf.getvalue(), world.headers("manager"))
    assert res.status_code == 413 and res.json["code"] == "413.2" and "10000 entries" in res.json["message"]
    res = _post_zip(world, b"PK not really", world.headers("manager"))
    assert res.status_code == 400 and res.json["code"] == "400.20"
    res = world.client.post(
        _url(world), data=b"x", content_type="text/plain", headers=world.headers("manager")
    )
    assert res.status_code == 415


def test_oversized_entry_is_refused(world: World) -> None:
    world.app.config["MAX_SUBMISSION_BYTES"] = 1000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("big/big.xml", instance("uuid:big"))
        zf.writestr("big/photo.jpg", bytes(range(256)) * 8)
    res = _post_zip(world, buf.getvalue(), world.headers("manager"))
    assert res.status_code == 413 and "photo.jpg" in res.json["message"]


def test_multipart_batch(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    data = {
        "i1/xml_submission_file": (io.BytesIO(instance("uuid:m1")), "xml_submission_file.xml", "text/xml"),
        "i1/a.jpg": (io.BytesIO(b"photo"), "a.jpg", "image/jpeg"),
        "i2/xml_submission_file": (io.BytesIO(instance("uuid:m2", photo="")), "x.xml", "text/xml"),
    }
    res = world.client.post(
        _url(world), data=data, content_type="multipart/form-data", headers=world.headers("enumerator")
    )
    assert res.status_code == 200, res.json
    assert [(r["key"], r["status"], r["filesAdded"]) for r in res.json["results"]] == [
        ("i1", "created", ["a.jpg"]),
        ("i2", "created", []),
    ]


def test_kobo_json_body(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    body = {
        "id": "photo",
        "submission": {"name": "Rosa", "age": 41, "meta": {"instanceID": "uuid:json-1"}, "__version__": "2"},
    }
    res = world.client.post(_url(world), json=body, headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    assert res.json["results"][0]["status"] == "created"
    bad = world.client.post(
        _url(world), json=[{"id": "photo"}, {"nope": 1}], headers=world.headers("manager")
    )
    assert [r["status"] for r in bad.json["results"]] == ["error", "error"]
    assert "submission" in bad.json["results"][0]["message"]
    garbled = world.client.post(_url(world), data=b"{not json", content_type="application/json",
                                headers=world.headers("manager"))  # fmt: skip
    assert garbled.status_code == 400
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        version = s.scalar(select(SubmissionVersion))
        assert version is not None and version.values["name"] == "Rosa"


def test_batch_access(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    batch = make_zip({"a": {"a.xml": instance("uuid:acc")}})
    assert _post_zip(world, batch, {}).status_code == 401
    assert _post_zip(world, batch, world.headers("analyst")).status_code == 403
    assert _post_zip(world, batch, world.headers("outsider")).status_code == 404
    res = world.client.post(
        _url(world, 999999), data=batch, content_type="application/zip", headers=world.headers("admin")
    )
    assert res.status_code == 404
    assert _count(world, Submission) == 0


def test_edits_in_a_batch_follow_the_chain_whatever_the_order(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    headers = world.headers("manager")
    # The edit travels before the version it replaces (a hub synced it first), in one batch and across two.
    first = make_zip(
        {
            "e2": {"e2.xml": instance("uuid:r-2", name="third", deprecated="uuid:r-1")},
            "e1": {"e1.xml": instance("uuid:r-1", name="second", deprecated="uuid:r-0")},
        }
    )
    res = _post_zip(world, first, headers)
    assert [r["status"] for r in res.json["results"]] == ["edit", "edit"]
    res = _post_zip(world, make_zip({"root": {"root.xml": instance("uuid:r-0", name="first")}}), headers)
    assert res.json["results"][0]["status"] == "created"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = s.scalars(select(Submission)).all()
        assert len(subs) == 1 and subs[0].instance_id == "uuid:r-0"
        current = s.get(SubmissionVersion, subs[0].current_version_id)
        assert current is not None and current.instance_id == "uuid:r-2"
        assert s.scalar(select(func.count()).select_from(SubmissionVersion)) == 3


def test_bulk_items_that_lost_a_race_go_through_the_full_rules(world: World, monkeypatch: Any) -> None:
    # Another request stores an instanceID between this batch's classification and its bulk insert:
    # the bulk insert (COPY on PostgreSQL) hits the unique key, its savepoint rolls back, and every
    # bulk item goes through the per-item rules instead — nothing half-stored, the clash a duplicate.
    from app.services.submissions import batch as batch_service

    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:raced"), {"a.jpg": b"x"}).status_code == 201
    )
    monkeypatch.setattr(batch_service, "_mentioned", lambda session, form_id, ids, existing: set())
    res = _post_zip(
        world,
        make_zip(
            {
                "fresh": {"fresh.xml": instance("uuid:fresh"), "a.jpg": b"photo"},
                "raced": {"raced.xml": instance("uuid:raced"), "a.jpg": b"x"},
            }
        ),
        world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    assert {r["key"]: r["status"] for r in res.json["results"]} == {"fresh": "created", "raced": "duplicate"}
    assert _count(world, Submission) == 2 and _count(world, SubmissionVersion) == 2
    assert _count(world, SubmissionAttachment) == 2
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        fresh = s.scalars(select(Submission).where(Submission.instance_id == "uuid:fresh")).one()
        assert fresh.current_version_id is not None and fresh.attachments_present == 1


def test_files_name_an_xml_already_held_instead_of_resending_it(world: World) -> None:
    """A hub sends the photos of instances whose XML the central side acknowledged without that XML:
    batch.json names it by instanceID and sha256. Only an XML held in this project with exactly those
    bytes is taken; anything else is an error on its item and writes nothing."""
    publish_xml(world, SIMPLE_FORM)
    headers = world.headers("manager")
    xml = instance("uuid:held")
    first = _post_zip(world, make_zip({"first": {"first.xml": xml, "a.jpg": b"early"}}), headers)
    assert first.json["results"][0]["filesAdded"] == ["a.jpg"]
    xml2 = instance("uuid:held2")
    assert _post_zip(world, make_zip({"x": {"x.xml": xml2}}), headers).json["counts"] == {"created": 1}
    sha = hashlib.sha256(xml2).hexdigest()
    meta = {
        "late": {"heldXml": {"instanceId": "uuid:held2", "sha256": sha}},
        "wrong": {"heldXml": {"instanceId": "uuid:held", "sha256": sha}},
        "absent": {"heldXml": {"instanceId": "uuid:nope", "sha256": sha}},
        "junk": {"heldXml": {"instanceId": 5, "sha256": sha}},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("batch.json", json.dumps(meta))
        for key in meta:
            zf.writestr(f"instances/{key}/a.jpg", f"photo of {key}".encode())
    res = _post_zip(world, buf.getvalue(), headers)
    assert res.status_code == 200, res.json
    by_key = {r["key"]: r for r in res.json["results"]}
    assert by_key["late"]["status"] == "duplicate" and by_key["late"]["filesAdded"] == ["a.jpg"]
    for key in ("wrong", "absent", "junk"):
        assert by_key[key]["status"] == "error" and "not held here" in by_key[key]["message"], key
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        files = dict(
            s.execute(
                select(SubmissionVersion.instance_id, SubmissionAttachment.blob_sha256).join(
                    SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id
                )
            ).all()
        )
    assert files == {
        "uuid:held": hashlib.sha256(b"early").hexdigest(),  # untouched by the item that named it wrongly
        "uuid:held2": hashlib.sha256(b"photo of late").hexdigest(),
    }
    assert _count(world, SubmissionVersion) == 2
