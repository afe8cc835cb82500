"""What data-quality flags cost ingest: the same submissions with every flag configured (minimum interview
length, duplicate key field, the project's countries) and with every flag disabled, through both paths,
in-process (auth, parsing, ingest, commit):

- batch: ``POST /v1/projects/{pid}/submissions/batch``, zips of 500 (one duplicate query per form per batch);
- openrosa: one ``POST <root>/submission`` per submission with an app-user token (one index probe each).

One in twenty submissions repeats an earlier document number (a likely duplicate) and one in twenty lies
outside the project's countries. Each run starts from an empty database and fails (exit 1) unless every
submission was stored and the flags came out as sent. Prints the median of the runs.

    python -m tests.benchmarks quality [--db postgresql|sqlite] [--batch-submissions 10000]
        [--openrosa-submissions 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.app.test_quality import MADRID, QUALITY_FORM, household
from tests.benchmarks.common import bench_app
from tests.benchmarks.common import fresh_database as common_fresh_database

PG_DB = "ruta_quality_bench"


def fresh_database(kind: str, tmp: Path) -> str:
    return common_fresh_database(kind, PG_DB, tmp)


def _setup(url: str, tmp: Path, flags_on: bool) -> tuple[Any, Any, dict[str, str], int, str]:
    app, client, headers, pid = bench_app(url, tmp, QUALITY_FORM, countries=["ECU", "COL"])
    settings = (
        {"minInterviewMinutes": 5, "duplicateKeyFields": ["doc_id"]} if flags_on else {"enabledFlags": []}
    )
    res = client.put(f"/v1/projects/{pid}/forms/household/quality", json=settings, headers=headers)
    assert res.status_code == 200, res.json
    device = client.post(f"/v1/projects/{pid}/app-users", json={"displayName": "bench"}, headers=headers)
    return app, client, headers, pid, device.json["token"]  # type: ignore[index]


def _xml(i: int) -> bytes:
    doc = f"D-{i - 7}" if i % 20 == 7 and i > 7 else f"D-{i}"  # one in twenty repeats an earlier one
    location = MADRID if i % 20 == 13 else "-0.1807 -78.4678 2850 5"
    return household(f"uuid:q-{i}", doc=doc, location=location)


def _zip(items: range) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in items:
            zf.writestr(f"i{i}/i{i}.xml", _xml(i))
    return buf.getvalue()


def _check(app: Any, n: int, flags_on: bool) -> None:
    from app.db import get_database
    from app.models import Submission

    with app.app_context(), get_database(app).session_scope() as s:
        stored = s.scalar(sa.select(sa.func.count()).select_from(Submission))
        dup = s.scalar(sa.select(sa.func.count()).where(Submission.flag_codes.like("% likely_duplicate %")))
        outside = s.scalar(
            sa.select(sa.func.count()).where(Submission.flag_codes.like("% geopoint_outside %"))
        )
    want_dup = sum(1 for i in range(n) if i % 20 == 7 and i > 7) if flags_on else 0
    want_outside = sum(1 for i in range(n) if i % 20 == 13) if flags_on else 0
    if (stored, dup, outside) != (n, want_dup, want_outside):
        raise SystemExit(
            f"expected {(n, want_dup, want_outside)} (stored, dup, outside), got {(stored, dup, outside)}"
        )
    get_database(app).dispose()


def batch_run(kind: str, n: int, flags_on: bool, tmp: Path) -> float:
    app, client, headers, pid, _ = _setup(fresh_database(kind, tmp), tmp, flags_on)
    bodies = [_zip(range(start, min(start + 500, n))) for start in range(0, n, 500)]
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
    rate = n / (time.perf_counter() - started)
    _check(app, n, flags_on)
    return rate


def openrosa_run(kind: str, n: int, flags_on: bool, tmp: Path) -> float:
    from tests.app.openrosa_helpers import OR_HEADERS

    app, client, _headers, pid, token = _setup(fresh_database(kind, tmp), tmp, flags_on)
    url = f"/v1/key/{token}/projects/{pid}/submission?deviceID=collect:BENCH"
    bodies = [_xml(i) for i in range(n)]
    started = time.perf_counter()
    for xml in bodies:
        res = client.post(
            url,
            data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
            content_type="multipart/form-data",
            headers=OR_HEADERS,
        )
        if res.status_code != 201:
            raise SystemExit(f"submission failed: {res.status_code} {res.data[:300]!r}")
    rate = n / (time.perf_counter() - started)
    _check(app, n, flags_on)
    return rate


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks quality")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--batch-submissions", type=int, default=10_000)
    parser.add_argument("--openrosa-submissions", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, run, n in (
            ("batch", batch_run, args.batch_submissions),
            ("openrosa", openrosa_run, args.openrosa_submissions),
        ):
            medians = {}
            for flags_on in (False, True):
                rates = [run(args.db, n, flags_on, tmp) for _ in range(args.runs)]
                medians[flags_on] = statistics.median(rates)
                label = "flags on " if flags_on else "flags off"
                listed = ", ".join(f"{r:.0f}" for r in rates)
                rate = medians[flags_on]
                print(
                    f"{args.db} {name:8} {label}: {rate:8.0f} submissions/s (median of {args.runs}: {listed})"
                )
            cost = (medians[False] / medians[True] - 1) * 100
            print(f"{args.db} {name:8} cost of flags: {cost:+.1f}% time per submission", flush=True)
    return 0
