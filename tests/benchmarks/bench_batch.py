"""Batch ingest benchmark: 20,000 small submissions in batches of 500 through
``POST /v1/projects/{pid}/submissions/batch`` (zip bodies, the whole request path in-process: auth,
zip reading, classification, bulk insert, commit), beside the floor: a plain multi-row INSERT of the
same rows (submissions, submission_versions, audit_events) on the same database, 500 rows a commit,
prepared in advance and written with the same fastest multi-row INSERT
(``app.services.submissions.bulk_insert``).

Each run starts from an empty database. The run fails (exit 1) unless every item was created and the
database holds exactly the submissions sent. Prints the median of the runs.

    python -m tests.benchmarks batch [--db postgresql|sqlite] [--submissions 20000] [--batch 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from tests.app.batch_helpers import make_zip
from tests.app.openrosa_helpers import SIMPLE_FORM, instance
from tests.benchmarks.common import bench_app, sa_url
from tests.benchmarks.common import fresh_database as common_fresh_database

PG_DB = "ruta_hubs_bench"
TARGET = "target: >= 3000 submissions/s and within 3x of the plain INSERT rate (PostgreSQL)"


def _sa_url(url: str) -> str:
    return sa_url(url)


def fresh_database(kind: str, tmp: Path) -> str:
    return common_fresh_database(kind, PG_DB, tmp)


def _setup(url: str, tmp: Path) -> tuple[Any, Any, dict[str, str], int]:
    return bench_app(url, tmp, SIMPLE_FORM)


def _xml(run: int, i: int) -> bytes:
    return instance(f"uuid:bench-{run}-{i}", name=f"Persona {i}", age=str(18 + i % 60), photo="")


def batch_run(kind: str, run: int, n: int, size: int, tmp: Path) -> float:
    from app.db import get_database
    from app.models import Submission

    url = fresh_database(kind, tmp)
    app, client, headers, pid = _setup(url, tmp)
    bodies = [
        make_zip({f"i{i}": {f"i{i}.xml": _xml(run, i)} for i in range(start, min(start + size, n))})
        for start in range(0, n, size)
    ]
    started = time.perf_counter()
    for body in bodies:
        res = client.post(
            f"/v1/projects/{pid}/submissions/batch",
            data=body,
            content_type="application/zip",
            headers=headers,
        )
        if res.status_code != 200 or set(res.json["counts"]) != {"created"}:  # type: ignore[index]
            raise SystemExit(f"batch failed: {res.status_code} {str(res.json)[:300]}")
    elapsed = time.perf_counter() - started
    with app.app_context(), get_database(app).session_scope() as s:
        stored = s.scalar(sa.select(sa.func.count()).select_from(Submission))
    if stored != n:
        raise SystemExit(f"expected {n} submissions, found {stored}")
    get_database(app).dispose()
    return n / elapsed


def insert_run(kind: str, run: int, n: int, size: int, tmp: Path) -> float:
    """The floor: the same rows, prepared in advance, with multi-row INSERTs and a commit per batch."""
    from app.db import get_database, utcnow
    from app.models import AuditEvent, Form, FormVersion, Project, Submission, SubmissionVersion
    from app.services.submissions import bulk_insert

    url = fresh_database(kind, tmp)
    app, _client, _headers, pid = _setup(url, tmp)
    db = get_database(app)
    with db.session_scope() as s:
        form_id, version_id = s.execute(
            sa.select(Form.id, FormVersion.id).join(FormVersion, FormVersion.form_id == Form.id)
        ).one()
        # Every record names the organisation it is collected for (migration 0017): the project's.
        organisation_id = s.scalar(sa.select(Project.organisation_id).where(Project.id == pid))
    now = utcnow()
    started = time.perf_counter()
    S, V, A = (cast(sa.Table, m.__table__) for m in (Submission, SubmissionVersion, AuditEvent))
    for start in range(0, n, size):
        idx = range(start, min(start + size, n))
        with db.session_scope() as conn:
            subs = [
                {
                    "form_id": form_id,
                    "instance_id": f"uuid:floor-{i}",
                    "organisation_id": organisation_id,
                    "review_state": "received",
                    "instance_name": None,
                    "is_encrypted": False,
                    "attachments_expected": 0,
                    "attachments_present": 0,
                    "quality_flags": [],
                    "flag_codes": "",
                    "created_at": now,
                }
                for i in idx
            ]
            ids = bulk_insert.insert_returning_ids(conn, S, subs)
            vers = []
            for i, sub_id in zip(idx, ids, strict=True):
                xml = _xml(run, i)
                vers.append(
                    {
                        "submission_id": sub_id,
                        "form_id": form_id,
                        "form_version_id": version_id,
                        "instance_id": f"uuid:floor-{i}",
                        "xml": xml,
                        "sha256": hashlib.sha256(xml).hexdigest(),
                        "values": {"name": f"Persona {i}", "age": 18 + i % 60},
                        "value_problems": [],
                        "received_at": now,
                    }
                )
            bulk_insert.insert_rows(conn, V, vers)
            audits = [
                {
                    "action": "submission.create",
                    "project_id": pid,
                    "subject_type": "submission",
                    "subject_id": f"uuid:floor-{i}",
                    "details": {},
                    "created_at": now,
                }
                for i in idx
            ]
            bulk_insert.insert_rows(conn, A, audits)
            conn.commit()
    elapsed = time.perf_counter() - started
    db.dispose()
    return n / elapsed


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks batch")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    batch_rates, insert_rates = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            batch_rates.append(batch_run(args.db, run, args.submissions, args.batch, Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            insert_rates.append(insert_run(args.db, run, args.submissions, args.batch, Path(tmp)))
        print(
            f"run {run + 1}: batch {batch_rates[-1]:.0f}/s, plain INSERT {insert_rates[-1]:.0f}/s", flush=True
        )
    batch, floor = statistics.median(batch_rates), statistics.median(insert_rates)
    print(
        f"{args.db}: {args.submissions} submissions in batches of {args.batch}, median of {args.runs}: "
        f"batch ingest {batch:.0f} submissions/s; plain bulk INSERT {floor:.0f} rows/s; "
        f"ratio {floor / batch:.2f}x"
    )
    print(TARGET)
    return 0
