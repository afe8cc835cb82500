"""Review table with answer columns, and the submissions map, timed at 100,000 submissions.

Seeds one form of ten questions plus a geopoint (text, integers, dates, a select_one and a
select_multiple with labels) with N submissions spread over 60 days, by bulk inserts (this times
reading, not ingest), saves the ten questions as the table's answer columns, then through the real
views (logged in as a supervisor) times each request ``--runs`` times and prints medians in ms.
Targets (issue 17): a table page with 10 answer columns < 300 ms; the map GeoJSON of one day < 2 s.

    python -m tests.benchmarks form_admin [--db postgresql|sqlite|both] [--submissions N] [--runs 5]
"""

from __future__ import annotations

import argparse
import html
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.benchmarks.common import PG_ADMIN_URL, fresh_postgres

PG_BENCH_DB = "ruta_bench_form_admin"
TABLE_TARGET_MS = 300
MAP_TARGET_MS = 2000
PASSWORD = "bench-password-123"
NATIONALITIES = {"VEN": "Venezolana", "COL": "Colombiana", "HTI": "Haitiana", "ECU": "Ecuatoriana"}
NEEDS = {"food": "Alimentación", "shelter": "Alojamiento", "health": "Salud", "cash": "Efectivo"}
QUESTIONS = [
    ("name", "string", "Nombre"),
    ("age", "int", "Edad"),
    ("nationality", "select1", "Nacionalidad"),
    ("needs", "select", "Necesidades"),
    ("arrived", "date", "Fecha de llegada"),
    ("group_size", "int", "Tamaño del grupo"),
    ("children", "int", "Niños y niñas"),
    ("destination", "string", "Destino"),
    ("phone", "string", "Teléfono"),
    ("notes", "string", "Observaciones"),
]


def form_xml() -> bytes:
    binds, body, items = [], [], []
    for name, kind, label in QUESTIONS:
        xsd = {"select1": "string", "select": "string"}.get(kind, kind)
        binds.append(f'<bind nodeset="/data/{name}" type="{xsd}"/>')
        if kind in ("select1", "select"):
            choices = NATIONALITIES if name == "nationality" else NEEDS
            items = "".join(f"<item><label>{t}</label><value>{v}</value></item>" for v, t in choices.items())
            body.append(f'<{kind} ref="/data/{name}"><label>{label}</label>{items}</{kind}>')
        else:
            body.append(f'<input ref="/data/{name}"><label>{label}</label></input>')
    fields = "".join(f"<{n}/>" for n, _, _ in QUESTIONS)
    return (
        '<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
        '<h:head><h:title>Bench needs</h:title><model><instance><data id="bench_needs" version="1">'
        f"{fields}<location/><meta><instanceID/><instanceName/></meta></data></instance>"
        + "".join(binds)
        + '<bind nodeset="/data/location" type="geopoint"/>'
        '<bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/></model></h:head><h:body>'
        + "".join(body)
        + '<input ref="/data/location"><label>Ubicación</label></input></h:body></h:html>'
    ).encode()


def seed(app: Any, n: int) -> dict[str, Any]:
    from app.auth.actor import Actor
    from app.blobs import get_blob_store
    from app.db import get_database
    from app.models import Submission, SubmissionVersion
    from app.services import projects
    from app.services.accounts import people as accounts
    from app.services.publishing import versions as form_service
    from app.services.submissions import table_columns
    from forms.schema import FormSchema

    db = get_database(app)
    with app.app_context(), db.session_scope() as session:
        admin = accounts.create_user(
            session, actor=None, email="admin@bench.local", password=PASSWORD, realm="Ruta", is_admin=True
        )
        actor = Actor(user=admin)
        org = projects.create_organisation(session, actor=actor, code="BENCH", name="Bench")
        project = projects.create_project(session, actor=actor, organisation=org, name="Bench project")
        sup = accounts.create_user(
            session,
            actor=actor,
            email="sup@bench.local",
            password=PASSWORD,
            realm="Ruta",
            organisation_id=org.id,
        )
        accounts.assign_role(session, actor=actor, project=project, user=sup, role="supervisor")
        result = form_service.create_form(
            session,
            actor=actor,
            project=project,
            data=form_xml(),
            store=get_blob_store(app),
            publish=True,
            run_validate=False,
        )
        form = result.form
        assert form.current_version is not None
        schema = FormSchema.from_dict(form.current_version.schema)
        table_columns.save(
            session, actor=actor, form=form, schema=schema, paths=[f"/data/{q[0]}" for q in QUESTIONS]
        )
        session.commit()
        form_id, project_id, version_id, org_id = form.id, project.id, form.current_version.id, org.id

    rng = random.Random(17)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    sub_table, ver_table = Submission.__table__, SubmissionVersion.__table__
    start = time.perf_counter()
    with db.engine.begin() as conn:
        for offset in range(0, n, 5000):
            subs, vers = [], []
            for sid in range(offset + 1, min(n, offset + 5000) + 1):
                created = now - timedelta(seconds=rng.randrange(60 * 86400))
                iid = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
                name = f"Entrevista {sid:06d}"
                values = {
                    "name": rng.choice(["Ana", "Luis", "María", "José", "Rosa"]),
                    "age": rng.randrange(18, 80),
                    "nationality": rng.choice(list(NATIONALITIES)),
                    "needs": rng.sample(list(NEEDS), 2),
                    "arrived": (created - timedelta(days=rng.randrange(30))).date().isoformat(),
                    "group_size": rng.randrange(1, 9),
                    "children": rng.randrange(0, 4),
                    "destination": rng.choice(["Lima", "Santiago", "Quito", "Bogotá"]),
                    "phone": f"+57 3{rng.randrange(10**8, 10**9)}",
                    "notes": "Sin observaciones",
                    "location": {
                        "lat": round(rng.uniform(-20, 12), 6),
                        "lon": round(rng.uniform(-80, -60), 6),
                        "alt": 2800.0,
                        "accuracy": 5.0,
                    },
                }
                subs.append(
                    {
                        "id": sid,
                        "form_id": form_id,
                        "organisation_id": org_id,
                        "instance_id": iid,
                        "current_version_id": None,
                        "review_state": rng.choice(("received", "approved", "hasIssues")),
                        "instance_name": name,
                        "device_id": f"collect:{rng.randrange(40):016d}",
                        "is_encrypted": False,
                        "quality_flags": [],
                        "flag_codes": "",
                        "created_at": created,
                    }
                )
                vers.append(
                    {
                        "id": sid,
                        "submission_id": sid,
                        "form_id": form_id,
                        "form_version_id": version_id,
                        "instance_id": iid,
                        "xml": b"<data id='bench_needs'/>",
                        "sha256": "0" * 64,
                        "values": values,
                        "value_problems": [],
                        "instance_name": name,
                        "received_at": created,
                    }
                )
            conn.execute(sa.insert(sub_table), subs)
            conn.execute(sa.insert(ver_table), vers)
        conn.execute(sa.update(sub_table).values(current_version_id=sub_table.c.id))
        if db.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval('submissions_id_seq', :n)"), {"n": n})
            conn.execute(sa.text("SELECT setval('submission_versions_id_seq', :n)"), {"n": n})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    print(f"  seeded {n} submissions in {time.perf_counter() - start:.1f} s", flush=True)
    return {"project_id": project_id, "day": (now - timedelta(days=3)).date().isoformat()}


def requests(world: dict[str, Any], n: int) -> dict[str, tuple[str, int]]:
    """name -> (path, target ms)."""
    base = f"/admin/projects/{world['project_id']}/forms/bench_needs"
    last = max(1, -(-n // 50))
    day = world["day"]
    return {
        "table, 10 answer columns: first page": (f"{base}/submissions", TABLE_TARGET_MS),
        "table, 10 answer columns: deep page": (f"{base}/submissions?page={last // 2}", TABLE_TARGET_MS),
        "table, 10 answer columns: last page": (f"{base}/submissions?page={last}", TABLE_TARGET_MS),
        "table, 10 answer columns: one day": (f"{base}/submissions?from={day}&to={day}", TABLE_TARGET_MS),
        "table, 10 answer columns: 200 rows": (f"{base}/submissions?per_page=200", TABLE_TARGET_MS),
        "map GeoJSON: one day": (f"{base}/map.geojson?from={day}&to={day}", MAP_TARGET_MS),
        "map GeoJSON: approved, one day": (
            f"{base}/map.geojson?from={day}&to={day}&state=approved",
            MAP_TARGET_MS,
        ),
        "map GeoJSON: all (reported, no target)": (f"{base}/map.geojson", 0),
    }


def run(db_kind: str, n: int, runs: int, pg_admin_url: str) -> list[tuple[str, float, int, int]]:
    from app import create_app
    from app.auth import passwords
    from app.cli import upgrade_database
    from app.db import get_database

    passwords.use_fast_hashing_for_tests()
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-form-admin-"))
    url = (
        fresh_postgres(PG_BENCH_DB, pg_admin_url)
        if db_kind == "postgresql"
        else f"sqlite:///{tmp / 'bench.sqlite3'}"
    )
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "ODK_VALIDATE": False,
            "SECRET_KEY": "bench",
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    upgrade_database(app)
    print(f"\n{db_kind}: seeding…", flush=True)
    world = seed(app, n)
    client = app.test_client()
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/admin/login", data={"email": "sup@bench.local", "password": PASSWORD, "csrf_token": token})
    results = []
    timed = requests(world, n)
    # The way a person reaches the next page: the deep page's Next link, a keyset cursor.
    deep = client.get(timed["table, 10 answer columns: deep page"][0]).text
    next_link = re.search(r'<a rel="next" href="([^"]+)"', deep)
    assert next_link and "after=" in next_link.group(1), "the Next link carries no cursor"
    timed["table, 10 answer columns: deep page's Next"] = (html.unescape(next_link.group(1)), TABLE_TARGET_MS)
    for name, (path, target) in timed.items():
        first = client.get(path)  # warm the caches once, as a supervisor's second click would
        assert first.status_code == 200, (path, first.status_code, first.text[:300])
        size = len(first.get_json()["features"]) if path.split("?")[0].endswith(".geojson") else 0
        if "submissions" in path:
            assert first.text.count('class="answer"') >= 10, "answer columns missing"
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        results.append((name, statistics.median(times), target, size))
    get_database(app).dispose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks form_admin", description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args(argv)
    slow = False
    for kind in ["postgresql", "sqlite"] if args.db == "both" else [args.db]:
        results = run(kind, args.submissions, args.runs, args.pg_admin_url)
        print(f"\n{kind}, {args.submissions} submissions, median of {args.runs} (ms):")
        for name, ms, target, size in results:
            over = bool(target) and ms >= target
            slow = slow or over
            points = f" ({size} points)" if size else ""
            print(f"  {name:<46} {ms:8.1f}{points}{'   <-- over target' if over else ''}")
    print(f"\ntargets: table page < {TABLE_TARGET_MS} ms; map GeoJSON of one day < {MAP_TARGET_MS} ms")
    return 1 if slow else 0
