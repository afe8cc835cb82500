"""What decrypting costs an export: the same submissions of the photo form, once encrypted as Collect
does (a 2048-bit key generated here, the private key supplied with the request as for a form whose key
Ruta does not hold) and once in clear, exported as CSV (values only) and as CSV zip with media,
in-process (auth, the whole export path, the zip streamed and read back). Wall time and this process's
CPU time (steadier on a shared machine) are reported.

Every encrypted row is opened with its signature checked, which needs every file of the submission,
photos included, even for a CSV without media: the figure says what that costs. One submission in ten
has a 50 KB incompressible photo (the issue's shape). Each run fails (exit 1) unless every row came out
decrypted and verified and every photo byte for byte. Prints the median of the runs.

    python -m tests.benchmarks encrypted_export [--db sqlite|postgresql] [--submissions 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forms.rewrite import add_public_key
from sync import crypto
from tests.app.openrosa_helpers import OR_HEADERS, SIMPLE_FORM
from tests.benchmarks.common import bench_app, fresh_database
from tests.collect_encryption import encrypt_like_collect

PG_DB = "ruta_bench_encrypted_export"
PASSPHRASE = "bench passphrase 1234"
PHOTO_BYTES = 50_000
PLAIN_FORM = SIMPLE_FORM.replace(b'id="photo"', b'id="plain"').replace(b"Photo form", b"Plain form")


def _instance(form_id: str, n: int, photo: bool) -> bytes:
    name = "photo.jpg" if photo else ""
    return (
        f'<data id="{form_id}" version="2"><name>Persona {n}</name><age>{20 + n % 60}</age>'
        f"<photo>{name}</photo><meta><instanceID>uuid:b-{n}</instanceID></meta></data>"
    ).encode()


def _post(client: Any, base: str, xml: bytes, files: dict[str, bytes]) -> None:
    data: dict[str, Any] = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in files.items():
        data[name] = (io.BytesIO(content), name, "application/octet-stream")
    res = client.post(f"{base}/submission", data=data, content_type="multipart/form-data", headers=OR_HEADERS)
    if res.status_code != 201:
        raise SystemExit(f"submission refused: {res.status_code} {res.get_data(as_text=True)[:300]}")


def _setup(kind: str, tmp: Path, submissions: int) -> tuple[Any, dict[str, str], int, str, dict[str, bytes]]:
    pair = crypto.generate_key_pair(PASSPHRASE)
    _, client, headers, pid = bench_app(
        fresh_database(kind, PG_DB, tmp), tmp, add_public_key(SIMPLE_FORM, pair.public_key_b64)
    )
    res = client.post(
        f"/v1/projects/{pid}/forms?publish=true",
        data=PLAIN_FORM,
        content_type="application/xml",
        headers=headers,
    )
    assert res.status_code == 200, res.json
    token = client.post(f"/v1/projects/{pid}/app-users", json={"displayName": "Phone"}, headers=headers)
    base = f"/v1/key/{token.json['token']}/projects/{pid}"
    photos: dict[str, bytes] = {}
    for n in range(submissions):
        photo = os.urandom(PHOTO_BYTES) if n % 10 == 0 else None
        media = {"photo.jpg": photo} if photo is not None else {}
        if photo is not None:
            photos[f"uuid:b-{n}"] = photo
        envelope, files = encrypt_like_collect(
            pair.public_key_b64,
            form_id="photo",
            version="2",
            instance_id=f"uuid:b-{n}",
            submission_xml=_instance("photo", n, photo is not None),
            media=media,
        )
        _post(client, base, envelope, files)
        _post(client, base, _instance("plain", n, photo is not None), media)
    return client, headers, pid, pair.private_key_pem_encrypted.decode(), photos


def _export(
    client: Any, headers: dict[str, str], pid: int, form_id: str, ext: str, body: dict[str, Any]
) -> tuple[float, float, bytes]:
    started, cpu = time.perf_counter(), time.process_time()
    res = client.post(
        f"/v1/projects/{pid}/forms/{form_id}/submissions.{ext}",
        json={"reviewState": "all", **body},
        headers=headers,
        buffered=True,
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if res.status_code != 200:
        raise SystemExit(f"export failed: {res.status_code} {res.get_data(as_text=True)[:300]}")
    return elapsed, cpu, res.data


def _check(form_id: str, data: bytes, zipped: bool, submissions: int, photos: dict[str, bytes]) -> None:
    if zipped:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text = archive.read(f"{form_id}.csv").decode("utf-8-sig")
            media = {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}
        expected = {f"media/{k.replace(':', '_')}/photo.jpg": v for k, v in photos.items()}
        if media != expected:
            raise SystemExit(f"{form_id}: the media differ from what was sent")
    else:
        text = data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    bad = [r["KEY"] for r in rows if r["Status"] or not r["name"]]
    if len(rows) != submissions or bad:
        raise SystemExit(f"{form_id}: {len(rows)} rows, not decrypted and verified: {bad[:5]}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks encrypted_export")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ruta-bench-enc-") as tmp:
        client, headers, pid, pem, photos = _setup(args.db, Path(tmp), args.submissions)
        supplied = {"privateKey": pem, "passphrase": PASSPHRASE}
        cases = [
            ("CSV           clear", "plain", "csv", {}),
            ("CSV           encrypted", "photo", "csv", supplied),
            ("CSV zip+media clear", "plain", "csv.zip", {"attachments": "true"}),
            ("CSV zip+media encrypted", "photo", "csv.zip", {**supplied, "attachments": "true"}),
        ]
        times: dict[str, list[float]] = {label: [] for label, *_ in cases}
        cpus: dict[str, list[float]] = {label: [] for label, *_ in cases}
        for run in range(args.runs):
            for label, form_id, ext, body in cases:
                elapsed, cpu, data = _export(client, headers, pid, form_id, ext, body)
                _check(form_id, data, ext == "csv.zip", args.submissions, photos)
                times[label].append(elapsed)
                cpus[label].append(cpu)
            print(
                f"run {run + 1}: "
                + ", ".join(f"{label.split()[-1]} {times[label][-1]:.2f} s" for label, *_ in cases)
            )
        for label, *_ in cases:
            runs = ", ".join(f"{t:.2f}" for t in times[label])
            median = statistics.median(times[label])
            print(
                f"encrypted_export  {args.db}  {label:<24} submissions={args.submissions}  "
                f"median {median:6.2f} s  ({args.submissions / median:7.0f} rows/s; runs: {runs}; "
                f"process CPU median {statistics.median(cpus[label]):6.2f} s)"
            )
    return 0
