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
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import IndicatorQueryError
from app.indicators.catalog import Catalog, Indicator, load_catalog
from app.indicators.facts import DIMENSION_COLUMNS, MULTI_COLUMN
from app.indicators.suppression import (
    FINE_GEOGRAPHY,
    TOTAL,
    Cell,
    DimensionError,
    Table,
    check_dimensions,
    suppress,
)
from app.indicators.values import IndicatorResult, IndicatorValue
from app.models import IndicatorFact, Project

DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_COLUMNS)
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
    catalog = catalog or load_catalog()
    indicators = _indicators(query, catalog)
    by = _check_by(query)
    for dim in query.filters:
        if dim not in DIMENSIONS:
            raise IndicatorQueryError(f"Unknown filter {dim!r}; filter on one of {', '.join(DIMENSIONS)}.")
    include = (
        project.indicators_include_received if query.include_received is None else query.include_received
    )
    states = WITH_RECEIVED if include else APPROVED
    skipped: dict[str, str] = {}
    chosen: list[Indicator] = []
    for indicator in indicators:
        try:
            check_dimensions(by, public=query.public, sensitive=indicator.sensitive)
        except DimensionError as exc:
            skipped[indicator.code] = str(exc)
            continue
        chosen.append(indicator)
    result = IndicatorResult([], by, states, skipped)
    if not chosen:
        return result
    codes = [i.code for i in chosen]
    where = _where(project, states, codes, query.filters)
    sums: dict[tuple[str, str, str], dict[tuple[str, ...], _Sums]] = defaultdict(dict)
    medians: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
    median_codes = [i.code for i in chosen if "median" in i.units]
    for size in range(len(by) + 1):
        for subset in itertools.combinations(by, size):
            _aggregate(session, where, by, subset, query, sums)
            if median_codes:
                _medians(session, where, by, subset, query, median_codes, medians)
    versions = _mapping_versions(session, where)
    for indicator in chosen:
        result.values.extend(
            _values(indicator, by, sums, medians.get(indicator.code, {}), versions.get(indicator.code, ()))
        )
    return result


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


def _primary(subset: Sequence[str], query: IndicatorQuery) -> list[sa.ColumnElement[bool]]:
    """A unit's second nationality rows count only where nationality is grouped or filtered on."""
    if MULTI_COLUMN in subset or MULTI_COLUMN in query.filters:
        return []
    return [IndicatorFact.is_primary.is_(True)]


def _aggregate(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    by: tuple[str, ...],
    subset: tuple[str, ...],
    query: IndicatorQuery,
    sums: dict[tuple[str, str, str], dict[tuple[str, ...], _Sums]],
) -> None:
    f = IndicatorFact
    dims = [getattr(f, d) for d in subset]
    group = [f.indicator, f.breakdown, f.category, *dims]
    stmt = (
        select(*group, sa.func.sum(f.num), sa.func.sum(f.den), sa.func.sum(f.n), sa.func.sum(f.dk))
        .where(*where, *_primary(subset, query))
        .group_by(*group)
    )
    for row in session.execute(stmt):
        code, breakdown, category, *values = row
        dim_values = dict(zip(subset, values[: len(subset)], strict=True))
        key = tuple(dim_values.get(d, TOTAL) for d in by)
        num, den, n, dk = values[len(subset) :]
        sums[(code, breakdown, category)][key] = [
            float(num or 0),
            float(den or 0),
            float(n or 0),
            float(dk or 0),
        ]


def _medians(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    by: tuple[str, ...],
    subset: tuple[str, ...],
    query: IndicatorQuery,
    codes: list[str],
    medians: dict[str, dict[tuple[str, ...], float]],
) -> None:
    f = IndicatorFact
    dims = [getattr(f, d) for d in subset]
    conds = [
        *where,
        *_primary(subset, query),
        f.indicator.in_(codes),
        f.breakdown == "",
        f.value.is_not(None),
    ]
    if session.get_bind().dialect.name == "postgresql":
        median = sa.func.percentile_cont(0.5).within_group(f.value)
        for row in session.execute(
            select(f.indicator, *dims, median).where(*conds).group_by(f.indicator, *dims)
        ):
            code, *values, found = row
            key = _key(by, subset, values)
            medians[code][key] = float(found)
        return
    pools: dict[tuple[str, tuple[str, ...]], list[float]] = defaultdict(list)
    for row in session.execute(select(f.indicator, *dims, f.value).where(*conds)):
        code, *values, value = row
        pools[(code, _key(by, subset, values))].append(float(value))
    for (code, key), numbers in pools.items():
        medians[code][key] = float(statistics.median(numbers))


def _key(by: tuple[str, ...], subset: tuple[str, ...], values: Sequence[Any]) -> tuple[str, ...]:
    found = dict(zip(subset, values, strict=True))
    return tuple(found.get(d, TOTAL) for d in by)


def _mapping_versions(session: Session, where: list[sa.ColumnElement[bool]]) -> dict[str, tuple[str, ...]]:
    f = IndicatorFact
    found: dict[str, list[str]] = defaultdict(list)
    stmt = (
        select(f.indicator, f.mapping_version)
        .where(*where)
        .distinct()
        .order_by(f.indicator, f.mapping_version)
    )
    for code, version in session.execute(stmt):
        found[code].append(version)
    return {code: tuple(v) for code, v in found.items()}


def _values(
    indicator: Indicator,
    by: tuple[str, ...],
    sums: dict[tuple[str, str, str], dict[tuple[str, ...], _Sums]],
    medians: Mapping[tuple[str, ...], float],
    versions: tuple[str, ...],
) -> list[IndicatorValue]:
    base = sums.get((indicator.code, "", ""), {})
    out: list[IndicatorValue] = []
    has_den = indicator.denominator is not None
    tables: list[tuple[str | None, str | None, dict[tuple[str, ...], _Sums], frozenset[str]]] = [
        (None, None, base, frozenset())
    ]
    for breakdown in indicator.breakdowns:
        for name in breakdown.categories:
            found = sums.get((indicator.code, breakdown.name[:64], name[:64]), {})
            tables.append((breakdown.name, name, found, breakdown.sensitive_codes))
    for statistic in indicator.units:
        per_breakdown: dict[str | None, list[tuple[str | None, tuple[str, ...], _Sums]]] = defaultdict(list)
        for breakdown_name, category, cells, _sensitive in tables:
            keys = base.keys() if breakdown_name is not None else cells.keys()
            for key in keys:
                own = cells.get(key, [0.0, 0.0, 0.0, 0.0])
                totals = base.get(key, [0.0, 0.0, 0.0, 0.0])
                per_breakdown[breakdown_name].append(
                    (category, key, [own[0], totals[1], totals[2], totals[3]])
                )
        for breakdown_name, items in per_breakdown.items():
            sensitive_codes = next(
                (b.sensitive_codes for b in indicator.breakdowns if b.name == breakdown_name), frozenset()
            )
            dims = (*by, "category") if breakdown_name is not None else by
            cells_by_key: dict[tuple[str, ...], tuple[str | None, tuple[str, ...], _Sums, bool]] = {}
            for item_category, key, s in items:
                full = (*key, item_category or "") if breakdown_name is not None else key
                sensitive = indicator.sensitive or (item_category in sensitive_codes)
                cells_by_key[full] = (item_category, key, s, sensitive)
            table = Table(
                dims,
                tuple(
                    Cell(
                        key=full,
                        numerator=s[0],
                        denominator=s[1] if has_den else None,
                        n=int(s[2]),
                        sensitive=sensitive,
                    )
                    for full, (_c, _k, s, sensitive) in cells_by_key.items()
                ),
            )
            outcome = suppress(table)
            for full, (category, key, s, sensitive) in sorted(cells_by_key.items()):
                result = outcome.outcomes[full]
                value = result.value
                if statistic == "median" and not result.suppressed:
                    value = medians.get(key)
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
                        sensitive=sensitive,
                        mapping_versions=versions,
                    )
                )
    return out


__all__ = [
    "DIMENSIONS",
    "FINE_GEOGRAPHY",
    "IndicatorQuery",
    "IndicatorResult",
    "IndicatorValue",
    "compute_values",
]
