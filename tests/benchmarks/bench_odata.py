"""OData read benchmark: how fast an Excel / Power BI refresh reads a form's whole feed.

A fresh database per database kind, the geo form of tests/data (geopoints, a repeat, a nested repeat) and N
submissions (two repeat rows and two nested rows each), then per run: every page of ``Submissions`` and
of ``Submissions.plural.nested_repeat`` followed through ``@odata.nextLink`` (1000 rows a page) over
Basic auth, as Power BI does, through the WSGI app in-process. Reports the median rows/s of the runs
and the peak Python memory of one full read (bounded by the page size, not by N).

    python -m tests.benchmarks odata [--db sqlite|postgresql|both] [--submissions N] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from app import create_app
from app.auth import passwords
from app.db import get_database
from tests.app.odata_helpers import geo_instance
from tests.benchmarks.common import fresh_database
from tests.data import data_file

PG_DB = "ruta_bench_odata"
EMAIL, PASSWORD = "bench@ruta.local", "bench-password-123"


def _database(kind: str, tmp: Path) -> str:
    return fresh_database(kind, PG_DB, tmp)


def _setup(kind: str, tmp: Path, submissions: int) -> tuple[Any, FlaskClient, dict[str, str]]:
    from alembic import command

    from app.auth.actor import Actor
    from app.migrate import alembic_config
    from app.services import projects
    from app.services.accounts import people as accounts

    passwords.use_fast_hashing_for_tests()
    url = _database(kind, tmp)
    command.upgrade(alembic_config(url), "head")
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "SECRET_KEY": "bench",
            "ODK_VALIDATE": False,
            "ALLOW_BASIC_OVER_HTTP": True,
        }
    )
    with app.app_context(), get_database(app).session_scope() as session:
        admin = accounts.create_user(
            session, actor=None, email=EMAIL, password=PASSWORD, realm="Ruta", is_admin=True
        )
        org = projects.create_organisation(session, actor=Actor(user=admin), code="B", name="Bench")
        projects.create_project(session, actor=Actor(user=admin), organisation=org, name="Bench")
        session.commit()
    client = app.test_client()
    headers = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()}
    xml = data_file("forms/geo_types.xml").read_bytes()
    res = client.post(
        "/v1/projects/1/forms?publish=true", data=xml, content_type="application/xml", headers=headers
    )
    assert res.status_code == 200, res.json
    for n in range(submissions):
        res = client.post(
            "/v1/projects/1/forms/geotest/submissions",
            data=geo_instance(xml, n, plurals=2).encode(),
            content_type="application/xml",
            headers=headers,
        )
        assert res.status_code == 200, res.json
    return app, client, headers


def _read_all(client: FlaskClient, headers: dict[str, str], table: str) -> int:
    url = f"/v1/projects/1/forms/geotest.svc/{table}"
    rows = 0
    while url:
        res = client.get(url, headers=headers)
        assert res.status_code == 200, res.json
        body = res.json
        rows += len(body["value"])
        link = body.get("@odata.nextLink")
        url = f"{urlsplit(link).path}?{urlsplit(link).query}" if link else ""
    return rows


def run(kind: str, submissions: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, client, headers = _setup(kind, Path(tmp), submissions)
        for table, expected in (
            ("Submissions", submissions),
            ("Submissions.plural.nested_repeat", 2 * submissions),
        ):
            rates = []
            for _ in range(runs):
                start = time.perf_counter()
                rows = _read_all(client, headers, table)
                rates.append(rows / (time.perf_counter() - start))
                assert rows == expected, (rows, expected)
            tracemalloc.start()
            _read_all(client, headers, table)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{kind:10} {table:34} {expected:6} rows  median {statistics.median(rates):7.0f} rows/s  "
                f"peak memory {peak / 1e6:5.1f} MB"
            )
        get_database(app).dispose()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks odata")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--submissions", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for kind in kinds:
        run(kind, args.submissions, args.runs)
    return 0
