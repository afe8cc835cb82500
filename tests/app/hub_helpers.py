"""Live servers for the hub tests: a central Ruta serving the test world's database, and a field hub
(its own SQLite database and instance folder) linked to it, each a real ``ruta serve`` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from app import create_app
from app.db import get_database
from app.migrate import alembic_config
from app.services.accounts import app_users
from tests.app.conftest import World

REPO = Path(__file__).resolve().parents[2]
COLLECT = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2026.1.0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120  # a loaded CI machine can take a while to start gunicorn
    while True:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("the server did not start")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def central(world: World, app_config: dict[str, str]) -> Iterator[str]:
    env = {
        **os.environ,
        "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
        "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RUTA_SECRET_KEY": app_config["SECRET_KEY"],
        "RUTA_ODK_VALIDATE": "false",
    }
    port = free_port()
    proc = serve(env, port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def hub_cli(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "hub", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=timeout,
    )
    out = done.stdout.decode()
    return done.returncode, (
        json.loads(out) if out.strip().startswith("{") else {"raw": out + done.stderr.decode()}
    )


def phone_post(
    base: str,
    xml: bytes,
    files: dict[str, bytes],
    *,
    incomplete: bool = False,
    session: requests.Session | None = None,
) -> int:
    parts: dict[str, Any] = {"xml_submission_file": ("xml_submission_file.xml", xml, "text/xml")}
    parts |= {name: (name, data, "image/jpeg") for name, data in files.items()}
    http = session or requests
    for _ in range(3):
        try:
            res = http.post(
                f"{base}/submission?deviceID=collect:HUBPHONE00000001",
                files=parts,
                data={"*isIncomplete*": "yes"} if incomplete else None,
                headers=COLLECT,
                timeout=30,
            )
            return res.status_code
        except requests.ConnectionError:
            time.sleep(0.5)
    return 0


def issue_hub(world: World, name: str = "Rumichaca office") -> tuple[int, str]:
    issued = world.client.post(
        f"/v1/projects/{world.project_id}/hubs", json={"name": name}, headers=world.headers("manager")
    )
    assert issued.status_code == 200, issued.json
    return int(issued.json["id"]), str(issued.json["token"])


@dataclass
class HubSite:
    """A field hub: its environment (for ``ruta hub ...``), database URL, app and local project."""

    env: dict[str, str]
    url: str
    dir: Path
    local_project: int = 0

    def app(self) -> Any:
        return create_app(
            {"INSTANCE_PATH": str(self.dir), "DATABASE_URL": self.url, "SECRET_KEY": "hub-secret"}
        )

    def phone_token(self) -> str:
        from app.models import Project

        app = self.app()
        with app.app_context(), get_database(app).session_scope() as s:
            project = s.get(Project, self.local_project)
            assert project is not None
            token = app_users.create_app_user(s, actor=None, project=project, display_name="phone").token
            s.commit()
        get_database(app).dispose()
        return token


def new_hub(tmp_path: Path, central_url: str, project_id: int, credential: str) -> HubSite:
    """A hub on SQLite, linked to ``central_url`` and holding the central project's forms."""
    from alembic import command

    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    url = f"sqlite:///{hub_dir / 'ruta.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    env = {
        **os.environ,
        "RUTA_INSTANCE_PATH": str(hub_dir),
        "RUTA_DATABASE_URL": url,
        "RUTA_ODK_VALIDATE": "false",
        "RUTA_SECRET_KEY": "hub-secret",
    }
    site = HubSite(env, url, hub_dir)
    code, out = hub_cli(env, "link", central_url, "--project", str(project_id), "--token", credential)
    assert code == 0, out
    site.local_project = out["localProject"]
    return site
