"""Reference evaluation of indicator definitions over normalised records.

The app computes indicators with SQL aggregations; this module is the executable meaning of each
definition, small enough to read, that those queries are tested against and that unit tests use on
hand-built records. It produces one :class:`IndicatorCell` per statistic, disaggregation key (with
:data:`~app.indicators.suppression.TOTAL` margins) and breakdown category, ready for suppression.

Rules it pins down:

* the numerator is evaluated over the units the denominator selects (so a share never exceeds 1);
* a record without consent never counts (the catalogue's ``base`` condition);
* a multi-valued dimension (several nationalities) puts a unit in each of its values' cells, and once in
  the total;
* a missing dimension value is reported as ``unknown``;
* ``dk_refused`` counts the units left out of the denominator because they answered "don't know" or
  "refused" (reported beside the value as data quality, ``#meta+dk_refused``).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.indicators.catalog import Breakdown, Catalog, Indicator
from app.indicators.expressions import Measure, Unit, holds, is_dk_refused
from app.indicators.normalise import respondent_as_person
from app.indicators.suppression import TOTAL, Cell, Table

UNKNOWN = "unknown"
CATEGORY = "category"


class RecordLike(Protocol):
    """What computation needs from a normalised submission (a ``NormalisedResult`` or a stored row)."""

    @property
    def record(self) -> Mapping[str, Any]: ...

    @property
    def persons(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def has_roster(self) -> bool: ...


@dataclass(frozen=True)
class IndicatorCell:
    indicator: str
    statistic: str
    key: tuple[str, ...]
    breakdown: str | None
    category: str | None
    numerator: float
    denominator: float | None
    n: int
    value: float | None
    dk_refused: int
    sensitive: bool


def units(indicator: Indicator, records: Iterable[RecordLike], catalog: Catalog) -> list[Unit]:
    """The units an indicator counts: one per record, or one per person on a persons basis."""
    result: list[Unit] = []
    for item in records:
        whole = Unit(item.record, item.persons)
        if catalog.base is not None and not holds(catalog.base, whole):
            continue
        if indicator.basis == "records":
            candidates = [whole]
        else:
            people = list(item.persons)
            if not people and indicator.persons == "members_or_respondent":
                people = [respondent_as_person(item.record, catalog)]
            candidates = [Unit(item.record, item.persons, person) for person in people]
        result.extend(u for u in candidates if indicator.population is None or holds(indicator.population, u))
    return result


def compute(
    indicator: Indicator,
    records: Iterable[RecordLike],
    catalog: Catalog,
    *,
    by: Sequence[str] = (),
    margins: bool = True,
    weighted: bool = False,
) -> list[IndicatorCell]:
    """Every cell of ``indicator`` disaggregated ``by`` the given canonical fields; ``weighted``: the
    numerator and denominator sum each unit's contribution times its record's survey weight
    (``submission.weight``, 1 when absent), n and dk/refused stay counts of units."""
    grouped: dict[tuple[str, ...], list[Unit]] = {}
    masks = list(itertools.product((False, True), repeat=len(by))) if margins else [(False,) * len(by)]
    for unit in units(indicator, records, catalog):
        values = [_dimension_values(unit, dim) for dim in by]
        keys = {
            tuple(TOTAL if masked else value for masked, value in zip(mask, combo, strict=True))
            for mask in masks
            for combo in itertools.product(*values)
        }
        for key in keys:
            grouped.setdefault(key, []).append(unit)
    cells: list[IndicatorCell] = []
    for key in sorted(grouped):
        cells.extend(_cells(indicator, key, grouped[key], None, None, weighted))
        for breakdown in indicator.breakdowns:
            for category in breakdown.categories:
                cells.extend(_cells(indicator, key, grouped[key], breakdown, category, weighted))
    return cells


def to_table(
    cells: Iterable[IndicatorCell], by: Sequence[str], *, statistic: str, breakdown: str | None = None
) -> Table:
    """The cells of one statistic (and one breakdown, whose category becomes the last dimension) as a
    table for :func:`app.indicators.suppression.suppress`."""
    chosen = [c for c in cells if c.statistic == statistic and c.breakdown == breakdown]
    dims = (*by, CATEGORY) if breakdown else tuple(by)
    return Table(
        dims,
        tuple(
            Cell(
                key=(*c.key, c.category) if breakdown and c.category else c.key,
                numerator=c.numerator,
                denominator=c.denominator,
                n=c.n,
                sensitive=c.sensitive,
            )
            for c in chosen
        ),
    )


def _dimension_values(unit: Unit, dim: str) -> list[str]:
    value = unit.get(dim)
    if value is None or value == []:
        return [UNKNOWN]
    if isinstance(value, list | tuple):
        return list(dict.fromkeys(str(v) for v in value))
    return [value.isoformat() if hasattr(value, "isoformat") else str(value)]


def _cells(
    indicator: Indicator,
    key: tuple[str, ...],
    pool: list[Unit],
    breakdown: Breakdown | None,
    category: str | None,
    weighted: bool = False,
) -> list[IndicatorCell]:
    denominator = indicator.denominator
    if breakdown is not None and breakdown.among is not None:
        among = breakdown.among
        pool = [u for u in pool if holds(among, u)]
    selected = [u for u in pool if denominator.selects(u)] if denominator else pool
    chosen = [u for u in selected if indicator.numerator.selects(u)]
    if breakdown is not None and category is not None:
        condition = breakdown.categories[category]
        chosen = [u for u in chosen if holds(condition, u)]
    numerator = _measure(indicator.numerator, chosen, weighted)
    den_value = _measure(denominator, selected, weighted) if denominator else None
    answered = denominator.answered if denominator else ()
    dk_refused = sum(1 for u in pool if any(is_dk_refused(u.get(f)) for f in answered))
    sensitive = indicator.sensitive or (breakdown is not None and category in breakdown.sensitive_codes)
    cells = []
    for statistic in indicator.units:
        cells.append(
            IndicatorCell(
                indicator=indicator.code,
                statistic=statistic,
                key=key,
                breakdown=breakdown.name if breakdown else None,
                category=category,
                numerator=numerator,
                denominator=den_value,
                n=len(selected),
                value=_statistic(statistic, indicator.numerator, numerator, den_value, chosen),
                dk_refused=dk_refused,
                sensitive=sensitive,
            )
        )
    return cells


def _measure(measure: Measure, chosen: list[Unit], weighted: bool = False) -> float:
    total = 0.0
    for unit in chosen:
        weight = 1.0
        if weighted:
            found = unit.get("submission.weight")
            ok = isinstance(found, int | float) and not isinstance(found, bool) and found > 0
            weight = float(found) if ok else 1.0
        if measure.kind == "count":
            total += weight
            continue
        value = unit.get(measure.field or "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            total += value * weight
    return total


def _statistic(
    statistic: str,
    numerator_measure: Measure,
    numerator: float,
    denominator: float | None,
    chosen: list[Unit],
) -> float | None:
    if statistic == "count":
        return numerator
    if not denominator:
        return None
    if statistic in {"pct", "mean"}:
        return numerator / denominator
    values = [u.get(numerator_measure.field or "") for u in chosen]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(statistics.median(numbers)) if numbers else None
