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
from app.indicators.suppression import TOTAL, Cell, Table, check_dimensions, relations
from app.indicators.values import IndicatorValue
from app.services.indicators.values import DIMENSIONS, _values

CATALOG: Catalog = load_catalog()
CODES = ("FLW-04", "NEED-04", "PROT-04", "PROT-02")
VALUES = ("a", "b", "c")


def accepted_bys() -> list[tuple[str, ...]]:
    found = []
    for size in range(0, 4):
        for by in itertools.combinations(DIMENSIONS, size):
            try:
                check_dimensions(by, public=True)
            except ValueError:
                continue
            found.append(by)
    return found


BYS = accepted_bys()

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
    by_index=st.integers(0, len(BYS) - 1),
    units=st.lists(unit, min_size=0, max_size=60),
)
def test_no_suppressed_cell_is_derivable(code: str, by_index: int, units: list[Any]) -> None:
    by = BYS[by_index]
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
