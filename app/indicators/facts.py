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
  cell and once everywhere else;
* an indicator's own disaggregations (the catalogue's extras: direction, transport modes, legal
  status) sit in the slot columns ``extra1``... in catalogue order; a multi-valued one (transport
  modes) repeats the rows once per further value with ``extra_primary`` false, read only when grouping
  or filtering by it, the same way as nationality;
* the collection day and ISO week (``day``, ``week``) sit beside the month (``period``), so a series
  can be daily or weekly.
"""

from __future__ import annotations

import datetime as dt
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
EXTRA_COLUMNS = ("extra1", "extra2", "extra3")  # an indicator's own disaggregations, in catalogue order
# The period columns a series may be grouped by (``period=`` in the API); the month is the default.
PERIOD_COLUMNS: Mapping[str, str] = {"day": "day", "week": "week", "month": "period"}


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


def extra_columns(indicator: Indicator, catalog: Catalog) -> dict[str, str]:
    """The indicator's own disaggregations (``by=`` name) -> the slot column holding them."""
    return dict(zip(catalog.own_dimensions(indicator), EXTRA_COLUMNS, strict=False))


def record_weight(record: Mapping[str, Any]) -> float:
    """A record's survey weight: its ``submission.weight`` when a positive number, else 1."""
    value = record.get("submission.weight")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 1.0


def period_values(value: Any) -> tuple[str, str]:
    """The ISO day and ISO week (``2026-W49``) of a collection date; ``unknown`` without one."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            value = None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        return (UNKNOWN, UNKNOWN)
    year, week, _ = value.isocalendar()
    return (value.isoformat(), f"{year}-W{week:02d}")


def indicator_facts(indicator: Indicator, item: RecordLike, catalog: Catalog) -> list[dict[str, Any]]:
    """The fact rows ``item`` contributes to ``indicator`` (module docstring)."""
    dims = dimension_keys(indicator, catalog)
    own = catalog.own_dimensions(indicator)
    slots = dict(zip(EXTRA_COLUMNS, own.values(), strict=False))
    multi_slot = next((c for c, key in slots.items() if catalog.fields[key].multi), None)
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
        values |= {
            column: _values(unit, slots[column]) if column in slots else [""] for column in EXTRA_COLUMNS
        }
        day, week = period_values(unit.get("submission.collected_at"))
        base: dict[str, Any] = {
            "weight": record_weight(unit.record),
            "indicator": indicator.code,
            "breakdown": "",
            "category": "",
            "person_index": -1 if unit.person is None else positions.get(id(unit.person), -1),
            "num": num,
            "den": _measure(den_measure, unit) if den_measure is not None and in_den else 0.0,
            "n": int(in_den),
            "dk": int(dk),
            "value": num if in_num and indicator.numerator.kind == "sum" else None,
            "day": day,
            "week": week,
        }
        rows.extend(_with_dimensions(base, values, multi_slot))
        for breakdown in indicator.breakdowns:
            if breakdown.among is not None and holds(breakdown.among, unit):
                # The breakdown's own base: its cells take their denominator and n from these rows.
                own_base = base | {"breakdown": breakdown.name[:MAX_CODE]}
                rows.extend(_with_dimensions(own_base, values, multi_slot))
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
                    rows.extend(_with_dimensions(extra, values, multi_slot))
    return rows


def record_facts(item: RecordLike, catalog: Catalog) -> list[dict[str, Any]]:
    """Every indicator's fact rows for one record."""
    return [
        row for indicator in catalog.indicators.values() for row in indicator_facts(indicator, item, catalog)
    ]


def _with_dimensions(
    base: dict[str, Any], values: Mapping[str, list[str]], multi_slot: str | None
) -> Iterable[dict[str, Any]]:
    row = base | {column: found[0] for column, found in values.items()}
    others = values[multi_slot] if multi_slot else [""]
    for i, nationality in enumerate(values[MULTI_COLUMN]):
        for j, other in enumerate(others):
            out = row | {MULTI_COLUMN: nationality, "is_primary": i == 0, "extra_primary": j == 0}
            if multi_slot:
                out[multi_slot] = other
            yield out


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


# ------------------------------------------------------------------ persons by sex and age band (SADD)
SADD = "SADD"  # the ``indicator`` of the fact rows holding the persons grid (not a catalogue indicator)
SADD_BANDS = ("0_4", "5_11", "12_17", "18_59", "60_plus")
SADD_SEXES = ("f", "m", "x", "u")


def sadd_cells(item: RecordLike, counts: Sequence[tuple[Any, int | None]]) -> dict[tuple[str, str], int]:
    """(sex, age band) -> persons of one group, the grid of every 5W and HNO (INDICATORS.md §8):

    * a counts form (people by sex and age band) gives the group from those numbers;
    * else a roster gives every person (the respondent included, as normalisation lists them);
    * else the respondent alone, and the rest of a declared group size as sex and age unknown.

    A sex or band outside the code lists is ``u`` / ``unknown``."""
    cells: dict[tuple[str, str], int] = {}

    def add(sex: Any, band: Any, number: int) -> None:
        if number > 0:
            key = (sex if sex in SADD_SEXES else "u", band if band in SADD_BANDS else UNKNOWN)
            cells[key] = cells.get(key, 0) + number

    answered = [(rule, n) for rule, n in counts if isinstance(n, int) and not isinstance(n, bool)]
    if answered:
        for rule, number in answered:
            add(rule.sex, rule.age_band, number)
        return cells
    if item.persons:
        for person in item.persons:
            add(person.get("sex_gender"), person.get("age_band"), 1)
        return cells
    record = item.record
    add(record.get("respondent.sex_gender"), record.get("respondent.age_band"), 1)
    size = record.get("context.group_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 1:
        add("u", UNKNOWN, size - 1)
    return cells


def sadd_facts(
    item: RecordLike, counts: Sequence[tuple[Any, int | None]], catalog: Catalog
) -> list[dict[str, Any]]:
    """The fact rows of one record's persons grid: one per (sex, age band) cell with ``num`` = persons,
    the record's dimensions otherwise (the respondent's nationality, the group's disability flag), and
    the record's instrument in ``category`` (people counted at a point and people in surveyed groups
    are never summed together)."""
    whole = Unit(item.record, item.persons)
    if catalog.base is not None and not holds(catalog.base, whole):
        return []
    values = {column: _values(whole, key) for column, key in DIMENSION_COLUMNS.items()}
    values |= {column: [""] for column in EXTRA_COLUMNS}
    day, week = period_values(whole.get("submission.collected_at"))
    instrument = _values(whole, "submission.instrument")[0]
    rows: list[dict[str, Any]] = []
    for (sex, band), number in sorted(sadd_cells(item, counts).items()):
        base = {
            "indicator": SADD,
            "breakdown": "",
            "category": instrument,
            "person_index": -1,
            "num": float(number),
            "den": 0.0,
            "n": number,
            "dk": 0,
            "value": None,
            "day": day,
            "week": week,
            "weight": 1.0,
        }
        cell = values | {"sex_gender": [sex], "age_band": [band]}
        rows.extend(_with_dimensions(base, cell, None))
    return rows
