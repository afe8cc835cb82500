"""Ingest benchmark: ODK Collect-like submissions against a real ``ruta serve`` (gunicorn).

For every database and client count, and every run: a fresh database and instance folder, ``ruta init``,
a device token (``ruta app-user``), the photo form published through the API, then the server under
load: per submission a HEAD <root>/submission (204) and a multipart POST (201), one in ten with a
100 KB "photo". Afterwards the database must hold exactly what was sent and every answer must have been
204/201, or the benchmark fails (exit status 1). Reports the median of the runs.

    python -m tests.benchmarks ingest [--db postgresql|sqlite|both] [--submissions N] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from urllib3 import encode_multipart_formdata

from tests.app.openrosa_helpers import SIMPLE_FORM, instance
from tests.benchmarks.common import PG_ADMIN_URL, sa_url
from tests.benchmarks.common import fresh_postgres as common_fresh_postgres

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
ADMIN_EMAIL = "bench@ruta.local"
PG_BENCH_DB = "ruta_bench"
PHOTO_EVERY = 10
PHOTO_BYTES = 100 * 1024
CLIENT_COUNTS = (1, 8)
# gunicorn layout per database, sized for a 2-core machine. SQLite serialises writers (BEGIN
# IMMEDIATE), so more processes only add lock contention.
SERVER_LAYOUT = {"postgresql": (3, 8), "sqlite": (2, 4)}  # as `ruta serve` on 2 cores (PG)
TARGETS = (
    "target: >= 400 submissions/s with 8 clients on PostgreSQL, p95 < 100 ms; "
    "ODK Central on this machine: ~135/s (8 clients), ~80/s (1 client)"
)
SERVE = [sys.executable, "-m", "app.cli", "serve"]
COLLECT_HEADERS = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2026.1.0"}


class BenchmarkFailure(Exception):
    pass


@dataclass
class RunResult:
    submissions: int
    wall_seconds: float
    total_ms: list[float]  # HEAD + POST per submission
    post_ms: list[float]
    # CPU seconds spent during the load by the server's processes, the database backends serving it,
    # and this client: on a shared machine these move less than the wall-clock figures.
    cpu: dict[str, float] = field(default_factory=dict)
    worker_shares: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.submissions / self.wall_seconds

    def cpu_ms_each(self) -> str:
        return ", ".join(f"{k} {v * 1000 / self.submissions:.1f}" for k, v in self.cpu.items())


@dataclass
class _Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    total_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    bad: Counter[str] = field(default_factory=Counter)
    abort: threading.Event = field(default_factory=threading.Event)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- the server under test --------------------------------------------------------------------------


def _sa_url(url: str) -> str:
    return sa_url(url)


def fresh_postgres(admin_url: str, database: str = PG_BENCH_DB) -> str:
    return common_fresh_postgres(database, admin_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def ruta(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchmarkFailure(f"ruta {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def parse_token(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.strip().startswith("Token:"):
            return line.split("Token:", 1)[1].strip()
    raise BenchmarkFailure(f"no 'Token:' line in ruta app-user output:\n{stdout}")


def start_server(
    env: dict[str, str], port: int, workers: int, threads: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                *SERVE,
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can stop exactly what we started
        )


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkFailure(f"server exited with status {server.returncode} before becoming healthy")
        try:
            if requests.get(f"{base}/v1/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise BenchmarkFailure(f"server not healthy after {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()  # gunicorn: graceful shutdown of the master and its workers
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def publish_form(base: str, password: str) -> str:
    """Publish the photo form; returns the admin's session token."""
    res = requests.post(f"{base}/v1/sessions", json={"email": ADMIN_EMAIL, "password": password}, timeout=30)
    if res.status_code != 200:
        raise BenchmarkFailure(f"login failed: {res.status_code} {res.text[:300]}")
    session_token = str(res.json()["token"])
    res = requests.post(
        f"{base}/v1/projects/1/forms?publish=true&ignoreWarnings=true",
        data=SIMPLE_FORM,
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {session_token}"},
        timeout=60,
    )
    if res.status_code != 200:
        raise BenchmarkFailure(f"publishing the form failed: {res.status_code} {res.text[:300]}")
    return session_token


def more_device_tokens(base: str, session_token: str, count: int) -> list[str]:
    """Extra app users through the API (one per client with --token-per-client)."""
    tokens = []
    for i in range(count):
        res = requests.post(
            f"{base}/v1/projects/1/app-users",
            json={"displayName": f"bench-{i + 2}"},
            headers={"Authorization": f"Bearer {session_token}"},
            timeout=30,
        )
        if res.status_code != 200:
            raise BenchmarkFailure(f"creating an app user failed: {res.status_code} {res.text[:300]}")
        tokens.append(str(res.json()["token"]))
    return tokens


# --- CPU accounting (Linux /proc) ---------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds) of a process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK


def group_cpu(pgid: int) -> dict[int, float]:
    """CPU seconds of each live process in a process group (the gunicorn master and workers)."""
    found_cpu = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _proc_cpu(int(entry.name))) and found[0] == pgid:
            found_cpu[int(entry.name)] = found[1]
    return found_cpu


def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the benchmark's database."""
    engine = sa.create_engine(_sa_url(database_url))
    try:
        with engine.connect() as conn:
            pids = (
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    return {pid: found[1] for pid in pids if (found := _proc_cpu(pid))}


# --- the load ----------------------------------------------------------------------------------------


def build_payloads(n: int) -> tuple[list[tuple[bytes, str]], int]:
    """Encoded multipart bodies, built before the clock starts; and how many carry a photo."""
    payloads = []
    photos = 0
    for i in range(n):
        instance_id = f"uuid:{uuid.uuid4()}"
        fields: list[tuple[str, tuple[str, bytes, str]]] = []
        if i % PHOTO_EVERY == 0:
            name = f"photo-{i}.jpg"
            xml = instance(instance_id, name=f"Bench {i}", age=str(18 + i % 60), photo=name)
            fields = [(name, (name, os.urandom(PHOTO_BYTES), "image/jpeg"))]
            photos += 1
        else:
            xml = instance(instance_id, name=f"Bench {i}", age=str(18 + i % 60), photo="")
        fields.insert(0, ("xml_submission_file", ("xml_submission_file.xml", xml, "text/xml")))
        body, content_type = encode_multipart_formdata(fields)
        payloads.append((body, content_type))
    return payloads, photos


def _exchange(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    return res.status, res.read()  # read it all, so the keep-alive connection can take the next request


def _client(url: str, payloads: list[tuple[bytes, str]], tally: _Tally, start: threading.Barrier) -> None:
    """One device: a keep-alive connection, raw http.client (cheap on the CPU the server needs)."""
    total_ms: list[float] = []
    post_ms: list[float] = []
    bad: Counter[str] = Counter()
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=60)
    start.wait(timeout=60)
    try:
        for body, content_type in payloads:
            if tally.abort.is_set():
                break
            try:
                t0 = time.perf_counter()
                head_status, _ = _exchange(conn, "HEAD", path, None, COLLECT_HEADERS)
                t1 = time.perf_counter()
                post_status, post_body = _exchange(
                    conn, "POST", path, body, {**COLLECT_HEADERS, "Content-Type": content_type}
                )
                t2 = time.perf_counter()
            except (OSError, http.client.HTTPException) as exc:
                bad[f"exception {type(exc).__name__}"] += 1
                tally.abort.set()
                break
            if head_status != 204:
                bad[f"HEAD {head_status}"] += 1
            if post_status != 201:
                bad[f"POST {post_status}: {post_body[:200]!r}"] += 1
            total_ms.append((t2 - t0) * 1000)
            post_ms.append((t2 - t1) * 1000)
            if sum(bad.values()) >= 10:
                tally.abort.set()
                break
    finally:
        conn.close()
    with tally.lock:
        tally.total_ms += total_ms
        tally.post_ms += post_ms
        tally.bad.update(bad)


def drive(root_urls: list[str], clients: int, payloads: list[tuple[bytes, str]]) -> RunResult:
    """Client c sends payloads c, c + clients, ... to root_urls[c % len(root_urls)]."""
    urls = [
        f"{root_urls[c % len(root_urls)]}/submission?deviceID=collect:BENCH{secrets.token_hex(6).upper()}"
        for c in range(clients)
    ]
    tally = _Tally()
    start = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=_client, args=(urls[c], payloads[c::clients], tally, start), daemon=True)
        for c in range(clients)
    ]
    for t in threads:
        t.start()
    start.wait(timeout=60)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=3600)
    wall = time.perf_counter() - t0
    if any(t.is_alive() for t in threads):
        raise BenchmarkFailure("client threads did not finish within an hour")
    if tally.bad:
        details = "; ".join(f"{k} x{v}" for k, v in tally.bad.most_common(5))
        raise BenchmarkFailure(f"unexpected responses: {details}")
    if len(tally.total_ms) != len(payloads):
        raise BenchmarkFailure(f"sent {len(tally.total_ms)} of {len(payloads)} submissions")
    return RunResult(len(payloads), wall, tally.total_ms, tally.post_ms)


def verify(database_url: str, sent: int, photos: int) -> None:
    """The server must hold exactly what was sent: rows, versions and attachments."""
    engine = sa.create_engine(_sa_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(s.attachments_present), 0), "
                    "coalesce(sum(s.attachments_expected), 0) FROM submissions s "
                    "JOIN forms f ON f.id = s.form_id WHERE f.xml_form_id = 'photo' AND f.project_id = 1"
                )
            ).one()
            versions = conn.execute(sa.text("SELECT count(*) FROM submission_versions")).scalar_one()
            files = conn.execute(sa.text("SELECT count(*) FROM submission_attachments")).scalar_one()
    finally:
        engine.dispose()
    count, present, expected = (int(v) for v in row)
    problems = []
    if count != sent or versions != sent:
        problems.append(f"{count} submissions / {versions} versions stored, {sent} sent")
    if present != photos or expected != photos:
        problems.append(f"attachments present {present}, expected {expected}; {photos} photos sent")
    if files < photos:
        problems.append(f"{files} attachment rows for {photos} photos")
    if problems:
        raise BenchmarkFailure("DATA CHECK FAILED: " + "; ".join(problems))


# --- one run, all runs --------------------------------------------------------------------------------


def run_once(
    db: str,
    clients: int,
    n: int,
    workers: int,
    threads: int,
    pg_admin_url: str,
    token_per_client: bool = False,
    pg_database: str = PG_BENCH_DB,
) -> RunResult:
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-"))
    server = None
    log = tmp / "server.log"
    try:
        database_url = (
            fresh_postgres(pg_admin_url, pg_database)
            if db == "postgresql"
            else f"sqlite:///{tmp / 'ruta.sqlite3'}"
        )
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": database_url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_ODK_VALIDATE": "false",
        }
        password = secrets.token_urlsafe(16)
        ruta(["init", "--admin-email", ADMIN_EMAIL, f"--admin-password={password}"], env)
        token = parse_token(ruta(["app-user", "bench", "--project", "1"], env))
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = start_server(env, port, workers, threads, log)
        wait_healthy(base, server)
        session_token = publish_form(base, password)
        tokens = [token]
        if token_per_client:
            tokens += more_device_tokens(base, session_token, clients - 1)
        payloads, photos = build_payloads(n)
        is_pg = db == "postgresql"
        server_before, db_before = group_cpu(server.pid), backend_cpu(database_url) if is_pg else {}
        client_before = time.process_time()
        result = drive([f"{base}/v1/key/{t}/projects/1" for t in tokens], clients, payloads)
        server_after = group_cpu(server.pid)
        per_process = sorted(
            (v - server_before.get(pid, 0.0) for pid, v in server_after.items()), reverse=True
        )
        result.cpu["server"] = sum(per_process)
        # How evenly the workers shared the load (keep-alive connections stay with the worker that
        # accepted them): each process's share of the server's CPU, largest first.
        result.worker_shares = [v / max(result.cpu["server"], 1e-9) for v in per_process if v > 0.01]
        if is_pg:
            db_after = backend_cpu(database_url)
            result.cpu["postgres"] = sum(v - db_before.get(pid, 0.0) for pid, v in db_after.items())
        result.cpu["client"] = time.process_time() - client_before
        verify(database_url, n, photos)
        return result
    except BaseException:
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print("--- server log (last 30 lines) ---\n" + "\n".join(tail), file=sys.stderr)
        raise
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def report(db: str, clients: int, n: int, runs: list[RunResult], layout: tuple[int, int]) -> str:
    rate = statistics.median(r.rate for r in runs)
    p50 = statistics.median(percentile(r.total_ms, 0.50) for r in runs)
    p95 = statistics.median(percentile(r.total_ms, 0.95) for r in runs)
    post50 = statistics.median(percentile(r.post_ms, 0.50) for r in runs)
    post95 = statistics.median(percentile(r.post_ms, 0.95) for r in runs)
    each = ", ".join(f"{r.rate:.0f}" for r in runs)
    return (
        f"ingest  {db:<10}  clients={clients}  submissions={n}  rate={rate:7.1f}/s  "
        f"p50={p50:6.1f} ms  p95={p95:6.1f} ms  (POST alone p50={post50:.1f} p95={post95:.1f} ms)  "
        f"(median of {len(runs)}; runs: {each}/s; server {layout[0]}w x {layout[1]}t)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--clients", type=int, action="append", help=f"client counts (default {CLIENT_COUNTS})"
    )
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: 3 on PostgreSQL, 2 on SQLite)"
    )
    parser.add_argument(
        "--threads", type=int, help="gunicorn threads per worker (default: 8 on PostgreSQL, 4 on SQLite)"
    )
    parser.add_argument(
        "--pg-admin-url", default=PG_ADMIN_URL, help="maintenance DB to DROP/CREATE ruta_bench"
    )
    parser.add_argument(
        "--pg-database",
        default=PG_BENCH_DB,
        help=f"the database dropped and created for each run (default {PG_BENCH_DB}; another name when "
        "several people benchmark on one server)",
    )
    parser.add_argument(
        "--token-per-client",
        action="store_true",
        help="one device token per client (a fleet of phones); default: all clients share one token",
    )
    args = parser.parse_args(argv)
    if args.submissions < 1 or args.runs < 1:
        parser.error("--submissions and --runs must be positive")
    dbs = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    lines = []
    for db in dbs:
        workers, threads = SERVER_LAYOUT[db]
        layout = (args.workers or workers, args.threads or threads)
        for clients in args.clients or CLIENT_COUNTS:
            results = []
            for i in range(args.runs):
                print(f"... {db} clients={clients} run {i + 1}/{args.runs}", file=sys.stderr, flush=True)
                try:
                    r = run_once(
                        db,
                        clients,
                        args.submissions,
                        *layout,
                        args.pg_admin_url,
                        args.token_per_client,
                        args.pg_database,
                    )
                except BenchmarkFailure as exc:
                    print(
                        f"\nBENCHMARK FAILED ({db}, clients={clients}, run {i + 1}): {exc}", file=sys.stderr
                    )
                    return 1
                print(
                    f"    {r.rate:.1f}/s p50={percentile(r.total_ms, 0.5):.1f} ms "
                    f"p95={percentile(r.total_ms, 0.95):.1f} ms; verified {r.submissions} stored; "
                    f"CPU ms per submission: {r.cpu_ms_each()}; server processes' shares: "
                    + "/".join(f"{x:.0%}" for x in r.worker_shares),
                    file=sys.stderr,
                    flush=True,
                )
                results.append(r)
            lines.append(report(db, clients, args.submissions, results, layout))
    print()
    print("\n".join(lines))
    print(
        f"(latency = HEAD + POST per submission; 1 in {PHOTO_EVERY} carries a {PHOTO_BYTES // 1024} KB photo)"
    )
    print(TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
