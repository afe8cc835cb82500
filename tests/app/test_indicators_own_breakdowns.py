"""Each indicator's own disaggregations, and daily and weekly series (issue 16, item 6), over HTTP.

A flow-and-survey form (direction, transport modes, group size, days on the route, previous residence,
identity document and a 1-4 status question feeding ``legal_status``) is published, mapped through the
API and fed generated submissions spread over two months. Every published cell of ``GET /indicators``
broken down by the indicators' own dimensions (direction, transport_modes, legal_status,
country_residence_prev_iso3), crossed with defaults, and by ``period=day|week`` must equal the reference
evaluation (:func:`app.indicators.reference.compute`) of the same answers, cell by cell; a few figures are
also computed by hand from the raw answers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from app.indicators.catalog import load_catalog
from app.indicators.facts import dimension_keys
from app.indicators.normalise import normalise
from app.indicators.reference import compute
from app.indicators.suppression import TOTAL
from forms.schema import FormSchema
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.test_indicators_two_partners import for_xform, submission_xml, xform
from tests.indicators.indicator_builders import options, question, schema

FORM = "conteo_ruta"
DIRECTION = {"1": "in", "2": "out", "3": "through"}
TRANSPORT = {"1": "walk", "2": "bus_formal", "3": "hitchhike"}
STATUS = {"1": "REF", "2": "ASY", "3": "regular_migrant", "4": "irregular_migrant"}


def form() -> FormSchema:
    return schema(
        [
            question("/data/fin", "dateTime"),
            question("/data/sexo", "select1", "Sexo", choices="sexo", lang="es"),
            question("/data/direccion", "select1", "Dirección", choices="dir", lang="es"),
            question("/data/transporte", "select", "Medios de transporte", choices="tra", lang="es"),
            question("/data/personas", "int", "Personas en el grupo", lang="es"),
            question("/data/dias", "int", "Días desde la salida", lang="es"),
            question("/data/residencia", "select1", "País de residencia", choices="pais", lang="es"),
            question("/data/documento", "select1", "¿Tiene documento?", choices="sino", lang="es"),
            question("/data/situacion", "select1", "Situación migratoria", choices="sit", lang="es"),
            question("/data/peso", "int", "Peso de diseño", lang="es"),
        ],
        {
            "sexo": options(("1", "Mujer"), ("2", "Hombre"), lang="es"),
            "dir": options(("1", "Entrada"), ("2", "Salida"), ("3", "De paso"), lang="es"),
            "tra": options(("1", "A pie"), ("2", "Bus"), ("3", "Aventón"), lang="es"),
            "pais": options(("1", "Venezuela"), ("2", "Colombia"), lang="es"),
            "sino": options(("1", "Sí"), ("2", "No"), ("9", "No sabe"), lang="es"),
            "sit": options(
                ("1", "Refugiado"), ("2", "Solicitante"), ("3", "Residente"), ("4", "Irregular"), lang="es"
            ),
        },
        form_id=FORM,
    )


MAPPING: dict[str, Any] = {
    "form": {"id": FORM, "version": "1", "lang": "es"},
    "defaults": {"country_iso3": "COL", "instrument": "fmr"},
    "fields": {
        "/data/fin": {"to": "submission.collected_at", "transform": "date"},
        "/data/sexo": "respondent.sex_gender",
        "/data/direccion": "context.direction",
        "/data/transporte": "context.transport_modes",
        "/data/personas": "context.group_size",
        "/data/dias": "context.days_since_departure",
        "/data/residencia": "context.country_residence_prev_iso3",
        "/data/documento": "respondent.has_valid_id_doc",
        "/data/situacion": {"to": ["respondent.legal_status", "respondent.has_regular_status"]},
        "/data/peso": "submission.weight",
    },
    "choices": {
        "sexo": {"1": "f", "2": "m"},
        "dir": DIRECTION,
        "tra": TRANSPORT,
        "pais": {"1": "VEN", "2": "COL"},
        "sino": {"1": "y", "2": "n"},
        "sit": {
            code: {"to": status, "fields": {"respondent.has_regular_status": "n" if code == "4" else "y"}}
            for code, status in STATUS.items()
        },
    },
}

START = dt.date(2026, 11, 16)  # a Monday; the data runs over the end of November and December


def answers(rng: random.Random) -> dict[str, Any]:
    day = START + dt.timedelta(days=rng.randint(0, 24))
    return {
        "fin": f"{day.isoformat()}T08:30:00",
        "sexo": rng.choice(["1", "2"]),
        "direccion": rng.choice(list(DIRECTION)),
        "transporte": " ".join(rng.sample(list(TRANSPORT), rng.randint(1, 2))),
        "personas": rng.randint(1, 6),
        "dias": rng.randint(0, 40),
        "residencia": rng.choice(["1", "2"]),
        "documento": rng.choice(["1", "2", "9"]),
        "situacion": rng.choice(list(STATUS)),
        "peso": rng.randint(1, 3),
    }


@dataclass(frozen=True)
class WithWeek:
    """A normalised record with its ISO week as a record field, so the reference evaluator groups by
    week the way it groups by any field (the week computed here, not by the facts' code)."""

    record: dict[str, Any]
    persons: list[Any]
    has_roster: bool


def with_week(result: Any) -> WithWeek:
    day = result.record["submission.collected_at"]
    year, week, _ = day.isocalendar()
    return WithWeek(
        result.record | {"test.week": f"{year}-W{week:02d}"}, list(result.persons), result.has_roster
    )


@pytest.fixture
def loaded(world: World) -> tuple[World, list[dict[str, Any]], list[WithWeek]]:
    catalog = load_catalog()
    rng = random.Random(1606)
    parsed, mapping = for_xform(form(), MAPPING)
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=xform(form()).encode(),
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    res = world.client.put(
        f"/v1/projects/{world.project_id}/forms/{FORM}/mapping",
        json={"document": mapping},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    raw, records = [], []
    for i in range(150):
        values = answers(rng)
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms/{FORM}/submissions",
            data=submission_xml(FORM, f"c-{i}", values).encode(),
            content_type="application/xml",
            headers=world.headers("manager"),
        )
        assert res.status_code == 200, res.json
        meta = {"submission_id": f"uuid:c-{i}", "form_id": FORM, "form_version": "1"}
        raw.append(values)
        records.append(with_week(normalise(values, parsed, mapping, catalog, submission_meta=meta)))
    run_jobs(world.app)
    return world, raw, records


def get(world: World, query: str) -> Any:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/indicators?includeReceived=true&{query}",
        headers=world.headers("analyst"),
    )
    return res


def reference_key(indicator: Any, dim: str, period: str) -> str:
    catalog = load_catalog()
    own = catalog.own_dimensions(indicator)
    if dim == "period":
        return {"day": "submission.collected_at", "week": "test.week", "month": "submission.period"}[period]
    return own.get(dim) or dimension_keys(indicator, catalog)[dim]


def compare(world: World, records: list[WithWeek], by: tuple[str, ...], period: str = "month") -> int:
    catalog = load_catalog()
    res = get(world, f"by={','.join(by)}&period={period}")
    assert res.status_code == 200, res.json
    compared = 0
    for indicator in catalog.indicators.values():
        mine = [r for r in res.json["values"] if r["indicator"] == indicator.code]
        if indicator.code in res.json["skipped"]:
            assert mine == []
            continue
        keys = [reference_key(indicator, d, period) for d in by]
        reference = {
            (c.statistic, c.key, c.breakdown, c.category): c
            for c in compute(indicator, records, catalog, by=keys)
        }
        for row in mine:
            key = tuple(TOTAL if row["dimensions"][d] == "total" else row["dimensions"][d] for d in by)
            cell = reference.get((row["unit"], key, row["breakdown"], row["category"]))
            assert cell is not None, (indicator.code, by, row)
            assert row["periodStart"] and row["periodEnd"], row
            if row["suppressed"]:
                continue
            got = (row["numerator"], row["denominator"], row["n"], row["dkRefused"])
            assert got == (cell.numerator, cell.denominator, cell.n, cell.dk_refused), (
                indicator.code,
                by,
                row,
            )
            if row["unit"] != "median":
                assert row["value"] == pytest.approx(cell.value), (indicator.code, by, row)
            else:
                assert row["value"] == pytest.approx(cell.value), (indicator.code, by, row)
            compared += 1
        published = {
            (r["unit"], tuple(TOTAL if r["dimensions"][d] == "total" else r["dimensions"][d] for d in by))
            for r in mine
            if r["breakdown"] is None
        }
        for (statistic, key, breakdown, _), cell in reference.items():
            if breakdown is None and cell.n:
                assert (statistic, key) in published, (indicator.code, by, key)
    return compared


OWN_BYS = [
    ("direction",),
    ("transport_modes",),
    ("legal_status",),
    ("country_residence_prev_iso3",),
    ("direction", "sex_gender"),
    ("transport_modes", "direction", "period"),
    ("legal_status", "sex_gender"),
]


def test_own_breakdowns_equal_the_reference_evaluation(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, _, records = loaded
    compared = sum(compare(world, records, by) for by in OWN_BYS)
    assert compared > 100


def test_daily_and_weekly_series_equal_the_reference_evaluation(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, _, records = loaded
    compared = 0
    for period in ("day", "week"):
        for by in [("period",), ("period", "direction"), ("period", "sex_gender")]:
            compared += compare(world, records, by, period)
    assert compared > 150
    weeks = get(world, "indicator=FLW-02&by=period&period=week").json["values"]
    rows = {r["dimensions"]["period"]: r for r in weeks}
    # ISO weeks run Monday to Sunday; 2026-11-16 is the Monday of week 47.
    assert rows["2026-W47"]["periodStart"] == "2026-11-16"
    assert rows["2026-W47"]["periodEnd"] == "2026-11-22"
    assert rows["total"]["periodStart"] == "2026-11-16"
    days = get(world, "indicator=FLW-02&by=period&period=day").json["values"]
    assert all(
        r["periodStart"] == r["periodEnd"] == r["dimensions"]["period"]
        for r in days
        if r["dimensions"]["period"] != "total"
    )


def test_hand_computed_movements_by_direction_and_transport(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, raw, _ = loaded
    people: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    for values in raw:
        people[DIRECTION[values["direccion"]]] += values["personas"]
        for code in set(values["transporte"].split()):
            by_mode[TRANSPORT[code]] += values["personas"]
    rows = get(world, "indicator=FLW-01&by=direction").json["values"]
    got = {r["dimensions"]["direction"]: r["value"] for r in rows if not r["suppressed"]}
    assert got == {**{d: float(n) for d, n in people.items()}, "total": float(sum(people.values()))}
    rows = get(world, "indicator=FLW-01&by=transport_modes").json["values"]
    got = {r["dimensions"]["transport_modes"]: r["value"] for r in rows if not r["suppressed"]}
    # A group using two modes counts in each mode's cell and once in the total.
    assert got == {**{m: float(n) for m, n in by_mode.items()}, "total": float(sum(people.values()))}
    # A filter on an own dimension.
    rows = get(world, "indicator=FLW-01&direction=in").json["values"]
    assert [r["value"] for r in rows] == [float(people["in"])]


def test_unknown_or_foreign_dimensions_are_refused_or_skipped(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, _, _ = loaded
    res = get(world, "by=colour")
    assert res.status_code == 400
    message = res.json["message"]
    assert "'colour'" in message and "direction (FLW-01, FLW-02)" in message
    assert "legal_status (FLW-07)" in message and "sex_gender" in message
    # An indicator without that disaggregation: refused when it is the only one asked for...
    res = get(world, "indicator=PROT-02&by=direction")
    assert res.status_code == 400 and "direction" not in res.json["message"].split(";")[1]
    # ...and skipped, saying why, beside those that have it.
    res = get(world, "indicator=FLW-01,FLW-03&by=direction")
    assert res.status_code == 200
    assert "not disaggregated by direction" in res.json["skipped"]["FLW-03"]
    assert {r["indicator"] for r in res.json["values"]} == {"FLW-01"}
    res = get(world, "by=period&period=fortnight")
    assert res.status_code == 400 and "day, week, month" in res.json["message"]


def test_cumulative_series_equal_the_reference_evaluation_up_to_each_period(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, raw, records = loaded
    catalog = load_catalog()
    compared = 0
    for by in [("period",), ("period", "direction"), ("period", "sex_gender")]:
        plain = get(world, f"by={','.join(by)}&period=week").json["values"]
        res = get(world, f"by={','.join(by)}&period=week&cumulative=true")
        assert res.status_code == 200, res.json
        for row in res.json["values"]:
            week = row["dimensions"]["period"]
            if week == "total":
                continue
            indicator = catalog.indicators[row["indicator"]]
            others = [d for d in by if d != "period"]
            upto = [r for r in records if r.record["test.week"] <= week]
            cells = compute(
                indicator, upto, catalog, by=[reference_key(indicator, d, "week") for d in others]
            )
            key = tuple(TOTAL if row["dimensions"][d] == "total" else row["dimensions"][d] for d in others)
            match = [
                c
                for c in cells
                if (c.statistic, c.key, c.breakdown, c.category)
                == (row["unit"], key, row["breakdown"], row["category"])
            ]
            assert len(match) == 1, row
            cell = match[0]
            assert row["periodEnd"] == dt.date.fromisocalendar(int(week[:4]), int(week[6:]), 7).isoformat()
            assert row["periodStart"] == "2026-11-16"  # the Monday of the first week with data
            if row["suppressed"]:
                continue
            got = (row["numerator"], row["denominator"], row["n"], row["dkRefused"])
            assert got == (cell.numerator, cell.denominator, cell.n, cell.dk_refused), (by, row)
            assert row["value"] == pytest.approx(cell.value), (by, row)
            compared += 1
        assert interval_leaks(by, plain, res.json["values"]) == []
    assert compared > 100
    # By hand: FLW-01's movements up to each week.
    rows = get(world, "indicator=FLW-01&by=period&period=week&cumulative=true").json["values"]
    for row in rows:
        week = row["dimensions"]["period"]
        if week == "total":
            continue
        expected = sum(
            v["personas"]
            for v in raw
            if "{}-W{:02d}".format(*dt.date.fromisoformat(v["fin"][:10]).isocalendar()[:2]) <= week
        )
        assert row["value"] == expected


def interval_leaks(
    by: tuple[str, ...], plain: list[dict[str, Any]], cumulative: list[dict[str, Any]]
) -> list[str]:
    """Differences of published figures along each line that isolate one hidden plain cell: between
    two consecutive published cumulative rows (or the start, or the published total after the last
    one) the number of hidden own cells must not be exactly one."""
    p = by.index("period")

    def split(r: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
        key = tuple(r["dimensions"][d] for d in by)
        return (r["indicator"], r["unit"], r["breakdown"], r["category"], key[:p] + key[p + 1 :]), key[p]

    base_hidden = {
        (*split(r)[0][:2], split(r)[0][4], split(r)[1])
        for r in plain
        if r["breakdown"] is None and r["suppressed"]
    }
    hidden: dict[tuple[Any, ...], set[str]] = {}
    totals: dict[tuple[Any, ...], bool] = {}
    for r in plain:
        line, period = split(r)
        if period == "total":
            totals[line] = r["suppressed"]
        elif r["suppressed"]:
            hidden.setdefault(line, set()).add(period)
    shown: dict[tuple[Any, ...], list[str]] = {}
    for r in cumulative:
        line, period = split(r)
        if period != "total" and not r["suppressed"]:
            shown.setdefault(line, []).append(period)
    found = []
    for line, periods in shown.items():
        own = set(hidden.get(line, set()))
        if line[2] is not None:  # a breakdown row is hidden wherever its base cell is
            own |= {q for (c, u, other, q) in base_hidden if (c, u, other) == (line[0], line[1], line[4])}
        edges = ["", *sorted(periods)]
        for a, b in itertools.pairwise(edges):
            if sum(1 for q in own if a < q <= b) == 1:
                found.append(f"{line} {a}..{b}")
        tail = sum(1 for q in own if q > edges[-1]) + int(totals.get(line, True))
        if line in totals and tail == 1:
            found.append(f"{line} after {edges[-1]}")
    return found


def test_cumulative_needs_a_period_breakdown(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, _, _ = loaded
    res = get(world, "by=direction&cumulative=true")
    assert res.status_code == 400 and "by=period" in res.json["message"]


def test_the_openapi_document_lists_the_indicator_arguments(world: World) -> None:
    doc = world.client.get("/v1/openapi.json").json
    for path in ("", ".csv", ".xlsx"):
        params = {
            p["name"]: p
            for p in doc["paths"][f"/v1/projects/{{project_id}}/indicators{path}"]["get"]["parameters"]
        }
        assert {"by", "period", "periodIn", "cumulative", "direction", "legal_status"} <= set(params)
        assert params["period"]["schema"]["enum"] == ["day", "week", "month"]
        assert "direction (FLW-01, FLW-02)" in params["by"]["description"]


def test_csv_has_a_column_and_hashtag_for_each_own_disaggregation(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, _, _ = loaded
    res = world.client.get(
        f"/v1/projects/{world.project_id}/indicators.csv?includeReceived=true&indicator=FLW-01&by=direction,period"
        "&period=week&cumulative=true",
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200
    lines = list(csv.reader(io.StringIO(res.data.decode())))
    header, tags, rows = lines[0], lines[1], lines[2:]
    assert tags[header.index("direction")] == "#x_direction+code"
    assert tags[header.index("transport_modes")] == "#x_transport+code"
    assert tags[header.index("legal_status")] == "#x_legalstatus+code"
    assert {r[header.index("direction")] for r in rows} == {"in", "out", "through", "total"}
    assert {r[header.index("transport_modes")] for r in rows} == {""}
    week = [
        r
        for r in rows
        if r[header.index("period_end")] == "2026-11-29" and r[header.index("direction")] == "total"
    ]
    assert len(week) == 1 and week[0][header.index("period_start")] == "2026-11-16"


def test_weighted_figures_equal_the_weighted_reference_evaluation(
    loaded: tuple[World, list[dict[str, Any]], list[WithWeek]],
) -> None:
    world, raw, records = loaded
    catalog = load_catalog()
    plain = get(world, "indicator=FLW-01")
    assert plain.json["method"] == "unweighted"
    assert {r["method"] for r in plain.json["values"]} == {"unweighted"}
    compared = 0
    for by in [("direction",), ("sex_gender",), ("legal_status",)]:
        res = get(world, f"by={','.join(by)}&weighted=true")
        assert res.status_code == 200, res.json
        assert res.json["method"] == "weighted"
        unweighted = {
            (r["indicator"], r["unit"], r["breakdown"], r["category"], tuple(r["dimensions"].values())): r
            for r in get(world, f"by={','.join(by)}").json["values"]
        }
        for indicator in catalog.indicators.values():
            if indicator.code in res.json["skipped"]:
                continue
            keys = [reference_key(indicator, d, "month") for d in by]
            reference = {
                (c.statistic, c.key, c.breakdown, c.category): c
                for c in compute(indicator, records, catalog, by=keys, weighted=True)
            }
            for row in (r for r in res.json["values"] if r["indicator"] == indicator.code):
                key = tuple(TOTAL if row["dimensions"][d] == "total" else row["dimensions"][d] for d in by)
                same = unweighted[
                    (
                        row["indicator"],
                        row["unit"],
                        row["breakdown"],
                        row["category"],
                        tuple(row["dimensions"].values()),
                    )
                ]
                # Suppression ran on the unweighted counts: the same cells are hidden either way.
                assert row["suppressed"] == same["suppressed"], row
                assert row["method"] == ("unweighted" if row["unit"] == "median" else "weighted")
                if row["suppressed"] or row["unit"] == "median":
                    continue
                cell = reference[(row["unit"], key, row["breakdown"], row["category"])]
                assert (row["n"], row["dkRefused"]) == (cell.n, cell.dk_refused), row
                assert row["numerator"] == pytest.approx(cell.numerator), row
                assert row["denominator"] == pytest.approx(cell.denominator), row
                assert row["value"] == pytest.approx(cell.value), row
                compared += 1
    assert compared > 30
    # By hand: weighted movements are people times the record's weight.
    rows = get(world, "indicator=FLW-01&weighted=true").json["values"]
    assert rows[0]["value"] == sum(v["personas"] * v["peso"] for v in raw)
    assert get(world, "by=period&cumulative=true&weighted=true").status_code == 400
