"""End to end with two live Ruta servers: a field hub on SQLite and the central Ruta (PostgreSQL when
TEST_DATABASE_URL is set). Phones submit to the hub over OpenRosa; the hub's link to the central side
drops in the middle of a sync; the next sync completes and the central side then holds exactly the
hub's submissions and files (by sha256). A form published centrally reaches a phone polling the hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app import create_app
from app.db import get_database
from app.migrate import alembic_config
from app.models import HubLink, SubmissionAttachment, SubmissionVersion
from app.services.accounts import app_users
from tests.app.conftest import World
from tests.app.hub_helpers import central, free_port, hub_cli, phone_post, serve  # noqa: F401
from tests.app.openrosa_helpers import SIMPLE_FORM, instance, publish_xml

REPO = Path(__file__).resolve().parents[2]
PHONES = 500


class CuttingProxy:
    """A TCP proxy that, when armed, cuts every connection once ``limit`` bytes went upstream."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.limit: int | None = None
        self.sent = 0
        self.cuts = 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(65536):
                if counted:
                    with self.lock:
                        self.sent += len(data)
                        cut = self.limit is not None and self.sent > self.limit
                        self.cuts += cut
                    if cut:
                        break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.server.close()


@pytest.mark.slow
def test_hub_syncs_through_a_dropped_link(world: World, central: str, tmp_path: Path) -> None:  # noqa: F811
    publish_xml(world, SIMPLE_FORM)
    issued = world.client.post(
        f"/v1/projects/{world.project_id}/hubs",
        json={"name": "Rumichaca office"},
        headers=world.headers("manager"),
    )
    assert issued.status_code == 200, issued.json
    hub_id, credential = issued.json["id"], issued.json["token"]
    proxy = CuttingProxy(int(central.rsplit(":", 1)[1]))

    hub_dir = tmp_path / "hub"
    hub_url = f"sqlite:///{hub_dir / 'ruta.sqlite3'}"
    hub_dir.mkdir()
    from alembic import command

    command.upgrade(alembic_config(hub_url), "head")
    hub_env = {
        **os.environ,
        "RUTA_INSTANCE_PATH": str(hub_dir),
        "RUTA_DATABASE_URL": hub_url,
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_SECRET_KEY": "hub-secret",
    }
    central_via_proxy = f"http://127.0.0.1:{proxy.port}"
    code, out = hub_cli(
        hub_env, "link", central_via_proxy, "--project", str(world.project_id), "--token", credential
    )
    assert code == 0, out
    local_project = out["localProject"]
    code, out = hub_cli(hub_env, "sync")  # nothing to push yet; pulls the published form
    assert code == 0 and out["pulled"]["forms_created"] == ["photo"], out

    hub_app = create_app({"INSTANCE_PATH": str(hub_dir), "DATABASE_URL": hub_url, "SECRET_KEY": "hub-secret"})
    with hub_app.app_context(), get_database(hub_app).session_scope() as s:
        from app.models import Project

        project = s.get(Project, local_project)
        assert project is not None
        phone_token = app_users.create_app_user(s, actor=None, project=project, display_name="phone").token
        s.commit()
    hub_port = free_port()
    hub_proc = serve(hub_env, hub_port)
    try:
        phone_root = f"http://127.0.0.1:{hub_port}/v1/key/{phone_token}/projects/{local_project}"

        def submit(i: int) -> int:
            photo = f"photo-{i}-".encode() * 200
            return phone_post(phone_root, instance(f"uuid:hub-{i}", name=f"P{i}"), {"a.jpg": photo})

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(submit, range(PHONES)))
        assert statuses == [201] * PHONES
        # An edit made on a phone at the hub travels up as a new version of the same record.
        edit = instance("uuid:hub-0-e", name="P0 edited", deprecated="uuid:hub-0")
        assert phone_post(phone_root, edit, {"a.jpg": b"photo-0-"}) == 201

        # Collect splits a big submission: the XML arrives now, its photo only after a full sync.
        assert phone_post(phone_root, instance("uuid:split"), {}, incomplete=True) == 201

        proxy.limit = proxy.sent + 12_000  # the link dies after ~12 kB (compressed): mid-way through the push
        code, out = hub_cli(hub_env, "sync", "--batch-size", "100", "--retries", "0", "--no-pull")
        assert code == 1 and out["error"], out
        assert proxy.cuts >= 1
        assert out["cursor"] > 0 and out["pending"] > 0, out

        proxy.limit = None  # the link is back
        code, out = hub_cli(hub_env, "sync", "--batch-size", "100")
        assert code == 0, out
        assert out["pending"] == 0 and not out["refused"], out

        assert phone_post(phone_root, instance("uuid:split"), {"a.jpg": b"late photo"}) == 201

        # Published centrally after the first pull: reaches a phone polling the hub.
        second = SIMPLE_FORM.replace(b'id="photo" version="2"', b'id="photo2" version="1"')
        publish_xml(world, second)
        code, out = hub_cli(hub_env, "sync")
        assert code == 0 and out["pulled"]["forms_created"] == ["photo2"], out
        listing = requests.get(f"{phone_root}/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10)
        assert b"<formID>photo2</formID>" in listing.content
        assert f"md5:{hashlib.md5(second).hexdigest()}".encode() in listing.content
    finally:
        hub_proc.terminate()
        hub_proc.wait(timeout=20)
        proxy.close()

    def snapshot(app: Any, hub_only: int | None) -> tuple[dict[str, str], set[tuple[str, str, str | None]]]:
        with app.app_context(), get_database(app).session_scope() as s:
            q = select(SubmissionVersion)
            if hub_only is not None:
                q = q.where(SubmissionVersion.hub_id == hub_only)
            versions = {v.instance_id: v.sha256 for v in s.scalars(q)}
            atts = set(
                s.execute(
                    select(
                        SubmissionVersion.instance_id,
                        SubmissionAttachment.name,
                        SubmissionAttachment.blob_sha256,
                    )
                    .join(
                        SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id
                    )
                    .where(SubmissionVersion.instance_id.in_(list(versions)))
                ).all()
            )
            return versions, atts  # type: ignore[return-value]

    hub_versions, hub_files = snapshot(hub_app, None)
    central_versions, central_files = snapshot(world.app, hub_id)
    assert len(hub_versions) == PHONES + 2
    assert central_versions == hub_versions  # same instances, byte-identical XML, none twice
    assert central_files == hub_files  # every attachment, by sha256, the late photo too
    assert ("uuid:split", "a.jpg", hashlib.sha256(b"late photo").hexdigest()) in central_files
    assert all(sha is not None for _, _, sha in central_files)
    with hub_app.app_context(), get_database(hub_app).session_scope() as s:
        link = s.scalar(select(HubLink))
        assert link is not None and link.last_sync_at is not None
    res = world.client.get(f"/v1/projects/{world.project_id}/hubs", headers=world.headers("manager"))
    assert res.json[0]["submissions"] == PHONES + 2 and res.json[0]["lastSyncAt"]
    get_database(hub_app).dispose()
