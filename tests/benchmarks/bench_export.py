"""Export benchmark: CSV zip and XLSX of the bundled household form at 10,000 and 100,000 submissions on
PostgreSQL, against a real ``ruta serve`` (gunicorn, one worker, one thread, so one process does the
work), measuring wall time and the server worker's peak resident memory.

1. fresh database ``ruta_bench_export``; ``ruta init`` (which publishes the bundled forms); the server
   starts; one household submission with four members is sent through the API;
2. that submission is cloned (instance ID, ages and names varied) with PostgreSQL ``COPY`` up to the
   first size, all approved (exports take approved ones by default);
3. the server is restarted (a fresh peak), each format is downloaded ``--runs`` times (streamed by the
   client, nothing kept); reported: wall time, the worker's CPU time (``/proc/<pid>/stat``: the work
   done, whatever else the machine runs) and its peak RSS (``VmHWM``, reset between formats through
   ``/proc/<pid>/clear_refs``) read after each format; the first CSV zip is opened and its rows counted;
4. the same for the next size.

    python -m tests.benchmarks export [--sizes 10000 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests

from tests.benchmarks.bench_ingest import (
    ADMIN_EMAIL,
    HOST,
    BenchmarkFailure,
    free_port,
    ruta,
    start_server,
    stop_server,
    wait_healthy,
)
from tests.benchmarks.common import fresh_postgres

PG_DB = "ruta_bench_export"
FORM = "ruta_household_needs"
MEMBERS = 4
TARGETS = "target: CSV zip < 15 s, XLSX < 60 s, peak server memory < 300 MB and flat from 10k to 100k"
JR = 'xmlns:jr="http://openrosa.org/javarosa"'


def _fresh_database() -> str:
    return fresh_postgres(PG_DB)


def _template_instance(version: str) -> str:
    members = "".join(
        f"<members><m_index>{i}</m_index><m_name>Persona {i}</m_name><m_sex_gender>f</m_sex_gender>"
        f"<m_age_years>{20 + i}</m_age_years><m_relationship>child</m_relationship></members>"
        for i in range(MEMBERS)
    )
    return (
        f'<data {JR} id="{FORM}" version="{version}"><start>2024-05-01T10:00:00.000-05:00</start>'
        "<end>2024-05-01T10:20:00.000-05:00</end><today>2024-05-01</today><consent>yes</consent>"
        "<interview_mode>in_person</interview_mode>"
        "<location><country_iso3>COL</country_iso3><adm1_other>Vereda</adm1_other>"
        "<site_code>S1</site_code></location><respondent><sex_gender>f</sex_gender><age_years>34</age_years>"
        "<nationality_iso3>VEN COL</nationality_iso3></respondent>"
        "<household><hh_size>4</hh_size><route_stage>transit</route_stage></household>"
        f"<members_count>{MEMBERS}</members_count>{members}"
        "<needs><need_1>food</need_1><need_2>shelter</need_2><fcs_cereals>7</fcs_cereals><fcs_pulses>3</fcs_pulses>"
        "<rcsi_borrow_food>2</rcsi_borrow_food></needs>"
        "<meta><instanceID>uuid:bench-template</instanceID></meta></data>"
    )


def _login(base: str, password: str) -> dict[str, str]:
    res = requests.post(f"{base}/v1/sessions", json={"email": ADMIN_EMAIL, "password": password}, timeout=30)
    if res.status_code != 200:
        raise BenchmarkFailure(f"login failed: {res.status_code} {res.text[:300]}")
    return {"Authorization": f"Bearer {res.json()['token']}"}


def _template(base: str, headers: dict[str, str]) -> None:
    # ``ruta init`` publishes the bundled forms.
    res = requests.get(f"{base}/v1/projects/1/forms/{FORM}", headers=headers, timeout=60)
    if res.status_code != 200:
        raise BenchmarkFailure(f"the bundled form is missing: {res.status_code} {res.text[:300]}")
    version = res.json()["version"]
    res = requests.post(
        f"{base}/v1/projects/1/forms/{FORM}/submissions",
        data=_template_instance(version).encode(),
        headers={**headers, "Content-Type": "application/xml"},
        timeout=60,
    )
    if res.status_code != 200:
        raise BenchmarkFailure(f"template submission failed: {res.status_code} {res.text[:300]}")


def _seed(database_url: str, upto: int) -> None:
    """Clone the template submission until the form has ``upto`` submissions (COPY, one transaction)."""
    with psycopg.connect(database_url) as conn:
        template = conn.execute(
            "SELECT v.form_id, v.form_version_id, v.xml, v.values FROM submission_versions v "
            "JOIN submissions s ON s.id = v.submission_id ORDER BY s.id LIMIT 1"
        ).fetchone()
        if template is None:
            raise BenchmarkFailure("no template submission")
        form_id, form_version_id, xml, values = template
        have = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM submissions").fetchone()
        assert have is not None
        count, top = have
        vtop = conn.execute("SELECT coalesce(max(id), 0) FROM submission_versions").fetchone()
        assert vtop is not None
        base_time = datetime(2025, 1, 1, tzinfo=UTC)
        new = upto - count
        if new <= 0:
            return
        with conn.cursor() as cur:
            with cur.copy(
                "COPY submissions (id, form_id, instance_id, review_state, device_id, is_encrypted, "
                "attachments_expected, attachments_present, quality_flags, flag_codes, created_at) FROM STDIN"
            ) as out:
                for i in range(new):
                    sid = top + 1 + i
                    out.write_row(
                        (
                            sid,
                            form_id,
                            f"uuid:bench-{sid}",
                            "approved",
                            f"collect:{sid % 50}",
                            False,
                            0,
                            0,
                            "[]",
                            "",
                            base_time + timedelta(seconds=sid),
                        )
                    )
            with cur.copy(
                "COPY submission_versions (id, submission_id, form_id, form_version_id, instance_id, xml, "
                "sha256, values, value_problems, received_at) FROM STDIN"
            ) as out:
                for i in range(new):
                    sid = top + 1 + i
                    v = copy.deepcopy(values)
                    v["meta"]["instanceID"] = f"uuid:bench-{sid}"
                    v["respondent"]["age_years"] = 18 + sid % 60
                    for j, member in enumerate(v["members"]):
                        member["m_name"] = f"Persona {sid}-{j}"
                        member["m_age_years"] = (sid + j) % 90
                    out.write_row(
                        (
                            vtop[0] + 1 + i,
                            sid,
                            form_id,
                            form_version_id,
                            f"uuid:bench-{sid}",
                            xml,
                            "0" * 64,
                            json.dumps(v),
                            "[]",
                            base_time + timedelta(seconds=sid),
                        )
                    )
            cur.execute(
                "UPDATE submissions s SET current_version_id = v.id FROM submission_versions v "
                "WHERE v.submission_id = s.id AND s.current_version_id IS NULL"
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('submissions', 'id'), "
                "(SELECT max(id) FROM submissions))"
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('submission_versions', 'id'), "
                "(SELECT max(id) FROM submission_versions))"
            )
            cur.execute("UPDATE submissions SET review_state = 'approved'")
        conn.commit()
        conn.execute("ANALYZE")


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise BenchmarkFailure(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkFailure("no VmHWM")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (the work done, whatever else the machine runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _download(url: str, headers: dict[str, str], keep: bool) -> tuple[float, bytes]:
    start = time.perf_counter()
    kept = io.BytesIO()
    with requests.get(url, headers=headers, stream=True, timeout=600) as res:
        if res.status_code != 200:
            raise BenchmarkFailure(f"{url}: {res.status_code} {res.text[:300]}")
        for chunk in res.iter_content(1 << 20):
            if keep:
                kept.write(chunk)
    return time.perf_counter() - start, kept.getvalue()


def _check_zip(data: bytes, n: int) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        roots = archive.read(f"{FORM}.csv").count(b"\r\n") - 1
        members = archive.read(f"{FORM}-members.csv").count(b"\r\n") - 1
    if roots != n or members != n * MEMBERS:
        raise BenchmarkFailure(
            f"CSV zip has {roots} rows and {members} member rows; expected {n} and {n * MEMBERS}"
        )


def measure(base: str, headers: dict[str, str], master: int, n: int, runs: int) -> list[str]:
    worker = _worker_pid(master)
    lines = []
    for ext, label in (("csv.zip", "CSV zip"), ("xlsx", "XLSX")):
        _reset_peak(worker)
        times = []
        cpu = []
        size = 0
        for r in range(runs):
            before = _cpu_seconds(worker)
            seconds, data = _download(
                f"{base}/v1/projects/1/forms/{FORM}/submissions.{ext}", headers, keep=r == 0
            )
            cpu.append(_cpu_seconds(worker) - before)
            times.append(seconds)
            if r == 0:
                size = len(data)
                if ext == "csv.zip":
                    _check_zip(data, n)
        peak = _peak_mb(worker)
        lines.append(
            f"export  postgresql  {label:8} submissions={n:7}  rows={n * (1 + MEMBERS):7}  "
            f"median {statistics.median(times):6.1f} s  (runs: {', '.join(f'{t:.1f}' for t in times)}; "
            f"server CPU median {statistics.median(cpu):5.1f} s)  "
            f"file {size / 1e6:6.1f} MB  server peak RSS {peak:6.1f} MB"
        )
        print(lines[-1], flush=True)
    return lines


def run(sizes: list[int], runs: int) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-export-"))
    server: subprocess.Popen[bytes] | None = None
    log = tmp / "server.log"
    lines: list[str] = []
    try:
        database_url = _fresh_database()
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": database_url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_ODK_VALIDATE": "false",
        }
        password = secrets.token_urlsafe(16)
        ruta(["init", "--admin-email", ADMIN_EMAIL, f"--admin-password={password}"], env)
        for i, n in enumerate(sorted(sizes)):
            port = free_port()
            base = f"http://{HOST}:{port}"
            server = start_server(env, port, 1, 1, log)
            wait_healthy(base, server)
            headers = _login(base, password)
            if i == 0:
                _template(base, headers)
            started = time.perf_counter()
            _seed(database_url, n)
            print(f"seeded {n} submissions in {time.perf_counter() - started:.0f} s", flush=True)
            lines += measure(base, headers, server.pid, n, runs)
            stop_server(server)
            server = None
        return lines
    except BaseException:
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print("--- server log (last 30 lines) ---\n" + "\n".join(tail))
        raise
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks export")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        lines = run(args.sizes, args.runs)
    except BenchmarkFailure as err:
        print(f"BENCHMARK FAILED: {err}")
        return 1
    print("\n".join(lines))
    print(TARGETS)
    return 0
