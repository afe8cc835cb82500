"""Hub sync over a link shaped like 2G, beside posting the same submissions one by one (as Collect
does: HEAD then a multipart POST per submission) over the same shaped link.

The central Ruta runs as ``ruta serve`` on a fresh database (``--db``); the hub on its own SQLite. The
link is tests/app/link_relay.py (user space, loopback only): ``--rate`` bytes/s each way, ``--rtt``,
``--loss`` (as retransmit delay). The hub holds ``--submissions`` household submissions (~7 KB of XML
each, tests/app/household.py), one in ``--photo-every`` with an incompressible 50 KB photo. Each run:
``ruta hub sync`` with its defaults, timed, bytes on the link counted; then the one-by-one posting of
the same submissions (fresh instanceIDs) to the central, timed and counted. ``--outages 20@30,20@90``
cuts the link for 20 s at 30 s into the sync and at 90 s (the issue's scenario is
``20@30,20@90,300@150``). Each run checks that the central holds exactly what the hub holds.

    python -m tests.benchmarks hub_link [--submissions 1000] [--photo-every 10] [--rate 8000]
        [--rtt 0.3] [--loss 0.03] [--runs 3] [--db sqlite|postgresql] [--outages ...] [--no-one-by-one]

Target (issue 22): at 64 kbit/s, 300 ms, 3% loss, 1,000 submissions: <= 0.3x the time and <= 0.4x
the bytes of one-by-one posting.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import requests
from sqlalchemy import func, select

from tests.app.household import household_form, household_instance
from tests.app.hub_helpers import COLLECT, REPO, free_port, hub_cli, new_hub, phone_post, serve, stop
from tests.app.link_relay import ShapedLink
from tests.benchmarks.common import bench_app, fresh_database

PG_DB = "ruta_hub_link_bench"


def _submission(i: int, photo_every: int, tag: str) -> tuple[bytes, dict[str, bytes]]:
    with_photo = i % photo_every == 0
    xml = household_instance(f"uuid:{tag}-{i}", i, photo=f"p{i}.jpg" if with_photo else "")
    return xml, ({f"p{i}.jpg": random.Random(i).randbytes(50_000)} if with_photo else {})


def _post_all(root: str, n: int, photo_every: int, tag: str, threads: int = 1) -> None:
    def one(i: int, http: requests.Session) -> None:
        assert http.head(f"{root}/submission", headers=COLLECT, timeout=600).status_code == 204
        assert phone_post(root, *_submission(i, photo_every, tag), session=http) == 201

    def worker(k: int) -> None:
        http = requests.Session()
        for i in range(k, n, threads):
            one(i, http)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def run(args: argparse.Namespace, run_no: int) -> dict[str, float]:
    from app.db import get_database
    from app.models import SubmissionVersion

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = fresh_database(args.db, PG_DB, tmp)
        app, client, headers, pid = bench_app(url, tmp, household_form())
        token = client.post(f"/v1/projects/{pid}/hubs", json={"name": "bench"}, headers=headers).json["token"]
        device = client.post(f"/v1/projects/{pid}/app-users", json={"displayName": "p"}, headers=headers).json
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_SECRET_KEY": "b",
            "RUTA_ODK_VALIDATE": "false",
        }
        central_port = free_port()
        central = serve(env, central_port)
        link = ShapedLink(central_port, rate=args.rate, rtt=args.rtt, loss=args.loss, seed=run_no)
        hub_proc = None
        try:
            site = new_hub(tmp, link.url, pid, token)
            assert hub_cli(site.env, "sync", "--quiet", timeout=3600)[0] == 0
            hub_port = free_port()
            hub_proc = serve(site.env, hub_port)
            hub_root = (
                f"http://127.0.0.1:{hub_port}/v1/key/{site.phone_token()}/projects/{site.local_project}"
            )
            _post_all(hub_root, args.submissions, args.photo_every, f"hub{run_no}", threads=4)

            before, started = link.counts(), time.monotonic()
            sync = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "hub", "sync", "--quiet"],
                env=site.env, cwd=REPO, stdout=subprocess.PIPE,
            )  # fmt: skip
            for spec in filter(None, args.outages.split(",")):
                length, at = (float(x) for x in spec.split("@"))
                while time.monotonic() - started < at and sync.poll() is None:
                    time.sleep(0.2)
                if sync.poll() is None:
                    link.outage(length)
            out, _ = sync.communicate(timeout=24 * 3600)
            sync_seconds, sync_bytes = time.monotonic() - started, link.counts() - before
            report = json.loads(out)
            assert sync.returncode == 0 and report["pending"] == 0, report
            with app.app_context(), get_database(app).session_scope() as s:
                held = s.scalar(select(func.count()).select_from(SubmissionVersion))
            assert held == args.submissions, (held, args.submissions)

            result = {
                "sync_s": sync_seconds,
                "sync_bytes_per_sub": sync_bytes / args.submissions,
            }
            if not args.no_one_by_one:
                root = f"{link.url}/v1/key/{device['token']}/projects/{pid}"
                before, started = link.counts(), time.monotonic()
                _post_all(root, args.submissions, args.photo_every, f"one{run_no}")
                result["one_s"] = time.monotonic() - started
                result["one_bytes_per_sub"] = (link.counts() - before) / args.submissions
                result["time_ratio"] = result["sync_s"] / result["one_s"]
                result["bytes_ratio"] = result["sync_bytes_per_sub"] / result["one_bytes_per_sub"]
            return result
        finally:
            if hub_proc is not None:
                stop(hub_proc)
            link.close()
            stop(central)
            get_database(app).dispose()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks hub_link")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--photo-every", type=int, default=10)
    parser.add_argument("--rate", type=float, default=8000.0, help="bytes/s each way (8000 = 64 kbit/s)")
    parser.add_argument("--rtt", type=float, default=0.3)
    parser.add_argument("--loss", type=float, default=0.03)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--outages", default="", help="LENGTH@AT,... seconds into the sync")
    parser.add_argument("--no-one-by-one", action="store_true")
    args = parser.parse_args(list(argv))
    results: list[dict[str, float]] = []
    for n in range(args.runs):
        results.append(run(args, n))
        print(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in results[-1].items()), flush=True)
    print("median: " + ", ".join(f"{k} {statistics.median(r[k] for r in results):.2f}" for k in results[0]))
    print("target: time_ratio <= 0.30, bytes_ratio <= 0.40 (64 kbit/s, 300 ms, 3% loss, 1,000 submissions)")
    return 0
