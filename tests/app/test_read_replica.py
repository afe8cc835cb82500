"""The optional read replica (RUTA_DATABASE_REPLICA_URL): exports and OData read it, audit events go to
the primary, and a client that just wrote reads the primary for a while (the pin cookie).

The replica here is a second database holding a snapshot of the primary taken mid-test (on PostgreSQL
a database created from the primary as its template, on SQLite a backup copy): it stands in for a
streaming replica that lags, which is what the routing must cope with. It is not streaming
replication; nothing here tests PostgreSQL's replication itself."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from app import create_app, replica
from app.db import get_database
from tests.app import indicator_fixtures as fx
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.openrosa_helpers import (
    OR_HEADERS,
    SIMPLE_FORM,
    device_token,
    instance,
    post_submission,
    publish_xml,
    root,
)


def snapshot(primary_url: str, tmp_path: Path) -> str:
    """A copy of the primary as it is now: the replica, frozen at this moment."""
    if primary_url.startswith("sqlite"):
        target = tmp_path / "replica.sqlite3"
        src = sqlite3.connect(primary_url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return f"sqlite:///{target}"
    url = sa.make_url(primary_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}_replica"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False).replace("+psycopg", "", 1)


@pytest.fixture
def replicated(world: World, app_config: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """One submission stored, then the replica taken; the app under test reads that replica."""
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:before"), {"a.jpg": b"p"}).status_code
        == 201
    )
    get_database(world.app).dispose()  # PostgreSQL copies a template only while nobody is connected to it
    replica_url = snapshot(app_config["DATABASE_URL"], tmp_path)
    app = create_app({**app_config, "DATABASE_REPLICA_URL": replica_url})
    app.config["DEVICE_TOKEN"] = token
    try:
        yield app, replica_url
    finally:
        get_database(app).dispose()
        replica.dispose(app)


def _ids(client: FlaskClient, headers: dict[str, str], project_id: int) -> list[str]:
    res = client.get(f"/v1/projects/{project_id}/forms/photo.svc/Submissions", headers=headers)
    assert res.status_code == 200, res.json
    return sorted(row["__id"] for row in res.json["value"])


def _csv(client: FlaskClient, headers: dict[str, str], project_id: int, method: str = "GET") -> str:
    url = f"/v1/projects/{project_id}/forms/photo/submissions.csv?reviewState=all"
    res = client.open(url, method=method, headers=headers)
    assert res.status_code == 200, res.data[:300]
    assert "ruta_primary" not in res.headers.get("Set-Cookie", "")  # an export is a read: no pin
    return res.get_data(as_text=True)


def _count(url: str, sql: str) -> int:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_reads_go_to_the_replica_until_the_same_client_writes(
    world: World, replicated: tuple[Flask, str], app_config: dict[str, Any]
) -> None:
    app, replica_url = replicated
    pid = world.project_id
    # A second submission, through the app under test: on the primary only (the replica lags).
    device = app.test_client()
    data: MultiDict[str, Any] = MultiDict()
    data.add("xml_submission_file", (io.BytesIO(instance("uuid:after")), "x.xml", "text/xml"))
    path = f"{root(world, app.config['DEVICE_TOKEN'])}/submission"
    assert device.post(path, data=data, headers=OR_HEADERS).status_code == 201

    headers = world.headers("manager")
    reader = app.test_client()
    # OData and exports read the replica: the lagging copy has only the first submission.
    assert _ids(reader, headers, pid) == ["uuid:before"]
    csv = _csv(reader, headers, pid)
    assert "uuid:before" in csv and "uuid:after" not in csv
    assert "uuid:after" not in _csv(reader, headers, pid, method="POST")
    # Their audit events are written to the primary, never to the replica.
    exports_sql = "SELECT count(*) FROM audit_events WHERE action = 'submission.export'"
    assert _count(app_config["DATABASE_URL"], exports_sql) == 3
    assert _count(replica_url, exports_sql) == 0

    # The same client writes (a review): pinned to the primary, it sees everything at once.
    res = reader.patch(
        f"/v1/projects/{pid}/forms/photo/submissions/uuid:before",
        json={"reviewState": "approved"},
        headers=headers,
    )
    assert res.status_code == 200, res.json
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith("ruta_primary=1;") and "Max-Age=15" in cookie and "HttpOnly" in cookie
    assert _ids(reader, headers, pid) == ["uuid:after", "uuid:before"]
    assert "uuid:after" in _csv(reader, headers, pid)
    rows = reader.get(f"/v1/projects/{pid}/forms/photo.svc/Submissions", headers=headers).json["value"]
    assert {r["__id"]: r["__system"]["reviewState"] for r in rows}["uuid:before"] == "approved"

    # Another client that did not write reads the replica still.
    assert _ids(app.test_client(), headers, pid) == ["uuid:before"]


def test_without_a_replica_nothing_changes(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:one"), {"a.jpg": b"p"}).status_code == 201
    )
    headers = world.headers("manager")
    assert _ids(world.client, headers, world.project_id) == ["uuid:one"]
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/photo/submissions/uuid:one",
        json={"reviewState": "approved"},
        headers=headers,
    )
    assert res.status_code == 200
    assert "ruta_primary" not in res.headers.get("Set-Cookie", "")


def test_indicator_values_are_read_from_the_replica(
    world: World, app_config: dict[str, Any], tmp_path: Path
) -> None:
    """Indicator values (JSON and CSV) and their freshness come from the replica: a client that did not
    write sees the figures of the snapshot, while the primary has moved on."""
    version = fx.publish_household(world)
    pid = world.project_id
    url = f"/v1/projects/{pid}/indicators?indicator=NEED-03"
    csv_url = f"/v1/projects/{pid}/indicators.csv?indicator=NEED-03"
    headers = world.headers("manager")

    def households(first: int, water: str) -> None:
        # Six at a time: fewer would be suppressed as small cells, and hide the change.
        for n in range(first, first + 6):
            xml = fx.household_xml(
                version, f"hh-{n}", country="COL", water=water, assistance="yes", ages=[30]
            )
            fx.submit(world, fx.HH, xml)
            fx.review(world, fx.HH, f"hh-{n}", "approved")
        run_jobs(world.app)

    households(0, "no")
    before = world.client.get(url, headers=headers).json
    before_csv = world.client.get(csv_url, headers=headers).get_data(as_text=True)
    assert [v["value"] for v in before["values"] if not v["suppressed"]], before
    get_database(world.app).dispose()
    app = create_app({**app_config, "DATABASE_REPLICA_URL": snapshot(app_config["DATABASE_URL"], tmp_path)})
    try:
        households(6, "yes")
        on_primary = world.client.get(url, headers=headers).json
        assert on_primary["values"] != before["values"]
        reader = app.test_client()
        replica_json = reader.get(url, headers=headers).json
        assert replica_json["values"] == before["values"]
        assert replica_json["freshness"] == before["freshness"]
        assert reader.get(csv_url, headers=headers).get_data(as_text=True) == before_csv
        assert world.client.get(csv_url, headers=headers).get_data(as_text=True) != before_csv
    finally:
        get_database(app).dispose()
        replica.dispose(app)
