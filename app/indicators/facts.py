"""Per-unit indicator contributions ("facts"): what one normalised submission adds to each indicator.

The app stores these rows and computes every indicator as ``SUM(num), SUM(den), SUM(n), SUM(dk)``
grouped by dimension columns. The rows are derived from the reference evaluation
(:func:`app.indicators.reference.units`, :meth:`Measure.selects`, :func:`holds`), so summing them
reproduces :func:`app.indicators.reference.compute` exactly:

* a unit is kept when the denominator selects it (``n`` = 1) or when it answered don't know /
  refused to a field the denominator needs (``dk`` = 1, counted beside the value);
* ``num`` / ``den`` are the unit's own measure values (1 for a count, the field for a sum);
* a breakdown category row (``breakdown`` and ``category`` set) carries only the numerator of that
  category; its cell takes the denominator and n of the indicator's own row for the same key, or of
  the breakdown's own base rows (``breakdown`` set, ``category`` empty) when it has ``among``;
* dimensions hold one value each; a unit with several nationalities gets extra rows
  (``is_primary`` false) read only when grouping by nationality, so it counts in each nationality's
  cell and once everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.indicators.catalog import Catalog, Indicator
from app.indicators.expressions import Measure, Unit, holds, is_dk_refused
from app.indicators.reference import UNKNOWN, RecordLike, units

# Fact column -> the default disaggregation it holds (records basis). Persons-basis indicators use the
# catalogue's person_disaggregations for the respondent-level ones.
DIMENSION_COLUMNS: Mapping[str, str] = {
    "period": "submission.period",
    "country": "location.country_iso3",
    "adm1": "location.adm1_pcode",
    "adm2": "location.adm2_pcode",
    "site": "location.site_code",
    "population_type": "context.population_type",
    "route_stage": "context.route_stage",
    "nationality": "respondent.nationality_iso3",
    "sex_gender": "respondent.sex_gender",
    "age_band": "respondent.age_band",
    "disability": "context.disability_wg_any",
}
MULTI_COLUMN = "nationality"
MAX_CODE = 64  # dimension and category values are stored in String(64) columns at most


@dataclass(frozen=True)
class StoredRecord:
    """A canonical record as read back from storage (satisfies :class:`RecordLike`)."""

    record: Mapping[str, Any]
    persons: Sequence[Mapping[str, Any]]
    has_roster: bool


def dimension_keys(indicator: Indicator, catalog: Catalog) -> dict[str, str]:
    """Fact column -> canonical key read for this indicator's units."""
    if indicator.basis != "persons":
        return dict(DIMENSION_COLUMNS)
    swaps = catalog.person_disaggregations
    return {column: swaps.get(key, key) for column, key in DIMENSION_COLUMNS.items()}


def indicator_facts(indicator: Indicator, item: RecordLike, catalog: Catalog) -> list[dict[str, Any]]:
    """The fact rows ``item`` contributes to ``indicator`` (module docstring)."""
    dims = dimension_keys(indicator, catalog)
    positions = {id(p): i for i, p in enumerate(item.persons)}
    rows: list[dict[str, Any]] = []
    den_measure = indicator.denominator
    for unit in units(indicator, [item], catalog):
        in_den = den_measure.selects(unit) if den_measure is not None else True
        answered = den_measure.answered if den_measure is not None else ()
        dk = any(is_dk_refused(unit.get(f)) for f in answered)
        if not in_den and not dk:
            continue
        in_num = in_den and indicator.numerator.selects(unit)
        num = _measure(indicator.numerator, unit) if in_num else 0.0
        values = {column: _values(unit, key) for column, key in dims.items()}
        base: dict[str, Any] = {
            "indicator": indicator.code,
            "breakdown": "",
            "category": "",
            "person_index": -1 if unit.person is None else positions.get(id(unit.person), -1),
            "num": num,
            "den": _measure(den_measure, unit) if den_measure is not None and in_den else 0.0,
            "n": int(in_den),
            "dk": int(dk),
            "value": num if in_num and indicator.numerator.kind == "sum" else None,
        }
        rows.extend(_with_dimensions(base, values))
        for breakdown in indicator.breakdowns:
            if breakdown.among is not None and holds(breakdown.among, unit):
                # The breakdown's own base: its cells take their denominator and n from these rows.
                rows.extend(_with_dimensions(base | {"breakdown": breakdown.name[:MAX_CODE]}, values))
        if not in_num:
            continue
        for breakdown in indicator.breakdowns:
            for category, condition in breakdown.categories.items():
                if holds(condition, unit):
                    extra = base | {
                        "breakdown": breakdown.name[:MAX_CODE],
                        "category": category[:MAX_CODE],
                        "den": 0.0,
                        "n": 0,
                        "dk": 0,
                        "value": None,
                    }
                    rows.extend(_with_dimensions(extra, values))
    return rows


def record_facts(item: RecordLike, catalog: Catalog) -> list[dict[str, Any]]:
    """Every indicator's fact rows for one record."""
    return [
        row for indicator in catalog.indicators.values() for row in indicator_facts(indicator, item, catalog)
    ]


def _with_dimensions(base: dict[str, Any], values: Mapping[str, list[str]]) -> Iterable[dict[str, Any]]:
    row = base | {column: found[0] for column, found in values.items()} | {"is_primary": True}
    yield row
    for extra in values[MULTI_COLUMN][1:]:
        yield row | {MULTI_COLUMN: extra, "is_primary": False}


def _values(unit: Unit, key: str) -> list[str]:
    value = unit.get(key)
    if value is None or value == [] or value == ():
        return [UNKNOWN]
    if isinstance(value, list | tuple):
        return [str(v)[:MAX_CODE] for v in dict.fromkeys(value)] or [UNKNOWN]
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return [text[:MAX_CODE]]


def _measure(measure: Measure, unit: Unit) -> float:
    if measure.kind == "count":
        return 1.0
    value = unit.get(measure.field or "")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
