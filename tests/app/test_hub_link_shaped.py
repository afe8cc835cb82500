"""A field hub syncing over a link shaped like 2G (tests/app/link_relay.py: rate, 300 ms, 3% loss,
outages), with phones at the hub working throughout. The central Ruta runs on the test database
(PostgreSQL when TEST_DATABASE_URL is set); the hub on its own SQLite, as on a field laptop.

Scaled for the default run: the link is faster than 64 kbit/s and the outages are 2 s and 10 s, so the
test takes about a minute; ``python -m tests.benchmarks hub_link`` runs the literal scenario.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.db import get_database
from app.models import SubmissionAttachment, SubmissionVersion
from sync.hub_client import HubClient, OutgoingInstance, encode_body
from tests.app.conftest import World
from tests.app.household import household_form, household_instance
from tests.app.hub_helpers import (
    COLLECT,
    REPO,
    HubSite,
    central,  # noqa: F401
    free_port,
    hub_cli,
    issue_hub,
    new_hub,
    phone_post,
    serve,
    stop,
)
from tests.app.link_relay import ShapedLink
from tests.app.openrosa_helpers import publish_xml

SUBMISSIONS = 200
PHOTOS = 20  # incompressible, 50 KB each


def _photo(i: int) -> bytes:
    return random.Random(i).randbytes(50_000)


def _submission(i: int) -> tuple[bytes, dict[str, bytes]]:
    with_photo = i % (SUBMISSIONS // PHOTOS) == 0
    xml = household_instance(f"uuid:hh-{i}", i, photo=f"p{i}.jpg" if with_photo else "")
    return xml, ({f"p{i}.jpg": _photo(i)} if with_photo else {})


def _collect_post(root: str, http: requests.Session, xml: bytes, files: dict[str, bytes]) -> int:
    """As Collect does: HEAD the submission URL, then POST the multipart."""
    head = http.head(f"{root}/submission", headers=COLLECT, timeout=30)
    assert head.status_code == 204, head.status_code
    return phone_post(root, xml, files, session=http)


class Phones:
    """Phones at the hub during a sync: formList, HEAD and a new submission every half second."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.answers: list[tuple[str, int, float]] = []
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _timed(self, kind: str, call: Any) -> None:
        started = time.monotonic()
        try:
            status = call().status_code
        except requests.RequestException:
            status = 0
        self.answers.append((kind, status, time.monotonic() - started))

    def _run(self) -> None:
        http = requests.Session()
        while not self.stop.is_set():
            self._timed("formList", lambda: http.get(f"{self.root}/formList", headers=COLLECT, timeout=30))
            self._timed("HEAD", lambda: http.head(f"{self.root}/submission", headers=COLLECT, timeout=30))
            xml = household_instance(f"uuid:probe-{self.sent}", 10_000 + self.sent)
            self.sent += 1
            self._timed(
                "POST",
                lambda xml=xml: http.post(  # type: ignore[misc]
                    f"{self.root}/submission",
                    files={"xml_submission_file": ("x.xml", xml, "text/xml")},
                    headers=COLLECT,
                    timeout=30,
                ),
            )
            self.stop.wait(0.5)

    def __enter__(self) -> Phones:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def _snapshot(app: Any, hub_id: int | None) -> tuple[dict[str, str], set[tuple[str, str, str | None]], int]:
    with app.app_context(), get_database(app).session_scope() as s:
        q = select(SubmissionVersion.instance_id, SubmissionVersion.sha256)
        count = select(func.count()).select_from(SubmissionVersion)
        if hub_id is not None:
            q = q.where(SubmissionVersion.hub_id == hub_id)
            count = count.where(SubmissionVersion.hub_id == hub_id)
        versions = dict(s.execute(q).all())
        files = set(
            s.execute(
                select(
                    SubmissionVersion.instance_id, SubmissionAttachment.name, SubmissionAttachment.blob_sha256
                )
                .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
                .where(SubmissionVersion.instance_id.in_(list(versions)))
            ).all()
        )
        return versions, files, int(s.scalar(count) or 0)  # type: ignore[return-value]


def _until(condition: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _hub_with_form(world: World, central_url: str, tmp_path: Path) -> tuple[HubSite, int, ShapedLink]:
    publish_xml(world, household_form())
    hub_id, credential = issue_hub(world)
    link = ShapedLink(int(central_url.rsplit(":", 1)[1]), rate=40_000, rtt=0.3, loss=0.03)
    site = new_hub(tmp_path, link.url, world.project_id, credential)
    code, out = hub_cli(site.env, "sync", "--quiet")  # pulls the household form
    assert code == 0 and out["pulled"]["forms_created"] == ["household"], out
    return site, hub_id, link


@pytest.mark.slow
def test_sync_over_a_shaped_link_through_outages(world: World, central: str, tmp_path: Path) -> None:  # noqa: F811
    site, hub_id, link = _hub_with_form(world, central, tmp_path)
    phone_token = site.phone_token()
    port = free_port()
    hub_proc = serve(site.env, port)
    sync: subprocess.Popen[bytes] | None = None
    try:
        # Phones post the submissions one by one to the hub, through a relay that only counts bytes.
        counter = ShapedLink(port, rate=1e9, rtt=0.0, loss=0.0)
        root = f"{counter.url}/v1/key/{phone_token}/projects/{site.local_project}"
        sessions = threading.local()

        def post(i: int) -> int:
            if not hasattr(sessions, "http"):
                sessions.http = requests.Session()
            return _collect_post(root, sessions.http, *_submission(i))

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(post, range(SUBMISSIONS))) == [201] * SUBMISSIONS
        one_by_one = counter.counts()
        counter.close()

        direct = f"http://127.0.0.1:{port}/v1/key/{phone_token}/projects/{site.local_project}"
        before = link.counts()
        with Phones(direct) as phones:
            sync = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "hub", "sync"],  # its defaults
                env=site.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            statuses: list[tuple[int, dict[str, Any], bool]] = []

            def status() -> None:  # `ruta hub status` answers during the sync
                code, out = hub_cli(site.env, "status", timeout=300)
                statuses.append((code, out, sync.poll() is None))

            _until(lambda: link.counts() - before > 50_000)  # the data is on its way
            link.outage(2)
            asking = threading.Thread(target=status)
            asking.start()
            _until(lambda: link.counts() - before > 300_000)  # the photos are on their way
            link.outage(10)
            asking.join(timeout=300)
            assert statuses and statuses[0][0] == 0 and statuses[0][1]["syncing"] is True, statuses
            out, err = sync.communicate(timeout=400)
        wire = link.counts() - before
        report = json.loads(out)
        progress = err.decode()
        assert sync.returncode == 0 and report["ok"], (report, progress[-2000:])
        assert link.cuts >= 2
        assert "left" in progress and "kB/s" in progress and "waiting" in progress, progress[-2000:]

        # Nothing lost, nothing twice: the probes' submissions go up with the next sync.
        code, out2 = hub_cli(site.env, "sync", "--quiet")
        assert code == 0 and out2["pending"] == 0 and out2["pendingFiles"] == 0, out2
    finally:
        if sync is not None and sync.poll() is None:
            sync.kill()
            sync.wait()
        stop(hub_proc)
        link.close()

    hub_app = site.app()
    hub_versions, hub_files, hub_count = _snapshot(hub_app, None)
    central_versions, central_files, central_count = _snapshot(world.app, hub_id)
    get_database(hub_app).dispose()
    assert len(hub_versions) == SUBMISSIONS + phones.sent == hub_count
    assert central_versions == hub_versions and central_count == hub_count  # byte-identical, none twice
    assert central_files == hub_files
    photos = {(f"uuid:hh-{i}", f"p{i}.jpg", hashlib.sha256(_photo(i)).hexdigest()) for i in range(0, 200, 10)}
    assert photos <= central_files

    # Phones at the hub were answered throughout, and quickly (no lock held across the upload).
    assert phones.answers and all(status in {200, 201, 204} for _, status, _ in phones.answers), (
        phones.answers
    )
    slowest = max(seconds for _, _, seconds in phones.answers)
    print(f"\nphones: {len(phones.answers)} answers during the sync, slowest {slowest:.2f} s")
    print(f"wire: sync {wire} B, one by one {one_by_one} B, ratio {wire / one_by_one:.2f}")
    # Under 1 s is the target (the benchmark reports it); on a shared CI machine a process can be
    # descheduled for a moment, so the test allows 1 answer in 100 over it and none over 5 s. A lock held
    # across the upload (the bug this guards against) held phones for 30 s and then answered 503.
    late = [a for a in phones.answers if a[2] >= 1.0]
    assert len(late) <= len(phones.answers) // 100 and slowest < 5.0, late
    assert wire <= 0.5 * one_by_one, (wire, one_by_one)


@pytest.mark.slow
def test_upload_cut_at_90_percent_resumes_where_it_stopped(world: World, central: str) -> None:  # noqa: F811
    publish_xml(world, household_form())
    _, credential = issue_hub(world)
    instances = [
        OutgoingInstance(
            f"v{i}", household_instance(f"uuid:cut-{i}", i, photo=f"p{i}.jpg"), [(f"p{i}.jpg", _photo(i))]
        )
        for i in range(12)
    ]
    body = encode_body(instances)
    link = ShapedLink(int(central.rsplit(":", 1)[1]), rate=200_000, rtt=0.02, loss=0.0)
    try:
        client = HubClient(link.url, world.project_id, credential, backoff=0.2)
        client.meter.rate = 1e9  # one chunk for the whole body: the cut falls inside it
        link.cut_after(int(0.9 * len(body)))
        answer = client.upload(body)
    finally:
        link.close()
    assert link.cuts == 1
    assert answer["counts"] == {"created": 12}, answer
    # The first 90% went once: at most the link's window (16 KB) is sent again, plus headers.
    assert link.up < len(body) + 20_000 + 5_000, (link.up, len(body))
    assert len(body) > 500_000
