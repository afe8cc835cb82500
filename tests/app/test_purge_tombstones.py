"""A purged record resent by a device is not stored again (issue 21, item 5).

The purge keeps a tombstone (the sha256 of the form and instanceID). A resend through OpenRosa is
answered 202 as a record already received, so Collect marks it sent and stops; the batch path (hubs)
reports a duplicate; the JSON API says 409 why. Nothing is stored, no file written, every resend is
audited without the instanceID.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.db import get_database, utcnow
from app.models import AuditEvent, PurgedInstance, Submission, SubmissionAttachment
from app.services.protection import retention
from tests.app.conftest import World
from tests.app.test_retention import FORM, ONLY_A, backdate, base, in_store, instance, maintenance, send

PHOTO = b"\xff\xd8front" * 50


def _publish(world: World) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=FORM,
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json


def _openrosa(world: World, iid: str) -> Any:
    data: dict[str, Any] = {
        "xml_submission_file": (
            io.BytesIO(instance(iid, "P-1", "front.jpg", "back.jpg")),
            "x.xml",
            "text/xml",
        ),
        "front.jpg": (io.BytesIO(PHOTO), "front.jpg"),
        "back.jpg": (io.BytesIO(ONLY_A), "back.jpg"),
    }
    return world.client.post(
        f"/v1/projects/{world.project_id}/submission?deviceID=collect:tomb",
        data=data,
        content_type="multipart/form-data",
        headers={**world.basic("manager"), "X-OpenRosa-Version": "1.0"},
    )


def _count(world: World, iid: str) -> int:
    with get_database(world.app).session_scope() as s:
        return int(s.scalar(sa.select(sa.func.count()).where(Submission.instance_id == iid)) or 0)


def test_a_purged_record_resent_is_answered_and_not_stored(world: World) -> None:
    _publish(world)
    send(world, "uuid:gone", "P-1", {"front.jpg": PHOTO, "back.jpg": ONLY_A})
    h = world.headers("manager")
    assert world.client.delete(f"{base(world)}/uuid:gone", headers=h).status_code == 200
    # In the trash (not purged): a resend is the record already received, as before.
    res = _openrosa(world, "uuid:gone")
    assert res.status_code == 202 and b"Already received" in res.data
    backdate(world.app, "uuid:gone", deleted_days=retention.RESTORE_DAYS + 1)
    maintenance(world.app)
    assert _count(world, "uuid:gone") == 0 and not in_store(world.app, ONLY_A)
    with get_database(world.app).session_scope() as s:
        stones = s.scalars(sa.select(PurgedInstance)).all()
        assert [(t.reason, "uuid:" in t.instance_sha256) for t in stones] == [("trash", False)]

    # Collect resends it: 202 (Collect's "sent"), with the reason, and nothing stored, no file written.
    res = _openrosa(world, "uuid:gone")
    assert res.status_code == 202, res.data
    assert b"Deleted on the server" in res.data
    assert _count(world, "uuid:gone") == 0 and not in_store(world.app, ONLY_A)
    # The JSON API says why (409.61); the batch path (hubs) reports a duplicate.
    xml = instance("uuid:gone", "P-1", "front.jpg", "back.jpg")
    res = world.client.post(base(world), data=xml, content_type="application/xml", headers=h)
    assert res.status_code == 409 and res.json["code"] == "409.61", res.json
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("instances/g/g.xml", xml)
        zf.writestr("instances/n/n.xml", instance("uuid:new", "P-2", "", ""))
        zf.writestr("batch.json", json.dumps({"g": {"deviceId": "collect:tomb"}}))
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=buf.getvalue(),
        content_type="application/zip",
        headers=h,
    )
    assert res.status_code == 200, res.json
    assert res.json["counts"] == {"created": 1, "duplicate": 1}, res.json
    assert _count(world, "uuid:gone") == 0 and _count(world, "uuid:new") == 1
    # An edit of the purged record does not bring it back either.
    edit = instance("uuid:gone-edit", "P-1", "", "").replace(
        b"</instanceID>", b"</instanceID><deprecatedID>uuid:gone</deprecatedID>"
    )
    res = world.client.post(base(world), data=edit, content_type="application/xml", headers=h)
    assert res.status_code == 409, res.json
    assert _count(world, "uuid:gone") == 0 and _count(world, "uuid:gone-edit") == 0
    with get_database(world.app).session_scope() as s:
        events = s.scalars(sa.select(AuditEvent).where(AuditEvent.action == "submission.resend_purged")).all()
        assert len(events) == 4
        assert all("uuid:" not in str(e.details) and e.subject_id == "photos" for e in events)


def _files(world: World, iid: str) -> list[str]:
    res = world.client.get(f"{base(world)}/{iid}/attachments", headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    return sorted(a["name"] for a in res.json)


def _zip_names(world: World) -> list[str]:
    res = world.client.get(
        f"{base(world)}.csv.zip?reviewState=received&attachments=true", headers=world.headers("manager")
    )
    assert res.status_code == 200
    return zipfile.ZipFile(io.BytesIO(res.data)).namelist()


def test_one_file_trashed_restored_then_purged(world: World) -> None:
    """One photo of a record deleted on its own: hidden everywhere, restorable, then purged with its
    bytes only when no other record uses them; the record itself stays."""
    _publish(world)
    send(world, "uuid:keep", "P-1", {"front.jpg": PHOTO, "back.jpg": ONLY_A})
    send(world, "uuid:other", "P-2", {"front.jpg": PHOTO, "back.jpg": b"\xff\xd8other" * 50})
    h = world.headers("manager")
    url = f"{base(world)}/uuid:keep/attachments"
    for who in ("analyst", "supervisor"):  # a record's files are deleted by managers, as records are
        assert world.client.delete(f"{url}/back.jpg", headers=world.headers(who)).status_code == 403
    assert world.client.delete(f"{url}/nothing.jpg", headers=h).status_code == 404
    assert world.client.delete(f"{url}/back.jpg", headers=h).status_code == 200
    assert world.client.delete(f"{url}/front.jpg", headers=h).status_code == 200
    assert _files(world, "uuid:keep") == []
    assert world.client.get(f"{url}/back.jpg", headers=h).status_code == 404
    names = _zip_names(world)  # the other record's two files only
    assert (
        sum(n.endswith("front.jpg") for n in names) == 1 and sum(n.endswith("back.jpg") for n in names) == 1
    )
    # A resend of the record does not bring the file back.
    assert _openrosa(world, "uuid:keep").status_code in (201, 202)
    assert _files(world, "uuid:keep") == []
    assert world.client.post(f"{url}/front.jpg/restore", headers=h).status_code == 200
    assert _files(world, "uuid:keep") == ["front.jpg"]
    assert world.client.post(f"{url}/front.jpg/restore", headers=h).status_code == 404
    # Past the window: purged. ONLY_A (this record's alone) leaves the store; the restored front stays.
    with get_database(world.app).session_scope() as s:
        s.execute(
            sa.update(SubmissionAttachment)
            .where(SubmissionAttachment.name == "back.jpg", SubmissionAttachment.deleted_at.is_not(None))
            .values(deleted_at=utcnow() - timedelta(days=retention.RESTORE_DAYS + 1))
        )
        s.commit()
    assert world.client.post(f"{url}/back.jpg/restore", headers=h).status_code == 409
    assert in_store(world.app, ONLY_A)
    maintenance(world.app)
    assert not in_store(world.app, ONLY_A) and in_store(world.app, PHOTO)
    assert _count(world, "uuid:keep") == 1 and _files(world, "uuid:keep") == ["front.jpg"]
    with get_database(world.app).session_scope() as s:
        events = s.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("attachment.%"))).all()
        actions = sorted(e.action for e in events)
        purge = next(e for e in events if e.action == "attachment.purge")
    assert actions == ["attachment.delete", "attachment.delete", "attachment.purge", "attachment.restore"]
    assert purge.details["attachments"] == 1 and purge.details["blobsDeleted"] == 1
    assert "jpg" not in str(purge.details) and "uuid:" not in str(purge.details)
