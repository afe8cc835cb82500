"""Persons by sex and age band (the SADD grid of every 5W and HNO), from the ``SADD`` fact rows that
normalisation writes beside the indicator facts (:func:`app.indicators.facts.sadd_facts`).

One ``SUM(num) ... GROUP BY`` per subset of the requested dimensions plus sex and age band (every
margin), per instrument: people counted at monitoring points (FMR) and people in surveyed groups (FMS,
JNA) are separate tables, never summed together. Each table is then suppressed like the indicator
tables (INDICATORS.md §6): a cell of 1-4 persons is hidden, then complementary cells so no hidden cell
follows from a published total, the sex and age-band totals included. Only approved submissions count
unless the project (or ``includeReceived``) says otherwise; the figures are unweighted.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import IndicatorQueryError
from app.indicators.facts import MULTI_COLUMN, PERIOD_COLUMNS, SADD
from app.indicators.suppression import TOTAL, Cell, DimensionError, Table, check_dimensions, suppress
from app.indicators.values import period_bounds
from app.models import IndicatorFact, Project, Submission
from app.services.indicators.values import APPROVED, DIMENSIONS, MAX_DIMENSIONS, WITH_RECEIVED, IndicatorQuery

GRID = ("sex_gender", "age_band")
BY_DIMENSIONS = tuple(d for d in DIMENSIONS if d not in GRID)


@dataclass(frozen=True)
class SaddRow:
    instrument: str
    key: Mapping[str, str]  # the requested dimensions, then sex_gender and age_band (TOTAL in margins)
    persons: int | None  # None when suppressed
    suppressed: bool
    reason: str | None
    period_start: str
    period_end: str


@dataclass
class SaddResult:
    rows: list[SaddRow]
    by: tuple[str, ...]
    states: tuple[str, ...]


def compute_sadd(
    session: Session, *, project: Project, query: IndicatorQuery, rows: sa.ColumnElement[bool] | None = None
) -> SaddResult:
    """``rows``: a condition on ``submissions`` the counted persons' submissions must meet (a partner's
    own rows, ``row_access.figure_rows``); None counts every row of the project."""
    by = tuple(dict.fromkeys(query.by))
    bad = [d for d in (*by, *query.filters) if d not in DIMENSIONS]
    if bad or any(d in GRID for d in by):
        raise IndicatorQueryError(
            f"Unknown or grid dimension {(bad or [d for d in by if d in GRID])[0]!r}; the table is always by "
            f"sex and age band, broken down by up to {MAX_DIMENSIONS - 1} of {', '.join(BY_DIMENSIONS)}.",
            details={"field": "by"},
        )
    if len(by) > MAX_DIMENSIONS - 1:
        raise IndicatorQueryError(
            f"The table is by sex and age band and at most {MAX_DIMENSIONS - 1} more dimensions.",
            details={"field": "by"},
        )
    if query.period not in PERIOD_COLUMNS:
        raise IndicatorQueryError(
            f"Unknown period {query.period!r}; use one of {', '.join(PERIOD_COLUMNS)}.",
            details={"field": "period"},
        )
    if query.cumulative:
        raise IndicatorQueryError(
            "The persons table has no cumulative series.", details={"field": "cumulative"}
        )
    full = (*by, *GRID)
    try:
        check_dimensions(full, public=query.public)
    except DimensionError as exc:
        raise IndicatorQueryError(f"{str(exc)[0].upper()}{str(exc)[1:]}.", details={"field": "by"}) from exc
    include = (
        project.indicators_include_received if query.include_received is None else query.include_received
    )
    states = WITH_RECEIVED if include else APPROVED
    columns = {d: d for d in DIMENSIONS} | {"period": PERIOD_COLUMNS[query.period]}
    f = IndicatorFact
    where = [f.project_id == project.id, f.review_state.in_(states), f.indicator == SADD]
    where += [getattr(f, columns[d]).in_(values) for d, values in query.filters.items()]
    if rows is not None:
        where.append(f.submission_id.in_(select(Submission.id).where(rows)))
    sums: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
    for size in range(len(full) + 1):
        for subset in itertools.combinations(full, size):
            cols = [getattr(f, columns[d]) for d in subset]
            conds = list(where)
            if MULTI_COLUMN not in subset and MULTI_COLUMN not in query.filters:
                conds.append(f.is_primary.is_(True))
            stmt = select(f.category, *cols, sa.func.sum(f.num)).where(*conds).group_by(f.category, *cols)
            for instrument, *values, persons in session.execute(stmt):
                found = dict(zip(subset, values, strict=True))
                sums[instrument][tuple(found.get(d, TOTAL) for d in full)] = float(persons or 0)
    spans = _spans(session, where, getattr(f, columns["period"]), query.period)
    published: list[SaddRow] = []
    for instrument in sorted(sums):
        cells = tuple(Cell(key=k, numerator=v, n=int(v)) for k, v in sums[instrument].items() if v)
        outcome = suppress(Table(full, cells))
        for key in sorted(outcome.outcomes):
            result = outcome.outcomes[key]
            period = dict(zip(full, key, strict=True)).get("period")
            start, end = (
                period_bounds(query.period, period)
                if period not in (None, TOTAL)
                else spans.get(instrument, ("", ""))
            )
            published.append(
                SaddRow(
                    instrument=instrument,
                    key=dict(zip(full, key, strict=True)),
                    persons=None if result.suppressed else int(result.cell.n),
                    suppressed=result.suppressed,
                    reason=result.reason,
                    period_start=start,
                    period_end=end,
                )
            )
    return SaddResult(published, by, states)


def _spans(
    session: Session, where: Sequence[sa.ColumnElement[bool]], column: sa.ColumnElement[str], granularity: str
) -> dict[str, tuple[str, str]]:
    f = IndicatorFact
    stmt = (
        select(f.category, sa.func.min(column), sa.func.max(column))
        .where(*where, column != "unknown")
        .group_by(f.category)
    )
    return {
        instrument: (period_bounds(granularity, first)[0], period_bounds(granularity, last)[1])
        for instrument, first, last in session.execute(stmt)
    }
