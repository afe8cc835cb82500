"""Several machines under faults, with real processes: two ``ruta serve`` on one database, one
``ruta worker``, blobs in S3 (moto's server over HTTP). Eight clients post submissions with photos to
both servers; mid-burst one app server (its whole process group: gunicorn's master and workers) and the
worker are killed with SIGKILL, then started again. Afterwards:

- every submission that was acknowledged is in the database once, with its files in the bucket under
  their sha256 (read back and hashed);
- a client whose request died with the server resends it, as Collect does, and gets 201 or the
  duplicate answer, never a second copy;
- every job finished exactly once in effect: no job failed, one canonical record per household
  submission (the indicator refresh), one webhook delivery per created submission, each delivered, and
  the receiver saw every acknowledged instanceID.

Runs on SQLite and on PostgreSQL (``TEST_DATABASE_URL``)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from app.db import get_database
from app.models import (
    Blob,
    CanonicalRecord,
    Job,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
    WebhookDelivery,
)
from tests.app.conftest import World
from tests.app.odata_helpers import household_form, household_instance
from tests.app.openrosa_helpers import device_token, publish_xml
from tests.app.s3_helpers import (  # noqa: F401 (moto_server is a fixture)
    PHOTOS_FORM,
    S3,
    MotoServer,
    free_port,
    make_s3,
    moto_server,
    photo,
    photos_instance,
)

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 8
PER_CLIENT = 10  # 80 submissions, half with two photos each
KILL_AFTER = 24  # acknowledged submissions before the SIGKILL
COLLECT = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2026.1.0"}


class Receiver:
    """A webhook receiver that answers 500 to the first try of every third delivery (so deliveries are
    retried too)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], int]] = []
        self.lock = threading.Lock()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                delivery = self.headers["X-Ruta-Delivery"]
                with receiver.lock:
                    first = all(d != delivery for d, _, _ in receiver.seen)
                    code = 500 if first and int(delivery) % 3 == 0 else 204
                    receiver.seen.append((delivery, body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Process:
    """A ``ruta`` command in its own process group, so SIGKILL takes gunicorn's workers with it."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *self.args],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def _wait_healthy(url: str, process: Process) -> None:
    deadline = time.monotonic() + 120  # a loaded machine starts gunicorn slowly
    while True:
        assert process.proc is not None and process.proc.poll() is None, process.log.read_text()[-2000:]
        try:
            if requests.get(f"{url}/v1/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3:  # noqa: F811
    return make_s3(moto_server, monkeypatch)


@pytest.fixture
def app_config(app_config: dict[str, Any], s3: S3) -> dict[str, Any]:
    return {**app_config, "BLOB_STORE": s3.url}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _submission(n: int) -> tuple[str, str, bytes, dict[str, bytes]]:
    """Even numbers: the photos form with two photos; odd: a household submission (indicators)."""
    if n % 2 == 0:
        iid = f"uuid:cluster-{n}"
        files = {"front.jpg": photo(f"{n}-front", 60_000), "back.jpg": photo(f"{n}-back", 60_000)}
        return "photos", iid, photos_instance(iid), files
    return "ruta_household_needs", f"uuid:hh-{n}", b"", {}


def _post(base: str, xml: bytes, files: dict[str, bytes]) -> int:
    parts: dict[str, Any] = {"xml_submission_file": ("xml_submission_file.xml", xml, "text/xml")}
    for name, data in files.items():
        parts[name] = (name, data, "image/jpeg")
    return requests.post(f"{base}/submission", files=parts, headers=COLLECT, timeout=60).status_code


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_servers_and_worker_killed_mid_burst_lose_nothing_and_run_jobs_once(
    world: World, app_config: dict[str, Any], s3: S3, receiver: Receiver, tmp_path: Path
) -> None:
    publish_xml(world, PHOTOS_FORM)
    hh_version = household_form(world)["version"]
    hook = world.client.post(
        f"/v1/projects/{world.project_id}/webhooks",
        json={"url": receiver.url},
        headers=world.headers("manager"),
    )
    assert hook.status_code == 201, hook.json
    token = device_token(world)["token"]
    env = {
        **os.environ,
        **s3.env,
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_BLOB_STORE": s3.url,
        # A killed worker's job is taken over after 3 s instead of a minute.
        "RUTA_JOB_LEASE_SECONDS": "3",
    }
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}/v1/key/{token}/projects/{world.project_id}" for p in ports]
    servers = [
        Process(
            ["serve", "--port", str(p), "--workers", "2", "--no-worker"], env, tmp_path / f"server-{i}.log"
        )
        for i, p in enumerate(ports)
    ]
    worker = Process(["worker", "--poll", "0.1"], env, tmp_path / "worker.log")
    acknowledged: dict[str, int] = {}  # instanceID -> status of the answer that acknowledged it
    lock = threading.Lock()
    killed = threading.Event()
    errors: list[str] = []

    def client(k: int) -> None:
        for j in range(PER_CLIENT):
            n = k * PER_CLIENT + j
            form, iid, xml, files = _submission(n)
            if form == "ruta_household_needs":
                xml = household_instance(hh_version, n).encode()
            target = n % 2
            deadline = time.monotonic() + 240
            while True:
                try:
                    status = _post(bases[target], xml, files)
                except requests.RequestException:
                    status = 0  # the connection died with the server: resend, as Collect does
                if status in (201, 202):
                    with lock:
                        acknowledged[iid] = status
                    break
                if status not in (0, 502, 503) or time.monotonic() > deadline:
                    with lock:
                        errors.append(f"{iid}: {status}")
                    return
                target = 1 - target  # a load balancer sends the resend to a live server
                time.sleep(0.3)

    try:
        for server in servers:
            server.start()
        for i, server in enumerate(servers):
            _wait_healthy(f"http://127.0.0.1:{ports[i]}", server)
        worker.start()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 300
        while len(acknowledged) < KILL_AFTER:
            assert time.monotonic() < deadline and not errors, errors
            time.sleep(0.05)
        servers[0].kill()
        worker.kill()
        killed.set()
        time.sleep(1)
        servers[0].start()
        worker.start()
        _wait_healthy(f"http://127.0.0.1:{ports[0]}", servers[0])
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors
        assert len(acknowledged) == CLIENTS * PER_CLIENT

        def settled() -> bool:
            nonlocal state
            with get_database(world.app).session_scope() as s:
                busy = s.scalar(
                    sa.select(sa.func.count())
                    .select_from(Job)
                    # The maintenance job schedules its next run: always queued.
                    .where(Job.status.in_(("queued", "running")), Job.kind != "maintenance")
                )
                undelivered = s.scalar(
                    sa.select(sa.func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status != "delivered")
                )
                state = s.execute(
                    sa.select(Job.kind, Job.status, sa.func.count()).group_by(Job.kind, Job.status)
                ).all()
                state += s.execute(
                    sa.select(WebhookDelivery.status, WebhookDelivery.attempts, sa.func.count()).group_by(
                        WebhookDelivery.status, WebhookDelivery.attempts
                    )
                ).all()
            return busy == 0 and undelivered == 0

        state: list[Any] = []
        deadline = time.monotonic() + 300  # webhook retries back off 2 s, 4 s, 8 s ...
        while not settled():
            assert time.monotonic() < deadline, f"{state}\n" + (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        worker.stop()
        for server in servers:
            server.stop()

    assert killed.is_set()
    photo_ids = {iid for iid in acknowledged if iid.startswith("uuid:cluster-")}
    household_ids = set(acknowledged) - photo_ids
    with get_database(world.app).session_scope() as s:
        stored = s.scalars(sa.select(Submission.instance_id)).all()
        assert sorted(stored) == sorted(acknowledged)  # each once: nothing lost, nothing doubled
        files = s.execute(
            sa.select(Submission.instance_id, SubmissionAttachment.name, SubmissionAttachment.blob_sha256)
            .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
            .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SubmissionVersion.id)
            .where(Submission.instance_id.in_(photo_ids))
        ).all()
        assert len(files) == 2 * len(photo_ids)
        store_keys = s3.keys()
        bucket = s3.client()
        for iid, name, digest in files:
            n = int(iid.rsplit("-", 1)[1])
            expected = photo(f"{n}-{name.split('.')[0]}", 60_000)
            assert digest == hashlib.sha256(expected).hexdigest(), (iid, name)
            key = f"{s3.prefix}/{digest}"
            assert key in store_keys, (iid, name)
            body = bucket.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest
        assert (s.scalar(sa.select(sa.func.count()).select_from(Blob)) or 0) >= len(files)
        assert s.scalars(sa.select(Job).where(Job.status == "failed")).all() == []
        records = s.scalar(
            sa.select(sa.func.count())
            .select_from(CanonicalRecord)
            .join(Submission, Submission.id == CanonicalRecord.submission_id)
            .where(Submission.instance_id.in_(household_ids))
        )
        assert records == len(household_ids)
        deliveries = s.scalars(sa.select(WebhookDelivery)).all()
    created = [d for d in deliveries if d.event == "submission.created"]
    assert len(created) == len(acknowledged)  # one delivery per event, whatever was killed
    assert all(d.status == "delivered" for d in deliveries)
    delivered = {(d, body["instanceId"]) for d, body, code in receiver.seen if code == 204}
    assert {iid for _, iid in delivered} == set(acknowledged)
    assert len({d for d, _ in delivered}) == len(deliveries)
