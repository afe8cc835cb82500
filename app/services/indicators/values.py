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
from app.indicators.facts import DIMENSION_COLUMNS, MULTI_COLUMN, PERIOD_COLUMNS, extra_columns
from app.indicators.series import cumulate, running_medians
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
from app.indicators.values import IndicatorResult, IndicatorValue, period_bounds
from app.models import IndicatorFact, Project, Submission

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
    period: str = "month"  # the length of a ``period`` row: day, week (ISO) or month
    weighted: bool = False  # numerators and denominators times each record's survey weight
    cumulative: bool = False  # each period row sums the data from the start of the series


_Sums = list[float]  # num, den, n, dk, weighted num, weighted den
WEIGHTED, UNWEIGHTED = "weighted", "unweighted"


def compute_values(
    session: Session,
    *,
    project: Project,
    query: IndicatorQuery,
    catalog: Catalog | None = None,
    rows: sa.ColumnElement[bool] | None = None,
) -> IndicatorResult:
    """``rows``: a condition on ``submissions`` the counted units' submissions must meet (a partner's
    own rows, ``row_access.figure_rows``); None counts every row of the project."""
    return compute_tables(session, project=project, query=query, bys=[query.by], catalog=catalog, rows=rows)[
        0
    ]


def compute_tables(
    session: Session,
    *,
    project: Project,
    query: IndicatorQuery,
    bys: Sequence[tuple[str, ...]],
    catalog: Catalog | None = None,
    rows: sa.ColumnElement[bool] | None = None,
) -> list[IndicatorResult]:
    """The indicators of ``query`` broken down each way in ``bys``, from one aggregation: every grouping
    (each breakdown and its margins) is computed once, in a single ``GROUPING SETS`` scan on PostgreSQL
    and one ``GROUP BY`` per grouping on SQLite."""
    catalog = catalog or load_catalog()
    indicators = _indicators(query, catalog)
    if query.period not in PERIOD_COLUMNS:
        raise IndicatorQueryError(
            f"Unknown period {query.period!r}; use one of {', '.join(PERIOD_COLUMNS)}.",
            details={"field": "period"},
        )
    own = {i.code: catalog.own_dimensions(i) for i in indicators}
    for dim in query.filters:
        if dim not in DIMENSIONS and not any(dim in names for names in own.values()):
            raise IndicatorQueryError(
                f"Unknown filter {dim!r}; filter on one of {_allowed(indicators, own)}.",
                details={"field": dim},
            )
    include = (
        project.indicators_include_received if query.include_received is None else query.include_received
    )
    states = WITH_RECEIVED if include else APPROVED
    plans: list[tuple[tuple[str, ...], list[Indicator], dict[str, str]]] = []
    for requested in bys:
        by = _check_by(replace(query, by=requested), indicators, own)
        if query.cumulative and query.weighted:
            raise IndicatorQueryError(
                "Cumulative series are unweighted: ask for weighted=true or cumulative=true, not both.",
                details={"field": "weighted"},
            )
        if query.cumulative and "period" not in by:
            raise IndicatorQueryError(
                "A cumulative series runs over periods: add by=period (and period=day, week or month).",
                details={"field": "cumulative"},
            )
        skipped: dict[str, str] = {}
        chosen: list[Indicator] = []
        for indicator in indicators:
            lacking = [
                d for d in (*by, *query.filters) if d not in DIMENSIONS and d not in own[indicator.code]
            ]
            if lacking:
                skipped[indicator.code] = (
                    f"not disaggregated by {lacking[0]} (its own disaggregations: "
                    f"{', '.join(own[indicator.code]) or 'none'})"
                )
                continue
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
        key=lambda subset: (len(subset), [_rank(d) for d in subset]),
    )
    grouped: _Grouped = defaultdict(lambda: defaultdict(dict))
    spans: dict[str, tuple[str, str]] = {}
    medians: dict[tuple[str, ...], dict[str, dict[tuple[str, ...], float]]] = defaultdict(dict)
    pools: dict[str, tuple[_Layout, list[Any]]] = {}
    pooled = tuple(sorted({d for by, _, _ in plans for d in by}, key=_rank))
    # Indicators whose requested dimensions sit in the same columns are aggregated together (an own
    # disaggregation such as direction is in a slot column that differs between indicators).
    used = {d for by, _, _ in plans for d in by} | set(query.filters)
    for columns, group in _by_columns(codes, used, query, catalog).items():
        layout = _Layout(dict(columns), frozenset(d for d in used if _is_multi(d, group[0], catalog)))
        where = _where(project, states, group, query.filters, layout)
        if rows is not None:  # a partner's figures: its own organisation's rows (row_access.figure_rows)
            where.append(IndicatorFact.submission_id.in_(select(Submission.id).where(rows)))
        for subset, per_code in _aggregate_sets(session, where, subsets, query, layout).items():
            grouped[subset].update(per_code)
        spans |= _spans(session, where, layout, query.period)
        median_codes = [c for c in group if "median" in catalog.indicators[c].units]
        for subset in subsets if median_codes else ():
            medians[subset] |= _medians(session, where, subset, query, median_codes, layout)
        if query.cumulative and median_codes:
            pools |= _median_pools(session, where, pooled, median_codes, layout)
    versions: dict[str, set[str]] = defaultdict(set)
    for per_subset in grouped.values():
        for (code, _b, _c), cells in per_subset.items():
            for cell in cells.values():
                versions[code].update(cell[-1])
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
                        sums[cell_key][_key(by, ordered, values)] = total[:6]
                for code, found in medians.get(ordered, {}).items():
                    for values, median in found.items():
                        by_medians[code][_key(by, ordered, values)] = median
        for indicator in chosen:
            span = spans.get(indicator.code, ("", ""))
            published = _values(
                indicator,
                by,
                sums,
                by_medians.get(indicator.code, {}),
                tuple(sorted(versions.get(indicator.code, ()))),
                catalog,
                span,
                granularity=query.period,
                weighted=query.weighted,
            )
            if query.cumulative:
                running = _running_medians(pools.get(indicator.code), pooled, by, query, sums, indicator.code)
                published = cumulate(
                    indicator, by, published, sums, running, span_start=span[0], granularity=query.period
                )
            result.values.extend(published)
        results.append(result)
    return results


def _rank(dim: str) -> tuple[int, str]:
    """Default dimensions in their fixed order, then an indicator's own ones by name."""
    return (DIMENSIONS.index(dim), "") if dim in DIMENSIONS else (len(DIMENSIONS), dim)


def _ordered(subset: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(subset, key=_rank))


@dataclass(frozen=True)
class _Layout:
    """Where each dimension of a group of indicators is stored: dimension -> fact column, and the
    indicators' own multi-valued dimensions (rows with ``extra_primary`` false repeat their values)."""

    columns: Mapping[str, str]
    multi: frozenset[str] = frozenset()

    def column(self, dim: str) -> sa.ColumnElement[Any]:
        column: sa.ColumnElement[Any] = getattr(IndicatorFact, self.columns[dim])
        return column


def _columns(indicator: Indicator, catalog: Catalog, granularity: str) -> dict[str, str]:
    columns = {d: d for d in DIMENSIONS} | {"period": PERIOD_COLUMNS[granularity]}
    return columns | extra_columns(indicator, catalog)


def _is_multi(dim: str, code: str, catalog: Catalog) -> bool:
    key = catalog.own_dimensions(catalog.indicators[code]).get(dim)
    return key is not None and catalog.fields[key].multi


def _by_columns(
    codes: Sequence[str], used: set[str], query: IndicatorQuery, catalog: Catalog
) -> dict[tuple[tuple[str, str], ...], list[str]]:
    groups: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
    for code in codes:
        columns = _columns(catalog.indicators[code], catalog, query.period)
        multi = tuple(sorted(("multi", d) for d in used if _is_multi(d, code, catalog)))
        key = tuple(sorted((d, c) for d, c in columns.items() if d in used or d in DIMENSIONS)) + multi
        groups[key].append(code)
    return {tuple(p for p in key if p[0] != "multi"): group for key, group in groups.items()}


def _allowed(indicators: Sequence[Indicator], own: Mapping[str, Mapping[str, str]]) -> str:
    """The dimensions a query may name: the defaults, then each indicator's own (with who has it)."""
    having: dict[str, list[str]] = defaultdict(list)
    for indicator in indicators:
        for name in own[indicator.code]:
            having[name].append(indicator.code)
    extras = [f"{name} ({', '.join(codes)})" for name, codes in sorted(having.items())]
    return ", ".join([*DIMENSIONS, *extras])


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


def _check_by(
    query: IndicatorQuery, indicators: Sequence[Indicator], own: Mapping[str, Mapping[str, str]]
) -> tuple[str, ...]:
    by = tuple(dict.fromkeys(query.by))
    bad = [d for d in by if d not in DIMENSIONS and not any(d in names for names in own.values())]
    if bad:
        raise IndicatorQueryError(
            f"Unknown dimension {bad[0]!r}; break down by one of {_allowed(indicators, own)}.",
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
    project: Project,
    states: Sequence[str],
    codes: Sequence[str],
    filters: Mapping[str, tuple[str, ...]],
    layout: _Layout,
) -> list[sa.ColumnElement[bool]]:
    f = IndicatorFact
    conds: list[sa.ColumnElement[bool]] = [
        f.project_id == project.id,
        f.review_state.in_(states),
        f.indicator.in_(codes),
    ]
    for dim, values in filters.items():
        conds.append(layout.column(dim).in_(values))
    return conds


def _row_conditions(
    subset: Sequence[str], query: IndicatorQuery, layout: _Layout
) -> list[sa.ColumnElement[bool]]:
    """A unit's rows for its second nationality (or second transport mode...) count only where that
    dimension is grouped or filtered on; elsewhere the unit counts once."""
    used = {*subset, *query.filters}
    conds: list[sa.ColumnElement[bool]] = []
    if MULTI_COLUMN not in used:
        conds.append(IndicatorFact.is_primary.is_(True))
    if not used & layout.multi:
        conds.append(IndicatorFact.extra_primary.is_(True))
    return conds


_Grouped = dict[tuple[str, ...], dict[tuple[str, str, str], dict[tuple[str, ...], list[Any]]]]


def _aggregate_sets(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    subsets: list[tuple[str, ...]],
    query: IndicatorQuery,
    layout: _Layout,
) -> _Grouped:
    """subset -> (indicator, breakdown, category) -> subset values -> [num, den, n, dk, mapping versions].

    One ``GROUP BY`` per grouping. (A single ``GROUPING SETS`` scan was measured slower on PostgreSQL:
    its hash aggregation runs in one process, while separate queries use parallel workers.)"""
    f = IndicatorFact
    base = [f.indicator, f.breakdown, f.category, f.mapping_version]
    sums = [sa.func.sum(c) for c in (f.num, f.den, f.n, f.dk, f.num * f.weight, f.den * f.weight)]
    grouped: _Grouped = defaultdict(lambda: defaultdict(dict))
    if session.get_bind().dialect.name == "postgresql":
        # Compiling these scans costs more than it saves (measured: ~1.5 s of JIT per query), and with
        # the default 4 MB of work memory a many-valued dimension (admin 2) was sorted on disk instead
        # of hashed (7 s instead of 1 s at 100,000 submissions). Both last to the end of the transaction.
        session.execute(sa.text("SET LOCAL jit = off"))
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    for subset in subsets:
        columns = [layout.column(d) for d in subset]
        conds = [*where, *_row_conditions(subset, query, layout)]
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
    cell = grouped[subset][(code, breakdown, category)].setdefault(values, [0.0] * 6 + [set()])
    for i, number in enumerate(numbers):
        cell[i] += number
    cell[-1].add(version)


def _medians(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    subset: tuple[str, ...],
    query: IndicatorQuery,
    codes: list[str],
    layout: _Layout,
) -> dict[str, dict[tuple[str, ...], float]]:
    f = IndicatorFact
    dims = [layout.column(d) for d in subset]
    conds = [*where, f.indicator.in_(codes), f.breakdown == "", f.value.is_not(None)]
    conds += _row_conditions(subset, query, layout)
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


def _median_pools(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    dims: tuple[str, ...],
    codes: list[str],
    layout: _Layout,
) -> dict[str, tuple[_Layout, list[Any]]]:
    """Per indicator, every value a median is taken of, with its dimension values and row flags: a
    cumulative median is the median of all values up to a period, which no per-period figure gives."""
    f = IndicatorFact
    columns = [layout.column(d) for d in dims]
    stmt = select(f.indicator, *columns, f.is_primary, f.extra_primary, f.value).where(
        *where, f.indicator.in_(codes), f.breakdown == "", f.value.is_not(None)
    )
    found: dict[str, tuple[_Layout, list[Any]]] = {code: (layout, []) for code in codes}
    for code, *rest in session.execute(stmt):
        found[code][1].append(rest)
    return found


def _running_medians(
    pool: tuple[_Layout, list[Any]] | None,
    pooled: tuple[str, ...],
    by: tuple[str, ...],
    query: IndicatorQuery,
    sums: Mapping[tuple[str, str, str], Mapping[tuple[str, ...], _Sums]],
    code: str,
) -> dict[tuple[str, ...], float]:
    """The cumulative medians of one indicator keyed like its rows (every margin of the non-period
    dimensions), counting a unit once unless its repeated rows' dimension is grouped or filtered on."""
    if pool is None:
        return {}
    layout, rows = pool
    p = by.index("period")
    others = [d for d in by if d != "period"]
    periods = sorted({k[p] for k in sums.get((code, "", ""), {}) if k[p] not in (TOTAL, "unknown")})
    found: dict[tuple[str, ...], float] = {}
    for size in range(len(others) + 1):
        for kept in itertools.combinations(others, size):
            used = {"period", *kept, *query.filters}
            values: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
            for row in rows:
                dims = dict(zip(pooled, row, strict=False))
                primary, extra_primary, value = row[len(pooled) :]
                if (MULTI_COLUMN not in used and not primary) or (
                    not used & layout.multi and not extra_primary
                ):
                    continue
                line = tuple(dims[d] if d in kept else TOTAL for d in others)
                values[line].append((dims["period"], float(value)))
            found |= running_medians(values, periods, p)
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
    *,
    granularity: str = "month",
    weighted: bool = False,
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
            start, end = period_bounds(granularity, row_period) if row_period not in (None, TOTAL) else span
            value, numerator, denominator = result.value, result.numerator, result.denominator
            if statistic == "median" and not result.suppressed:
                value = medians.get(key) if breakdown_name is None else None
            method = WEIGHTED if weighted and statistic != "median" else UNWEIGHTED
            if method == WEIGHTED and not result.suppressed:
                # Suppression ran on the unweighted counts; the published figures are weighted.
                mine = (
                    base.get(key)
                    if breakdown_name is None
                    else sums.get((indicator.code, breakdown_name[:64], (category or "")[:64]), {}).get(key)
                )
                numerator = mine[4] if mine is not None else 0.0
                denominator = s[5] if has_den else None
                value = (
                    numerator if denominator is None else (numerator / denominator if denominator else None)
                )
            out.append(
                IndicatorValue(
                    indicator=indicator.code,
                    name=indicator.name("en"),
                    statistic=statistic,
                    breakdown=breakdown_name,
                    category=category,
                    key=dict(zip(by, key, strict=True)),
                    value=value,
                    numerator=numerator,
                    denominator=denominator,
                    n=result.n,
                    dk_refused=None if result.suppressed else int(s[3]),
                    suppressed=result.suppressed,
                    reason=result.reason,
                    small_base=result.small_base,
                    sensitive=result.cell.sensitive,
                    mapping_versions=versions,
                    period_start=start,
                    period_end=end,
                    method=method,
                )
            )
    return out


def _spans(
    session: Session, where: list[sa.ColumnElement[bool]], layout: _Layout, granularity: str
) -> dict[str, tuple[str, str]]:
    """Per indicator, the first and last day of the periods (days, weeks or months) its counted data
    covers: the period of a row that is not broken down by period."""
    f = IndicatorFact
    column = layout.column("period")
    stmt = (
        select(f.indicator, sa.func.min(column), sa.func.max(column))
        .where(*where, column != "unknown")
        .group_by(f.indicator)
    )
    return {
        code: (period_bounds(granularity, first)[0], period_bounds(granularity, last)[1])
        for code, first, last in session.execute(stmt)
    }


__all__ = [
    "DIMENSIONS",
    "FINE_GEOGRAPHY",
    "IndicatorQuery",
    "IndicatorResult",
    "IndicatorValue",
    "compute_values",
]
