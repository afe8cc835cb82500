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
from typing import Any

import sqlalchemy as sa

from app.db import get_database
from app.models import AuditEvent, PurgedInstance, Submission
from app.services import retention
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
