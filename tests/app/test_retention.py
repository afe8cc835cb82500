"""Delete -> restore -> purge, retention by the job queue, and subject requests (issue 21 item 3).

Blobs are content-addressed: two submissions sending the same photo share one blob, so a purge must
delete the bytes only when no other record still references them. Checked on the filesystem store and
on S3 (moto's server over HTTP), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.blobs import get_blob_store
from app.db import get_database, utcnow
from app.models import AuditEvent, Blob, CanonicalRecord, Comment, Job, Submission, SubmissionVersion
from app.services.protection import retention
from app.worker import schedule_maintenance
from tests.app.admin_helpers import login, post
from tests.app.conftest import World
from tests.app.indicator_fixtures import HH, household_xml, publish_household, review, submit
from tests.app.job_helpers import run_jobs
from tests.app.s3_helpers import make_s3, moto_server  # noqa: F401 (fixture)

FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa">
  <h:head><h:title>Photos</h:title>
    <model><instance><data id="photos" version="1">
      <person_id/><place/><front/><back/><meta><instanceID/></meta>
    </data></instance>
    <bind nodeset="/data/person_id" type="string"/>
    <bind nodeset="/data/place" type="string"/>
    <bind nodeset="/data/front" type="binary"/>
    <bind nodeset="/data/back" type="binary"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body><input ref="/data/person_id"><label>ID</label></input>
    <input ref="/data/place"><label>Place</label></input>
    <upload ref="/data/front" mediatype="image/*"><label>Front</label></upload>
    <upload ref="/data/back" mediatype="image/*"><label>Back</label></upload></h:body></h:html>"""

SHARED = b"\xff\xd8shared-photo" * 100  # sent by both A and B: one blob
ONLY_A = b"\xff\xd8photo-of-a" * 100
ONLY_B = b"\xff\xd8photo-of-b" * 100


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["file", "s3"])
def app_config(
    request: pytest.FixtureRequest, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Any:
    if request.param == "s3":
        s3 = make_s3(request.getfixturevalue("moto_server"), monkeypatch)
        return {**app_config, "BLOB_STORE": s3.url}
    return app_config


def instance(iid: str, person: str, front: str, back: str) -> bytes:
    return (
        f'<data id="photos" version="1"><person_id>{person}</person_id><place>Ipiales</place>'
        f"<front>{front}</front><back>{back}</back><meta><instanceID>{iid}</instanceID></meta></data>"
    ).encode()


def base(world: World) -> str:
    return f"/v1/projects/{world.project_id}/forms/photos/submissions"


def send(world: World, iid: str, person: str, files: dict[str, bytes]) -> None:
    names = list(files)
    data: dict[str, Any] = {
        "xml_submission_file": (io.BytesIO(instance(iid, person, names[0], names[1])), "x.xml", "text/xml")
    }
    for name, content in files.items():
        data[name] = (io.BytesIO(content), name)
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submission",
        data=data,
        content_type="multipart/form-data",
        headers={**world.basic("manager"), "X-OpenRosa-Version": "1.0"},
    )
    assert res.status_code == 201, res.data


@pytest.fixture
def two(world: World) -> World:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=FORM,
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    send(world, "uuid:a", "P-1", {"front.jpg": SHARED, "back.jpg": ONLY_A})
    send(world, "uuid:b", "P-2", {"front.jpg": SHARED, "back.jpg": ONLY_B})
    return world


def in_store(app: Flask, data: bytes) -> bool:
    with app.app_context():
        return get_blob_store(app).exists(sha(data))


def blob_row(app: Flask, data: bytes) -> bool:
    with get_database(app).session_scope() as s:
        return s.get(Blob, sha(data)) is not None


def ids(world: World, who: str = "manager") -> list[str]:
    res = world.client.get(base(world), headers=world.headers(who))
    assert res.status_code == 200, res.json
    return sorted(s["instanceId"] for s in res.json)


def backdate(
    app: Flask, iid: str, *, deleted_days: int | None = None, created_days: int | None = None
) -> None:
    with get_database(app).session_scope() as s:
        sub = s.scalar(sa.select(Submission).where(Submission.instance_id == iid))
        assert sub is not None
        if deleted_days is not None:
            sub.deleted_at = utcnow() - timedelta(days=deleted_days)
        if created_days is not None:
            sub.created_at = utcnow() - timedelta(days=created_days)
        s.commit()


def maintenance(app: Flask) -> None:
    """The retention purge job, queued and run by the worker (the hourly maintenance queues it)."""
    with get_database(app).session_scope() as s:
        retention.enqueue_purge(s)
        s.commit()
    assert run_jobs(app) >= 1


def test_maintenance_queues_the_retention_purge(world: World) -> None:
    with get_database(world.app).session_scope() as s:
        schedule_maintenance(s)
        s.commit()
    run_jobs(world.app)
    with get_database(world.app).session_scope() as s:
        kinds = s.execute(sa.select(Job.kind, Job.status).order_by(Job.id)).all()
    assert ("retention.purge", "done") in kinds


def purge_events(app: Flask) -> list[dict[str, Any]]:
    with get_database(app).session_scope() as s:
        return [
            e.details
            for e in s.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "submission.purge").order_by(AuditEvent.id)
            )
        ]


def test_delete_hides_from_every_read_then_restore(two: World) -> None:
    w, h = two, two.headers("manager")
    res = w.client.delete(f"{base(w)}/uuid:a", headers=h)
    assert res.status_code == 200, res.json
    assert res.json["restorableUntil"] is not None
    assert ids(w) == ["uuid:b"]
    assert w.client.get(f"{base(w)}/uuid:a", headers=h).status_code == 404
    assert w.client.get(f"{base(w)}/uuid:a.xml", headers=h).status_code == 404
    assert w.client.get(f"{base(w)}/uuid:a/attachments/back.jpg", headers=h).status_code == 404
    export = w.client.get(f"{base(w)}.csv?reviewState=received", headers=h)
    assert export.status_code == 200 and b"uuid:a" not in export.data and b"uuid:b" in export.data
    odata = w.client.get(f"/v1/projects/{w.project_id}/forms/photos.svc/Submissions", headers=h)
    assert [r["__id"] for r in odata.json["value"]] == ["uuid:b"]
    trash = w.client.get(f"{base(w)}?deleted=true", headers=h)
    assert [t["instanceId"] for t in trash.json] == ["uuid:a"]
    # The trash is the manager's: an analyst may read records but neither list nor empty the trash.
    assert w.client.get(f"{base(w)}?deleted=true", headers=w.headers("analyst")).status_code == 403
    assert w.client.delete(f"{base(w)}/uuid:b", headers=w.headers("analyst")).status_code == 403
    # Deleting what is already in the trash is a 404, as for an unknown record.
    assert w.client.delete(f"{base(w)}/uuid:a", headers=h).status_code == 404

    res = w.client.post(f"{base(w)}/uuid:a/restore", headers=h)
    assert res.status_code == 200, res.json
    assert ids(w) == ["uuid:a", "uuid:b"]
    assert w.client.post(f"{base(w)}/uuid:a/restore", headers=h).status_code == 404
    with get_database(w.app).session_scope() as s:
        actions = [a for (a,) in s.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id))]
    assert actions.count("submission.delete") == 1 and actions.count("submission.restore") == 1


def test_restore_refused_after_the_window(two: World) -> None:
    w, h = two, two.headers("manager")
    assert w.client.delete(f"{base(w)}/uuid:a", headers=h).status_code == 200
    backdate(w.app, "uuid:a", deleted_days=retention.RESTORE_DAYS + 1)
    res = w.client.post(f"{base(w)}/uuid:a/restore", headers=h)
    assert res.status_code == 409 and res.json["code"] == "409.60"
    assert "30 days" in res.json["message"]


def test_purge_deletes_blobs_only_when_unreferenced(two: World) -> None:
    w, h = two, two.headers("manager")
    assert all(in_store(w.app, d) for d in (SHARED, ONLY_A, ONLY_B))
    with get_database(w.app).session_scope() as s:
        s.add(
            Comment(
                submission_id=s.scalar(sa.select(Submission.id).where(Submission.instance_id == "uuid:a")),
                user_id=w.user_ids["manager"],
                body="check",
            )
        )
        s.commit()
    assert w.client.delete(f"{base(w)}/uuid:a", headers=h).status_code == 200
    maintenance(w.app)  # within the restore window: nothing goes
    assert in_store(w.app, ONLY_A) and purge_events(w.app) == []

    backdate(w.app, "uuid:a", deleted_days=retention.RESTORE_DAYS + 1)
    maintenance(w.app)
    assert not in_store(w.app, ONLY_A) and not blob_row(w.app, ONLY_A)
    assert in_store(w.app, SHARED) and blob_row(w.app, SHARED)  # B still uses it
    assert in_store(w.app, ONLY_B)
    with get_database(w.app).session_scope() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1
        assert s.scalar(sa.select(sa.func.count()).where(SubmissionVersion.instance_id == "uuid:a")) == 0
    assert purge_events(w.app) == [
        {
            "reason": "trash",
            "retentionDays": None,
            "submissions": 1,
            "versions": 1,
            "attachments": 2,
            "blobsDeleted": 1,
            "blobsKept": 1,
        }
    ]
    assert ids(w) == ["uuid:b"]
    assert w.client.get(f"{base(w)}/uuid:b/attachments/front.jpg", headers=h).status_code in (200, 307)

    # Now B: the shared photo has no other user and goes too.
    assert w.client.delete(f"{base(w)}/uuid:b", headers=h).status_code == 200
    backdate(w.app, "uuid:b", deleted_days=retention.RESTORE_DAYS + 1)
    maintenance(w.app)
    assert not in_store(w.app, SHARED) and not in_store(w.app, ONLY_B)
    assert purge_events(w.app)[-1]["blobsDeleted"] == 2
    # Counts only: no instance ID, person or file name of what was purged is kept in the audit log.
    text = str(purge_events(w.app))
    assert "uuid:" not in text and "P-1" not in text and ".jpg" not in text


def test_retention_days_purge_by_the_job_queue_and_said_in_advance(two: World) -> None:
    w, h = two, two.headers("manager")
    form_url = f"/v1/projects/{w.project_id}/forms/photos"
    assert w.client.patch(form_url, json={"retentionDays": 0}, headers=h).status_code == 400
    assert w.client.patch(form_url, json={"retentionDays": "ten"}, headers=h).status_code == 400
    res = w.client.patch(form_url, json={"retentionDays": 90}, headers=h)
    assert res.status_code == 200 and res.json["retentionDays"] == 90
    backdate(w.app, "uuid:a", created_days=91)
    backdate(w.app, "uuid:b", created_days=80)
    plan = w.client.get(f"{form_url}/retention?days=30", headers=h).json
    by_reason = {p["reason"]: p for p in plan["purges"]}
    assert by_reason["retention"]["dueNow"] == 1  # A, received 91 days ago
    assert by_reason["retention"]["dueWithinHorizon"] == 2  # B turns 90 days old in 10 days
    next_at = by_reason["retention"]["nextAt"]
    assert next_at is not None
    with get_database(w.app).session_scope() as s:
        b_created = s.scalar(sa.select(Submission.created_at).where(Submission.instance_id == "uuid:b"))
    assert next_at == (b_created + timedelta(days=90)).isoformat()
    assert by_reason["trash"]["dueNow"] == 0

    maintenance(w.app)
    assert ids(w) == ["uuid:b"]
    assert not in_store(w.app, ONLY_A) and in_store(w.app, SHARED)
    event = purge_events(w.app)[-1]
    assert event["reason"] == "retention" and event["retentionDays"] == 90 and event["submissions"] == 1


def test_subject_request_finds_by_identifier_and_purges_now(two: World) -> None:
    w, h = two, two.headers("manager")
    url = f"/v1/projects/{w.project_id}/forms/photos/subject-requests"
    res = w.client.post(url, json={"identifier": "P-2"}, headers=h)
    assert res.status_code == 400 and res.json["details"]["field"] == "identifierField"
    form_url = f"/v1/projects/{w.project_id}/forms/photos"
    assert w.client.patch(form_url, json={"identifierField": "person_id"}, headers=h).status_code == 200
    found = w.client.post(url, json={"identifier": "P-2"}, headers=h).json
    assert found["found"] == 1 and found["submissions"][0]["instanceId"] == "uuid:b"
    assert ids(w) == ["uuid:a", "uuid:b"]  # finding deletes nothing
    by_id = w.client.post(url, json={"instanceId": "uuid:a"}, headers=h).json
    assert by_id["found"] == 1
    assert w.client.post(url, json={"identifier": "P-2", "purge": True}, headers=h).status_code == 400
    gone = w.client.post(url, json={"identifier": "P-2", "delete": True, "purge": True}, headers=h).json
    assert gone["found"] == 1 and gone["purgeQueued"] is True
    assert ids(w) == ["uuid:a"]
    run_jobs(w.app)
    assert not in_store(w.app, ONLY_B) and in_store(w.app, SHARED)
    assert purge_events(w.app)[-1]["reason"] == "subject_request"
    with get_database(w.app).session_scope() as s:
        details = [
            e.details for e in s.scalars(sa.select(AuditEvent).where(AuditEvent.action == "subject.request"))
        ]
    assert "P-2" not in str(details)


@pytest.mark.parametrize("app_config", ["file"], indirect=True)
def test_trash_leaves_the_indicators_through_the_job_queue(world: World) -> None:
    version = publish_household(world)
    submit(world, HH, household_xml(version, "hh1", country="COL", water="yes", assistance="no", ages=[30]))
    review(world, HH, "hh1", "approved")

    def records() -> int:
        with get_database(world.app).session_scope() as s:
            return int(s.scalar(sa.select(sa.func.count()).select_from(CanonicalRecord)) or 0)

    assert records() == 1
    url = f"/v1/projects/{world.project_id}/forms/{HH}/submissions/uuid:hh1"
    assert world.client.delete(url, headers=world.headers("manager")).status_code == 200
    run_jobs(world.app)
    assert records() == 0
    assert world.client.post(url + "/restore", headers=world.headers("manager")).status_code == 200
    run_jobs(world.app)
    assert records() == 1


def test_zip_export_carries_no_trashed_media(two: World) -> None:
    w, h = two, two.headers("manager")
    assert w.client.delete(f"{base(w)}/uuid:a", headers=h).status_code == 200
    res = w.client.get(f"{base(w)}.csv.zip?reviewState=received&attachments=true", headers=h)
    assert res.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(res.data)).namelist()
    assert not any("uuid:a" in n or "uuid-a" in n for n in names)


def test_who_may_delete_restore_and_check_risk(two: World) -> None:
    """Each role against delete, restore and the risk check (their paths name a record or need
    quasi-identifiers, so the generic access walk cannot reach them)."""
    w = two
    form_url = f"/v1/projects/{w.project_id}/forms/photos"
    assert (
        w.client.patch(form_url, json={"quasiIdentifiers": ["place"]}, headers=w.headers("admin")).status_code
        == 200
    )
    for who in ("anonymous", "outsider", "enumerator", "analyst", "supervisor", "manager", "admin"):
        headers = w.headers(who) if who != "anonymous" else {}
        delete = w.client.delete(f"{base(w)}/uuid:a", headers=headers)
        restore = w.client.post(f"{base(w)}/uuid:a/restore", headers=headers)
        risk = w.client.get(f"{form_url}/risk?reviewState=received", headers=headers)
        if who == "anonymous":
            assert (delete.status_code, restore.status_code, risk.status_code) == (401, 401, 401)
        elif who == "outsider":
            assert (delete.status_code, restore.status_code, risk.status_code) == (404, 404, 404)
        elif who == "enumerator":
            assert (delete.status_code, restore.status_code, risk.status_code) == (403, 403, 403)
        elif who in ("analyst", "supervisor"):
            assert (delete.status_code, restore.status_code, risk.status_code) == (403, 403, 200)
        else:
            assert (delete.status_code, restore.status_code, risk.status_code) == (200, 200, 200), who


def test_admin_delete_trash_view_and_restore(two: World) -> None:
    w = two
    with get_database(w.app).session_scope() as s:
        sub_id = s.scalar(sa.select(Submission.id).where(Submission.instance_id == "uuid:a"))
    manager = login(w, "manager")
    page = manager.get(f"/admin/submissions/{sub_id}")
    assert page.status_code == 200 and b'id="delete-submission"' in page.data
    # A supervisor reviews but does not delete: no button, and the POST is refused.
    supervisor = login(w, "supervisor")
    assert b'id="delete-submission"' not in supervisor.get(f"/admin/submissions/{sub_id}").data
    assert post(supervisor, f"/admin/submissions/{sub_id}/delete").status_code == 403

    res = post(manager, f"/admin/submissions/{sub_id}/delete", page=f"/admin/submissions/{sub_id}")
    assert res.status_code == 303
    assert manager.get(f"/admin/submissions/{sub_id}").status_code == 404
    table = manager.get(f"/admin/projects/{w.project_id}/forms/photos/submissions")
    assert b"uuid:a" not in table.data and b"uuid:b" in table.data
    trash = manager.get(f"/admin/projects/{w.project_id}/forms/photos/trash")
    assert trash.status_code == 200 and b"uuid:a" in trash.data and b"uuid:b" not in trash.data
    assert b'id="purge-plan"' in trash.data
    assert supervisor.get(f"/admin/projects/{w.project_id}/forms/photos/trash").status_code == 403

    res = post(
        manager,
        f"/admin/submissions/{sub_id}/restore",
        page=f"/admin/projects/{w.project_id}/forms/photos/trash",
    )
    assert res.status_code == 303
    assert manager.get(f"/admin/submissions/{sub_id}").status_code == 200
