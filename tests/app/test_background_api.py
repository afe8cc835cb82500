"""Work moved onto the job queue, end to end: export jobs (202, status, file, purge) and webhooks
delivered to a local receiver that fails the first tries. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from app.db import get_database, utcnow
from app.models import AuditEvent, ExportRun, Job, Webhook, WebhookDelivery
from app.worker import Worker
from tests.app.admin_helpers import login, post
from tests.app.conftest import World
from tests.app.export_helpers import read_zip
from tests.app.job_helpers import run_jobs
from tests.app.odata_helpers import household_form, household_instance, submit

HH = "ruta_household_needs"


def _exports_url(world: World) -> str:
    return f"/v1/projects/{world.project_id}/forms/{HH}/exports"


def _audits(world: World, action: str) -> list[AuditEvent]:
    with get_database(world.app).session_scope() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_export_job_end_to_end(world: World) -> None:
    version = household_form(world)["version"]
    for i in range(3):
        submit(world, HH, household_instance(version, i))
    res = world.client.post(
        _exports_url(world),
        json={"format": "csv.zip", "reviewState": "all"},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 202, res.json
    eid = res.json["id"]
    assert res.json["status"] == "queued" and res.headers["Location"].endswith(f"/exports/{eid}")
    status = world.client.get(f"{_exports_url(world)}/{eid}", headers=world.headers("analyst"))
    assert status.json["status"] == "queued" and status.json["progress"] == 0
    early = world.client.get(f"{_exports_url(world)}/{eid}/file", headers=world.headers("analyst"))
    assert early.status_code == 409 and "poll" in early.json["message"]
    run_jobs(world.app)
    status = world.client.get(f"{_exports_url(world)}/{eid}", headers=world.headers("analyst")).json
    assert status["status"] == "done" and status["progress"] == 1 and status["expiresAt"]
    # Someone else in the project may not read it (it carries the asker's rights).
    other = world.client.get(f"{_exports_url(world)}/{eid}/file", headers=world.headers("manager"))
    assert other.status_code == 403
    outsider = world.client.get(f"{_exports_url(world)}/{eid}", headers=world.headers("outsider"))
    assert outsider.status_code in (403, 404)
    got = world.client.get(f"{_exports_url(world)}/{eid}/file", headers=world.headers("analyst"))
    assert got.status_code == 200 and got.mimetype == "application/zip"
    rows = read_zip(got.data)[f"{HH}.csv"]
    assert sorted(r["KEY"] for r in rows) == ["uuid:hh-0", "uuid:hh-1", "uuid:hh-2"]
    assert len(_audits(world, "export.request")) == 1
    assert len(_audits(world, "export.download")) == 1
    assert [a.details["format"] for a in _audits(world, "submission.export")] == ["csv.zip"]
    # Expired: the maintenance job deletes the file; its URL then says 410.
    with get_database(world.app).session_scope() as session:
        run = session.get(ExportRun, eid)
        assert run is not None and run.blob_sha256
        sha = run.blob_sha256
        run.expires_at = utcnow() - timedelta(seconds=1)
        session.execute(sa.delete(Job).where(Job.kind == "maintenance"))
        from app.worker import schedule_maintenance

        schedule_maintenance(session)
        session.commit()
    run_jobs(world.app)
    from app.blobs import get_blob_store

    assert not get_blob_store(world.app).exists(sha)
    gone = world.client.get(f"{_exports_url(world)}/{eid}/file", headers=world.headers("analyst"))
    assert gone.status_code == 410 and gone.json["code"] == "410.1"


def test_export_job_refuses_bad_options_at_once(world: World) -> None:
    household_form(world)
    bad = world.client.post(_exports_url(world), json={"format": "pdf"}, headers=world.headers("analyst"))
    assert bad.status_code == 400 and "format" in bad.json["message"]
    bad = world.client.post(_exports_url(world), json={"nonsense": "1"}, headers=world.headers("analyst"))
    assert bad.status_code == 400 and "nonsense" in bad.json["message"]
    bad = world.client.post(
        _exports_url(world), json={"passphrase": "x" * 20}, headers=world.headers("analyst")
    )
    assert bad.status_code == 400
    denied = world.client.post(_exports_url(world), json={}, headers=world.headers("enumerator"))
    assert denied.status_code == 403
    with get_database(world.app).session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ExportRun)) == 0


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 500 if len(receiver.requests) < receiver.failures else 204
                receiver.requests.append((dict(self.headers), body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


def _drain_through_backoff(world: World, rounds: int = 12) -> None:
    """Run the worker as time passes: each round an hour later, past any backoff."""
    worker = Worker(world.app, name="test-worker")
    for i in range(rounds):
        worker.drain(now=utcnow() + timedelta(hours=i, seconds=5))


def test_webhooks_are_signed_retried_and_delivered(world: World, receiver: Receiver) -> None:
    secret = "a-shared-secret-of-some-length"
    hooks = f"/v1/projects/{world.project_id}/webhooks"
    assert (
        world.client.post(hooks, json={"url": receiver.url}, headers=world.headers("analyst")).status_code
        == 403
    )
    res = world.client.post(
        hooks, json={"url": receiver.url, "secret": secret}, headers=world.headers("manager")
    )
    assert res.status_code == 201 and res.json["secret"] == secret
    assert [h["url"] for h in world.client.get(hooks, headers=world.headers("manager")).json] == [
        receiver.url
    ]
    assert "secret" not in world.client.get(hooks, headers=world.headers("manager")).json[0]
    version = household_form(world)["version"]
    submit(world, HH, household_instance(version, 0))
    review = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/{HH}/submissions/uuid:hh-0",
        json={"reviewState": "approved"},
        headers=world.headers("manager"),
    )
    assert review.status_code == 200
    _drain_through_backoff(world)
    delivered = [(h, json.loads(b)) for h, b, code in receiver.requests if code == 204]
    assert sorted(body["event"] for _, body in delivered) == ["submission.created", "submission.reviewed"]
    assert len(receiver.requests) == 4  # two failures, then each event once
    for headers, body in delivered:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Ruta-Signature-256"] == expected
        assert body["instanceId"] == "uuid:hh-0" and body["projectId"] == world.project_id
        assert headers["X-Ruta-Delivery"] == str(body["deliveryId"])
    reviewed = next(b for _, b in delivered if b["event"] == "submission.reviewed")
    assert reviewed["reviewState"] == "approved"
    # The retried delivery was sent with the same id and signature as its failed tries.
    retried = [h["X-Ruta-Delivery"] for h, _, _ in receiver.requests]
    assert len(set(retried)) == 2
    with get_database(world.app).session_scope() as session:
        deliveries = session.scalars(sa.select(WebhookDelivery)).all()
        assert sorted(d.status for d in deliveries) == ["delivered", "delivered"]
        assert sum(d.attempts for d in deliveries) == 4
    wid = res.json["id"]
    assert world.client.delete(f"{hooks}/{wid}", headers=world.headers("manager")).status_code == 200
    assert world.client.get(hooks, headers=world.headers("manager")).json == []


def test_a_receiver_that_never_answers_ends_in_the_dead_letter_list(world: World) -> None:
    dead = Receiver(failures=1000)
    try:
        hooks = f"/v1/projects/{world.project_id}/webhooks"
        res = world.client.post(hooks, json={"url": dead.url}, headers=world.headers("manager"))
        assert res.status_code == 201
        version = household_form(world)["version"]
        submit(world, HH, household_instance(version, 0))
        _drain_through_backoff(world, rounds=14)
    finally:
        dead.close()
    with get_database(world.app).session_scope() as session:
        (delivery,) = session.scalars(sa.select(WebhookDelivery)).all()
        assert delivery.status == "dead" and delivery.attempts == 10
        assert "HTTP 500" in (delivery.last_error or "")
    admin = login(world, "admin")
    page = admin.get("/admin/jobs")
    assert page.status_code == 200 and dead.url in page.text
    assert login(world, "manager").get("/admin/jobs").status_code == 403
    # The retry button queues it again; a receiver that now answers gets it.
    ok = Receiver(failures=0)
    try:
        with get_database(world.app).session_scope() as session:
            session.execute(sa.update(Webhook).values(url=ok.url))
            session.commit()
        res = post(admin, f"/admin/webhook-deliveries/{delivery.id}/retry", page="/admin/jobs")
        assert res.status_code == 303
        _drain_through_backoff(world, rounds=1)
    finally:
        ok.close()
    assert len(ok.requests) == 1
    with get_database(world.app).session_scope() as session:
        again = session.get(WebhookDelivery, delivery.id)
        assert again is not None and again.status == "delivered"
