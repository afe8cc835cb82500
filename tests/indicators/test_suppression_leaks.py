"""No suppressed cell can be recovered from published cells (issue 16, item 5), checked on what the
production assembly (:func:`app.services.indicators.values._values`) publishes for random partner data:
for every breakdown the API accepts (up to three of its dimensions), every published margin, and the
base table beside each breakdown table.

A hidden cell is recoverable when a relation ``total = Σ children`` has exactly one hidden member and
everything else published (a category with no row is a published zero). Relations are the margins of
each table, and for a breakdown over a single-valued field (FLW-04's destinations, NEED-04's sleeping
places) the base cell at the same key, which is the sum of its categories. A breakdown row also carries
the base cell's denominator and n, so it must be hidden whenever its base cell is.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.indicators.catalog import Catalog, load_catalog
from app.indicators.series import cumulate
from app.indicators.suppression import TOTAL, Cell, Table, check_dimensions, relations
from app.indicators.values import IndicatorValue
from app.services.indicators.values import DIMENSIONS, _values

CATALOG: Catalog = load_catalog()
CODES = ("FLW-04", "NEED-04", "PROT-04", "PROT-02", "FLW-01", "FLW-07", "FLW-05")
VALUES = ("a", "b", "c")


def accepted_bys(code: str) -> list[tuple[str, ...]]:
    """Every breakdown the API accepts for ``code``: up to three of the defaults and its own
    disaggregations (direction, transport modes, legal status...)."""
    dims = (*DIMENSIONS, *CATALOG.own_dimensions(CATALOG.indicators[code]))
    found = []
    for size in range(0, 4):
        for by in itertools.combinations(dims, size):
            try:
                check_dimensions(by, public=True)
            except ValueError:
                continue
            found.append(by)
    return found


BYS = {code: accepted_bys(code) for code in CODES}

unit = st.tuples(
    st.lists(st.sampled_from(VALUES), min_size=3, max_size=3),  # the three dimension values used
    st.booleans(),  # in the denominator
    st.booleans(),  # in the numerator (when in the denominator)
    st.integers(0, 5),  # category index
)


def aggregate(code: str, by: tuple[str, ...], units: list[Any]) -> dict[tuple[str, str, str], Any]:
    """What the facts' SUM ... GROUP BY gives, with every margin, for ``units``."""
    indicator = CATALOG.indicators[code]
    breakdowns = [(b.name, list(b.categories)) for b in indicator.breakdowns]
    sums: dict[tuple[str, str, str], dict[tuple[str, ...], list[float]]] = defaultdict(dict)
    for values, in_den, in_num, index in units:
        key = tuple(values[: len(by)])
        if not in_den:
            continue
        in_num = in_num or indicator.numerator.kind == "count"  # FLW-04 counts every unit answering
        num = 1.0 if in_num else 0.0
        for mask in itertools.product((False, True), repeat=len(by)):
            masked = tuple(TOTAL if m else v for m, v in zip(mask, key, strict=True))
            row = sums[(code, "", "")].setdefault(masked, [0.0, 0.0, 0.0, 0.0])
            row[0] += num
            row[1] += 1
            row[2] += 1
            if in_num:
                for name, categories in breakdowns:
                    category = categories[index % len(categories)]
                    own = sums[(code, name, category)].setdefault(masked, [0.0, 0.0, 0.0, 0.0])
                    own[0] += 1
    return sums


def leaks(code: str, by: tuple[str, ...], rows: list[IndicatorValue]) -> list[str]:
    indicator = CATALOG.indicators[code]
    found: list[str] = []
    base = {tuple(r.key[d] for d in by): r for r in rows if r.breakdown is None}
    found += table_leaks(Table(by, tuple(Cell(k) for k in base)), {k: r.suppressed for k, r in base.items()})
    for breakdown in indicator.breakdowns:
        mine = [r for r in rows if r.breakdown == breakdown.name]
        hidden: dict[tuple[str, ...], bool] = {}
        for r in mine:
            key = tuple(r.key[d] for d in by)
            if base[key].suppressed:
                found.append(f"{breakdown.name} {key} {r.category}: a row beside a hidden base cell")
            hidden[(*key, r.category or "")] = r.suppressed
        field = CATALOG.fields.get(breakdown.field or "")
        if field is not None and not field.multi and mine:
            for key, r in base.items():
                hidden[(*key, TOTAL)] = r.suppressed
            # A category without a row is a published zero where the base cell is published; where
            # it is hidden there are no rows at all, so nothing is known.
            for key, r in base.items():
                for category in breakdown.categories:
                    hidden.setdefault((*key, category), r.suppressed)
        found += table_leaks(Table((*by, "category"), tuple(Cell(k) for k in hidden)), hidden)
    return found


def table_leaks(table: Table, hidden: dict[tuple[str, ...], bool]) -> list[str]:
    out = []
    for total, children in relations(table):
        members = [total, *children]
        secret = [m for m in members if hidden[m]]
        if len(secret) == 1:
            out.append(f"{secret[0]} = {total} - others")
    return out


@settings(max_examples=60, deadline=None)
@given(
    code=st.sampled_from(CODES),
    by_index=st.integers(0, 10_000),
    units=st.lists(unit, min_size=0, max_size=60),
)
def test_no_suppressed_cell_is_derivable(code: str, by_index: int, units: list[Any]) -> None:
    by = BYS[code][by_index % len(BYS[code])]
    indicator = CATALOG.indicators[code]
    sums = aggregate(code, by, units)
    rows = _values(indicator, by, sums, {}, (), CATALOG)
    assert leaks(code, by, rows) == []
    for row in rows:
        assert row.suppressed or (row.numerator is not None and row.n is not None)


def test_a_hidden_base_cell_has_no_breakdown_rows() -> None:
    # One destination only, three groups: the base cell is small, and its breakdown would show its n.
    units = [(["a", "a", "a"], True, True, 0)] * 3
    rows = _values(CATALOG.indicators["FLW-04"], (), aggregate("FLW-04", (), units), {}, (), CATALOG)
    assert [(r.breakdown, r.suppressed) for r in rows] == [(None, True)]


def test_no_rows_for_codes_without_data() -> None:
    units = [(["a", "a", "a"], True, True, 0)] * 40
    rows = _values(CATALOG.indicators["FLW-04"], (), aggregate("FLW-04", (), units), {}, (), CATALOG)
    assert [(r.breakdown, r.category) for r in rows] == [(None, None), (rows[1].breakdown, rows[1].category)]


def test_own_disaggregations_are_among_the_breakdowns_checked() -> None:
    assert ("sex_gender", "direction", "transport_modes") in BYS["FLW-01"]
    assert ("legal_status",) in BYS["FLW-07"] and ("legal_status",) not in BYS["PROT-04"]


PERIODS = ("2026-W01", "2026-W02", "2026-W03", "2026-W04", "2026-W05")
series_unit = st.tuples(
    st.sampled_from(PERIODS),
    st.sampled_from(VALUES),  # the other dimension's value
    st.booleans(),
    st.booleans(),
    st.integers(0, 5),
)


def interval_leaks(
    by: tuple[str, ...], plain: list[IndicatorValue], cumulative: list[IndicatorValue]
) -> list[str]:
    """Along each line, the number of hidden plain cells between two consecutive published cumulative
    rows (or before the first, or between the last and a published total) must never be one."""
    p = by.index("period")

    def split(r: IndicatorValue) -> tuple[tuple[Any, ...], str]:
        key = tuple(r.key[d] for d in by)
        return (r.statistic, r.breakdown, r.category, key[:p] + key[p + 1 :]), key[p]

    hidden: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    base_hidden: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    totals: dict[tuple[Any, ...], bool] = {}
    for r in plain:
        line, period = split(r)
        if period == TOTAL:
            totals[line] = r.suppressed
        elif r.suppressed:
            hidden[line].add(period)
            if r.breakdown is None:
                base_hidden[(line[0], line[3])].add(period)
    shown: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for r in cumulative:
        line, period = split(r)
        if period != TOTAL and not r.suppressed:
            shown[line].append(period)
    found = []
    for line, periods in shown.items():
        own = hidden[line] | (base_hidden[(line[0], line[3])] if line[1] is not None else set())
        edges = ["", *sorted(periods)]
        for a, b in itertools.pairwise(edges):
            if sum(1 for q in own if a < q <= b) == 1:
                found.append(f"{line} {a}..{b}")
        if line in totals and sum(1 for q in own if q > edges[-1]) + int(totals[line]) == 1:
            found.append(f"{line} after {edges[-1]}")
    return found


@settings(max_examples=80, deadline=None)
@given(
    code=st.sampled_from(("FLW-04", "NEED-04", "PROT-04", "FLW-01")),
    crossed=st.booleans(),
    units=st.lists(series_unit, min_size=0, max_size=80),
)
def test_cumulative_series_isolate_no_hidden_cell(code: str, crossed: bool, units: list[Any]) -> None:
    by = ("period", "sex_gender") if crossed else ("period",)
    shaped = [([period, other, "a"], in_den, in_num, index) for period, other, in_den, in_num, index in units]
    sums = aggregate(code, by, shaped)
    indicator = CATALOG.indicators[code]
    plain = _values(indicator, by, sums, {}, (), CATALOG, granularity="week")
    rows = cumulate(indicator, by, plain, sums, {}, span_start="2025-12-29", granularity="week")
    assert interval_leaks(by, plain, rows) == []
    for row in rows:
        if row.key["period"] != TOTAL:
            assert row.period_start == "2025-12-29" and row.period_end
        if not row.suppressed and row.statistic != "median":
            assert row.numerator is not None and row.n is not None


def test_cumulative_rows_sum_the_periods_up_to_theirs() -> None:
    # 10, 3 and 12 groups in three weeks. The plain series hides week 2 (3 < 5) and, so that the total
    # does not give it away, the smaller other week (week 1). Cumulative rows: week 1 alone (10) would
    # be week 1's hidden cell; week 2 (13) sums two hidden cells; week 3 (25) adds a published one.
    units = [(["2026-W01", "a", "a"], True, True, 0)] * 10
    units += [(["2026-W02", "a", "a"], True, True, 0)] * 3
    units += [(["2026-W03", "a", "a"], True, True, 0)] * 12
    by = ("period",)
    indicator = CATALOG.indicators["FLW-04"]
    sums = aggregate("FLW-04", by, units)
    plain = _values(indicator, by, sums, {}, (), CATALOG, granularity="week")
    base = {r.key["period"]: r.suppressed for r in plain if r.breakdown is None}
    assert base == {"2026-W01": True, "2026-W02": True, "2026-W03": False, TOTAL: False}
    rows = cumulate(indicator, by, plain, sums, {}, span_start="2025-12-29", granularity="week")
    got = {r.key["period"]: (r.suppressed, r.n, r.reason) for r in rows if r.breakdown is None}
    assert got == {
        "2026-W01": (True, None, "hidden_period"),
        "2026-W02": (False, 13, None),
        "2026-W03": (False, 25, None),
        TOTAL: (False, 25, None),
    }
    assert {r.period_end for r in rows if r.key["period"] == "2026-W03"} == {"2026-01-18"}
    # Crossed with another dimension, a line is published only up to its first hidden week.
    crossed = ("period", "sex_gender")
    sums = aggregate("FLW-04", crossed, units)
    plain = _values(indicator, crossed, sums, {}, (), CATALOG, granularity="week")
    rows = cumulate(indicator, crossed, plain, sums, {}, span_start="2025-12-29", granularity="week")
    line = {r.key["period"]: r.suppressed for r in rows if r.breakdown is None and r.key["sex_gender"] == "a"}
    assert line == {"2026-W01": True, "2026-W02": True, "2026-W03": True, TOTAL: False}
