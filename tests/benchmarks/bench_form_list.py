"""formList benchmark: the time of one ``GET <root>/formList`` (a device token, as ODK Collect asks on
every "Get blank form" and update check) against a real ``ruta serve`` (gunicorn), with 1, 20 and 100
published forms in the project (every third one with media, so its entry carries a manifest URL).

Per database: a migrated database with an admin, a project and a device token (in-process), then the
server; at each size, ``--runs`` batches of ``--requests`` sequential requests on one keep-alive
connection after a warm-up; each batch's median, and the median of those is reported. Every answer must
be a 200 listing exactly the forms published, or the benchmark fails (exit status 1).

    python -m tests.benchmarks form_list [--db postgresql|sqlite|both] [--runs 5] [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from app.db import get_database
from tests.app.openrosa_helpers import form_xml
from tests.benchmarks.bench_ingest import (
    HOST,
    BenchmarkFailure,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
)
from tests.benchmarks.common import bench_app, fresh_database

SIZES = (1, 20, 100)
CENTRAL_MS_AT_20 = 9.7  # ODK Central 2024.x on this machine, 20 forms (issue 15)
TARGETS = (
    f"target: 100 forms <= 2x the time of 1 form, and < {CENTRAL_MS_AT_20} ms at 20 forms "
    f"(ODK Central on this machine: {CENTRAL_MS_AT_20} ms at 20 forms)"
)


def _form_id(i: int) -> str:
    return f"f{i:03d}"


def measure(port: int, path: str, expected: int, requests: int) -> float:
    """The median milliseconds of ``requests`` formList requests on one keep-alive connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2026.1.0"}
    times = []
    try:
        for _ in range(requests):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            res = conn.getresponse()
            body = res.read()
            times.append((time.perf_counter() - start) * 1000)
            if res.status != 200:
                raise BenchmarkFailure(f"formList answered {res.status}: {body[:300]!r}")
            listed = re.findall(rb"<formID>([^<]+)</formID>", body)
            if [x.decode() for x in listed] != [_form_id(i) for i in range(expected)]:
                raise BenchmarkFailure(f"formList listed {len(listed)} forms, expected {expected}")
    finally:
        conn.close()
    return statistics.median(times)


def run(db: str, runs: int, requests: int, workers: int, threads: int) -> dict[int, list[float]]:
    medians: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ruta-bench-formlist-") as tmp_name:
        tmp = Path(tmp_name)
        url = fresh_database(db, "ruta_bench_form_list", tmp)
        app, client, headers, pid = bench_app(url, tmp, form_xml(_form_id(0), media=1))
        token = client.post(f"/v1/projects/{pid}/app-users", json={"displayName": "phone"}, headers=headers)
        path = f"/v1/key/{token.json['token']}/projects/{pid}/formList"  # type: ignore[index]
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_SECRET_KEY": "b",
            "RUTA_ODK_VALIDATE": "false",
        }
        port = free_port()
        server = start_server(env, port, workers, threads, tmp / "server.log")
        try:
            wait_healthy(f"http://{HOST}:{port}", server)
            published = 1
            for size in SIZES:
                while published < size:
                    res = client.post(
                        f"/v1/projects/{pid}/forms?publish=true&ignoreWarnings=true&overrideReason=benchmark",
                        data=form_xml(_form_id(published), media=1 if published % 3 == 0 else 0),
                        content_type="application/xml",
                        headers=headers,
                    )
                    if res.status_code != 200:
                        raise BenchmarkFailure(f"publishing failed: {res.status_code} {res.text[:300]}")
                    published += 1
                measure(port, path, size, 20)  # warm-up: every worker's connections and caches
                medians[size] = [measure(port, path, size, requests) for _ in range(runs)]
                print(
                    f"... {db} {size} forms: batch medians "
                    + ", ".join(f"{m:.2f}" for m in medians[size])
                    + " ms",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            stop_server(server)
            get_database(app).dispose()
    return medians


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks form_list", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="requests per batch (default 200)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.requests < 1:
        parser.error("--runs and --requests must be positive")
    lines = []
    for db in ["postgresql", "sqlite"] if args.db == "both" else [args.db]:
        try:
            medians = run(db, args.runs, args.requests, args.workers, args.threads)
        except BenchmarkFailure as exc:
            print(f"\nBENCHMARK FAILED ({db}): {exc}", file=sys.stderr)
            return 1
        at = {size: statistics.median(values) for size, values in medians.items()}
        for size in SIZES:
            lines.append(
                f"form_list  {db:<10}  forms={size:>3}  median={at[size]:6.2f} ms  "
                f"(median of {args.runs} batches of {args.requests}; "
                f"server {args.workers}w x {args.threads}t)"
            )
        lines.append(f"form_list  {db:<10}  100 forms / 1 form = {at[100] / at[1]:.2f}x")
    print()
    print("\n".join(lines))
    print(TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
