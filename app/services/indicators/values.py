"""Indicator values: SQL aggregation over ``indicator_facts`` (SQLAlchemy Core, both databases), then
small-cell suppression (INDICATORS.md §6) with the core's :func:`suppress`.

One ``SUM ... GROUP BY`` per subset of the requested dimensions (the subsets are the margins: at most
2^3 = 8 queries, since outputs cross at most three dimensions), each covering every requested indicator
at once. Only approved submissions count unless the project includes received ones. Every value keeps
its numerator, denominator, n, the dk/refused count and the mapping versions it was computed under.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import IndicatorQueryError
from app.indicators.catalog import Breakdown, Catalog, Indicator, load_catalog
from app.indicators.facts import DIMENSION_COLUMNS, MULTI_COLUMN
from app.indicators.suppression import (
    FINE_GEOGRAPHY,
    SECONDARY,
    TOTAL,
    Cell,
    CellOutcome,
    DimensionError,
    SuppressedTable,
    Table,
    check_dimensions,
    suppress,
)
from app.indicators.values import IndicatorResult, IndicatorValue, month_bounds
from app.models import IndicatorFact, Project

DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_COLUMNS)
COLUMN_OF: Mapping[str, str] = {key: column for column, key in DIMENSION_COLUMNS.items()}
APPROVED = ("approved",)
WITH_RECEIVED = ("approved", "received", "edited")
MAX_DIMENSIONS = 3


@dataclass(frozen=True)
class IndicatorQuery:
    codes: tuple[str, ...] = ()  # empty: every indicator
    by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    include_received: bool | None = None  # None: the project's setting
    public: bool = True


_Sums = list[float]  # num, den, n, dk


def compute_values(
    session: Session, *, project: Project, query: IndicatorQuery, catalog: Catalog | None = None
) -> IndicatorResult:
    return compute_tables(session, project=project, query=query, bys=[query.by], catalog=catalog)[0]


def compute_tables(
    session: Session,
    *,
    project: Project,
    query: IndicatorQuery,
    bys: Sequence[tuple[str, ...]],
    catalog: Catalog | None = None,
) -> list[IndicatorResult]:
    """The indicators of ``query`` broken down each way in ``bys``, from one aggregation: every grouping
    (each breakdown and its margins) is computed once, in a single ``GROUPING SETS`` scan on PostgreSQL
    and one ``GROUP BY`` per grouping on SQLite."""
    catalog = catalog or load_catalog()
    indicators = _indicators(query, catalog)
    for dim in query.filters:
        if dim not in DIMENSIONS:
            raise IndicatorQueryError(f"Unknown filter {dim!r}; filter on one of {', '.join(DIMENSIONS)}.")
    include = (
        project.indicators_include_received if query.include_received is None else query.include_received
    )
    states = WITH_RECEIVED if include else APPROVED
    plans: list[tuple[tuple[str, ...], list[Indicator], dict[str, str]]] = []
    for requested in bys:
        by = _check_by(replace(query, by=requested))
        skipped: dict[str, str] = {}
        chosen: list[Indicator] = []
        for indicator in indicators:
            try:
                check_dimensions(by, public=query.public, sensitive=indicator.sensitive)
            except DimensionError as exc:
                skipped[indicator.code] = str(exc)
                continue
            missing = [COLUMN_OF.get(d, d) for d in indicator.required_disaggregations]
            missing = [d for d in missing if d not in by]
            if missing:
                # A mandatory disaggregation (PROT-02 by sex): never published without it.
                skipped[indicator.code] = f"published only broken down by {', '.join(missing)}; add by="
                skipped[indicator.code] += ",".join(missing)
                continue
            chosen.append(indicator)
        plans.append((by, chosen, skipped))
    codes = sorted({i.code for _, chosen, _ in plans for i in chosen})
    subsets = sorted(
        {
            _ordered(subset)
            for by, _, _ in plans
            for size in range(len(by) + 1)
            for subset in itertools.combinations(by, size)
        },
        key=lambda subset: (len(subset), [DIMENSIONS.index(d) for d in subset]),
    )
    where = _where(project, states, codes, query.filters)
    grouped = _aggregate_sets(session, where, subsets, query) if codes else {}
    spans = _spans(session, where) if codes else {}
    median_codes = [c for c in codes if "median" in catalog.indicators[c].units]
    medians = (
        {subset: _medians(session, where, subset, query, median_codes) for subset in subsets}
        if median_codes
        else {}
    )
    versions: dict[str, set[str]] = defaultdict(set)
    for per_subset in grouped.values():
        for (code, _b, _c), cells in per_subset.items():
            for cell in cells.values():
                versions[code].update(cell[4])
    results = []
    for by, chosen, skipped in plans:
        result = IndicatorResult([], by, states, skipped)
        sums: dict[tuple[str, str, str], dict[tuple[str, ...], _Sums]] = defaultdict(dict)
        by_medians: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
        for size in range(len(by) + 1):
            for subset in itertools.combinations(by, size):
                ordered = _ordered(subset)
                for cell_key, cells in grouped.get(ordered, {}).items():
                    for values, total in cells.items():
                        sums[cell_key][_key(by, ordered, values)] = total[:4]
                for code, found in medians.get(ordered, {}).items():
                    for values, median in found.items():
                        by_medians[code][_key(by, ordered, values)] = median
        for indicator in chosen:
            result.values.extend(
                _values(
                    indicator,
                    by,
                    sums,
                    by_medians.get(indicator.code, {}),
                    tuple(sorted(versions.get(indicator.code, ()))),
                    catalog,
                    spans.get(indicator.code, ("", "")),
                )
            )
        results.append(result)
    return results


def _ordered(subset: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(subset, key=DIMENSIONS.index))


def _indicators(query: IndicatorQuery, catalog: Catalog) -> list[Indicator]:
    if not query.codes:
        return list(catalog.indicators.values())
    unknown = [c for c in query.codes if c not in catalog.indicators]
    if unknown:
        raise IndicatorQueryError(
            f"Unknown indicator {unknown[0]!r}; known: {', '.join(catalog.indicators)}.",
            details={"field": "indicator"},
        )
    return [catalog.indicators[c] for c in dict.fromkeys(query.codes)]


def _check_by(query: IndicatorQuery) -> tuple[str, ...]:
    by = tuple(dict.fromkeys(query.by))
    bad = [d for d in by if d not in DIMENSIONS]
    if bad:
        raise IndicatorQueryError(
            f"Unknown dimension {bad[0]!r}; break down by one of {', '.join(DIMENSIONS)}.",
            details={"field": "by"},
        )
    if len(by) > MAX_DIMENSIONS:
        raise IndicatorQueryError(
            f"Cross at most {MAX_DIMENSIONS} dimensions at once (asked for {len(by)}).",
            details={"field": "by"},
        )
    try:
        check_dimensions(by, public=query.public)
    except DimensionError as exc:
        raise IndicatorQueryError(f"{str(exc)[0].upper()}{str(exc)[1:]}.", details={"field": "by"}) from exc
    return by


def _where(
    project: Project, states: Sequence[str], codes: Sequence[str], filters: Mapping[str, tuple[str, ...]]
) -> list[sa.ColumnElement[bool]]:
    f = IndicatorFact
    conds: list[sa.ColumnElement[bool]] = [
        f.project_id == project.id,
        f.review_state.in_(states),
        f.indicator.in_(codes),
    ]
    for dim, values in filters.items():
        conds.append(getattr(f, dim).in_(values))
    return conds


def _uses_all_rows(subset: Sequence[str], query: IndicatorQuery) -> bool:
    """A unit's second-nationality rows count only where nationality is grouped or filtered on."""
    return MULTI_COLUMN in subset or MULTI_COLUMN in query.filters


_Grouped = dict[tuple[str, ...], dict[tuple[str, str, str], dict[tuple[str, ...], list[Any]]]]


def _aggregate_sets(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    subsets: list[tuple[str, ...]],
    query: IndicatorQuery,
) -> _Grouped:
    """subset -> (indicator, breakdown, category) -> subset values -> [num, den, n, dk, mapping versions].

    One ``GROUP BY`` per grouping. (A single ``GROUPING SETS`` scan was measured slower on PostgreSQL:
    its hash aggregation runs in one process, while separate queries use parallel workers.)"""
    f = IndicatorFact
    base = [f.indicator, f.breakdown, f.category, f.mapping_version]
    sums = [sa.func.sum(c) for c in (f.num, f.den, f.n, f.dk)]
    grouped: _Grouped = defaultdict(lambda: defaultdict(dict))
    if session.get_bind().dialect.name == "postgresql":
        # Compiling these scans costs more than it saves (measured: ~1.5 s of JIT per query), and with
        # the default 4 MB of work memory a many-valued dimension (admin 2) was sorted on disk instead
        # of hashed (7 s instead of 1 s at 100,000 submissions). Both last to the end of the transaction.
        session.execute(sa.text("SET LOCAL jit = off"))
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    for subset in subsets:
        columns = [getattr(f, d) for d in subset]
        conds = list(where)
        if not _uses_all_rows(subset, query):
            conds.append(f.is_primary.is_(True))
        stmt = select(*base, *columns, *sums).where(*conds).group_by(*base, *columns)
        for row in session.execute(stmt):
            _add(grouped, subset, row[:4], tuple(row[4 : 4 + len(subset)]), row[4 + len(subset) :])
    return grouped


def _add(
    grouped: _Grouped,
    subset: tuple[str, ...],
    head: Sequence[Any],
    values: tuple[str, ...],
    sums: Sequence[Any],
) -> None:
    code, breakdown, category, version = head
    numbers = [float(x or 0) for x in sums]
    cell = grouped[subset][(code, breakdown, category)].setdefault(values, [0.0, 0.0, 0.0, 0.0, set()])
    for i, number in enumerate(numbers):
        cell[i] += number
    cell[4].add(version)


def _medians(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    subset: tuple[str, ...],
    query: IndicatorQuery,
    codes: list[str],
) -> dict[str, dict[tuple[str, ...], float]]:
    f = IndicatorFact
    dims = [getattr(f, d) for d in subset]
    conds = [*where, f.indicator.in_(codes), f.breakdown == "", f.value.is_not(None)]
    if not _uses_all_rows(subset, query):
        conds.append(f.is_primary.is_(True))
    found: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
    if session.get_bind().dialect.name == "postgresql":
        median = sa.func.percentile_cont(0.5).within_group(f.value)
        stmt = select(f.indicator, *dims, median).where(*conds).group_by(f.indicator, *dims)
        for code, *values, value in session.execute(stmt):
            found[code][tuple(values)] = float(value)
        return found
    pools: dict[tuple[str, tuple[str, ...]], list[float]] = defaultdict(list)
    for code, *values, value in session.execute(select(f.indicator, *dims, f.value).where(*conds)):
        pools[(code, tuple(values))].append(float(value))
    for (code, key), numbers in pools.items():
        found[code][key] = float(statistics.median(numbers))
    return found


def _key(by: tuple[str, ...], subset: tuple[str, ...], values: Sequence[Any]) -> tuple[str, ...]:
    found = dict(zip(subset, values, strict=True))
    return tuple(found.get(d, TOTAL) for d in by)


BASE_HIDDEN = "base_suppressed"  # a breakdown row whose base cell (same key) is hidden


def _values(
    indicator: Indicator,
    by: tuple[str, ...],
    sums: dict[tuple[str, str, str], dict[tuple[str, ...], _Sums]],
    medians: Mapping[tuple[str, ...], float],
    versions: tuple[str, ...],
    catalog: Catalog,
    span: tuple[str, str] = ("", ""),
) -> list[IndicatorValue]:
    """The published rows of one indicator: the base table and one table per breakdown, suppressed
    together so that no hidden cell can be recovered from another table (INDICATORS.md §8):

    * a breakdown row carries its base cell's denominator and n, so it is hidden whenever the base
      cell at the same key is hidden;
    * a breakdown over a single-valued field splits the base numerator (FLW-04's destinations sum to
      the groups answering), so the base cell is that table's margin too: it takes part in the
      breakdown's secondary suppression, and a base cell hidden there is hidden in the base table;
    * a category with no data at a key has no row (structural zeros are not published), and a key
      whose base cell is hidden has no breakdown rows (all would be hidden).
    """
    base = sums.get((indicator.code, "", ""), {})
    has_den = indicator.denominator is not None
    breakdowns: list[
        tuple[Breakdown, dict[str, dict[tuple[str, ...], _Sums]], dict[tuple[str, ...], _Sums], bool]
    ] = []
    for breakdown in indicator.breakdowns:
        found = {
            name: sums.get((indicator.code, breakdown.name[:64], name[:64]), {})
            for name in breakdown.categories
        }
        field = catalog.fields.get(breakdown.field or "")
        own_sums = sums.get((indicator.code, breakdown.name[:64], ""), {}) if breakdown.among else base
        breakdowns.append((breakdown, found, own_sums, field is not None and not field.multi))

    def cell(key: tuple[str, ...], numerator: float, totals: _Sums, sensitive: bool) -> Cell:
        return Cell(
            key=key,
            numerator=numerator,
            denominator=totals[1] if has_den else None,
            n=int(totals[2]),
            sensitive=sensitive,
        )

    base_table = Table(by, tuple(cell(k, s[0], s, indicator.sensitive) for k, s in base.items()))
    forced_base: dict[tuple[str, ...], str] = {}
    while True:
        base_outcome = suppress(base_table, forced=forced_base)
        hidden = {k for k, o in base_outcome.outcomes.items() if o.suppressed}
        outcomes: list[tuple[Breakdown, SuppressedTable, dict[tuple[str, ...], _Sums]]] = []
        grew = False
        for breakdown, found, own_base, partition in breakdowns:
            cells: list[Cell] = []
            forced: dict[tuple[str, ...], str] = {}
            for name, per_key in found.items():
                sensitive = indicator.sensitive or name in breakdown.sensitive_codes
                for key, own in per_key.items():
                    totals = own_base.get(key)
                    if totals is None or not own[0]:
                        continue
                    cells.append(cell((*key, name), own[0], totals, sensitive))
                    if key in hidden:
                        forced[(*key, name)] = BASE_HIDDEN
            if partition and cells:
                for key, totals in own_base.items():
                    cells.append(cell((*key, TOTAL), totals[0], totals, indicator.sensitive))
                    if key in hidden:
                        forced[(*key, TOTAL)] = BASE_HIDDEN
            table_outcome = suppress(Table((*by, "category"), tuple(cells)), forced=forced)
            for full, outcome in table_outcome.outcomes.items():
                if own_base is base and full[-1] == TOTAL and outcome.suppressed and full[:-1] not in hidden:
                    forced_base[full[:-1]] = SECONDARY
                    grew = True
            outcomes.append((breakdown, table_outcome, own_base))
        if not grew:
            break

    out: list[IndicatorValue] = []
    for statistic in indicator.units:
        rows: list[tuple[str | None, str | None, tuple[str, ...], CellOutcome, _Sums]] = [
            (None, None, key, base_outcome.outcomes[key], base[key]) for key in sorted(base)
        ]
        for breakdown, table_outcome, own_base in outcomes:
            for full in sorted(table_outcome.outcomes):
                # No breakdown rows at all where the base cell is hidden: they would all be hidden, and
                # rows present only for the codes with data would tell the hidden numerator apart from 0.
                if full[-1] != TOTAL and full[:-1] not in hidden:
                    rows.append(
                        (
                            breakdown.name,
                            full[-1],
                            full[:-1],
                            table_outcome.outcomes[full],
                            own_base[full[:-1]],
                        )
                    )
        for breakdown_name, category, key, result, s in rows:
            row_period = dict(zip(by, key, strict=True)).get("period")
            start, end = month_bounds(row_period) if row_period not in (None, TOTAL) else span
            value = result.value
            if statistic == "median" and not result.suppressed:
                value = medians.get(key) if breakdown_name is None else None
            out.append(
                IndicatorValue(
                    indicator=indicator.code,
                    name=indicator.name("en"),
                    statistic=statistic,
                    breakdown=breakdown_name,
                    category=category,
                    key=dict(zip(by, key, strict=True)),
                    value=value,
                    numerator=result.numerator,
                    denominator=result.denominator,
                    n=result.n,
                    dk_refused=None if result.suppressed else int(s[3]),
                    suppressed=result.suppressed,
                    reason=result.reason,
                    small_base=result.small_base,
                    sensitive=result.cell.sensitive,
                    mapping_versions=versions,
                    period_start=start,
                    period_end=end,
                )
            )
    return out


def _spans(session: Session, where: list[sa.ColumnElement[bool]]) -> dict[str, tuple[str, str]]:
    """Per indicator, the first and last day of the months its counted data covers: the period of a
    row that is not broken down by period."""
    f = IndicatorFact
    stmt = (
        select(f.indicator, sa.func.min(f.period), sa.func.max(f.period))
        .where(*where, f.period != "unknown")
        .group_by(f.indicator)
    )
    return {
        code: (month_bounds(first)[0], month_bounds(last)[1]) for code, first, last in session.execute(stmt)
    }


__all__ = [
    "DIMENSIONS",
    "FINE_GEOGRAPHY",
    "IndicatorQuery",
    "IndicatorResult",
    "IndicatorValue",
    "compute_values",
]
