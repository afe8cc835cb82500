"""Flow counts (issue 20 item 1) from the bundled flow-count form, the 5W form over OpenRosa, and reached in
transit against movements. Every figure is checked against a hand computation written out beside it."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from app.db import get_database
from app.models import ActivityReport, FlowFact, Project
from app.response import columns
from forms.library import read_bundled
from tests.app.batch_helpers import make_zip
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.openrosa_helpers import device_token, post_submission, root
from tests.app.test_response import r4v_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FLOW = "ruta_flow_count"
ACTIVITY = "ruta_activity_report"
JR = 'xmlns:jr="http://openrosa.org/javarosa"'
A, B, C = "COL-FMP-001", "ECU-FMP-002", "PER-FMP-003"

# (uid, day, site, direction, nationality, group type, next country, {cell: n}); children are the 0-17
# cells; every group's final destination is PER; "" is a next country left unanswered.
GROUPS: list[tuple[str, str, str, str, str, str, str, dict[str, int]]] = [
    (
        "a1",
        "2026-03-02",
        A,
        "in",
        "VEN",
        "family",
        "ECU",
        {"f_18_59": 1, "m_18_59": 1, "f_0_4": 1, "m_5_11": 1},
    ),
    ("a2", "2026-03-02", A, "out", "VEN", "alone", "VEN", {"m_18_59": 1}),
    ("a3", "2026-03-03", A, "in", "COL", "non_family", "ECU", {"f_18_59": 3, "m_18_59": 3}),
    ("a4", "2026-02-27", A, "in", "VEN", "family", "ECU", {"f_18_59": 1, "f_5_11": 2}),
    ("b1", "2026-03-02", B, "through", "VEN", "family", "PER", {"f_18_59": 2, "m_18_59": 1, "m_0_4": 2}),
    ("b2", "2026-03-10", B, "through", "VEN", "alone", "PER", {"f_60_plus": 1}),
    ("c1", "2026-03-05", C, "in", "HTI", "family", "", {"f_18_59": 1, "x": 1}),
    # rejected below: never counts
    ("c2", "2026-03-05", C, "in", "VEN", "non_family", "ECU", {"m_18_59": 10}),
]
CELLS = [f"{s}_{b}" for s in "fm" for b in ("0_4", "5_11", "12_17", "18_59", "60_plus")] + ["x"]


def flow_xml(
    version: str,
    uid: str,
    day: str,
    site: str,
    direction: str,
    nat: str,
    kind: str,
    next_country: str,
    n: dict[str, int],
    *,
    transport: str = "bus_formal walk",
    hours: str = "8",
    destination: str = "PER",
) -> str:
    counts = "".join(f"<n_{c}>{n.get(c, 0)}</n_{c}>" for c in CELLS)
    return (
        f'<data {JR} id="{FLOW}" version="{version}">'
        f"<start>{day}T08:00:00.000-05:00</start><end>{day}T10:00:00.000-05:00</end>"
        f"<today>{day}</today><deviceid>collect:x</deviceid>"
        f"<point><country_iso3>COL</country_iso3><site_code>{site}</site_code>"
        f"<observed_hours>{hours}</observed_hours></point>"
        f"<flow><direction>{direction}</direction><nationality_iso3>{nat}</nationality_iso3>"
        f"<group_type>{kind}</group_type><transport_modes>{transport}</transport_modes>"
        f"<country_next_dest_iso3>{next_country}</country_next_dest_iso3>"
        f"<country_intended_dest_iso3>{destination}</country_intended_dest_iso3>"
        f"<group_size>{sum(n.values())}</group_size>{counts}</flow>"
        f"<meta><instanceID>uuid:{uid}</instanceID></meta></data>"
    )


def publish(world: World, form_id: str) -> str:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=read_bundled(form_id),
        content_type=XLSX,
        headers={**world.headers("admin"), "X-XlsForm-FormId-Fallback": form_id},
    )
    assert res.status_code == 200, res.json
    return str(res.json["version"])


@pytest.fixture
def counted(world: World) -> World:
    # Received submissions count, as they do for FLW-01/02 when the project says so.
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, world.project_id)
        assert project is not None
        project.indicators_include_received = True
        s.commit()
    version = publish(world, FLOW)
    for uid, *rest in GROUPS:
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms/{FLOW}/submissions",
            data=flow_xml(version, uid, *rest).encode(),
            content_type="application/xml",
            headers=world.headers("manager"),
        )
        assert res.status_code == 200, res.json
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/{FLOW}/submissions/uuid:c2",
        json={"reviewState": "rejected"},
        headers=world.headers("supervisor"),
    )
    assert res.status_code == 200, res.json
    run_jobs(world.app)  # the indicator refresh writes the flow facts
    return world


def _flows(world: World, who: str = "analyst", **args: str) -> Any:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/flows", query_string=args, headers=world.headers(who)
    )
    assert res.status_code == 200, res.json
    return res.json["rows"]


def _by(rows: list[dict[str, Any]], *names: str) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(r["dimensions"][n] for n in names): r for r in rows}


def test_each_group_is_one_flow_fact_with_its_cells(counted: World) -> None:
    with counted.app.app_context(), get_database(counted.app).session_scope() as s:
        facts = {f.submission_id: f for f in s.scalars(select(FlowFact))}
        assert len(facts) == len(GROUPS)
        b1 = next(f for f in facts.values() if f.site == B and f.day == date(2026, 3, 2))
        assert (b1.direction, b1.nationality, b1.group_type, b1.transport) == (
            "through", "VEN", "family", "bus_formal",
        )  # fmt: skip
        assert (b1.next_destination, b1.destination) == ("PER", "PER")
        c1 = next(f for f in facts.values() if f.site == C and f.review_state != "rejected")
        assert (c1.next_destination, c1.destination) == ("unknown", "PER")  # next country unanswered
        assert (b1.people, b1.children, b1.f_18_59, b1.m_18_59, b1.m_0_4, b1.week, b1.month) == (
            5, 2, 2, 1, 2, "2026-W10", "2026-03",
        )  # fmt: skip
        assert b1.observed_hours == 8.0
        rejected = [f for f in facts.values() if f.review_state == "rejected"]
        assert [f.people for f in rejected] == [10]


def test_movements_groups_daily_average_and_change_per_site_and_month(counted: World) -> None:
    rows = _by(_flows(counted, by="site,period", period="month"), "site", "period")
    # A, Feb: a4 (3 people, 2 children), one day. A, Mar: a1 4 + a2 1 + a3 6 = 11 on 2 days; change
    # (11 - 3) / 3. B, Mar: b1 5 + b2 1 on 2 days. C, Mar: c1 2 (c2 rejected).
    expected = {
        (A, "2026-02"): (3, 1, 1, 3.0, 2, None),
        (A, "2026-03"): (11, 3, 2, 5.5, 2, round(8 / 3, 4)),
        (B, "2026-03"): (6, 2, 2, 3.0, 2, None),
        (C, "2026-03"): (2, 1, 1, 2.0, 0, None),
    }
    got = {
        k: (r["movements"], r["groups"], r["observedDays"], r["dailyAverage"], r["children"], r["change"])
        for k, r in rows.items()
    }
    assert got == expected
    assert rows[(A, "2026-03")]["childrenShare"] == round(2 / 11, 4)
    # a1 f 18-59, m 18-59, f 0-4, m 5-11; a2 m 18-59; a3 3 f 18-59 and 3 m 18-59.
    cells = dict.fromkeys(CELLS, 0) | {"f_18_59": 4, "m_18_59": 5, "f_0_4": 1, "m_5_11": 1}
    assert rows[(A, "2026-03")]["peopleBySexAge"] == cells


def test_weeks_cross_sites_and_days_count_site_days(counted: World) -> None:
    rows = _by(_flows(counted, by="period", period="week"), "period")
    # W09: a4 3. W10: a1 4 + a2 1 + a3 6 + b1 5 + c1 2 = 18 on site-days (A,2) (A,3) (B,2) (C,5).
    # W11: b2 1. Changes: (18 - 3) / 3 and (1 - 18) / 18.
    assert {k: (r["movements"], r["observedDays"], r["change"]) for k, r in rows.items()} == {
        ("2026-W09",): (3, 1, None),
        ("2026-W10",): (18, 4, 5.0),
        ("2026-W11",): (1, 1, round(-17 / 18, 4)),
    }
    days = _by(
        _flows(counted, by="period", period="day", **{"from": "2026-03-02", "to": "2026-03-03"}), "period"
    )
    assert {k: r["movements"] for k, r in days.items()} == {("2026-03-02",): 10, ("2026-03-03",): 6}


def test_direction_split_and_its_suppression(counted: World) -> None:
    args = {"by": "site,direction", "from": "2026-03-01"}
    rows = _by(_flows(counted, **args), "site", "direction")
    assert {k: (r["movements"], r["directionShare"]) for k, r in rows.items()} == {
        (A, "in"): (10, round(10 / 11, 4)),
        (A, "out"): (1, round(1 / 11, 4)),
        (B, "through"): (6, 1.0),
        (C, "in"): (2, 1.0),
    }
    hidden = _by(_flows(counted, suppress="true", **args), "site", "direction")
    # A out (1) is below 5 and alone in A's split: A in (10) goes with it, or 11 - 10 would give it
    # away. C in (2) is below 5. B through (6) stays; its cells f 18-59 2, m 18-59 1, m 0-4 2, f 60+ 1 are
    # each below 5 and hidden, its zero cells stay.
    assert {k: (r["movements"], r["suppressed"]) for k, r in hidden.items()} == {
        (A, "in"): (None, True),
        (A, "out"): (None, True),
        (B, "through"): (6, True),
        (C, "in"): (None, True),
    }
    cells = hidden[(B, "through")]["peopleBySexAge"]
    assert {c for c, v in cells.items() if v is None} == {"f_18_59", "m_18_59", "m_0_4", "f_60_plus"}
    assert all(v == 0 for c, v in cells.items() if v is not None)


def test_next_destination_split(counted: World) -> None:
    rows = _by(_flows(counted, by="next_destination"), "next_destination")
    # ECU: a1 4 (2 children) + a3 6 + a4 3 (2 children) = 13 people in 3 groups, on site-days
    # (A, 03-02) (A, 03-03) (A, 02-27); PER: b1 5 (2 children) + b2 1 = 6 in 2 groups on (B, 03-02)
    # (B, 03-10); VEN: a2 1; unknown (left unanswered): c1 2. c2 (ECU, 10) is rejected. 13 + 6 + 1 + 2 = 22.
    assert {k: (r["movements"], r["groups"], r["observedDays"], r["children"]) for k, r in rows.items()} == {
        ("ECU",): (13, 3, 3, 4),
        ("PER",): (6, 2, 2, 2),
        ("VEN",): (1, 1, 1, 0),
        ("unknown",): (2, 1, 1, 0),
    }
    assert rows[("ECU",)]["dailyAverage"] == round(13 / 3, 2)
    # Crossed with the final destination (PER for all) and the direction: A's incoming groups go on to
    # ECU (4 + 6 + 3), its outgoing one back to VEN; the direction split is within each next country.
    crossed = _by(
        _flows(counted, by="next_destination,destination,direction"),
        "next_destination",
        "destination",
        "direction",
    )
    assert {k: (r["movements"], r["directionShare"]) for k, r in crossed.items()} == {
        ("ECU", "PER", "in"): (13, 1.0),
        ("PER", "PER", "through"): (6, 1.0),
        ("VEN", "PER", "out"): (1, 1.0),
        ("unknown", "PER", "in"): (2, 1.0),
    }
    lines = list(
        csv.reader(
            io.StringIO(
                counted.client.get(
                    f"/v1/projects/{counted.project_id}/flows.csv?by=next_destination",
                    headers=counted.headers("analyst"),
                ).data.decode()
            )
        )
    )
    assert (lines[0][:3], lines[1][:3]) == (
        ["next_destination", "movements", "groups"],
        ["#country+next+code", "#affected+x_movements", "#affected+x_groups"],
    )
    assert [line[:2] for line in lines[2:]] == [["ECU", "13"], ["PER", "6"], ["VEN", "1"], ["unknown", "2"]]


def test_flw_01_and_02_equal_the_flow_tables_and_follow_the_review_rule(counted: World) -> None:
    res = counted.client.get(
        f"/v1/projects/{counted.project_id}/indicators?indicator=FLW-01,FLW-02&by=country",
        headers=counted.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    found = {
        v["indicator"]: v["numerator"]
        for v in res.json["values"]
        if v["breakdown"] is None and v["dimensions"].get("country") == "COL"
    }
    # Seven groups (c2 rejected) of 4 + 1 + 6 + 3 + 5 + 1 + 2 = 22 people.
    assert found == {"FLW-01": 22, "FLW-02": 7}
    (row,) = _flows(counted, by="country")
    assert (row["movements"], row["groups"]) == (22, 7)
    # Approved only: a1 alone once it is approved.
    assert _flows(counted, includeReceived="false") == []
    res = counted.client.patch(
        f"/v1/projects/{counted.project_id}/forms/{FLOW}/submissions/uuid:a1",
        json={"reviewState": "approved"},
        headers=counted.headers("supervisor"),
    )
    assert res.status_code == 200
    run_jobs(counted.app)
    (row,) = _flows(counted, by="site", includeReceived="false")
    assert (row["dimensions"], row["movements"], row["groups"]) == ({"site": A}, 4, 1)


def test_flows_csv_and_xlsx_carry_hxl(counted: World) -> None:
    base = f"/v1/projects/{counted.project_id}/flows"
    res = counted.client.get(f"{base}.csv?by=site,period", headers=counted.headers("analyst"))
    assert res.status_code == 200
    lines = list(csv.reader(io.StringIO(res.data.decode())))
    assert lines[0][:4] == ["site", "period", "movements", "groups"]
    assert lines[1][:4] == ["#loc+code", "#date", "#affected+x_movements", "#affected+x_groups"]
    assert [line[:3] for line in lines[2:]] == [
        [A, "2026-02", "3"], [A, "2026-03", "11"], [B, "2026-03", "6"], [C, "2026-03", "2"],
    ]  # fmt: skip
    res = counted.client.get(f"{base}.xlsx?by=direction", headers=counted.headers("analyst"))
    sheet = openpyxl.load_workbook(io.BytesIO(res.data)).active
    assert sheet is not None
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert values == {"in": 3 + 10 + 2, "out": 1, "through": 6}


def test_flow_queries_refuse_what_they_cannot_answer(counted: World) -> None:
    base = f"/v1/projects/{counted.project_id}/flows"
    for args in (
        "by=sector",
        "period=year",
        "by=site,site",
        "from=2026-13-01",
        "from=2026-03-02&to=2026-03-01",
    ):
        res = counted.client.get(f"{base}?{args}", headers=counted.headers("analyst"))
        assert res.status_code == 400, (args, res.json)
    assert counted.client.get(base, headers=counted.headers("enumerator")).status_code == 403


def test_reached_in_transit_against_movements_counted_at_the_site(counted: World) -> None:
    row = {
        "country": "ECU", "admin1": "EC04", "admin2": "EC0401", "site": B, "organisation": "OIM",
        "month": "2026-03", "sector": "health", "indicator": "HEA-01", "cva": False,
        "total_beneficiaries": 4, "new_beneficiaries": 4, "in_transit": 3, "in_destination": 1,
        "women": 2, "men": 2,
    }  # fmt: skip
    res = counted.client.post(
        f"/v1/projects/{counted.project_id}/activities", json=[row], headers=counted.headers("analyst")
    )
    assert res.status_code == 200, res.json
    res = counted.client.get(
        f"/v1/projects/{counted.project_id}/transit?year=2026", headers=counted.headers("analyst")
    )
    rows = {(r["site"], r["month"]): r for r in res.json["rows"]}
    # B, March: 3 reached in transit against 6 movements counted there.
    assert (rows[(B, "2026-03")]["reachedInTransit"], rows[(B, "2026-03")]["movements"]) == (3, 6)
    assert rows[(B, "2026-03")]["ratio"] == 0.5
    assert (rows[(A, "2026-03")]["reachedInTransit"], rows[(A, "2026-03")]["ratio"]) == (0, 0.0)
    assert rows[(B, "2026-03")]["places"] == {}  # no registry site yet: known by its code alone
    # Once B is in the site registry (issue 19), its row carries the registry's P-codes.
    registry = (
        "code,name_es,name_en,site_type,adm0_pcode,adm1_pcode,adm2_pcode,latitude,longitude,capacity\n"
        f"{B},Rumichaca,Rumichaca,border_crossing,ECU,EC04,EC0401,0.81,-77.66,\n"
    )
    put = counted.client.put(
        f"/v1/projects/{counted.project_id}/sites", data=registry.encode(), headers=counted.headers("manager")
    )
    assert put.status_code == 200, put.json
    res = counted.client.get(
        f"/v1/projects/{counted.project_id}/transit?year=2026", headers=counted.headers("analyst")
    )
    rows = {(r["site"], r["month"]): r for r in res.json["rows"]}
    assert rows[(B, "2026-03")]["places"] == {"country": "ECU", "adm1": "EC04", "adm2": "EC0401"}
    assert rows[(A, "2026-03")]["places"] == {}


# --- the 5W form --------------------------------------------------------------------------------------

FORM_ROW = {
    "organisation": "ACNUR",
    "implementing_partner": "Cruz Roja",
    "month": "2026-03-01",
    "country": "COL",
    "admin1": "CO54",
    "admin2": "CO54001",
    "sector": "protection",
    "indicator": "PRO-01",
    "activity": "Orientación legal",
    "direct_assistance": "yes",
    "cva": "yes",
    "cva_value_usd": "1250.5",
    "delivery_mechanism": "mobile_money",
    "output_quantity": "40",
    "total_beneficiaries": "50",
    "new_beneficiaries": "40",
    "in_destination": "30",
    "in_transit": "10",
    "host_community": "0",
    "pendular": "0",
    "colombian_returnees": "0",
    "girls": "8",
    "boys": "7",
    "women": "15",
    "men": "10",
    "other_under_18": "0",
    "other_over_18": "0",
}
GROUPS_5W = {
    "who": ("organisation", "implementing_partner"),
    "when_where": ("month", "country", "admin1", "admin2", "site"),
    "what": ("sector", "indicator", "activity", "direct_assistance", "cva", "cva_value_usd",
             "delivery_mechanism", "output_quantity"),
}  # fmt: skip


def activity_xml(version: str, uid: str, values: dict[str, str], deprecated: str | None = None) -> bytes:
    def leaf(name: str) -> str:
        return f"<{name}>{values.get(name, '')}</{name}>"

    body = "".join(f"<{g}>{''.join(leaf(n) for n in names)}</{g}>" for g, names in GROUPS_5W.items())
    placed = {n for names in GROUPS_5W.values() for n in names}
    whom = "".join(leaf(n) for n in values if n not in placed)
    return (
        f'<data {JR} id="{ACTIVITY}" version="{version}"><start/><end/><today/><deviceid/>'
        f"{body}<whom>{whom}</whom><meta><instanceID>uuid:{uid}</instanceID>"
        + (f"<deprecatedID>uuid:{deprecated}</deprecatedID>" if deprecated else "")
        + "</meta></data>"
    ).encode()


def _reports(world: World) -> list[ActivityReport]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        rows = list(s.scalars(select(ActivityReport).order_by(ActivityReport.id)))
        s.expunge_all()
        return rows


def test_5w_form_over_openrosa_lands_in_activity_reports_equal_to_the_workbook_row(world: World) -> None:
    version = publish(world, ACTIVITY)
    base = root(world, device_token(world)["token"])
    res = post_submission(world, base, activity_xml(version, "w5-1", FORM_ROW))
    assert res.status_code == 201, res.data
    # The same row through the R4V workbook import (the template has no site or direct-assistance
    # column: empty and yes, as the form's row says).
    sheet_row = {k: v for k, v in FORM_ROW.items() if k not in ("direct_assistance", "site")}
    sheet_row |= {"month": "2026-03", "cva": "Sí"}
    res = world.client.post(
        f"/v1/projects/{world.project_id}/activities/import",
        data=r4v_workbook([sheet_row]),
        content_type=XLSX,
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    from_form, from_book = _reports(world)
    assert (from_form.source, from_book.source) == ("form", "import")
    for name in (*columns.BY_NAME, "status", "findings", "accepted_reason", "project_id"):
        assert getattr(from_form, name) == getattr(from_book, name), name
    assert from_form.status == "valid" and from_form.cva_value_usd == 1250.5
    assert from_form.month == date(2026, 3, 1) and from_form.new_beneficiaries == 40


def test_a_5w_form_row_that_breaks_a_rule_is_held_not_lost(world: World) -> None:
    version = publish(world, ACTIVITY)
    base = root(world, device_token(world)["token"])
    # Population types sum to 40 but the age/gender cells to 39: held for the QA finding.
    res = post_submission(world, base, activity_xml(version, "w5-2", FORM_ROW | {"men": "9"}))
    assert res.status_code == 201, res.data
    (held,) = _reports(world)
    assert held.status == "error" and held.source == "form"
    assert any(f["severity"] == "error" for f in held.findings)


def test_an_edited_5w_submission_replaces_its_activity_row(world: World) -> None:
    version = publish(world, ACTIVITY)
    base = root(world, device_token(world)["token"])
    assert post_submission(world, base, activity_xml(version, "w5-e", FORM_ROW)).status_code == 201
    edited = FORM_ROW | {"output_quantity": "45", "men": "9"}  # now held: the cells sum to 39
    res = post_submission(world, base, activity_xml(version, "w5-e2", edited, deprecated="w5-e"))
    assert res.status_code == 201, res.data
    (row,) = _reports(world)  # one record, one row: the edit's
    assert row.output_quantity == 45 and row.status == "error" and row.source == "form"
    fixed = edited | {"men": "10"}
    assert (
        post_submission(world, base, activity_xml(version, "w5-e3", fixed, deprecated="w5-e2")).status_code
        == 201
    )
    (row,) = _reports(world)
    assert (row.output_quantity, row.men, row.status) == (45, 10, "valid")


def test_5w_submissions_in_a_batch_land_as_activity_rows(world: World) -> None:
    """A hub or a batch client stores new records through the bulk path: each 5W record is a row too."""
    version = publish(world, ACTIVITY)
    batch = make_zip(
        {
            "one": {"one.xml": activity_xml(version, "w5-b1", FORM_ROW)},
            "two": {"two.xml": activity_xml(version, "w5-b2", FORM_ROW | {"activity": "Kits"})},
        }
    )
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=batch,
        content_type="application/zip",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    rows = _reports(world)
    assert sorted(r.activity for r in rows) == ["Kits", "Orientación legal"]
    assert {r.status for r in rows} == {"valid"} and {r.source for r in rows} == {"form"}


# --- the response dashboard ---------------------------------------------------------------------------


def test_response_dashboard_for_a_manager_with_downloads_that_take_the_session(counted: World) -> None:
    from tests.app.admin_helpers import login

    client = login(counted, "manager")
    page = client.get(f"/admin/projects/{counted.project_id}/response?year=2026")
    assert page.status_code == 200
    html = page.data.decode()
    # A, March: 11 movements on 2 days (5.5 a day); C, March: 2 movements, below 5, hidden.
    row = html.split(f'data-site="{A}" data-period="2026-03">')[1].split("</tr>")[0]
    assert '<td class="num">11</td>' in row and "5.5" in row
    row = html.split(f'data-site="{C}" data-period="2026-03">')[1].split("</tr>")[0]
    assert '<td class="num">*</td>' in row and ">2<" not in row
    links = html.split('id="response-downloads">')[1].split("</p>")[0]
    hrefs = [h.split('"')[0].replace("&amp;", "&") for h in links.split('href="')[1:]]
    assert len(hrefs) == 6
    for href in hrefs:
        res = client.get(href)
        assert res.status_code == 200, (href, res.data[:300])
    flows_csv = next(h for h in hrefs if "flows.csv" in h)
    lines = list(csv.reader(io.StringIO(client.get(flows_csv).data.decode())))
    assert [line[:3] for line in lines[2:]] == [
        [A, "2026-02", ""], [A, "2026-03", "11"], [B, "2026-03", "6"], [C, "2026-03", ""],
    ]  # fmt: skip
    assert client.get(f"/admin/projects/{counted.project_id}/response?year=1900").status_code == 400


def test_response_dashboard_is_refused_to_an_enumerator(counted: World) -> None:
    from tests.app.admin_helpers import login

    client = login(counted, "enumerator")
    assert client.get(f"/admin/projects/{counted.project_id}/response").status_code == 403
