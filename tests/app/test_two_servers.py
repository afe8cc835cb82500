"""Two app processes on one database: duplicate instanceIDs racing across them make exactly one
submission and no 500 (uniqueness lives in the database, not in process memory); wrong passwords sent
to both are counted once, so the login limit holds across processes and their workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.db import get_database
from app.models import Submission, SubmissionAttachment, SubmissionVersion
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, publish_xml

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers(world: World, app_config: dict[str, str]) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],  # shared blob store, like shared storage
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_LOGIN_RATE_LIMIT": "5 per minute",
        "RUTA_ALLOW_BASIC_OVER_HTTP": "true",
    }
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            # No job worker beside each: this test is about ingest races, and two more app imports
            # at start-up only slow the servers' start on a busy machine.
            [sys.executable, "-m", "app.cli", "serve", "--port", str(p), "--workers", "2", "--no-worker"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        for port in ports:
            deadline = time.monotonic() + 90  # a loaded CI machine starts gunicorn slowly
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


@pytest.mark.slow
def test_duplicates_racing_across_two_app_processes_make_one_submission(
    world: World, two_servers: list[str]
) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def send(i: int) -> None:
        base = two_servers[i % 2]
        files = {
            "xml_submission_file": ("xml_submission_file.xml", instance("uuid:two-servers"), "text/xml"),
            "a.jpg": ("a.jpg", b"the same photo", "image/jpeg"),
        }
        barrier.wait(timeout=30)
        res = requests.post(
            f"{base}/v1/key/{token}/projects/{world.project_id}/submission",
            files=files,
            headers={"X-OpenRosa-Version": "1.0"},
            timeout=60,
        )
        with lock:
            statuses.append(res.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert len(statuses) == 16
    assert all(s in (201, 202) for s in statuses), statuses
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 1
        assert s.scalar(select(func.count()).select_from(SubmissionVersion)) == 1
        present = s.scalar(
            select(func.count())
            .select_from(SubmissionAttachment)
            .where(SubmissionAttachment.blob_sha256.is_not(None))
        )
        assert present == 1


@pytest.mark.slow
def test_wrong_passwords_sent_to_two_servers_share_one_count(world: World, two_servers: list[str]) -> None:
    """Two servers of two workers each: counted per worker in memory, 5 per minute would have allowed
    20 guesses (POST /v1/sessions and Basic had no limit at all)."""
    email = world.emails["manager"]
    statuses = []
    for i in range(10):
        base = two_servers[i % 2]
        if i % 3 == 2:  # Basic on the API counts the same
            res = requests.get(f"{base}/v1/projects", auth=(email, "wrong-password-1"), timeout=30)
        else:
            res = requests.post(
                f"{base}/v1/sessions", json={"email": email, "password": "wrong-password-1"}, timeout=30
            )
        statuses.append(res.status_code)
    assert statuses[:5] == [401] * 5, statuses
    assert statuses[5:] == [429] * 5, statuses
    right = {"email": email, "password": world.passwords["manager"]}
    for base in two_servers:
        res = requests.post(f"{base}/v1/sessions", json=right, timeout=30)
        assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
