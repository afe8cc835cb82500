"""Entity-list benchmark (issue 19), in-process (the whole request path: auth, query, CSV, commit).

1. Creating entities through submissions: ``--entities`` registration submissions (each with an
   ``<entity create="1">`` block) through ``POST /v1/projects/{pid}/submissions/batch`` in batches of
   ``--batch``; entities per second. Checked: the list then holds exactly that many entities.
2. Serving a list of ``--list-size`` entities to a device (the list is filled up to that size with plain
   INSERTs after step 1): the follow-up form's manifest, the full CSV download, and the same download
   with ``If-None-Match`` (a 304); median milliseconds of ``--requests`` each. Checked: the CSV has one
   line per entity plus the header, and the 304 carries no body.

Medians over ``--runs`` runs, each from an empty database.

    python -m tests.benchmarks entities [--db sqlite|postgresql] [--entities 10000] [--list-size 50000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid as uuidlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from forms.xlsform import convert
from tests.app.batch_helpers import make_zip
from tests.app.entity_helpers import XLSX, registration_xlsform, registration_xml, update_xlsform
from tests.benchmarks.common import bench_app, fresh_database

PG_DB = "ruta_bench_entities"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run(kind: str, n: int, size: int, list_size: int, requests: int, tmp: Path) -> dict[str, float]:
    from app.db import get_database
    from app.models import Dataset, Entity, EntityVersion

    url = fresh_database(kind, PG_DB, tmp)
    app, client, headers, pid = bench_app(url, tmp, convert(registration_xlsform()).xform)
    res = client.post(
        f"/v1/projects/{pid}/forms?publish=true&ignoreWarnings=true",
        data=update_xlsform(),
        content_type=XLSX,
        headers=headers,
    )
    assert res.status_code == 200, res.json
    token = client.post(f"/v1/projects/{pid}/app-users", json={"displayName": "phone"}, headers=headers)
    device = f"/v1/key/{token.json['token']}/projects/{pid}"  # type: ignore[index]

    bodies = [
        make_zip(
            {
                f"i{i}": {
                    f"i{i}.xml": registration_xml(f"bench-{i}", str(uuidlib.uuid4()), f"Shelter {i}", i % 500)
                }
                for i in range(start, min(start + size, n))
            }
        )
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
    create_rate = n / (time.perf_counter() - started)

    with app.app_context(), get_database(app).session_scope() as s:
        dataset = s.scalar(sa.select(Dataset).where(Dataset.project_id == pid, Dataset.name == "shelters"))
        assert dataset is not None
        stored = s.scalar(sa.select(sa.func.count(Entity.id)).where(Entity.dataset_id == dataset.id))
        if stored != n:
            raise SystemExit(f"expected {n} entities after the batches, found {stored}")
        entities = cast(sa.Table, Entity.__table__)
        versions = cast(sa.Table, EntityVersion.__table__)
        for start in range(n, list_size, 5000):
            rows: list[dict[str, Any]] = [
                {
                    "dataset_id": dataset.id,
                    "uuid": str(uuidlib.uuid4()),
                    "label": f"Shelter {i} ({i % 500})",
                    "current_version": 1,
                    "data": {"shelter": f"Shelter {i}", "capacity": str(i % 500)},
                    "deleted": False,
                    "created_at": app_now(),
                }
                for i in range(start, min(start + 5000, list_size))
            ]
            ids = s.execute(sa.insert(entities).returning(entities.c.id), rows).scalars().all()
            s.execute(
                sa.insert(versions),
                [
                    {
                        "entity_id": eid,
                        "version": 1,
                        "label": r["label"],
                        "data": r["data"],
                        "changed": ["shelter", "capacity"],
                        "source": "code",
                        "created_at": app_now(),
                    }
                    for eid, r in zip(ids, rows, strict=True)
                ],
            )
        s.execute(sa.update(Dataset).where(Dataset.id == dataset.id).values(revision=Dataset.revision + 1))
        s.commit()

    or_headers = {"X-OpenRosa-Version": "1.0"}
    manifest_times, csv_times, not_modified_times = [], [], []
    csv_path = f"{device}/formList/shelter_update/media/shelters.csv"
    etag = ""
    for _ in range(requests):
        t0 = time.perf_counter()
        manifest = client.get(f"{device}/formList/shelter_update/manifest", headers=or_headers)
        manifest_times.append(time.perf_counter() - t0)
        assert manifest.status_code == 200 and b'type="entityList"' in manifest.data
        t0 = time.perf_counter()
        full = client.get(csv_path, headers=or_headers)
        csv_times.append(time.perf_counter() - t0)
        lines = full.data.count(b"\n")
        if full.status_code != 200 or lines != list_size + 1:
            raise SystemExit(f"CSV: {full.status_code}, {lines} lines for {list_size} entities")
        etag = full.headers["ETag"]
        t0 = time.perf_counter()
        again = client.get(csv_path, headers={**or_headers, "If-None-Match": etag})
        not_modified_times.append(time.perf_counter() - t0)
        if again.status_code != 304 or again.data:
            raise SystemExit(f"unchanged list answered {again.status_code}")
    get_database(app).dispose()
    return {
        "create_per_s": create_rate,
        "manifest_ms": _median_ms(manifest_times),
        "csv_ms": _median_ms(csv_times),
        "csv_bytes": float(len(full.data)),
        "not_modified_ms": _median_ms(not_modified_times),
    }


def app_now() -> Any:
    from app.db import utcnow

    return utcnow()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks entities", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--list-size", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ruta-bench-entities-") as tmp:
            results.append(run(args.db, args.entities, args.batch, args.list_size, args.requests, Path(tmp)))
        r = results[-1]
        print(
            f"run {number + 1}: {r['create_per_s']:.0f} entities/s through submissions; manifest "
            f"{r['manifest_ms']:.1f} ms, CSV {r['csv_ms']:.0f} ms ({r['csv_bytes'] / 1e6:.1f} MB), "
            f"304 {r['not_modified_ms']:.1f} ms",
            flush=True,
        )

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(
        f"{args.db}, median of {args.runs} runs: {args.entities} entities created through submissions in "
        f"batches of {args.batch} at {med('create_per_s'):.0f}/s "
        f"({args.entities / med('create_per_s'):.1f} s); "
        f"a list of {args.list_size} entities: manifest {med('manifest_ms'):.1f} ms, full CSV "
        f"{med('csv_ms'):.0f} ms, unchanged (304) {med('not_modified_ms'):.1f} ms"
    )
    return 0
