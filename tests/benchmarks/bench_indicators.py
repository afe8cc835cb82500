"""Indicators benchmark: 100,000 household submissions (about 4 persons each) of the bundled household
form, normalised into canonical rows and indicator facts, then:

* **full recompute**: every catalogue indicator with each default disaggregation (one SQL aggregation per
  dimension and its margin, suppression included), i.e. what a complete refresh of the published tables
  does. Target < 20 s on PostgreSQL.
* **one review change**: a supervisor approves or rejects one submission (the review service, as the
  API calls it), the canonical rows are refreshed (the staleness query plus the indexed UPDATE of that
  submission's facts) and committed, so the next read reflects it. Target < 200 ms.
* **unchanged read**: the refresh a read does when nothing changed (the marks' look-ups plus the bounded
  late-commit window below them); printed, no target.

Each is the median of ``--runs``. The initial normalisation of all submissions (Python normalisation of
each one plus the bulk inserts) is printed too; it runs once per database, not per read.

    python -m tests.benchmarks indicators [--db postgresql|sqlite|both] [--submissions N] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.benchmarks.common import PG_ADMIN_URL, sa_url
from tests.benchmarks.common import fresh_postgres as common_fresh_postgres

PG_BENCH_DB = "ruta_bench_indicators"
TARGET_FULL_S = 20.0
TARGET_REVIEW_MS = 200.0
STATES = ("approved",) * 7 + ("received", "received", "hasIssues")
WG = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
WG_ANSWERS = ("none",) * 12 + ("some", "some", "a_lot", "cannot", "refused")
COUNTRIES = {"COL": 12, "ECU": 6, "PER": 8}
NEEDS = (
    "food",
    "water",
    "shelter",
    "health",
    "employment_income",
    "legal_documentation",
    "cash",
    "education",
)
YES_NO = ("yes", "no", "no", "dk", "refused")


def _sa(url: str) -> str:
    return sa_url(url)


def fresh_postgres(admin_url: str, name: str = PG_BENCH_DB) -> str:
    return common_fresh_postgres(name, admin_url)


def household_values(rng: random.Random, day: datetime) -> dict[str, Any]:
    """One household as extract_values would store it: groups as dicts, the roster as a list."""
    country = rng.choice(list(COUNTRIES))
    adm1 = f"{country[:2]}{rng.randrange(COUNTRIES[country]):02d}"
    members = []
    for _ in range(max(1, int(rng.gauss(4, 1.3)))):
        age = rng.choice(
            [rng.randrange(0, 5), rng.randrange(5, 18), rng.randrange(18, 60), rng.randrange(60, 90)]
        )
        member = {"m_sex_gender": rng.choice("fmfmx"), "m_age_years": age}
        if age >= 5:
            member |= {f"m_wg_{d}": rng.choice(WG_ANSWERS) for d in WG}
        if 5 <= age <= 17:
            member["m_school_enrolled"] = rng.choice(YES_NO)
        members.append(member)
    return {
        "end": day.isoformat(),
        "consent": "yes" if rng.random() > 0.02 else "no",
        "location": {
            "country_iso3": country,
            "adm1_pcode": adm1,
            "adm2_pcode": f"{adm1}{rng.randrange(5):03d}",
            "site_code": f"{country}-S{rng.randrange(10):02d}",
        },
        "respondent": {
            "sex_gender": rng.choice("ffmmx"),
            "age_years": rng.randrange(18, 80),
            "nationality_iso3": rng.choice(["VEN", "VEN", "VEN", "COL", "HTI", "VEN COL"]),
            **{f"wg_{d}": rng.choice(WG_ANSWERS) for d in WG},
            "has_valid_id_doc": rng.choice(YES_NO),
            "has_regular_status": rng.choice(YES_NO),
        },
        "household": {
            "population_type": rng.choice(["in_destination", "in_destination", "pendular", "host_community"]),
            "route_stage": rng.choice(["destination", "destination", "circular"]),
            "hh_size": len(members),
        },
        "members_count": len(members),
        "members": members,
        "needs": {
            "need_1": rng.choice(NEEDS),
            "need_2": rng.choice(NEEDS),
            "need_3": rng.choice(NEEDS),
            "water_source_safe": rng.choice(YES_NO),
            "health_needed": rng.choice(YES_NO),
            "health_accessed": rng.choice(YES_NO),
            "legal_help_needed": rng.choice(YES_NO),
            "legal_help_received": rng.choice(YES_NO),
            **{
                f"fcs_{item}": rng.randrange(8)
                for item in ("cereals", "pulses", "vegetables", "fruit", "meat_fish", "dairy", "sugar", "oil")
            },
        },
        "assistance": {
            "received_assistance_30d": rng.choice(YES_NO),
            "knows_feedback_mechanism": rng.choice(YES_NO),
        },
    }


def seed(app: Any, n: int) -> dict[str, Any]:
    from app.auth.actor import Actor
    from app.blobs import get_blob_store
    from app.db import get_database
    from app.models import Submission, SubmissionVersion
    from app.services import projects
    from app.services.accounts import people as accounts
    from app.services.publishing import versions as form_service
    from forms.library import read_bundled

    db = get_database(app)
    with app.app_context(), db.session_scope() as session:
        admin = accounts.create_user(
            session,
            actor=None,
            email="admin@bench.local",
            password="bench-pw-123",
            realm="Ruta",
            is_admin=True,
        )
        actor = Actor(user=admin)
        org = projects.create_organisation(session, actor=actor, code="BENCH", name="Bench")
        project = projects.create_project(session, actor=actor, organisation=org, name="Bench project")
        result = form_service.create_form(
            session,
            actor=actor,
            project=project,
            data=read_bundled("ruta_household_needs"),
            store=get_blob_store(app),
            publish=True,
            run_validate=False,
            ignore_warnings=True,
            filename="ruta_household_needs.xlsx",
            fallback_form_id="ruta_household_needs",
        )
        session.commit()
        form_id, project_id, version_id = result.form.id, project.id, result.version.id
        admin_id, org_id = admin.id, org.id

    rng = random.Random(6)
    start_day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    sub_table, ver_table = Submission.__table__, SubmissionVersion.__table__
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        for offset in range(0, n, 5000):
            subs, vers = [], []
            for i in range(offset, min(n, offset + 5000)):
                sid = i + 1
                day = start_day + timedelta(days=rng.randrange(180), minutes=rng.randrange(600))
                iid = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
                subs.append(
                    {
                        "id": sid,
                        "form_id": form_id,
                        "organisation_id": org_id,  # the collecting organisation (partner rows)
                        "instance_id": iid,
                        "current_version_id": None,
                        "review_state": rng.choice(STATES),
                        "is_encrypted": False,
                        "attachments_expected": 0,
                        "attachments_present": 0,
                        "quality_flags": [],
                        "flag_codes": "",
                        "created_at": day,
                    }
                )
                vers.append(
                    {
                        "id": sid,
                        "submission_id": sid,
                        "form_id": form_id,
                        "form_version_id": version_id,
                        "instance_id": iid,
                        "xml": b"<data/>",
                        "sha256": "0" * 64,
                        "values": household_values(rng, day),
                        "value_problems": [],
                        "received_at": day,
                    }
                )
            conn.execute(sa.insert(sub_table), subs)
            conn.execute(sa.insert(ver_table), vers)
        conn.execute(sa.update(sub_table).values(current_version_id=sub_table.c.id))
        if db.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval('submissions_id_seq', :n)"), {"n": n})
            conn.execute(sa.text("SELECT setval('submission_versions_id_seq', :n)"), {"n": n})
    print(f"  seeded {n} submissions in {time.perf_counter() - t0:.1f} s", flush=True)
    return {"project_id": project_id, "form_id": form_id, "admin_id": admin_id}


def normalise_all(app: Any, world: dict[str, Any]) -> float:
    from app.db import get_database
    from app.models import IndicatorFact, Project
    from app.services.indicators import records as indicator_records

    db = get_database(app)
    t0 = time.perf_counter()
    with app.app_context(), db.session_scope() as session:
        project = session.get(Project, world["project_id"])
        assert project is not None
        result = indicator_records.refresh_project(session, project=project)
        session.commit()
        facts = session.scalar(sa.select(sa.func.count()).select_from(IndicatorFact))
    seconds = time.perf_counter() - t0
    print(
        f"  initial normalisation: {result.normalised} submissions, {facts} fact rows, {seconds:.1f} s",
        flush=True,
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    return seconds


def full_recompute(app: Any, world: dict[str, Any]) -> tuple[float, int]:
    from app.db import get_database
    from app.models import Project
    from app.services.indicators import records as indicator_records
    from app.services.indicators.values import DIMENSIONS, IndicatorQuery, compute_tables

    t0 = time.perf_counter()
    with app.app_context(), get_database(app).session_scope() as session:
        project = session.get(Project, world["project_id"])
        assert project is not None
        indicator_records.refresh_project(session, project=project)
        bys = [(), *((dim,) for dim in DIMENSIONS)]
        results = compute_tables(session, project=project, query=IndicatorQuery(), bys=bys)
        cells = sum(len(r.values) for r in results)
        session.commit()
    return time.perf_counter() - t0, cells


def one_review_change(app: Any, world: dict[str, Any], state: str, submission_id: int) -> float:
    from app.auth.actor import Actor
    from app.db import get_database
    from app.models import Project, Submission, User
    from app.services.indicators import records as indicator_records
    from app.services.review import decisions as review

    with app.app_context(), get_database(app).session_scope() as session:
        t0 = time.perf_counter()
        project = session.get(Project, world["project_id"])
        submission = session.get(Submission, submission_id)
        user = session.get(User, world["admin_id"])
        assert project is not None and submission is not None and user is not None
        review.set_review_state(
            session, actor=Actor(user=user), project=project, submission=submission, state=state
        )
        session.commit()  # the review request
        indicator_records.refresh_project(session, project=project)
        session.commit()  # the next indicator read's refresh
        return (time.perf_counter() - t0) * 1000


def unchanged_read(app: Any, world: dict[str, Any]) -> float:
    from app.db import get_database
    from app.models import Project
    from app.services.indicators import records as indicator_records

    with app.app_context(), get_database(app).session_scope() as session:
        t0 = time.perf_counter()
        project = session.get(Project, world["project_id"])
        assert project is not None
        indicator_records.refresh_project(session, project=project)
        session.commit()
        return (time.perf_counter() - t0) * 1000


def reuse_world(app: Any) -> dict[str, Any]:
    """The project of a previous run's database (``--reuse``): seeding and normalising 100,000
    submissions takes many minutes on a loaded machine."""
    from app.db import get_database
    from app.models import Project, User

    with app.app_context(), get_database(app).session_scope() as session:
        project_id = session.scalar(sa.select(sa.func.min(Project.id)))
        admin_id = session.scalar(sa.select(User.id).where(User.email == "admin@bench.local"))
    assert project_id is not None and admin_id is not None, "nothing to reuse: run once without --reuse"
    return {"project_id": project_id, "admin_id": admin_id}


def run(
    db_kind: str, n: int, runs: int, pg_admin_url: str, reuse: bool = False, pg_db: str = PG_BENCH_DB
) -> dict[str, Any]:
    from app import create_app
    from app.auth import passwords
    from app.cli import upgrade_database
    from app.db import get_database

    passwords.use_fast_hashing_for_tests()
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-indicators-"))
    if db_kind == "postgresql":
        url = pg_admin_url.rsplit("/", 1)[0] + f"/{pg_db}" if reuse else fresh_postgres(pg_admin_url, pg_db)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "ODK_VALIDATE": False,
            "SECRET_KEY": "b",
        }
    )
    upgrade_database(app)
    if reuse and db_kind == "postgresql":
        world = reuse_world(app)
    else:
        print(f"\n{db_kind}: seeding…", flush=True)
        world = seed(app, n)
        normalise_all(app, world)
    full_recompute(app, world)  # warm caches once
    full = [full_recompute(app, world) for _ in range(runs)]
    one_review_change(app, world, "rejected", 7)  # warm
    changes = [one_review_change(app, world, state, 7) for state in (["approved", "rejected"] * runs)[:runs]]
    unchanged_read(app, world)  # warm
    unchanged = [unchanged_read(app, world) for _ in range(runs)]
    get_database(app).dispose()
    return {
        "full_s": statistics.median(t for t, _ in full),
        "cells": full[0][1],
        "review_ms": statistics.median(changes),
        "unchanged_ms": statistics.median(unchanged),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks indicators", description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: time the database of the last run")
    parser.add_argument("--pg-db", default=PG_BENCH_DB, help="PostgreSQL: the database to (re)create and use")
    args = parser.parse_args(argv)
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    slow = False
    for kind in kinds:
        r = run(kind, args.submissions, args.runs, args.pg_admin_url, args.reuse, args.pg_db)
        full_mark = "" if r["full_s"] < TARGET_FULL_S else "   <-- over target"
        review_mark = "" if r["review_ms"] < TARGET_REVIEW_MS else "   <-- over target"
        print(f"\nIndicators, {kind}, {args.submissions} submissions, median of {args.runs}:")
        label = f"full recompute (24 indicators x 11 dimensions + totals, {r['cells']} cells)"
        print(f"  {label:<72} {r['full_s']:8.2f} s{full_mark}")
        print(f"  {'one review change reflected':<72} {r['review_ms']:8.1f} ms{review_mark}")
        print(f"  {'unchanged read (marks and late-commit window)':<72} {r['unchanged_ms']:8.1f} ms")
        slow = slow or (kind == "postgresql" and bool(full_mark or review_mark))
    targets = f"full recompute < {TARGET_FULL_S:.0f} s; one review change < {TARGET_REVIEW_MS:.0f} ms"
    print(f"\ntargets on PostgreSQL: {targets}")
    return 1 if slow else 0
