"""Persons by sex and age band (the SADD grid, issue 16 item 6) over HTTP, for the two partner forms of
``test_indicators_two_partners`` (a Spanish counts form and a Portuguese form whose roster lists
everyone): every published cell equals a hand count from the raw answers (counts by sex and band for
the first, roster persons for the second), margins included, and no hidden cell follows from a
published total by subtraction.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from typing import Any

from app.indicators.suppression import TOTAL, Cell, Table, relations
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.test_indicators_two_partners import loaded  # noqa: F401  (the fixture)
from tests.indicators import test_two_partners as partners

BANDS = ((0, 4, "0_4"), (5, 11, "5_11"), (12, 17, "12_17"), (18, 59, "18_59"), (60, 200, "60_plus"))


def band(age: int) -> str:
    return next(code for low, high, code in BANDS if low <= age <= high)


def by_hand() -> dict[str, Counter[tuple[str, str]]]:
    """country -> (sex, band) -> persons, from the raw answers the fixture submitted."""
    rng = random.Random(1616)
    es = [partners.es_submission(rng) for _ in range(45)]
    pt = [partners.pt_submission(rng) for _ in range(45)]
    grid: dict[str, Counter[tuple[str, str]]] = {"COL": Counter(), "BRA": Counter()}
    for answer in es:  # counts by sex and age band, never the roster
        for name, (sex, age_band) in partners.ES_COUNTS.items():
            grid["COL"][(sex, age_band or "unknown")] += answer[name]
    for answer in pt:  # everyone is in the roster, the respondent first
        for person in answer["pessoas"]:
            grid["BRA"][(partners.PT_SEX[person["sexo_p"]], band(person["idade"]))] += 1
    return grid


def key(r: dict[str, Any], by_country: bool) -> tuple[str, ...]:
    parts = ([r["dimensions"]["country"]] if by_country else []) + [r["sex"], r["ageBand"]]
    return tuple(TOTAL if p == "total" else p for p in parts)


def expected_cells(grid: dict[str, Counter[tuple[str, str]]], by_country: bool) -> dict[tuple[str, ...], int]:
    cells: Counter[tuple[str, ...]] = Counter()
    for country, counter in grid.items():
        for (sex, age_band), persons in counter.items():
            for c in (country, TOTAL) if by_country else (None,):
                for s in (sex, TOTAL):
                    for b in (age_band, TOTAL):
                        cells[(c, s, b) if by_country else (s, b)] += persons
    return {k: v for k, v in cells.items() if v}


def test_persons_by_sex_and_age_band_equal_a_hand_count(loaded: tuple[World, list[Any]]) -> None:  # noqa: F811
    world, _ = loaded
    run_jobs(world.app)
    grid = by_hand()
    for by_country in (False, True):
        query = "&by=country" if by_country else ""
        res = world.client.get(
            f"/v1/projects/{world.project_id}/indicators/sadd?includeReceived=true{query}",
            headers=world.headers("analyst"),
        )
        assert res.status_code == 200, res.json
        assert res.json["method"] == "unweighted"
        rows = res.json["rows"]
        assert {r["instrument"] for r in rows} == {"fms"}

        expected = expected_cells(grid, by_country)
        got = {key(r, by_country): r for r in rows}
        assert set(got) == set(expected)  # no row for a cell without people, none missing
        published = 0
        for k, r in got.items():
            assert r["periodStart"] == "2026-11-01" and r["periodEnd"] == "2026-11-30"
            if r["suppressed"]:
                assert r["persons"] is None and expected[k] >= 0
                continue
            assert r["persons"] == expected[k], k
            published += 1
        assert published >= 8
        # Every cell of 1-4 persons is hidden, and no hidden cell is a published total minus the others.
        assert all(got[k]["suppressed"] for k, v in expected.items() if v < 5)
        dims = ("country", "sex", "band") if by_country else ("sex", "band")
        table = Table(dims, tuple(Cell(k) for k in got))
        for total, children in relations(table):
            hidden = [m for m in (total, *children) if got[m]["suppressed"]]
            assert len(hidden) != 1, (total, hidden)
    # The total over everything is the people of both partners.
    everyone = sum(sum(c.values()) for c in grid.values())
    assert got[(TOTAL, TOTAL, TOTAL)]["persons"] == everyone


def test_persons_table_csv_and_xlsx_carry_hxl(loaded: tuple[World, list[Any]]) -> None:  # noqa: F811
    world, _ = loaded
    run_jobs(world.app)
    base = f"/v1/projects/{world.project_id}/indicators/sadd"
    res = world.client.get(f"{base}.csv?includeReceived=true&by=country", headers=world.headers("analyst"))
    assert res.status_code == 200
    lines = list(csv.reader(io.StringIO(res.data.decode())))
    header, tags = lines[0], lines[1]
    assert tags[header.index("persons")] == "#population+num"
    assert tags[header.index("sex_gender")] == "#x_sex+code"
    assert tags[header.index("age_band")] == "#x_ageband+code"
    assert {r[header.index("method")] for r in lines[2:]} == {"unweighted"}
    assert {r[header.index("country")] for r in lines[2:]} == {"COL", "BRA", "total"}
    res = world.client.get(f"{base}.xlsx?includeReceived=true", headers=world.headers("analyst"))
    assert res.status_code == 200 and res.data[:2] == b"PK"
    # sex and age band are the grid itself; two more dimensions at most; a partner's user gets none.
    res = world.client.get(f"{base}?by=sex_gender", headers=world.headers("analyst"))
    assert res.status_code == 400 and "sex and age band" in res.json["message"]
    res = world.client.get(f"{base}?by=country,site,period", headers=world.headers("analyst"))
    assert res.status_code == 400
    res = world.client.get(f"{base}?by=site,nationality", headers=world.headers("analyst"))
    assert res.status_code == 400 and "at most 3" in res.json["message"]
