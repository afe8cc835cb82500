"""Where one device submission's time goes: the ingest path in-process, statement by statement.

Runs the Flask app in this process on a fresh database (no gunicorn, no network), sends HEAD + POST pairs
like the ingest benchmark (one in ten with a 100 KB photo), and prints: the SQL statements of one pair
(with and without a photo), the CPU and wall time per pair, and a cProfile of the rest, so a change to the
hot path can be judged by what it removes. Not a throughput figure: see ``ingest`` for that.

    python -m tests.benchmarks ingest_profile [--db postgresql|sqlite] [--pairs 400] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from urllib3 import encode_multipart_formdata

from tests.app.openrosa_helpers import SIMPLE_FORM, instance
from tests.benchmarks.bench_ingest import PG_ADMIN_URL, PHOTO_BYTES, PHOTO_EVERY, fresh_postgres

HEADERS = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2026.1.0"}


def _setup(database_url: str, instance_path: Path) -> tuple[Any, str, int]:
    from app import create_app
    from app.auth.actor import Actor
    from app.blobs import get_blob_store
    from app.cli import upgrade_database
    from app.db import get_database
    from app.services import projects
    from app.services.accounts import app_users
    from app.services.accounts import people as accounts
    from app.services.publishing import versions as form_service

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance_path),
            "SECRET_KEY": "profile",
            "ODK_VALIDATE": False,
        }
    )
    upgrade_database(app)
    with app.app_context(), get_database(app).session_scope() as s:
        admin = accounts.create_user(
            s, actor=None, email="p@ruta.local", password="profile-password-1", realm="r", is_admin=True
        )
        actor = Actor(user=admin)
        org = projects.create_organisation(s, actor=actor, code="PRF", name="Profile")
        project = projects.create_project(s, actor=actor, organisation=org, name="Profile", countries=["COL"])
        form_service.create_form(
            s,
            actor=actor,
            project=project,
            data=SIMPLE_FORM,
            store=get_blob_store(app),
            filename="photo.xml",
            publish=True,
            ignore_warnings=True,
            run_validate=False,
        )
        token = app_users.create_app_user(s, actor=None, project=project, display_name="d").token
        s.commit()
        return app, token, project.id


def _bodies(n: int) -> list[tuple[bytes, str]]:
    bodies = []
    for i in range(n):
        iid = f"uuid:{uuid.uuid4()}"
        fields: list[tuple[str, tuple[str, bytes, str]]] = []
        if i % PHOTO_EVERY == 0:
            name = f"p{i}.jpg"
            xml = instance(iid, name=f"P {i}", age="20", photo=name)
            fields = [(name, (name, os.urandom(PHOTO_BYTES), "image/jpeg"))]
        else:
            xml = instance(iid, name=f"P {i}", age="20", photo="")
        fields.insert(0, ("xml_submission_file", ("xml_submission_file.xml", xml, "text/xml")))
        bodies.append(encode_multipart_formdata(fields))
    return bodies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks ingest_profile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", metavar="PATH", help="also write the cProfile to PATH (pstats format)")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--pg-database", default="ruta_bench_profile")
    args = parser.parse_args(argv)
    if args.pairs < 30:
        parser.error("--pairs must be at least 30")
    tmp = Path(tempfile.mkdtemp(prefix="ruta-profile-"))
    try:
        url = (
            fresh_postgres(args.pg_admin_url, args.pg_database)
            if args.db == "postgresql"
            else f"sqlite:///{tmp / 'ruta.sqlite3'}"
        )
        app, token, project_id = _setup(url, tmp / "instance")
        from app.db import get_database

        client = app.test_client()
        path = f"/v1/key/{token}/projects/{project_id}/submission?deviceID=collect:PROFILE"
        bodies = _bodies(args.pairs)

        def pair(i: int) -> None:
            body, ctype = bodies[i]
            head = client.head(path, headers=HEADERS)
            post = client.post(path, data=body, headers={**HEADERS, "Content-Type": ctype})
            if head.status_code != 204 or post.status_code != 201:
                raise SystemExit(f"HEAD {head.status_code}, POST {post.status_code}: {post.data[:300]!r}")

        statements: list[str] = []

        def log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(" ".join(statement.split())[:140])

        for i in range(1, 10):  # warm up: caches, prepared statements, a photo first
            pair(i)
        event.listen(get_database(app).engine, "before_cursor_execute", log)
        pair(11)
        plain = list(statements)
        statements.clear()
        pair(10)
        photo = list(statements)
        event.remove(get_database(app).engine, "before_cursor_execute", log)
        print(f"SQL statements per HEAD + POST ({args.db}): {len(plain)}; with a photo: {len(photo)}")
        print("\n".join(f"  {s}" for s in plain))

        half = 12 + (args.pairs - 12) // 2
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(12, half):
            pair(i)
        n = half - 12
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"\nper HEAD + POST (in-process, {n} pairs): "
            f"wall {wall / n * 1000:.2f} ms, CPU {cpu / n * 1000:.2f} ms"
        )

        profile = cProfile.Profile()
        profile.enable()
        for i in range(half, args.pairs):
            pair(i)
        profile.disable()
        if args.dump:
            profile.dump_stats(args.dump)
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"\ncProfile of {args.pairs - half} pairs: {stats.total_calls} calls")  # type: ignore[attr-defined]
        stats.sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        get_database(app).dispose()
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
