"""Cumulative series (``cumulative=true``): each period row sums the data from the start of the series
to the end of that period, computed from the same per-period sums as the plain series.

Suppression must not let the cumulative rows undo the plain series' suppression: the difference of two
consecutive cumulative rows is one period's own cell, and a cumulative row beside a total gives the
rest away. An own cell is *known* when its row in the plain series is published, or when it has no
row because it had no data (a breakdown row also needs its base cell published, since a hidden base
cell hides all its breakdown rows).

* A series by period alone (one line): a cumulative row is published when the number of hidden own
  cells since the previous published row is not exactly one, and the rows after the last published
  one up to the published total obey the same rule (:func:`_intervals`): every difference of
  published figures sums published cells or at least two hidden ones.
* Crossed with other dimensions, or a breakdown row: published only while every period it sums is
  known (:func:`_prefix_known`), so it adds nothing the plain series does not publish (the interval
  rule would have to be coordinated across the margins of the other dimensions).

Anything else is hidden (``hidden_period``). Rows over all periods (the ``total`` margin) and rows
whose period is unknown are the plain series'.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from app.indicators.definitions import Indicator
from app.indicators.suppression import SMALL_BASE, TOTAL, Cell, primary_reason
from app.indicators.values import IndicatorValue, period_bounds

UNKNOWN = "unknown"
HIDDEN_PERIOD = "hidden_period"  # a cumulative row summing a period whose own cell is hidden

Key = tuple[str, ...]
Sums = Sequence[float]  # num, den, n, dk


def cumulate(
    indicator: Indicator,
    by: tuple[str, ...],
    rows: Sequence[IndicatorValue],
    sums: Mapping[tuple[str, str, str], Mapping[Key, Sums]],
    medians: Mapping[Key, float],
    *,
    span_start: str,
    granularity: str,
) -> list[IndicatorValue]:
    """The cumulative rows of one indicator from its plain, suppressed ``rows`` and the per-period
    ``sums`` they were made from (keys over ``by``, :data:`TOTAL` in margins); ``medians`` are the
    medians of the values up to each period, keyed like the rows."""
    p = by.index("period")
    own = {(r.statistic, r.breakdown, r.category, tuple(r.key[d] for d in by)): r for r in rows}
    code = indicator.code
    base = sums.get((code, "", ""), {})
    periods = sorted({k[p] for k in base if k[p] not in (TOTAL, UNKNOWN)})
    out = [r for r in rows if r.key["period"] in (TOTAL, UNKNOWN)]
    template = rows[0] if rows else None
    if template is None:
        return out
    tables: list[tuple[str | None, str | None, Mapping[Key, Sums], Mapping[Key, Sums]]] = [
        (None, None, base, base)
    ]
    for b in indicator.breakdowns:
        own_base = sums.get((code, b.name[:64], ""), {}) if b.among else base
        for cat in b.categories:
            found = sums.get((code, b.name[:64], cat[:64]), {})
            if found:
                tables.append((b.name, cat, found, own_base))

    def known(statistic: str, breakdown: str | None, category: str | None, key: Key) -> bool:
        row = own.get((statistic, breakdown, category, key))
        if row is not None:
            return not row.suppressed
        if breakdown is None:
            return True  # no data in that period: a published zero
        base_row = own.get((statistic, None, None, key))
        return base_row is None or not base_row.suppressed

    for statistic in indicator.units:
        for breakdown, category, found, own_base in tables:
            lines: dict[Key, str] = {}
            for key, s in found.items():
                if key[p] in (TOTAL, UNKNOWN) or not (s[0] or breakdown is None):
                    continue
                line = key[:p] + key[p + 1 :]
                lines[line] = min(lines.get(line, key[p]), key[p])
            for line, first in sorted(lines.items()):
                steps: list[tuple[str, Key, list[float], bool]] = []
                totals = [0.0, 0.0, 0.0, 0.0]
                for period in periods[bisect.bisect_left(periods, first) :]:
                    key = (*line[:p], period, *line[p:])
                    totals[0] += found.get(key, (0.0,))[0]
                    for i in (1, 2, 3):
                        totals[i] += own_base.get(key, (0.0, 0.0, 0.0, 0.0))[i]
                    steps.append((period, key, list(totals), known(statistic, breakdown, category, key)))
                if len(by) == 1 and breakdown is None:
                    ends = [(*line[:p], edge, *line[p:]) for edge in (TOTAL, UNKNOWN)]
                    tail = sum(1 for k in ends if (r := own.get((statistic, None, None, k))) and r.suppressed)
                    shown = _intervals(steps, tail, lambda t: _primary(indicator, t) is None)
                else:
                    shown = _prefix_known(steps)
                for period, key, sums_here, _ in steps:
                    median = medians.get(key) if statistic == "median" and breakdown is None else None
                    span = (span_start, period_bounds(granularity, period)[1])
                    out.append(
                        _row(
                            indicator,
                            template,
                            (statistic, breakdown, category),
                            by,
                            key,
                            sums_here,
                            period in shown,
                            span=span,
                            median=median,
                        )
                    )
    return out


Step = tuple[str, Key, list[float], bool]  # period, key, cumulative sums, own cell known


def _prefix_known(steps: Sequence[Step]) -> set[str]:
    """The periods up to which every period's own cell is known: such a cumulative row is a sum of
    published figures and tells nothing new, whatever other tables are published beside it."""
    shown: set[str] = set()
    for period, _, _, is_known in steps:
        if not is_known:
            break
        shown.add(period)
    return shown


def _intervals(steps: Sequence[Step], tail: int, passes: Callable[[list[float]], bool]) -> set[str]:
    """For a series with no other dimension (a single line): the periods whose cumulative row can be
    published so that between two published rows (and before the first, and between the last and the
    published total) the number of hidden own cells is never exactly one. The difference of two
    published rows then sums either published cells only or at least two hidden ones, so no hidden
    cell is isolated by subtraction. ``tail`` counts the hidden cells after the series (the unknown
    period's cell and the total itself); ``passes`` is the primary rule on a cumulative cell."""
    shown: list[tuple[str, int]] = []  # period, hidden own cells since the previous published row
    pending = 0
    for period, _, totals, is_known in steps:
        pending += not is_known
        if pending != 1 and passes(totals):
            shown.append((period, pending))
            pending = 0
    tail += pending
    while tail == 1 and shown:
        tail += shown.pop()[1]
    return {period for period, _ in shown}


def _primary(indicator: Indicator, totals: Sequence[float]) -> str | None:
    """Why a cumulative cell fails the primary rule on its own sums, or None."""
    has_den = indicator.denominator is not None
    cell = Cell(
        key=(),
        numerator=totals[0],
        denominator=totals[1] if has_den else None,
        n=int(totals[2]),
        sensitive=indicator.sensitive,
    )
    return primary_reason(cell)


def _row(
    indicator: Indicator,
    template: IndicatorValue,
    what: tuple[str, str | None, str | None],
    by: tuple[str, ...],
    key: Key,
    totals: list[float],
    publishable: bool,
    *,
    span: tuple[str, str],
    median: float | None,
) -> IndicatorValue:
    statistic, breakdown, category = what
    num, den, n, dk = totals
    has_den = indicator.denominator is not None
    sensitive = indicator.sensitive or any(
        b.name == breakdown and category in b.sensitive_codes for b in indicator.breakdowns
    )
    cell = Cell(key=key, numerator=num, denominator=den if has_den else None, n=int(n), sensitive=sensitive)
    reason = None if publishable else HIDDEN_PERIOD
    reason = reason or primary_reason(cell)
    hidden = reason is not None
    value: float | None
    if statistic == "median":
        value = median
    elif statistic == "count" or not has_den:
        value = num
    else:
        value = num / den if den else None
    return replace(
        template,
        statistic=statistic,
        breakdown=breakdown,
        category=category,
        key=dict(zip(by, key, strict=True)),
        value=None if hidden else value,
        numerator=None if hidden else num,
        denominator=None if hidden or not has_den else den,
        n=None if hidden else int(n),
        dk_refused=None if hidden else int(dk),
        suppressed=hidden,
        reason=reason,
        small_base=has_den and den < SMALL_BASE,
        sensitive=sensitive,
        period_start=span[0],
        period_end=span[1],
    )


def running_medians(
    values: Mapping[Key, Sequence[tuple[str, float]]], periods: Sequence[str], position: int
) -> dict[Key, float]:
    """line -> [(period, value)...] to {the line's key with each period inserted at ``position``: the
    median of the line's values up to the end of that period}."""
    found: dict[Key, float] = {}
    for line, pairs in values.items():
        by_period: dict[str, list[float]] = defaultdict(list)
        for period, value in pairs:
            by_period[period].append(value)
        pool: list[float] = []
        for period in periods:
            for value in by_period.get(period, ()):
                bisect.insort(pool, value)
            if pool:
                mid = len(pool) // 2
                found[(*line[:position], period, *line[position:])] = (
                    pool[mid] if len(pool) % 2 else (pool[mid - 1] + pool[mid]) / 2
                )
    return found
