"""A full or read-only disk is a 507 or 503 with Retry-After, rendered for who asked (OpenRosa XML for
a phone, JSON for the API), and nothing is stored: never a 500.

Real file systems, no mocks: each server runs in its own user and mount namespace (``unshare -rm``,
no privileges needed) with its blob store on a tmpfs that is tiny (fills up: ENOSPC) or remounted
read-only (EROFS). The database is the test's (SQLite file or PostgreSQL), outside the tmpfs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.db import get_database
from app.models import SubmissionVersion
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, publish_xml

REPO = Path(__file__).resolve().parents[2]

MOUNT = {
    # 64 KiB: the first photo of 256 KiB cannot be written.
    "full": 'mount -t tmpfs -o size=64k tmpfs "$BLOBS"',
    # Prepared, then read-only: the store's directories exist, nothing can be written under them.
    "read-only": 'mount -t tmpfs tmpfs "$BLOBS" && mkdir -p "$BLOBS/tmp" && mount -o remount,ro "$BLOBS"',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=sorted(MOUNT))
def faulty_server(
    request: pytest.FixtureRequest, world: World, app_config: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[str, str]]:
    if shutil.which("unshare") is None:
        pytest.fail("util-linux's unshare is needed (a README prerequisite on Debian: it is in util-linux)")
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "BLOBS": str(blobs),
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
        "RUTA_BLOB_PATH": str(blobs),
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_ALLOW_BASIC_OVER_HTTP": "true",
    }
    script = f"{MOUNT[request.param]} && exec {sys.executable} -m app.cli serve --port {port} --workers 1"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", script], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", request.param
    proc.terminate()
    proc.wait(timeout=20)


def _versions(world: World) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(SubmissionVersion)) or 0)


def test_a_full_or_read_only_disk_is_507_or_503_with_retry_after(
    world: World, faulty_server: tuple[str, str]
) -> None:
    url, kind = faulty_server
    want_status, want_code = (507, "507.1") if kind == "full" else (503, "503.2")
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    photo = os.urandom(256 * 1024)
    res = requests.post(
        f"{url}/v1/key/{token}/projects/{world.project_id}/submission?deviceID=collect:FULLDISK",
        files={
            "xml_submission_file": ("xml_submission_file.xml", instance("uuid:disk"), "text/xml"),
            "a.jpg": ("a.jpg", photo, "image/jpeg"),
        },
        headers={"X-OpenRosa-Version": "1.0"},
        timeout=30,
    )
    # The phone is told to retry later, in its own format, and keeps the submission.
    assert res.status_code == want_status, res.text[:500]
    assert int(res.headers["Retry-After"]) > 0
    assert "xml" in res.headers["Content-Type"] and want_code in res.text
    assert _versions(world) == 0
    # The API says the same in JSON.
    headers = world.headers("admin")
    api = requests.post(
        f"{url}/v1/projects/{world.project_id}/forms/photo/submissions",
        data=instance("uuid:disk-api"),
        headers={**headers, "Content-Type": "application/xml"},
        timeout=30,
    )
    assert api.status_code in (200, 201), api.text  # no file in it: the database is not full
    upload = requests.post(
        f"{url}/v1/projects/{world.project_id}/forms/photo/submissions/uuid:disk-api/attachments/a.jpg",
        data=photo,
        headers={**headers, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert upload.status_code == want_status, upload.text[:500]
    assert upload.json()["code"] == want_code and int(upload.headers["Retry-After"]) > 0
