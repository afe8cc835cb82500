"""Response monitoring: 5W rows through the workbook import and the JSON API with their QA findings, plan
figures, and the reach and gap tables, every figure checked against a hand computation written out here."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from app.db import get_database
from app.models import ActivityReport, AuditEvent
from app.services.response import workbooks
from tests.app.conftest import World

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# R4V's 5W template in Spanish: a title row, a row of merged group headers, then the column headers.
SPANISH_HEADERS = [
    ("country", "País"),
    ("admin1", "Admin1"),
    ("admin2", "Admin2"),
    ("organisation", "Organización Líder / Appealing Organization"),
    ("implementing_partner", "Socio implementador"),
    ("month", "Mes / Month"),
    ("sector", "Sector"),
    ("indicator", "Indicador"),
    ("activity", "Actividad"),
    ("cva", "CVA"),
    ("cva_value_usd", "Valor en USD"),
    ("delivery_mechanism", "Mecanismo de entrega"),
    ("output_quantity", "Cantidad de producción"),
    ("total_beneficiaries", "Total beneficiarios mensuales"),
    ("new_beneficiaries", "Nuevos beneficiarios del mes"),
    ("in_destination", "Destino"),
    ("in_transit", "En tránsito"),
    ("host_community", "Comunidad de acogida"),
    ("pendular", "Pendulares"),
    ("colombian_returnees", "Colombianos retornados"),
    ("girls", "Niñas <18"),
    ("boys", "Niños <18"),
    ("women", "Mujeres ≥18"),
    ("men", "Hombres ≥18"),
    ("other_under_18", "Otro <18"),
    ("other_over_18", "Otro ≥18"),
]


def r4v_workbook(rows: list[dict[str, Any]], *, formula_at: tuple[int, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "5W"
    names = [n for n, _ in SPANISH_HEADERS]
    sheet.append(["5W RMRP 2026 – Colombia (plantilla regional)"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(names))
    groups = [""] * len(names)
    groups[names.index("in_destination")] = "Población (nuevos beneficiarios)"
    groups[names.index("girls")] = "Edad y género (nuevos beneficiarios)"
    sheet.append(groups)
    first, last = names.index("in_destination") + 1, names.index("colombian_returnees") + 1
    sheet.merge_cells(f"{get_column_letter(first)}2:{get_column_letter(last)}2")
    first, last = names.index("girls") + 1, names.index("other_over_18") + 1
    sheet.merge_cells(f"{get_column_letter(first)}2:{get_column_letter(last)}2")
    sheet.append([h for _, h in SPANISH_HEADERS])
    for row in rows:
        sheet.append([row.get(n) for n in names])
    if formula_at is not None:
        number, column = formula_at
        sheet.cell(row=number, column=names.index(column) + 1, value="=1+1")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PAIRS = [("health", "HEA-01"), ("wash", "WASH-01"), ("education", "EDU-01")]
ADMIN1 = ["CO54", "CO11", "CO08"]
ORGS = ["ACNUR", "OIM", "NRC"]


def good_row(i: int) -> dict[str, Any]:
    new = 10 + i % 7
    sector, indicator = PAIRS[i % 3]
    admin1 = ADMIN1[i % 3]
    return {
        "country": "COL",
        "admin1": admin1,
        "admin2": f"{admin1}001",
        "organisation": ORGS[i % 3],
        "implementing_partner": None,
        "month": f"2026-{1 + i % 3:02d}",
        "sector": sector.capitalize(),  # case and spelling as partners type them
        "indicator": indicator,
        "activity": f"Actividad {i}",
        "cva": "No",
        "output_quantity": new,
        "total_beneficiaries": new + 3,
        "new_beneficiaries": new,
        "in_destination": new - 2,
        "in_transit": 2,
        "girls": 1,
        "boys": 1,
        "women": new - 4,
        "men": 2,
    }


def planted() -> tuple[list[dict[str, Any]], set[tuple[int, str]]]:
    """200 rows (sheet rows 4 to 203), 15 of them broken on purpose; the findings each must give."""
    rows = [good_row(i) for i in range(200)]
    expected: set[tuple[int, str]] = set()

    def plant(index: int, changes: dict[str, Any], *rules: str) -> None:
        rows[index] |= changes
        expected.update((index + 4, rule) for rule in rules)

    plant(3, {"total_beneficiaries": 5}, "new_not_above_total")
    plant(10, {"in_destination": 1}, "population_types_sum_to_new")
    plant(17, {"women": 1}, "age_gender_sum_to_new")
    plant(24, {"cva": "Sí", "delivery_mechanism": "voucher"}, "cva_needs_value_and_mechanism")
    plant(31, {"cva": "si", "cva_value_usd": 120.5}, "cva_needs_value_and_mechanism")
    plant(38, {"cva_value_usd": 80}, "no_cva_no_value")
    plant(
        45, {"cva": "yes", "cva_value_usd": 50, "delivery_mechanism": "gold bars"}, "delivery_mechanism_known"
    )
    plant(52, {"country": "USA", "admin1": None, "admin2": None}, "country_known")
    plant(59, {"admin1": "CO00", "admin2": "CO00001"}, "admin_codes_known")
    plant(66, {"admin1": "CO54", "admin2": "CO11001"}, "admin_codes_known")
    plant(73, {"sector": "Health", "indicator": "EDU-01"}, "sector_indicator_known")
    plant(80, {"implementing_partner": "acnur ", "organisation": "ACNUR"}, "partner_empty_when_direct")
    plant(87, {"output_quantity": -4}, "counts_not_negative")
    plant(94, {"sector": None}, "required_fields")
    plant(101, {"month": "marzo"}, "cell_type", "required_fields")
    return rows, expected


def _post(world: World, path: str, data: bytes, who: str = "analyst", **query: str) -> Any:
    return world.client.post(
        f"/v1/projects/{world.project_id}{path}",
        data=data,
        content_type=XLSX,
        query_string=query,
        headers=world.headers(who),
    )


def _count(world: World) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return s.scalar(select(func.count()).select_from(ActivityReport)) or 0


def test_a_5w_workbook_with_planted_errors_gives_exactly_those_findings(world: World) -> None:
    rows, expected = planted()
    res = _post(world, "/activities/import", r4v_workbook(rows), filename="5w-marzo.xlsx")
    assert res.status_code == 422, res.json
    body = res.json
    assert (body["rows"], body["rowsWithErrors"], body["imported"], body["refused"]) == (200, 15, 0, True)
    assert "goodRows=true" in body["message"]
    got = {(r["row"], f["rule"]) for r in body["results"] for f in r["findings"]}
    assert got == expected
    assert _count(world) == 0  # all or nothing
    # The error workbook lists the same findings, in Spanish when asked.
    report = world.client.get(
        f"/v1/projects/{world.project_id}/activities/report.xlsx",
        query_string={"upload": body["uploadId"], "lang": "es"},
        headers=world.headers("supervisor"),
    )
    assert report.status_code == 200 and report.mimetype == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(report.data))["findings"]
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == ("fila", "estado", "regla", "campo", "hallazgo")
    assert {(r[0], r[2]) for r in lines[1:] if r[1] == "error"} == expected
    assert sum(1 for r in lines[1:] if r[1] == "correcta") == 185
    assert any("superar" in (r[4] or "") for r in lines[1:])


def test_good_rows_are_imported_and_rows_with_errors_held_until_fixed_or_accepted(world: World) -> None:
    rows, _ = planted()
    res = _post(world, "/activities/import", r4v_workbook(rows), goodRows="true")
    assert res.status_code == 200, res.json
    # Rows 97 (no sector) and 104 (unreadable month) cannot be placed at all: they stay in the report only.
    assert (res.json["imported"], res.json["held"]) == (185, 13)
    assert _count(world) == 198
    base = f"/v1/projects/{world.project_id}/activities"
    held = world.client.get(base, query_string={"status": "error"}, headers=world.headers("analyst")).json
    assert len(held) == 13
    broken = next(r for r in held if r["row"] == 7)  # total 5 < new
    fixed = world.client.patch(
        f"{base}/{broken['id']}", json={"total_beneficiaries": 40}, headers=world.headers("analyst")
    )
    assert fixed.status_code == 200 and fixed.json["status"] == "valid" and fixed.json["findings"] == []
    other = next(r for r in held if r["row"] == 84)  # partner named like the appealing organisation
    refused = world.client.post(
        f"{base}/{other['id']}/accept", json={"reason": "ok"}, headers=world.headers("analyst")
    )
    assert refused.status_code == 400
    accepted = world.client.post(
        f"{base}/{other['id']}/accept",
        json={"reason": "ACNUR's own field office implements; the sheet repeats the name"},
        headers=world.headers("analyst"),
    )
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.project_id == world.project_id)))
    assert {"activities.import", "activities.fix", "activities.accept", "activities.read"} <= actions


def _row(**values: Any) -> dict[str, Any]:
    base = {"country": "COL", "cva": False, "implementing_partner": None}
    return base | values


# The hand-computed fixture of the reach and gap tests (INDICATORS.md §9 arithmetic).
FIXTURE = [
    _row(
        organisation="ACNUR",
        admin1="CO54",
        admin2="CO54001",
        month="2026-01",
        sector="health",
        indicator="HEA-01",
        total_beneficiaries=30,
        new_beneficiaries=20,
        in_destination=15,
        in_transit=5,
        girls=4,
        boys=4,
        women=7,
        men=5,
    ),
    _row(
        organisation="ACNUR",
        admin1="CO54",
        admin2="CO54001",
        month="2026-02",
        sector="health",
        indicator="HEA-01",
        total_beneficiaries=25,
        new_beneficiaries=10,
        in_destination=10,
        girls=1,
        boys=1,
        women=6,
        men=2,
    ),
    _row(
        organisation="OIM",
        admin1="CO54",
        admin2="CO54001",
        month="2026-01",
        sector="wash",
        indicator="WASH-01",
        total_beneficiaries=40,
        new_beneficiaries=40,
        in_destination=20,
        in_transit=10,
        host_community=10,
        girls=10,
        boys=10,
        women=12,
        men=8,
    ),
    _row(
        organisation="OIM",
        admin1="CO11",
        admin2="CO11001",
        month="2026-02",
        sector="wash",
        indicator="WASH-01",
        total_beneficiaries=12,
        new_beneficiaries=12,
        host_community=12,
        women=6,
        men=6,
    ),
    # Held (population types do not add up): never counted.
    _row(
        organisation="NRC",
        admin1="CO11",
        admin2="CO11001",
        month="2026-02",
        sector="wash",
        indicator="WASH-01",
        total_beneficiaries=500,
        new_beneficiaries=500,
        in_destination=1,
        women=500,
    ),
    # Another year: never counted in 2026.
    _row(
        organisation="OIM",
        admin1="CO11",
        admin2="CO11001",
        month="2025-12",
        sector="wash",
        indicator="WASH-01",
        total_beneficiaries=9,
        new_beneficiaries=9,
        host_community=9,
        women=9,
    ),
]
PLAN = """year,sector,country,admin1,admin2,population_type,age_gender,people_in_need,target
2026,health,COL,CO54,,in_destination,women,100,50
2026,health,COL,CO54,,in_destination,girls,40,20
2026,health,COL,CO54,,in_transit,men,60,30
2026,wash,COL,CO54,,in_destination,women,80,40
2026,wash,COL,CO54,,host_community,men,50,25
2026,wash,COL,CO11,,host_community,women,30,15
2025,wash,COL,CO11,,host_community,women,999,1
"""


@pytest.fixture
def reported(world: World) -> World:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/activities",
        json={"rows": FIXTURE},
        query_string={"goodRows": "true"},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    assert (res.json["imported"], res.json["held"]) == (5, 1)
    res = world.client.put(
        f"/v1/projects/{world.project_id}/needs",
        data=PLAN.encode(),
        content_type="text/csv",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    assert res.json == {"years": [2025, 2026], "rows": 7}
    return world


def _table(world: World, kind: str, **query: str) -> list[dict[str, Any]]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/{kind}",
        query_string={"year": "2026", **query},
        headers=world.headers("supervisor"),
    )
    assert res.status_code == 200, res.json
    return res.json["rows"]


def _by(rows: list[dict[str, Any]], *dims: str, measure: str = "reached") -> dict[tuple[Any, ...], Any]:
    return {(*(r["dimensions"].get(d) for d in dims), r["category"]): r[measure] for r in rows}


def test_reached_is_new_beneficiaries_over_the_year_and_monthly_totals_stay_monthly(reported: World) -> None:
    by_sector = _table(reported, "reach", by="admin1,sector")
    assert _by(by_sector, "admin1", "sector") == {
        ("CO11", "wash", None): 12,
        ("CO54", "health", None): 30,
        ("CO54", "wash", None): 40,
    }
    assert all(r["totalMonthly"] is None for r in by_sector)  # never summed across months
    monthly = _table(reported, "reach", by="month")
    assert {r["dimensions"]["month"]: (r["reached"], r["totalMonthly"]) for r in monthly} == {
        "2026-01-01": (60, 70),
        "2026-02-01": (22, 37),
    }
    assert _by(_table(reported, "reach", until="1"), measure="reached") == {(None,): 60}
    pop = _table(reported, "reach", by="population_type")
    assert _by(pop) == {
        ("in_destination",): 45,
        ("in_transit",): 15,
        ("host_community",): 22,
        ("pendular",): 0,
        ("colombian_returnees",): 0,
    }


def test_cross_sector_models_each_say_which(reported: World) -> None:
    expected = {
        "sum": {"CO54": 70, "CO11": 12},
        "max_sector": {"CO54": 40, "CO11": 12},
        "max_cell": {"CO54": 41, "CO11": 12},
    }
    for model, want in expected.items():
        rows = _table(reported, "reach", by="admin1", model=model)
        assert {r["dimensions"]["admin1"]: r["reached"] for r in rows} == want, model
        assert {r["model"] for r in rows} == {model}
    cells = _table(reported, "reach", by="admin1", model="max_cell")
    assert next(r for r in cells if r["dimensions"]["admin1"] == "CO54")["reachedByAgeGender"] == {
        "girls": 10,
        "boys": 10,
        "women": 13,
        "men": 8,
        "other_under_18": 0,
        "other_over_18": 0,
    }


def test_gap_and_coverage_per_place_sector_and_population_type(reported: World) -> None:
    rows = _table(reported, "gaps", by="admin1,sector")
    got = {
        (r["dimensions"]["admin1"], r["dimensions"]["sector"]): (
            r["peopleInNeed"],
            r["target"],
            r["reached"],
            r["gap"],
            r["coverage"],
        )
        for r in rows
    }
    assert got == {
        ("CO54", "health"): (200, 100, 30, 170, 0.15),
        ("CO54", "wash"): (130, 65, 40, 90, 0.3077),
        ("CO11", "wash"): (30, 15, 12, 18, 0.4),
    }
    total = {
        r["dimensions"]["admin1"]: (r["peopleInNeed"], r["reached"], r["gap"], r["coverage"])
        for r in _table(reported, "gaps", by="admin1")
    }
    assert total == {"CO54": (330, 70, 260, 0.2121), "CO11": (30, 12, 18, 0.4)}
    cell = {
        r["dimensions"]["admin1"]: (r["peopleInNeed"], r["reached"], r["gap"])
        for r in _table(reported, "gaps", by="admin1", model="max_cell")
    }
    assert cell["CO54"] == (200, 41, 159)
    pop = _table(reported, "gaps", by="admin1,population_type")
    got_pop = {
        (r["dimensions"]["admin1"], r["category"]): (r["peopleInNeed"], r["reached"], r["gap"]) for r in pop
    }
    assert got_pop[("CO54", "in_destination")] == (220, 45, 175)
    assert got_pop[("CO54", "in_transit")] == (60, 15, 45)
    assert got_pop[("CO54", "host_community")] == (50, 10, 40)
    assert got_pop[("CO11", "host_community")] == (30, 12, 18)


def test_outputs_carry_hxl_that_libhxl_reads_and_filters(reported: World) -> None:
    import hxl

    res = reported.client.get(
        f"/v1/projects/{reported.project_id}/gaps.csv",
        query_string={"year": "2026", "by": "admin1,sector"},
        headers=reported.headers("analyst"),
    )
    assert res.status_code == 200 and res.mimetype == "text/csv"
    data = hxl.data(io.BytesIO(res.data))
    co54 = list(data.with_rows("#adm1+code=CO54").with_rows("#sector+code=wash"))
    assert [(row.get("#inneed"), row.get("#targeted"), row.get("#reached")) for row in co54] == [
        ("130", "65", "40")
    ]
    reach = reported.client.get(
        f"/v1/projects/{reported.project_id}/reach.xlsx",
        query_string={"year": "2026", "by": "admin1"},
        headers=reported.headers("analyst"),
    )
    sheet = openpyxl.load_workbook(io.BytesIO(reach.data))["reach"]
    header, tags = (list(r) for r in sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    assert tags[header.index("reached_girls")] == "#reached+f+children"
    assert tags[header.index("reached_men")] == "#reached+m+adults"
    assert tags[header.index("model")] == "#meta+dedup"


def test_bad_files_get_a_clear_4xx_and_import_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _post(world, "/activities/import", b"hola, esto no es un libro").status_code == 400
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (workbooks.UNPACKED_LIMIT + 1))
    res = _post(world, "/activities/import", bomb.getvalue())
    assert res.status_code == 413 and "unpack" in res.json["message"]
    rows = [good_row(i) for i in range(5)]
    res = _post(world, "/activities/import", r4v_workbook(rows, formula_at=(6, "new_beneficiaries")))
    assert res.status_code == 400 and "formula" in res.json["message"] and res.json["details"]["row"] == 6
    monkeypatch.setattr(workbooks, "MAX_ROWS", 3)
    res = _post(world, "/activities/import", r4v_workbook(rows))
    assert res.status_code == 413 and "split" in res.json["message"]
    res = world.client.post(
        f"/v1/projects/{world.project_id}/activities",
        json=[{"organisation": "ACNUR", "colour": "blue"}],
        headers=world.headers("analyst"),
    )
    assert res.status_code == 400 and res.json["details"]["unknown"] == ["colour"]
    plan = "year,sector,country,population_type,age_gender,people_in_need\n2026,health,COL,aliens,women,10\n"
    res = world.client.put(
        f"/v1/projects/{world.project_id}/needs", data=plan.encode(), headers=world.headers("manager")
    )
    assert res.status_code == 400 and res.json["details"]["rows"][0]["row"] == 2
    assert _count(world) == 0


def test_who_may_report_and_read(world: World) -> None:
    body = r4v_workbook([good_row(0)])
    assert _post(world, "/activities/import", body, who="enumerator").status_code == 403
    assert _post(world, "/activities/import", body, who="outsider").status_code == 404
    assert _post(world, "/activities/import", body, who="anonymous").status_code == 401
    assert (
        world.client.get(
            f"/v1/projects/{world.project_id}/reach", headers=world.headers("enumerator")
        ).status_code
        == 403
    )
    assert (
        world.client.get(
            f"/v1/projects/{world.project_id}/gaps", headers=world.headers("outsider")
        ).status_code
        == 404
    )


def test_reach_refuses_what_5w_rows_cannot_say(reported: World) -> None:
    url = f"/v1/projects/{reported.project_id}/reach"
    for query in (
        {"by": "population_type,age_gender"},
        {"by": "colour"},
        {"model": "average"},
        {"year": "abc"},
        {"until": "13"},
    ):
        res = reported.client.get(url, query_string=query, headers=reported.headers("analyst"))
        assert res.status_code == 400, (query, res.json)


def test_plan_csv_reader_matches_headers_in_spanish() -> None:
    from app.services.response import plans

    text = (
        "Año,Sector,País,Admin1,Tipo de población,Edad género,PiN,Meta\n"
        "2026,Salud,COL,CO54,in_transit,men,5,2\n"
    )
    rows = plans.rows_from_upload(text.encode())
    assert rows == [
        (
            2,
            {
                "year": "2026",
                "sector": "Salud",
                "country": "COL",
                "admin1": "CO54",
                "population_type": "in_transit",
                "age_gender": "men",
                "people_in_need": "5",
                "target": "2",
            },
        )
    ]


def test_suppressed_tables_hide_small_counts_and_a_partner_for_a_lone_one(reported: World) -> None:
    rows = _table(reported, "reach", by="admin1,month,age_gender", suppress="true")
    feb = {
        r["category"]: r["reached"]
        for r in rows
        if r["dimensions"] == {"admin1": "CO54", "month": "2026-02-01"}
    }
    # February in CO54 is one health row: girls 1, boys 1, women 6, men 2.
    assert feb == {
        "girls": None,
        "boys": None,
        "women": 6,
        "men": None,
        "other_under_18": 0,
        "other_over_18": 0,
    }
    jan = {
        r["category"]: r["reached"]
        for r in rows
        if r["dimensions"] == {"admin1": "CO54", "month": "2026-01-01"}
    }
    assert jan == {"girls": 14, "boys": 14, "women": 19, "men": 13, "other_under_18": 0, "other_over_18": 0}
    plain = _table(reported, "reach", by="admin1,month,age_gender")
    assert all(not r["suppressed"] for r in plain) and len(plain) == len(rows)


def test_a_lone_small_cell_takes_the_next_smallest_with_it() -> None:
    from app.services.response.reach import Row
    from app.services.response.suppression import suppress

    rows = [
        Row({"admin1": "CO54"}, c, v, None) for c, v in (("girls", 3), ("boys", 9), ("women", 20), ("men", 7))
    ]
    suppress(rows)
    assert [r.reached for r in rows] == [None, 9, 20, None]  # 3 hidden, so 7 too: 39 − 29 would tell
    total = Row({"admin1": "CO11"}, None, 40, None, {"girls": 2, "boys": 0, "women": 30, "men": 8})
    suppress([total])
    assert total.by_age_gender == {"girls": None, "boys": 0, "women": 30, "men": None} and total.reached == 40


def test_who_may_fix_accept_and_read_reports(world: World) -> None:
    rows = [good_row(0), good_row(1) | {"total_beneficiaries": 1}]
    res = _post(world, "/activities/import", r4v_workbook(rows), goodRows="true")
    assert res.status_code == 200 and res.json["held"] == 1
    base = f"/v1/projects/{world.project_id}/activities"
    (held,) = world.client.get(base, query_string={"status": "error"}, headers=world.headers("analyst")).json
    report = f"{base}/report.xlsx"
    expected = {"anonymous": 401, "outsider": 404, "enumerator": 403}
    for who, status in expected.items():
        headers = world.headers(who)
        assert world.client.get(report, headers=headers).status_code == status, who
        assert world.client.patch(f"{base}/{held['id']}", json={}, headers=headers).status_code == status, who
        accept = world.client.post(f"{base}/{held['id']}/accept", json={"reason": "because"}, headers=headers)
        assert accept.status_code == status, who
    supervisor = world.headers("supervisor")
    assert world.client.get(report, headers=supervisor).status_code == 200
    assert world.client.patch(f"{base}/{held['id']}", json={}, headers=supervisor).status_code == 403
    # Another project's row is not found from this one.
    other = f"/v1/projects/{world.other_project_id}/activities/{held['id']}"
    assert world.client.patch(other, json={}, headers=world.headers("admin")).status_code == 404
