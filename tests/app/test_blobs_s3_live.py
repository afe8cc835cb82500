"""Blobs on S3, end to end, against moto's S3 server over HTTP (a real endpoint on 127.0.0.1):

- a live ``ruta serve`` on S3 takes submissions with photos, keeps them in the bucket under their
  sha256, and serves them as redirects to presigned URLs whose bytes match;
- with the S3 server stopped, a submission gets 503 with Retry-After and nothing is acknowledged; the
  device's resend after the store is back is stored whole;
- ``ruta blobs migrate`` moves a store to S3 and back, killed in the middle of each way and rerun.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.blobs import FileBlobStore, get_blob_store, open_store
from app.db import get_database
from app.models import Blob, Submission, SubmissionAttachment
from app.services.blobs import store_bytes
from app.web.downloads import content_disposition
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.openrosa_helpers import OR_HEADERS, device_token, post_submission, publish_xml, root
from tests.app.s3_helpers import (  # noqa: F401 (moto_server is a fixture)
    PHOTOS_FORM,
    S3,
    MotoServer,
    free_port,
    make_s3,
    moto_server,
    photo,
    photos_instance,
    sha,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3:  # noqa: F811
    return make_s3(moto_server, monkeypatch)


@pytest.fixture
def app_config(app_config: dict[str, Any], s3: S3) -> dict[str, Any]:
    """The in-process app (publishing, checks) uses the bucket too."""
    return {**app_config, "BLOB_STORE": s3.url}


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "server exited"
        try:
            if requests.get(f"{url}/v1/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


@pytest.fixture
def live_server(world: World, app_config: dict[str, Any], s3: S3) -> Iterator[str]:
    env = {
        **os.environ,
        **s3.env,
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_BLOB_STORE": s3.url,
    }
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_submissions_with_photos_to_a_live_server_on_s3(world: World, s3: S3, live_server: str) -> None:
    publish_xml(world, PHOTOS_FORM)
    token = device_token(world)["token"]
    sent: dict[str, dict[str, bytes]] = {}
    for i in range(3):
        iid = f"uuid:s3-live-{i}"
        files = {"front.jpg": photo(f"{i}-front"), "back.jpg": photo(f"{i}-back", 400_000)}
        res = requests.post(
            f"{live_server}/v1/key/{token}/projects/{world.project_id}/submission",
            files={
                "xml_submission_file": ("xml_submission_file.xml", photos_instance(iid), "text/xml"),
                **{name: (name, data, "image/jpeg") for name, data in files.items()},
            },
            headers=OR_HEADERS,
            timeout=60,
        )
        assert res.status_code == 201, res.text
        sent[iid] = files

    # In the bucket, under their sha256, before (and so independently of) any download.
    keys = s3.keys()
    for files in sent.values():
        for data in files.values():
            assert f"{s3.prefix}/{sha(data)}" in keys
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 3
        present = s.scalars(select(SubmissionAttachment.blob_sha256)).all()
        assert sorted(p for p in present if p) == sorted(sha(d) for f in sent.values() for d in f.values())

    # Downloads: a redirect to a short-lived presigned URL on the bucket, whose bytes match.
    headers = world.headers("admin")
    for iid, files in sent.items():
        for name, data in files.items():
            url = f"{live_server}/v1/projects/{world.project_id}/forms/photos/submissions/{iid}/attachments/"
            url += name
            first = requests.get(url, headers=headers, allow_redirects=False, timeout=30)
            assert first.status_code == 307, first.text
            location = first.headers["Location"]
            assert location.startswith(f"{s3.server.endpoint}/{s3.bucket}/{s3.prefix}/{sha(data)}?")
            assert "X-Amz-Expires=300" in location
            followed = requests.get(url, headers=headers, timeout=30)
            assert followed.status_code == 200
            assert sha(followed.content) == sha(data)
            # The one Content-Disposition of every download (app/web/downloads.py), carried by the URL.
            assert followed.headers["Content-Disposition"] == content_disposition(name)
        # Who asks is checked before any URL is handed out.
        denied = requests.get(
            f"{live_server}/v1/projects/{world.project_id}/forms/photos/submissions/{iid}/attachments/front.jpg",
            headers=world.headers("outsider"),
            allow_redirects=False,
            timeout=30,
        )
        assert denied.status_code in (403, 404)
        assert "Location" not in denied.headers


def test_downloads_streamed_when_the_admin_says_so(world: World, s3: S3) -> None:
    publish_xml(world, PHOTOS_FORM)
    token = device_token(world)["token"]
    files = {"front.jpg": photo("stream-front"), "back.jpg": photo("stream-back")}
    res = post_submission(world, root(world, token), photos_instance("uuid:stream"), files)
    assert res.status_code == 201, res.data
    url = f"/v1/projects/{world.project_id}/forms/photos/submissions/uuid:stream/attachments/front.jpg"
    assert world.client.get(url, headers=world.headers("admin")).status_code == 307
    # The admin page shows photos inline (its CSP allows only 'self', and the file gets a sandboxing
    # CSP a bucket cannot add): streamed; its download link may go to the bucket.
    admin = login(world, "admin")
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sub_id = s.scalar(select(Submission.id).where(Submission.instance_id == "uuid:stream"))
    inline = admin.get(f"/admin/submissions/{sub_id}/files/front.jpg")
    assert inline.status_code == 200 and inline.data == files["front.jpg"]
    assert inline.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    download = admin.get(f"/admin/submissions/{sub_id}/files/front.jpg?download=1")
    assert download.status_code == 307
    assert download.headers["Location"].startswith(f"{s3.server.endpoint}/{s3.bucket}/")

    world.app.config["BLOB_DOWNLOADS"] = "stream"
    streamed = world.client.get(url, headers=world.headers("admin"))
    assert streamed.status_code == 200
    assert streamed.data == files["front.jpg"]


def test_s3_down_during_a_submission_is_503_and_nothing_is_acknowledged(
    world: World,
    s3: S3,
    moto_server: MotoServer,  # noqa: F811
) -> None:
    publish_xml(world, PHOTOS_FORM)
    token = device_token(world)["token"]
    files = {"front.jpg": photo("down-front"), "back.jpg": photo("down-back")}
    xml = photos_instance("uuid:s3-down")
    moto_server.stop()
    try:
        res = post_submission(world, root(world, token), xml, files)
    finally:
        moto_server.start()  # same port; the buckets live in this process, so they are still there
    assert res.status_code == 503
    assert res.headers["Retry-After"] == "5"
    assert b"file storage is unavailable" in res.data
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
        assert s.scalar(select(func.count()).select_from(SubmissionAttachment)) == 0
        assert s.scalar(select(Blob).where(Blob.sha256 == sha(files["front.jpg"]))) is None
    sent_keys = {f"{s3.prefix}/{sha(d)}" for d in files.values()}
    assert not sent_keys & s3.keys()

    # The device sends it again once the store is back: stored whole.
    again = post_submission(world, root(world, token), xml, files)
    assert again.status_code == 201, again.data
    keys = s3.keys()
    assert {f"{s3.prefix}/{sha(d)}" for d in files.values()} <= keys
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 1


# ---- ruta blobs migrate ----------------------------------------------------------------------------


def _migrate(
    env: dict[str, str], target: str, *, kill_after: int | None = None
) -> tuple[int, dict[str, Any]]:
    """Run ``ruta blobs migrate --to target``; with ``kill_after``, SIGKILL it once it has copied that
    many blobs (an interruption in the middle), and check it had not finished."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "blobs", "migrate", "--to", target],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    if kill_after is None:
        out, err = proc.communicate(timeout=240)
        assert out.strip(), err
        return proc.returncode, json.loads(out)
    copied = 0
    while copied < kill_after:
        line = proc.stderr.readline()
        assert line, "migrate ended before the interruption"
        copied += line.startswith("copied ")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return proc.returncode, {}


BLOB_COUNT = 120


@pytest.fixture
def filled_file_store(world: World) -> tuple[list[str], str, str]:
    """BLOB_COUNT blobs in the instance folder's store (the app default), one of them missing from it and
    one whose bytes were damaged: (the intact shas, the missing sha, the damaged sha)."""
    app = world.app
    store = open_store(None, app.config["BLOB_PATH"])
    assert isinstance(store, FileBlobStore)
    with app.app_context(), get_database(app).session_scope() as s:
        shas = [store_bytes(s, store, photo(f"m{i}", 4000)).sha256 for i in range(BLOB_COUNT)]
        s.commit()
    missing, damaged = shas[7], shas[11]
    store.path(missing).unlink()
    store.path(damaged).write_bytes(b"bit rot")
    return [x for x in shas if x not in (missing, damaged)], missing, damaged


@pytest.mark.slow
def test_migrate_to_s3_and_back_interrupted_and_rerun(
    world: World,
    s3: S3,
    app_config: dict[str, Any],
    filled_file_store: tuple[list[str], str, str],
    tmp_path: Path,
) -> None:
    intact, missing, damaged = filled_file_store
    env = {
        **os.environ,
        **s3.env,
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
    }
    env.pop("RUTA_BLOB_STORE", None)  # the folder store is the one in use
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        total = s.scalar(select(func.count()).select_from(Blob))
    assert total is not None and total >= BLOB_COUNT

    # There: killed after 10 copies, then rerun to the end.
    _migrate(env, s3.url, kill_after=10)
    partial = s3.keys()
    assert 10 <= len(partial) < total
    code, report = _migrate(env, s3.url)
    assert code == 1  # complete except for what the source lacks: reported
    assert report["missing"] == [missing] and report["corrupt"] == [damaged]
    assert report["skipped"] >= 10 and report["copied"] + report["skipped"] + 2 == total
    assert report["complete"] is False
    bucket = open_store(s3.url, tmp_path)
    assert all(bucket.verified(x) for x in intact)
    assert not bucket.exists(missing) and not bucket.exists(damaged)

    # A third run copies nothing.
    code, report = _migrate(env, s3.url)
    assert report["copied"] == 0 and report["skipped"] == total - 2

    # And back, from S3 (now the store in use) to a new folder: killed, rerun.
    back = tmp_path / "back"
    env["RUTA_BLOB_STORE"] = s3.url
    _migrate(env, f"file://{back}", kill_after=10)
    code, report = _migrate(env, f"file://{back}")
    assert report["skipped"] >= 10 and report["copied"] + report["skipped"] + 2 == total
    assert sorted(report["missing"]) == sorted([missing, damaged])
    folder = open_store(f"file://{back}", tmp_path)
    assert all(folder.verified(x) for x in intact)

    # The app runs on the folder it came back to: a download serves the same bytes.
    world.app.extensions["ruta.blobs"] = folder
    with world.app.app_context():
        assert sha(get_blob_store().read(intact[0])) == intact[0]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        from app.models import AuditEvent

        runs = s.scalars(select(AuditEvent).where(AuditEvent.action == "blobs.migrate")).all()
        assert len(runs) == 3  # the completed runs; the killed ones committed nothing
