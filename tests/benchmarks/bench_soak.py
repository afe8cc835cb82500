"""ODK Central's soak profile, run against Ruta (issue 18): submissions of a 250-question form arrive at a
fixed rate (open loop: a slow answer does not slow the arrivals) while a CSV zip export of the same
form is requested every few seconds.

Central's own soak test (central-backend test/e2e/soak) posts 50 submissions/s for 60 s with an export
every 3 s and accepts 0% export success; the targets here are 100% ingest success, >= 99% export success
and ingest p95 < 500 ms. Each run starts a fresh database and ``ruta serve`` (with its job worker, as
``make run`` does); after the run the database must hold every acknowledged submission exactly once.

    python -m tests.benchmarks soak [--db postgresql|sqlite] [--rate 50] [--seconds 60]
        [--export-every 3] [--questions 250] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from tests.benchmarks.bench_ingest import (
    ADMIN_EMAIL,
    COLLECT_HEADERS,
    HOST,
    BenchmarkFailure,
    free_port,
    fresh_postgres,
    parse_token,
    percentile,
    ruta,
    start_server,
    stop_server,
    wait_healthy,
)
from tests.benchmarks.common import PG_ADMIN_URL, sa_url

FORM_ID = "soak"
PG_DB = "ruta_soak_bench"


def soak_form(questions: int) -> bytes:
    """A flat form of ``questions`` questions, a third each text, integer and single choice (Central's
    soak form is a 250-question XLSForm of the same mix)."""
    kinds = ["string", "int", "select1"]
    fields = [(f"q{i}", kinds[i % 3]) for i in range(questions)]
    nodes = "".join(f"<{name}/>" for name, _ in fields)
    binds = "".join(
        f'<bind nodeset="/data/{name}" type="{"string" if kind == "select1" else kind}"/>'
        for name, kind in fields
    )
    body = "".join(
        f'<select1 ref="/data/{name}"><label>{name}</label>'
        "<item><label>A</label><value>a</value></item><item><label>B</label><value>b</value></item></select1>"
        if kind == "select1"
        else f'<input ref="/data/{name}"><label>{name}</label></input>'
        for name, kind in fields
    )
    return (
        '<?xml version="1.0"?><h:html xmlns="http://www.w3.org/2002/xforms" '
        'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">'
        f'<h:head><h:title>Soak</h:title><model><instance><data id="{FORM_ID}" version="1">{nodes}'
        "<meta><instanceID/></meta></data></instance>"
        f'{binds}<bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/></model></h:head>'
        f"<h:body>{body}</h:body></h:html>"
    ).encode()


def soak_instance(questions: int, n: int) -> bytes:
    values = []
    for i in range(questions):
        value = (
            f"answer {n} to question {i}" if i % 3 == 0 else str(n + i) if i % 3 == 1 else "ab"[(n + i) % 2]
        )
        values.append(f"<q{i}>{value}</q{i}>")
    return (
        f'<data id="{FORM_ID}" version="1">{"".join(values)}'
        f"<meta><instanceID>uuid:soak-{n}</instanceID></meta></data>"
    ).encode()


@dataclass
class SoakResult:
    sent: int = 0
    ingest_ok: int = 0
    ingest_ms: list[float] = field(default_factory=list)
    ingest_errors: list[str] = field(default_factory=list)
    exports: int = 0
    exports_ok: int = 0
    export_ms: list[float] = field(default_factory=list)
    export_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _post(root: str, body: bytes, result: SoakResult, lock: threading.Lock) -> None:
    files = {"xml_submission_file": ("xml_submission_file.xml", body, "text/xml")}
    started = time.perf_counter()
    try:
        status = requests.post(
            f"{root}/submission", files=files, headers=COLLECT_HEADERS, timeout=60
        ).status_code
        error = None if status == 201 else f"HTTP {status}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    elapsed = (time.perf_counter() - started) * 1000
    with lock:
        result.ingest_ms.append(elapsed)
        if error is None:
            result.ingest_ok += 1
        else:
            result.ingest_errors.append(error)


def _export(base: str, token: str, result: SoakResult, lock: threading.Lock) -> None:
    url = f"{base}/v1/projects/1/forms/{FORM_ID}/submissions.csv.zip?reviewState=all"
    started = time.perf_counter()
    error = None
    try:
        res = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        if res.status_code != 200:
            error = f"HTTP {res.status_code}"
        else:
            with zipfile.ZipFile(io.BytesIO(res.content)) as archive:  # a whole, readable file
                if archive.testzip() is not None:
                    error = "corrupt zip"
    except (requests.RequestException, zipfile.BadZipFile) as exc:
        error = type(exc).__name__
    elapsed = (time.perf_counter() - started) * 1000
    with lock:
        result.exports += 1
        result.export_ms.append(elapsed)
        if error is None:
            result.exports_ok += 1
        else:
            result.export_errors.append(error)


def run_once(db: str, rate: float, seconds: float, export_every: float, questions: int) -> SoakResult:
    tmp = Path(tempfile.mkdtemp(prefix="ruta-soak-"))
    server = None
    log = tmp / "server.log"
    try:
        url = (
            fresh_postgres(PG_ADMIN_URL, PG_DB) if db == "postgresql" else f"sqlite:///{tmp / 'ruta.sqlite3'}"
        )
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_ODK_VALIDATE": "false",
        }
        password = secrets.token_urlsafe(16)
        ruta(["init", "--admin-email", ADMIN_EMAIL, f"--admin-password={password}"], env)
        device = parse_token(ruta(["app-user", "soak", "--project", "1"], env))
        port = free_port()
        base = f"http://{HOST}:{port}"
        workers, threads = (3, 8) if db == "postgresql" else (2, 4)
        server = start_server(env, port, workers, threads, log)
        wait_healthy(base, server)
        login = requests.post(
            f"{base}/v1/sessions", json={"email": ADMIN_EMAIL, "password": password}, timeout=30
        )
        token = str(login.json()["token"])
        res = requests.post(
            f"{base}/v1/projects/1/forms?publish=true&ignoreWarnings=true",
            data=soak_form(questions),
            headers={"Content-Type": "application/xml", "Authorization": f"Bearer {token}"},
            timeout=120,
        )
        if res.status_code != 200:
            raise BenchmarkFailure(f"publishing the soak form failed: {res.status_code} {res.text[:300]}")
        root = f"{base}/v1/key/{device}/projects/1"
        bodies = [soak_instance(questions, n) for n in range(int(rate * seconds))]
        result = SoakResult()
        lock = threading.Lock()
        # Enough threads that arrivals never wait for a free one, even when answers slow down.
        with ThreadPoolExecutor(max_workers=64) as pool:
            start = time.perf_counter()
            next_export = start
            for n, body in enumerate(bodies):
                due = start + n / rate
                while (now := time.perf_counter()) < due:
                    if now >= next_export:
                        pool.submit(_export, base, token, result, lock)
                        next_export += export_every
                    time.sleep(min(due - now, 0.005))
                pool.submit(_post, root, body, result, lock)
                result.sent += 1
            result.seconds = time.perf_counter() - start  # the arrivals, not the drain after them
        engine = sa.create_engine(sa_url(url))
        try:
            with engine.connect() as conn:
                stored = conn.execute(
                    sa.text("SELECT count(*), count(DISTINCT instance_id) FROM submissions")
                ).one()
        finally:
            engine.dispose()
        if stored[0] != stored[1] or stored[0] != result.ingest_ok:
            raise BenchmarkFailure(f"stored {tuple(stored)} rows, but {result.ingest_ok} were acknowledged")
        return result
    except BaseException:
        if log.exists():
            print(
                "--- server log (last 30 lines) ---",
                *log.read_text(errors="replace").splitlines()[-30:],
                sep="\n",
            )
        raise
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--export-every", type=float, default=3.0, help="seconds between CSV zip exports")
    parser.add_argument("--questions", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(list(argv))
    runs = []
    for i in range(args.runs):
        r = run_once(args.db, args.rate, args.seconds, args.export_every, args.questions)
        runs.append(r)
        print(
            f"run {i + 1}: {r.ingest_ok}/{r.sent} ingested ({r.sent / r.seconds:.1f}/s offered), "
            f"p50 {percentile(r.ingest_ms, 0.5):.0f} ms, p95 {percentile(r.ingest_ms, 0.95):.0f} ms; "
            f"exports {r.exports_ok}/{r.exports} ok, median {statistics.median(r.export_ms or [0]):.0f} ms"
            + (
                f"; errors {sorted(set(r.ingest_errors + r.export_errors))}"
                if r.ingest_errors or r.export_errors
                else ""
            )
        )
    ingest = statistics.median(100 * r.ingest_ok / max(r.sent, 1) for r in runs)
    exports = statistics.median(100 * r.exports_ok / max(r.exports, 1) for r in runs)
    p95 = statistics.median(percentile(r.ingest_ms, 0.95) for r in runs)
    print(
        f"soak on {args.db}, {args.rate:g}/s x {args.seconds:g} s, {args.questions} questions, export every "
        f"{args.export_every:g} s — median of {len(runs)} runs: ingest success {ingest:.1f}% (target 100%), "
        f"export success {exports:.1f}% (target >= 99%), ingest p95 {p95:.0f} ms (target < 500 ms)"
    )
    ok = ingest == 100.0 and exports >= 99.0 and p95 < 500
    return 0 if ok else 1
