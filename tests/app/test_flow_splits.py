"""Flow outputs beyond movements (issue 20 item 1): every transport mode of a group, hours observed and
movements per observed hour, and the shares of the nationality and destination splits, with their
suppression. Six groups at two sites in one ISO week (2026-W10), every figure hand-computed beside it."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import get_database
from app.models import FlowFact, FlowFactTransport, Project
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.test_flows import FLOW, flow_xml, publish

S1, S2 = "COL-FMP-101", "ECU-FMP-102"

# (uid, day, site, direction, nationality, next country, final destination, transport, hours, cells)
GROUPS: list[tuple[str, str, str, str, str, str, str, str, str, dict[str, int]]] = [
    ("g1", "2026-03-02", S1, "in", "VEN", "ECU", "PER", "walk bus_formal", "8", {"f_18_59": 3, "m_18_59": 3}),
    ("g2", "2026-03-02", S1, "in", "COL", "ECU", "ECU", "walk", "8", {"m_18_59": 7}),
    # The same site-day's window reported as 6 hours by one group: the site-day's hours are the largest, 8.
    ("g3", "2026-03-02", S1, "out", "VEN", "VEN", "VEN", "bus_formal", "6", {"f_18_59": 2}),
    ("g4", "2026-03-03", S1, "in", "VEN", "PER", "PER", "", "4", {"f_18_59": 5, "m_0_4": 1}),
    # No hours reported for S2 on 03-02: that site-day adds neither hours nor movements to the rate.
    ("g5", "2026-03-02", S2, "through", "VEN", "PER", "PER", "bus_informal walk", "", {"m_18_59": 9}),
    ("g6", "2026-03-04", S2, "through", "HTI", "PER", "COL", "walk", "10", {"f_18_59": 4}),
]


@pytest.fixture
def split(world: World) -> World:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, world.project_id)
        assert project is not None
        project.indicators_include_received = True
        s.commit()
    version = publish(world, FLOW)
    for uid, day, site, direction, nat, next_country, dest, transport, hours, cells in GROUPS:
        xml = flow_xml(
            version, uid, day, site, direction, nat, "family", next_country, cells,
            transport=transport, hours=hours, destination=dest,
        )  # fmt: skip
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms/{FLOW}/submissions",
            data=xml.encode(),
            content_type="application/xml",
            headers=world.headers("manager"),
        )
        assert res.status_code == 200, res.json
    run_jobs(world.app)
    return world


def _get(world: World, **args: str) -> Any:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/flows", query_string=args, headers=world.headers("analyst")
    )
    assert res.status_code == 200, res.json
    return res.json


def _by(body: Any, *names: str) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(r["dimensions"][n] for n in names): r for r in body["rows"]}


def test_a_flow_fact_keeps_every_transport_mode(split: World) -> None:
    with split.app.app_context(), get_database(split.app).session_scope() as s:
        modes = {
            (site, day.isoformat(), people): sorted(found)
            for site, day, people, found in [
                (f.site, f.day, f.people, s.scalars(
                    select(FlowFactTransport.transport).where(FlowFactTransport.fact_id == f.id)
                ).all())
                for f in s.scalars(select(FlowFact))
            ]
        }  # fmt: skip
    assert modes == {
        (S1, "2026-03-02", 6): ["bus_formal", "walk"],
        (S1, "2026-03-02", 7): ["walk"],
        (S1, "2026-03-02", 2): ["bus_formal"],
        (S1, "2026-03-03", 6): ["unknown"],  # no mode answered: one row, unknown
        (S2, "2026-03-02", 9): ["bus_informal", "walk"],
        (S2, "2026-03-04", 4): ["walk"],
    }


def test_by_transport_counts_a_group_under_each_mode_and_says_it_does_not_sum(split: World) -> None:
    body = _get(split, by="transport")
    assert body["sumsToTotal"] is False and "do not sum to the total" in body["note"]
    rows = _by(body, "transport")
    # walk: g1 6 + g2 7 + g5 9 + g6 4; bus_formal: g1 6 + g3 2; bus_informal: g5 9; unknown: g4 6.
    # 26 + 8 + 9 + 6 = 49 against 34 people in 6 groups.
    assert {k: (r["movements"], r["groups"], r["observedDays"]) for k, r in rows.items()} == {
        ("walk",): (26, 4, 3),
        ("bus_formal",): (8, 2, 1),
        ("bus_informal",): (9, 1, 1),
        ("unknown",): (6, 1, 1),
    }
    (total,) = _get(split)["rows"]
    assert (total["movements"], total["groups"]) == (6 + 7 + 2 + 6 + 9 + 4, 6)
    assert _get(split)["sumsToTotal"] is True and "note" not in _get(split)
    by_site = _by(_get(split, by="site,transport"), "site", "transport")
    assert {k: r["movements"] for k, r in by_site.items()} == {
        (S1, "bus_formal"): 6 + 2,
        (S1, "unknown"): 6,
        (S1, "walk"): 6 + 7,
        (S2, "bus_informal"): 9,
        (S2, "walk"): 9 + 4,
    }
    # Every other split still counts each group once: by site, 21 + 13 = 34.
    assert {k: r["movements"] for k, r in _by(_get(split, by="site"), "site").items()} == {
        (S1,): 21,
        (S2,): 13,
    }
    lines = list(
        csv.reader(
            io.StringIO(
                split.client.get(
                    f"/v1/projects/{split.project_id}/flows.csv?by=transport",
                    headers=split.headers("analyst"),
                ).data.decode()
            )
        )
    )
    column = lines[0].index("sums_to_total")
    assert lines[1][column] == "#meta+x_additive"
    assert {line[column] for line in lines[2:]} == {"false"}


def test_hours_observed_and_movements_per_hour_for_every_by_and_period(split: World) -> None:
    def figures(body: Any, *names: str) -> dict[tuple[str, ...], tuple[Any, ...]]:
        return {
            k: (r["movements"], r["observedHours"], r["movementsPerHour"])
            for k, r in _by(body, *names).items()
        }

    # Site-day hours: (S1, 03-02) max(8, 8, 6) = 8; (S1, 03-03) 4; (S2, 03-02) none; (S2, 03-04) 10.
    # S1: 21 movements over 12 hours, all with hours. S2: 10 hours; only g6's 4 movements have hours.
    assert figures(_get(split, by="site"), "site") == {(S1,): (21, 12.0, 1.75), (S2,): (13, 10.0, 0.4)}
    assert figures(_get(split, by="site,period", period="day"), "site", "period") == {
        (S1, "2026-03-02"): (15, 8.0, round(15 / 8, 4)),
        (S1, "2026-03-03"): (6, 4.0, 1.5),
        (S2, "2026-03-02"): (9, 0.0, None),
        (S2, "2026-03-04"): (4, 10.0, 0.4),
    }
    # The whole week and month: 8 + 4 + 10 = 22 hours; 34 - 9 = 25 movements on site-days with hours.
    for period, label in (("week", "2026-W10"), ("month", "2026-03")):
        assert figures(_get(split, by="period", period=period), "period") == {
            (label,): (34, 22.0, round(25 / 22, 4))
        }
    (total,) = _get(split)["rows"]
    assert (total["observedHours"], total["movementsPerHour"]) == (22.0, round(25 / 22, 4))
    # By direction: a site-day's hours are the whole window's, whichever direction. in: g1 + g2 + g4 = 19
    # over (S1, 03-02) 8 + (S1, 03-03) 4; out: g3 2 over 8; through: g5 + g6 = 13 over 10, 4 with hours.
    assert figures(_get(split, by="direction"), "direction") == {
        ("in",): (19, 12.0, round(19 / 12, 4)),
        ("out",): (2, 8.0, 0.25),
        ("through",): (13, 10.0, 0.4),
    }
    # By transport: walk on (S1, 03-02) 8 h with 13, (S2, 03-02) no hours, (S2, 03-04) 10 h with 4.
    assert figures(_get(split, by="transport"), "transport") == {
        ("bus_formal",): (8, 8.0, 1.0),
        ("bus_informal",): (9, 0.0, None),
        ("unknown",): (6, 4.0, 1.5),
        ("walk",): (26, 18.0, round(17 / 18, 4)),
    }
    res = split.client.get(
        f"/v1/projects/{split.project_id}/flows.csv?by=site", headers=split.headers("analyst")
    )
    lines = list(csv.reader(io.StringIO(res.data.decode())))
    hours, rate = lines[0].index("observed_hours"), lines[0].index("movements_per_hour")
    assert (lines[1][hours], lines[1][rate]) == ("#x_hours+observed", "#affected+x_movements+x_hourly")
    assert [(line[0], line[hours], line[rate]) for line in lines[2:]] == [
        (S1, "12.0", "1.75"),
        (S2, "10.0", "0.4"),
    ]


def test_nationality_and_destination_shares_within_each_site(split: World) -> None:
    nat = _by(_get(split, by="site,nationality"), "site", "nationality")
    # S1: VEN g1 6 + g3 2 + g4 6 = 14, COL 7, of 21. S2: VEN 9, HTI 4, of 13.
    assert {k: (r["movements"], r["nationalityShare"]) for k, r in nat.items()} == {
        (S1, "COL"): (7, round(7 / 21, 4)),
        (S1, "VEN"): (14, round(14 / 21, 4)),
        (S2, "HTI"): (4, round(4 / 13, 4)),
        (S2, "VEN"): (9, round(9 / 13, 4)),
    }
    assert all(r["directionShare"] is None and r["destinationShare"] is None for r in nat.values())
    nxt = _by(_get(split, by="site,next_destination"), "site", "next_destination")
    # S1: ECU g1 6 + g2 7 = 13, PER g4 6, VEN g3 2. S2: PER 13.
    assert {k: (r["movements"], r["nextDestinationShare"]) for k, r in nxt.items()} == {
        (S1, "ECU"): (13, round(13 / 21, 4)),
        (S1, "PER"): (6, round(6 / 21, 4)),
        (S1, "VEN"): (2, round(2 / 21, 4)),
        (S2, "PER"): (13, 1.0),
    }
    dest = _by(_get(split, by="site,destination"), "site", "destination")
    # S1: PER g1 6 + g4 6 = 12, ECU 7, VEN 2. S2: PER 9, COL 4.
    assert {k: (r["movements"], r["destinationShare"]) for k, r in dest.items()} == {
        (S1, "ECU"): (7, round(7 / 21, 4)),
        (S1, "PER"): (12, round(12 / 21, 4)),
        (S1, "VEN"): (2, round(2 / 21, 4)),
        (S2, "COL"): (4, round(4 / 13, 4)),
        (S2, "PER"): (9, round(9 / 13, 4)),
    }
    # Within site and day too: S1 on 03-02 is VEN 8 (g1 + g3) and COL 7 of 15.
    daily = _by(_get(split, by="site,period,nationality", period="day"), "site", "period", "nationality")
    assert daily[(S1, "2026-03-02", "VEN")]["nationalityShare"] == round(8 / 15, 4)
    assert daily[(S1, "2026-03-03", "VEN")]["nationalityShare"] == 1.0
    res = split.client.get(
        f"/v1/projects/{split.project_id}/flows.csv?by=site,destination", headers=split.headers("analyst")
    )
    lines = list(csv.reader(io.StringIO(res.data.decode())))
    share = lines[0].index("destination_share")
    assert lines[1][share] == "#affected+x_movements+pct+x_destination"
    assert [line[share] for line in lines[2:]] == [
        str(round(7 / 21, 4)), str(round(12 / 21, 4)), str(round(2 / 21, 4)),
        str(round(4 / 13, 4)), str(round(9 / 13, 4)),
    ]  # fmt: skip


def test_a_share_is_suppressed_with_its_count(split: World) -> None:
    nat = _by(_get(split, by="site,nationality", suppress="true"), "site", "nationality")
    # S2 HTI (4) is below 5 and alone in S2's split: VEN (9) goes with it. S1's 14 and 7 stay.
    assert {k: (r["movements"], r["nationalityShare"]) for k, r in nat.items()} == {
        (S1, "COL"): (7, round(7 / 21, 4)),
        (S1, "VEN"): (14, round(14 / 21, 4)),
        (S2, "HTI"): (None, None),
        (S2, "VEN"): (None, None),
    }
    # The hours are not a count of people and stay; the rate per hour goes with the count.
    assert (nat[(S2, "HTI")]["observedHours"], nat[(S2, "HTI")]["movementsPerHour"]) == (10.0, None)
    dest = _by(_get(split, by="site,destination", suppress="true"), "site", "destination")
    # S1 VEN (2) is small and alone: the smallest other, ECU (7), goes with it; PER (12) stays.
    assert {k: (r["movements"], r["destinationShare"]) for k, r in dest.items()} == {
        (S1, "ECU"): (None, None),
        (S1, "PER"): (12, round(12 / 21, 4)),
        (S1, "VEN"): (None, None),
        (S2, "COL"): (None, None),
        (S2, "PER"): (None, None),
    }
    nxt = _by(_get(split, by="site,next_destination", suppress="true"), "site", "next_destination")
    # S1: VEN (2) alone below 5; the smallest other is PER (6). ECU 13 stays; S2 PER 13 stays.
    assert {k: (r["movements"], r["nextDestinationShare"]) for k, r in nxt.items()} == {
        (S1, "ECU"): (13, round(13 / 21, 4)),
        (S1, "PER"): (None, None),
        (S1, "VEN"): (None, None),
        (S2, "PER"): (13, 1.0),
    }


def test_a_trashed_group_takes_its_transport_modes_with_it(split: World) -> None:
    res = split.client.delete(
        f"/v1/projects/{split.project_id}/forms/{FLOW}/submissions/uuid:g5", headers=split.headers("manager")
    )
    assert res.status_code == 200, res.json
    run_jobs(split.app)
    with split.app.app_context(), get_database(split.app).session_scope() as s:
        # g1 2 + g2 1 + g3 1 + g4 1 + g6 1 modes; g5's two are gone with it.
        assert s.scalar(select(func.count()).select_from(FlowFactTransport)) == 6
        assert s.scalar(select(func.count()).select_from(FlowFact)) == 5
    rows = _by(_get(split, by="transport"), "transport")
    assert {k: r["movements"] for k, r in rows.items()} == {
        ("bus_formal",): 8,
        ("unknown",): 6,
        ("walk",): 6 + 7 + 4,
    }


def test_libhxl_reads_the_flow_outputs_and_filters_them_by_tag(split: World) -> None:
    import hxl

    res = split.client.get(
        f"/v1/projects/{split.project_id}/flows.csv?by=site,nationality", headers=split.headers("analyst")
    )
    assert res.status_code == 200 and res.mimetype == "text/csv"
    ven = list(hxl.data(io.BytesIO(res.data)).with_rows("#country+nationality+code=VEN"))
    # S1 VEN 14 of 21 over 12 hours (14 on site-days with hours); S2 VEN 9 of 13, its only site-day
    # (03-02) without hours: 0 hours and no rate.
    assert [
        (
            row.get("#loc+code"),
            row.get("#affected+x_movements"),
            row.get("#affected+x_movements+pct+x_nationality"),
            row.get("#x_hours+observed"),
            row.get("#affected+x_movements+x_hourly"),
        )
        for row in ven
    ] == [
        (S1, "14", str(round(14 / 21, 4)), "12.0", str(round(14 / 12, 4))),
        (S2, "9", "0.6923", "0.0", None),
    ]


def test_plan_5w_and_flows_together_give_gap_coverage_and_transit(split: World) -> None:
    """People in need, 5W rows and flow counts in one project: the gap per place and population type,
    and the reached in transit at a site against the movements counted there, by hand."""
    plan = (
        "year,sector,country,admin1,admin2,population_type,age_gender,people_in_need,target\n"
        "2026,health,COL,CO54,,in_transit,women,40,20\n"
        "2026,health,COL,CO54,,in_transit,men,20,10\n"
        "2026,health,COL,CO54,,in_destination,women,50,25\n"
    )
    res = split.client.put(
        f"/v1/projects/{split.project_id}/needs",
        data=plan.encode(),
        content_type="text/csv",
        headers=split.headers("manager"),
    )
    assert res.status_code == 200, res.json
    base = {
        "country": "COL", "admin1": "CO54", "admin2": "CO54001", "organisation": "OIM", "cva": False,
        "sector": "health", "indicator": "HEA-01",
    }  # fmt: skip
    rows = [
        # At S1 in March: 7 reached in transit (4 women, 3 men), 2 in destination.
        base | {"site": S1, "month": "2026-03", "total_beneficiaries": 9, "new_beneficiaries": 9,
                "in_transit": 7, "in_destination": 2, "women": 6, "men": 3},
        # At S2 in March: 5 in transit.
        base | {"site": S2, "month": "2026-03", "total_beneficiaries": 5, "new_beneficiaries": 5,
                "in_transit": 5, "women": 5},
    ]  # fmt: skip
    res = split.client.post(
        f"/v1/projects/{split.project_id}/activities", json=rows, headers=split.headers("analyst")
    )
    assert res.status_code == 200, res.json
    res = split.client.get(
        f"/v1/projects/{split.project_id}/gaps",
        query_string={"year": "2026", "by": "admin1,population_type"},
        headers=split.headers("analyst"),
    )
    got = {
        (r["dimensions"]["admin1"], r["category"]): (r["peopleInNeed"], r["reached"], r["gap"], r["coverage"])
        for r in res.json["rows"]
        if r["peopleInNeed"]
    }
    # In transit: 40 + 20 = 60 in need, 7 + 5 = 12 reached, gap 48, coverage 0.2. In destination: 50, 2,
    # 48, 0.04.
    assert got == {("CO54", "in_transit"): (60, 12, 48, 0.2), ("CO54", "in_destination"): (50, 2, 48, 0.04)}
    res = split.client.get(
        f"/v1/projects/{split.project_id}/transit?year=2026", headers=split.headers("analyst")
    )
    transit = {
        (r["site"], r["month"]): (r["reachedInTransit"], r["movements"], r["ratio"]) for r in res.json["rows"]
    }
    # S1 in March: 7 against 21 movements (1/3); S2: 5 against 13.
    assert transit == {
        (S1, "2026-03"): (7, 21, round(7 / 21, 4)),
        (S2, "2026-03"): (5, 13, round(5 / 13, 4)),
    }


def test_migration_0026_gives_existing_facts_their_one_known_mode(split: World, database_url: str) -> None:
    """Facts written before 0026 knew only their first mode: the migration gives each that one row."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    get_database(split.app).dispose()
    cfg = alembic_config(database_url)
    before = ScriptDirectory.from_config(cfg).get_revision("0026").down_revision
    command.downgrade(cfg, str(before))
    command.upgrade(cfg, "head")
    with split.app.app_context(), get_database(split.app).session_scope() as s:
        got = s.execute(
            select(FlowFact.people, FlowFactTransport.transport).join(
                FlowFactTransport, FlowFactTransport.fact_id == FlowFact.id
            )
        ).all()
    # g1 (6) walk, g2 (7) walk, g3 (2) bus_formal, g4 (6) unknown, g5 (9) bus_informal, g6 (4) walk.
    assert sorted(got) == [
        (2, "bus_formal"),
        (4, "walk"),
        (6, "unknown"),
        (6, "walk"),
        (7, "walk"),
        (9, "bus_informal"),
    ]
