"""What a site registry import costs, in-process through ``PUT /v1/projects/{pid}/sites`` (auth, reading
the CSV, checking every row against the gazetteer, one entity and version per site, commit):

- first import of N sites into an empty registry (every row creates an entity);
- the same file again (every site unchanged: checked, nothing written);
- a refused file of N sites with one bad row in ten (the row-by-row report, nothing stored).

Sites are spread over Colombia's municipalities (real P-codes from the shipped gazetteer). Each run starts
from an empty database and fails (exit 1) unless the registry holds exactly the N sites afterwards.
Prints the median of the runs.

    python -m tests.benchmarks sites [--db postgresql|sqlite] [--sites 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from app.sites import places
from tests.benchmarks.common import bench_app, fresh_database
from tests.data import data_file

PG_DB = "ruta_sites_bench"


def site_file(n: int, bad_every: int = 0) -> bytes:
    colombia = [u for u in places.shipped().units.values() if u.iso3 == "COL" and u.level == 2]
    municipalities = sorted(colombia, key=lambda u: u.pcode)[:500]
    lines = ["code,name_es,site_type,adm0_pcode,adm1_pcode,adm2_pcode,latitude,longitude,capacity"]
    for i in range(n):
        unit = municipalities[i % len(municipalities)]
        adm1 = "CO99" if bad_every and i % bad_every == 3 else unit.parent  # CO99 is Vichada: a mismatch
        lines.append(f"COL-{i:05d},Sitio {i},shelter,COL,{adm1},{unit.pcode},4.{i % 90:02d},-74.1,{i % 400}")
    return ("\n".join(lines) + "\n").encode()


def run(kind: str, n: int, tmp: Path) -> dict[str, float]:
    url = fresh_database(kind, PG_DB, tmp)
    _app, client, headers, pid = bench_app(url, tmp, data_file("forms/simple.xml").read_bytes())
    good, bad = site_file(n), site_file(n, bad_every=10)
    timings: dict[str, float] = {}
    for name, body, want in (
        ("first import", good, 200),
        ("same file again", good, 200),
        ("refused", bad, 422),
    ):
        started = time.perf_counter()
        res = client.put(f"/v1/projects/{pid}/sites", data=body, headers=headers)
        timings[name] = time.perf_counter() - started
        if res.status_code != want:
            raise SystemExit(f"{name}: expected {want}, got {res.status_code} {str(res.json)[:300]}")
    listed = client.get(f"/v1/projects/{pid}/sites", headers=headers).json
    if len(listed) != n:  # type: ignore[arg-type]
        raise SystemExit(f"expected {n} sites in the registry, found {len(listed)}")  # type: ignore[arg-type]
    return timings


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks sites")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            for name, seconds in run(args.db, args.sites, Path(tmp)).items():
                results.setdefault(name, []).append(seconds)
    for name, values in results.items():
        median = statistics.median(values)
        rate = args.sites / median
        print(f"{args.db} {name}: {args.sites} sites in {median:.2f} s median ({rate:.0f} sites/s)")
    return 0
