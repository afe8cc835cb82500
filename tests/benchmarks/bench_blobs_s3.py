"""Ingest with photos, blobs on S3 vs on the filesystem: the same load against a real ``ruta serve``.

Each run, for each store (interleaved, so a drift of the machine's speed hits both): a fresh database and
instance folder, ``ruta init``, a device token, the photo form published, then ``--clients`` Collect-like
clients sending ``--submissions`` submissions, every one with a ``--photo-kb`` photo (HEAD 204, POST 201),
then a check that the database holds exactly that (and, on S3, that every photo is in the bucket).
S3 is moto's server (``moto_server``, its own process on 127.0.0.1): an S3 endpoint over HTTP, in memory,
on the same machine, so the figure is the cost of Ruta's S3 path (a PUT round trip per file, the HTTP
and signing work) without a network's latency; a real bucket adds that. Reports medians and the ratio.

    python -m tests.benchmarks blobs_s3 [--db postgresql|sqlite] [--clients 8] [--submissions 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import boto3
import sqlalchemy as sa
from urllib3 import encode_multipart_formdata

from tests.app.openrosa_helpers import instance
from tests.benchmarks.bench_ingest import (
    ADMIN_EMAIL,
    HOST,
    SERVER_LAYOUT,
    BenchmarkFailure,
    RunResult,
    drive,
    free_port,
    fresh_postgres,
    parse_token,
    percentile,
    publish_form,
    ruta,
    start_server,
    stop_server,
    verify,
    wait_healthy,
)
from tests.benchmarks.common import PG_ADMIN_URL, sa_url

AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", HOST, "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://{HOST}:{port}"
    client = s3_client(endpoint)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.list_buckets()
            return proc, endpoint
        except Exception as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkFailure(f"moto_server did not start: {exc}") from exc
            time.sleep(0.2)


def s3_client(endpoint: str) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS["AWS_DEFAULT_REGION"],
    )


def photo_payloads(n: int, photo_bytes: int) -> list[tuple[bytes, str]]:
    payloads = []
    for i in range(n):
        name = f"photo-{i}.jpg"
        xml = instance(f"uuid:{uuid.uuid4()}", name=f"Bench {i}", age=str(18 + i % 60), photo=name)
        body, content_type = encode_multipart_formdata(
            [
                ("xml_submission_file", ("xml_submission_file.xml", xml, "text/xml")),
                (name, (name, os.urandom(photo_bytes), "image/jpeg")),
            ]
        )
        payloads.append((body, content_type))
    return payloads


def run_once(
    store: str, db: str, clients: int, n: int, photo_bytes: int, endpoint: str, layout: tuple[int, int]
) -> RunResult:
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-s3-"))
    server = None
    log = tmp / "server.log"
    try:
        database_url = (
            fresh_postgres(PG_ADMIN_URL, "ruta_bench_s3")
            if db == "postgresql"
            else f"sqlite:///{tmp / 'r.sqlite3'}"
        )
        env = {
            **os.environ,
            "RUTA_DATABASE_URL": database_url,
            "RUTA_INSTANCE_PATH": str(tmp / "instance"),
            "RUTA_ODK_VALIDATE": "false",
        }
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        if store == "s3":
            s3_client(endpoint).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
            env.update({**AWS, "AWS_ENDPOINT_URL": endpoint, "RUTA_BLOB_STORE": f"s3://{bucket}/blobs"})
        password = secrets.token_urlsafe(16)
        ruta(["init", "--admin-email", ADMIN_EMAIL, f"--admin-password={password}"], env)
        token = parse_token(ruta(["app-user", "bench", "--project", "1"], env))
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = start_server(env, port, *layout, log)
        wait_healthy(base, server)
        publish_form(base, password)
        payloads = photo_payloads(n, photo_bytes)
        result = drive([f"{base}/v1/key/{token}/projects/1"], clients, payloads)
        verify(database_url, n, n)
        if store == "s3":
            _verify_bucket(endpoint, bucket, database_url, n)
        return result
    except BaseException:
        if log.exists():
            print("--- server log ---\n" + "\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def _verify_bucket(endpoint: str, bucket: str, database_url: str, photos: int) -> None:
    client = s3_client(endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)  # type: ignore[attr-defined]
    keys = {o["Key"].rsplit("/", 1)[-1] for page in pages for o in page.get("Contents", [])}
    engine = sa.create_engine(sa_url(database_url))
    try:
        with engine.connect() as conn:
            shas = set(
                conn.execute(sa.text("SELECT blob_sha256 FROM submission_attachments")).scalars().all()
            )
    finally:
        engine.dispose()
    if len(shas) != photos or not shas <= keys:
        raise BenchmarkFailure(f"bucket check failed: {len(shas & keys)} of {len(shas)} photos in the bucket")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks blobs_s3", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--photo-kb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    layout = SERVER_LAYOUT[args.db]
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-moto-"))
    moto, endpoint = start_moto(tmp / "moto.log")
    results: dict[str, list[RunResult]] = {"file": [], "s3": []}
    try:
        for i in range(args.runs):
            for store in ("file", "s3"):
                print(f"... {store} run {i + 1}/{args.runs}", file=sys.stderr, flush=True)
                try:
                    r = run_once(
                        store, args.db, args.clients, args.submissions, args.photo_kb * 1024, endpoint, layout
                    )
                except BenchmarkFailure as exc:
                    print(f"\nBENCHMARK FAILED ({store}, run {i + 1}): {exc}", file=sys.stderr)
                    return 1
                print(
                    f"    {r.rate:.1f}/s p50={percentile(r.total_ms, 0.5):.1f} ms "
                    f"p95={percentile(r.total_ms, 0.95):.1f} ms; verified {r.submissions} stored",
                    file=sys.stderr,
                    flush=True,
                )
                results[store].append(r)
    finally:
        moto.terminate()
        moto.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    rate = {k: statistics.median(r.rate for r in v) for k, v in results.items()}
    p95 = {k: statistics.median(percentile(r.total_ms, 0.95) for r in v) for k, v in results.items()}
    print()
    for store in ("file", "s3"):
        each = ", ".join(f"{r.rate:.0f}" for r in results[store])
        print(
            f"ingest with photos  store={store:<4}  {args.db}  clients={args.clients}  "
            f"submissions={args.submissions} (each with a {args.photo_kb} KB photo)  "
            f"rate={rate[store]:.1f}/s  p95={p95[store]:.1f} ms  (median of {args.runs}; runs: {each}/s)"
        )
    print(f"S3/filesystem: rate x{rate['s3'] / rate['file']:.2f}, p95 x{p95['s3'] / p95['file']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
