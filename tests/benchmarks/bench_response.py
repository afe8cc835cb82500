"""Response monitoring benchmark: the gap table for every place from 100k 5W rows and the plan figures.

A fresh database per kind; ``--rows`` 5W rows (valid, spread over 12 months, 14 sectors, 3 countries'
admin-1 and ``--places`` admin-2 areas) and plan figures for every sector × admin-2 × population type ×
age/gender cell, inserted directly (the import path is not what is measured). Then per run, through the API:
the gap table by admin-2 (every place, ``max_cell`` de-duplication across sectors) and the reach table by
admin-1 × sector × month. Prints the median of ``--runs`` runs.

Flow facts: ``--flows`` travel groups (a region's month by default: 1 million) over ``--sites`` sites and
31 days, with their transport modes (a third of the groups with two), inserted directly like the 5W rows
(normalisation is the indicator refresh's cost, measured by the indicators benchmark), all pointing at one
submission. Both are loaded in the same database before anything is timed; then the gap and reach tables,
and the flow tables through the API: by site and month, by site × day × direction with suppression (the
largest output), by site × transport (the multi-mode join), by site × month × nationality with shares and
suppression, and the transit ratio. Each line gives the median, min and max and the load average.

    python -m tests.benchmarks response [--db postgresql|sqlite] [--rows 100000] [--places 300]
        [--flows 1000000] [--sites 60] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from tests.benchmarks.common import bench_app, fresh_database
from tests.data import data_bytes

SECTORS = {
    "education": "EDU-01",
    "food_security": "FS-01",
    "health": "HEA-01",
    "humanitarian_transportation": "HT-01",
    "integration": "INT-01",
    "nutrition": "NUT-01",
    "protection": "PRO-01",
    "child_protection": "CP-01",
    "gbv": "GBV-01",
    "human_trafficking_smuggling": "HTS-01",
    "shelter": "SHE-01",
    "wash": "WASH-01",
    "multipurpose_cash": "MPC-01",
    "common_services": "CS-01",
}
POP = ("in_destination", "in_transit", "host_community", "pendular", "colombian_returnees")
AG = ("girls", "boys", "women", "men", "other_under_18", "other_over_18")


def _places(n: int) -> list[tuple[str, str, str]]:
    countries = [("COL", "CO"), ("ECU", "EC"), ("PER", "PE")]
    out = []
    for i in range(n):
        country, prefix = countries[i % 3]
        admin1 = f"{prefix}{1 + (i // 3) % 20:02d}"
        out.append((country, admin1, f"{admin1}{i:03d}"))
    return out


def _load(engine: sa.Engine, project_id: int, rows: int, places: int) -> None:
    from app.models import ActivityReport, PlanFigure

    rng = random.Random(7)
    where = _places(places)
    batch = []
    with engine.begin() as conn:
        for i in range(rows):
            country, admin1, admin2 = where[i % places]
            sector = list(SECTORS)[i % len(SECTORS)]
            new = rng.randint(1, 60)
            pop = [0] * 5
            ag = [0] * 6
            for _ in range(new):
                pop[rng.randrange(5)] += 1
                ag[rng.randrange(6)] += 1
            batch.append(
                {
                    "project_id": project_id,
                    "organisation": f"ORG{i % 40}",
                    "month": date(2026, 1 + i % 12, 1),
                    "country": country,
                    "admin1": admin1,
                    "admin2": admin2,
                    "sector": sector,
                    "indicator": SECTORS[sector],
                    "direct_assistance": True,
                    "cva": False,
                    "total_beneficiaries": new + rng.randint(0, 20),
                    "new_beneficiaries": new,
                    **dict(zip(POP, pop, strict=True)),
                    **dict(zip(AG, ag, strict=True)),
                    "status": "valid",
                    "findings": [],
                    "source": "api",
                }
            )
            if len(batch) == 5000:
                conn.execute(sa.insert(ActivityReport), batch)
                batch = []
        if batch:
            conn.execute(sa.insert(ActivityReport), batch)
        plan = [
            {
                "project_id": project_id,
                "year": 2026,
                "sector": sector,
                "country": country,
                "admin1": admin1,
                "admin2": admin2,
                "population_type": p,
                "age_gender": a,
                "people_in_need": rng.randint(0, 500),
                "target": rng.randint(0, 200),
            }
            for country, admin1, admin2 in where
            for sector in SECTORS
            for p in POP
            for a in AG
        ]
        for start in range(0, len(plan), 5000):
            conn.execute(sa.insert(PlanFigure), plan[start : start + 5000])


FLOW_CELLS = (
    "f_0_4", "f_5_11", "f_12_17", "f_18_59", "f_60_plus",
    "m_0_4", "m_5_11", "m_12_17", "m_18_59", "m_60_plus", "x",
)  # fmt: skip
DIRECTIONS = ("in", "out", "through")
NATIONALITIES = ("VEN", "VEN", "VEN", "COL", "HTI", "ECU", "CUB", "XXX")


def _load_flows(
    engine: sa.Engine, project_id: int, form_id: int, submission_id: int, n: int, sites: int
) -> None:
    from app.models import FlowFact

    rng = random.Random(11)
    batch = []
    table = FlowFact.__table__
    with engine.begin() as conn:
        for i in range(n):
            day = date(2026, 3, 1 + i % 31)
            cells = dict.fromkeys(FLOW_CELLS, 0)
            size = rng.choice((1, 1, 2, 3, 4, 5, 6))
            for _ in range(size):
                cells[FLOW_CELLS[rng.randrange(10)]] += 1
            year, week, _ = day.isocalendar()
            batch.append(
                {
                    "project_id": project_id,
                    "form_id": form_id,
                    "submission_id": submission_id,
                    "review_state": "received",
                    "site": f"FMP-{i % sites:03d}",
                    "country": "COL",
                    "day": day,
                    "week": f"{year}-W{week:02d}",
                    "month": "2026-03",
                    "direction": DIRECTIONS[i % 3],
                    "nationality": NATIONALITIES[i % len(NATIONALITIES)],
                    "group_type": ("alone", "family", "non_family")[i % 3],
                    "transport": "bus_formal",
                    "next_destination": ("ECU", "PER")[i % 2],
                    "destination": "PER",
                    "observed_hours": 8.0,
                    "people": size,
                    "children": sum(cells[c] for c in FLOW_CELLS if c[2:] in ("0_4", "5_11", "12_17")),
                    **cells,
                }
            )
            if len(batch) == 10_000:
                conn.execute(sa.insert(table), batch)
                batch = []
        if batch:
            conn.execute(sa.insert(table), batch)
        # Every group's first mode, and a second one (walk) for every third group: 1.33 modes a group.
        conn.execute(
            sa.text(
                "INSERT INTO flow_fact_transports (fact_id, transport) SELECT id, transport FROM flow_facts"
                " WHERE project_id = :p"
            ),
            {"p": project_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO flow_fact_transports (fact_id, transport) SELECT id, 'walk' FROM flow_facts"
                " WHERE project_id = :p AND id % 3 = 0"
            ),
            {"p": project_id},
        )


def _timed(
    client: object, path: str, query: dict[str, str], headers: dict[str, str], runs: int, name: str
) -> None:
    """The median of ``runs`` requests, with the load average beside it (the machine is shared)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = client.get(path, query_string=query, headers=headers)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
        assert res.status_code == 200, res.json
    rows = len(res.json["rows"])
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"{name}: median {statistics.median(times) * 1000:.0f} ms over {runs} runs "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; {rows} rows; load average {load})"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks response")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--places", type=int, default=300)
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from app.db import get_database

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.db, "ruta_bench_response", Path(tmp))
        app, client, headers, pid = bench_app(url, Path(tmp), data_bytes("forms/simple.xml"))
        engine = get_database(app).engine
        started = time.perf_counter()
        _load(engine, pid, args.rows, args.places)
        print(
            f"loaded {args.rows} 5W rows and plan figures in {time.perf_counter() - started:.1f} s "
            f"({args.db})"
        )
        if args.flows:
            # Both tables are full before anything is timed: the gap table is measured with the flow
            # facts beside the 5W rows, as a region's database holds them.
            from app.models import Form, Submission

            xml = b'<data id="simple"><meta><instanceID>uuid:bench</instanceID></meta><name>x</name></data>'
            res = client.post(
                f"/v1/projects/{pid}/forms/simple/submissions",
                data=xml,
                content_type="application/xml",
                headers=headers,
            )
            assert res.status_code == 200, res.json
            with app.app_context(), get_database(app).session_scope() as s:
                form_id = s.scalar(sa.select(Form.id).where(Form.project_id == pid))
                submission_id = s.scalar(sa.select(Submission.id))
            assert form_id is not None and submission_id is not None
            started = time.perf_counter()
            _load_flows(engine, pid, form_id, submission_id, args.flows, args.sites)
            print(
                f"loaded {args.flows} flow facts and their transport modes in "
                f"{time.perf_counter() - started:.1f} s ({args.db})"
            )
        with engine.begin() as conn:
            if args.db == "postgresql":
                for table in ("activity_reports", "plan_figures", "flow_facts", "flow_fact_transports"):
                    conn.execute(sa.text(f"ANALYZE {table}"))
            counts = {
                table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                for table in ("activity_reports", "flow_facts", "flow_fact_transports")
            }
        print("rows in the database: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        cases = {
            "gaps by admin2, max_cell (every place)": {"year": "2026", "by": "admin2", "model": "max_cell"},
            "gaps by admin1 x population type": {"year": "2026", "by": "admin1,population_type"},
            "reach by admin1 x sector x month": {"year": "2026", "by": "admin1,sector,month"},
        }
        base = f"/v1/projects/{pid}"
        for name, query in cases.items():
            path = "gaps" if name.startswith("gaps") else "reach"
            _timed(client, f"{base}/{path}", query, headers, args.runs, name)
        if args.flows:
            # The facts are received (not yet approved): counted as a project that includes them would.
            by_month = {"by": "site,period", "period": "month", "includeReceived": "true"}
            by_day = {
                "by": "site,period,direction",
                "period": "day",
                "suppress": "true",
                "includeReceived": "true",
            }
            by_transport = {"by": "site,transport", "includeReceived": "true"}
            by_nationality = {"by": "site,period,nationality", "suppress": "true", "includeReceived": "true"}
            _timed(client, f"{base}/flows", by_month, headers, args.runs, "flows by site x month")
            _timed(client, f"{base}/flows", by_day, headers, args.runs, "flows by site x day x direction")
            _timed(client, f"{base}/flows", by_transport, headers, args.runs, "flows by site x transport")
            _timed(
                client,
                f"{base}/flows",
                by_nationality,
                headers,
                args.runs,
                "flows by site x month x nationality",
            )
            transit = {"year": "2026", "includeReceived": "true"}
            _timed(client, f"{base}/transit", transit, headers, args.runs, "transit vs movements")
        get_database(app).dispose()
    return 0
