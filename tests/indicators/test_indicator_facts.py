"""Fact rows summed by a dimension reproduce the reference evaluation exactly (what SQL aggregation
relies on): numerators, denominators, n and dk/refused counts, per category, with multi-valued
nationalities counted in each of their cells and once in the total."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.indicators.catalog import Catalog, load_catalog
from app.indicators.facts import DIMENSION_COLUMNS, MULTI_COLUMN, StoredRecord, record_facts
from app.indicators.reference import compute
from app.indicators.suppression import TOTAL

CATALOG = load_catalog()
YN = st.sampled_from(["y", "n", "dk", "refused", None])


def _record(values: dict[str, Any], persons: list[dict[str, Any]], has_roster: bool) -> StoredRecord:
    record = {k: ([] if f.multi else None) for k, f in CATALOG.fields.items() if not f.is_member}
    record.update(values)
    blank = {k.split(".", 1)[1]: None for k, f in CATALOG.fields.items() if f.is_member}
    return StoredRecord(record, [blank | p for p in persons], has_roster)


persons = st.lists(
    st.fixed_dictionaries(
        {
            "age_years": st.integers(0, 80),
            "sex_gender": st.sampled_from(["f", "m", "u"]),
            "age_band": st.sampled_from(["0_4", "18_59"]),
            "school_enrolled": YN,
            "disability_wg": st.sampled_from(["wg", "no_wg", None]),
            "nationality_iso3": st.sampled_from([["VEN"], ["VEN", "COL"], []]),
        }
    ),
    max_size=3,
)
records = st.builds(
    _record,
    st.fixed_dictionaries(
        {
            "submission.consent": st.sampled_from(["y", "n", None]),
            "submission.instrument": st.sampled_from(["fmr", "fms", None]),
            "submission.period": st.sampled_from(["2024-01", "2024-02"]),
            "context.group_size": st.integers(1, 6),
            "context.days_since_departure": st.one_of(st.none(), st.integers(0, 40)),
            "respondent.nationality_iso3": st.sampled_from([["VEN"], ["VEN", "COL"], ["XXX"], []]),
            "respondent.sex_gender": st.sampled_from(["f", "m", None]),
            "context.used_guide_smuggler": YN,
            "protection.incidents": st.sampled_from([[], ["none"], ["theft_robbery", "extortion_bribery"]]),
            "needs.priority_needs": st.sampled_from([[], ["food", "water"], ["refused"]]),
            "needs.health_needed": YN,
            "needs.health_accessed": YN,
        }
    ),
    persons,
    st.booleans(),
)


def _sums(rows: list[dict[str, Any]], column: str | None) -> dict[tuple[str, str, str], list[float]]:
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for row in rows:
        if column != MULTI_COLUMN and not row["is_primary"]:
            continue
        key = (row[column] if column else TOTAL, row["breakdown"], row["category"])
        for i, name in enumerate(("num", "den", "n", "dk")):
            sums[key][i] += row[name]
    return sums


@settings(max_examples=40, deadline=None)
@given(st.lists(records, max_size=6), st.sampled_from([None, "period", "nationality", "sex_gender"]))
def test_fact_sums_equal_the_reference_cells(items: list[StoredRecord], column: str | None) -> None:
    catalog: Catalog = CATALOG
    rows = [row for item in items for row in record_facts(item, catalog)]
    for code, indicator in catalog.indicators.items():
        mine = _sums([r for r in rows if r["indicator"] == code], column)
        by = (DIMENSION_COLUMNS[column],) if column else ()
        if column and indicator.basis == "persons":
            by = (catalog.person_disaggregations.get(by[0], by[0]),)
        for cell in compute(indicator, items, catalog, by=by, margins=False):
            key = (cell.key[0] if by else TOTAL, cell.breakdown or "", cell.category or "")
            among = any(b.name == cell.breakdown and b.among for b in indicator.breakdowns)
            total_key = (key[0], key[1] if among else "", "")  # a breakdown with `among` has its own base
            got = mine.get(key, [0.0, 0.0, 0.0, 0.0])
            base = mine.get(total_key, [0.0, 0.0, 0.0, 0.0])
            assert got[0] == cell.numerator, (code, key)
            assert (base[1] if indicator.denominator else None) == cell.denominator, (code, key)
            assert base[2] == cell.n, (code, key)
            assert base[3] == cell.dk_refused, (code, key)
