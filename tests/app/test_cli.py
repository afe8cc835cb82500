"""The ``ruta`` command line, run as an operator would: init (twice), create-user, app-user, publish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data import data_file

RUTA = [sys.executable, "-m", "app.cli"]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RUTA_DATABASE_URL": database_url,
        "RUTA_INSTANCE_PATH": str(tmp_path / "instance"),
        "RUTA_ODK_VALIDATE": "false",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUTA, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_init_creates_admin_demo_project_and_forms_and_is_safe_to_rerun(env: dict[str, str]) -> None:
    first = run(env, "init")
    assert first.returncode == 0, first.stderr
    assert "Admin password:" in first.stdout
    assert "/admin/" in first.stdout  # where to log in to the admin web interface
    assert "ruta_border_fms" in first.stdout and "ruta_household_needs" in first.stdout
    assert "Device server:" in first.stdout and "/v1/projects/1" in first.stdout
    second = run(env, "init")
    assert second.returncode == 0, second.stderr
    assert "Admin password:" not in second.stdout  # printed once only


def test_init_takes_the_admin_from_the_environment(env: dict[str, str]) -> None:
    env = {**env, "RUTA_ADMIN_EMAIL": "boss@example.org", "RUTA_ADMIN_PASSWORD": "a long password"}
    out = run(env, "init")
    assert out.returncode == 0, out.stderr
    assert "boss@example.org" in out.stdout and "Admin password:" not in out.stdout


def test_create_user_app_user_and_publish(env: dict[str, str]) -> None:
    assert run(env, "init", "--admin-password", "admin password 1").returncode == 0
    out = run(env, "create-user", "sup@example.org", "--role", "supervisor", "--project", "1")
    assert out.returncode == 0, out.stderr
    assert "Password (shown once)" in out.stdout
    out = run(env, "app-user", "Phone 7", "--project", "1")
    assert out.returncode == 0, out.stderr
    assert "/v1/key/" in out.stdout and "QR payload:" in out.stdout
    out = run(env, "publish", str(data_file("xlsforms/simple.xlsx")), "--project", "1", "--version", "v9")
    assert out.returncode == 0, out.stderr
    assert "version 'v9'" in out.stdout
    bad = run(env, "publish", str(data_file("xlsforms/duplicate_columns.xlsx")), "--project", "1")
    assert bad.returncode == 1 and "error [400.6]" in bad.stderr


@pytest.mark.parametrize("access_log", [False, True])
def test_serve_starts_a_production_server_that_answers(env: dict[str, str], access_log: bool) -> None:
    """``ruta serve`` answers; its access log is opt-in and never shows a device token."""
    import http.client
    import socket
    import time
    import urllib.request

    assert run(env, "init", "--admin-password", "admin password 1").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*RUTA, "serve", "--port", str(port), "--workers", "1", *(["--access-log"] if access_log else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as res:
                    assert res.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.3)
        device = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            device.request("GET", "/v1/key/SECRETTOKEN42/projects/1/formList")
            refused = device.getresponse()
            refused.read()
            assert refused.status == 401
        finally:
            device.close()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "gunicorn" in output.lower() or "Listening" in output
    assert "SECRETTOKEN42" not in output
    assert ("GET /v1/key/***/projects/1/formList" in output) is access_log, output


def test_indicators_refresh_normalises_ahead_of_reads(env: dict[str, str]) -> None:
    assert run(env, "init", "--admin-password", "admin password 1").returncode == 0
    out = run(env, "indicators", "refresh")
    assert out.returncode == 0, out.stderr
    # The demo project's bundled forms ship mapped, so none is reported unmapped.
    assert out.stdout.startswith("project #1: 0 submissions normalised, 0 review changes applied")
    assert "no confirmed mapping" not in out.stdout
    missing = run(env, "indicators", "refresh", "--project", "999")
    assert missing.returncode == 1 and "error [404" in missing.stderr


def test_totp_rekey_reencrypts_the_secrets_with_the_new_first_key(
    env: dict[str, str], database_url: str
) -> None:
    import sqlalchemy as sa

    from app.auth.secret_box import SecretBox

    env = {**env, "RUTA_SECRET_KEY": "the-old-secret-key"}
    assert run(env, "init", "--admin-password", "admin password 1").returncode == 0
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    users = sa.table("users", sa.column("email"), sa.column("totp_secret"))
    with engine.begin() as conn:
        conn.execute(sa.update(users).values(totp_secret=SecretBox(["the-old-secret-key"]).seal("ABCDEFGH")))
    out = run({**env, "RUTA_TOTP_KEYS": "a-new-totp-key"}, "totp-rekey")
    assert out.returncode == 0, out.stderr
    assert "Re-encrypted 1 " in out.stdout
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(users.c.totp_secret))
    engine.dispose()
    assert SecretBox(["a-new-totp-key"]).open(stored) == "ABCDEFGH"
