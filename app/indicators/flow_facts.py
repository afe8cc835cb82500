"""The flow fact of one normalised flow-registry record (INDICATORS.md §9): a travel group counted at a
monitoring point, at the grain site × day × direction × nationality × group type × transport × next and
final destination, with the people by sex and age band.

It is read from the same :class:`~app.indicators.normalise.NormalisedResult` as the indicator facts, so
FLW-01 (people) and FLW-02 (groups) equal the flow outputs' movements and groups. Only FMR records are
flows: summing the group sizes of sampled interviews (FMS, JNA) would count people twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from app.indicators.mapping.document import CountRule
from app.indicators.reference import UNKNOWN
from app.models.response import FLOW_CELLS

FLOW_INSTRUMENT = "fmr"
MAX_CODE = 64


def flow_fact(
    record: Mapping[str, Any], counts: Sequence[tuple[CountRule, int | None]]
) -> dict[str, Any] | None:
    """The flow fact row (without project/form/submission columns), or None for a record that is not a
    flow count or has no date. ``transports`` lists every mode of the group (the question is multi-select;
    ``transport`` keeps the first), for the fact's ``flow_fact_transports`` rows."""
    if record.get("submission.instrument") != FLOW_INSTRUMENT:
        return None
    day = record.get("submission.collected_at")
    if not isinstance(day, dt.date):
        return None
    cells = dict.fromkeys(FLOW_CELLS, 0)
    for rule, number in counts:
        name = f"{rule.sex}_{rule.age_band}" if rule.age_band else rule.sex
        # A count the cells do not name (sex unknown, a band of another scheme) is kept, as "x".
        cells[name if name in cells else "x"] += number or 0
    size = record.get("context.group_size")
    people = size if isinstance(size, int) and not isinstance(size, bool) else sum(cells.values())
    children = record.get("context.count_0_17")
    hours = record.get("submission.observed_hours")
    year, week, _ = day.isocalendar()
    return {
        "site": _code(record.get("location.site_code")),
        "country": _code(record.get("location.country_iso3")),
        "day": day,
        "week": f"{year}-W{week:02d}",
        "month": day.isoformat()[:7],
        "direction": _code(record.get("context.direction")),
        "nationality": _code(record.get("respondent.nationality_iso3")),
        "group_type": _code(record.get("context.group_type")),
        "transport": _code(record.get("context.transport_modes")),
        "transports": _codes(record.get("context.transport_modes")),
        "next_destination": _code(record.get("context.country_next_dest_iso3")),
        "destination": _code(record.get("context.country_intended_dest_iso3")),
        "observed_hours": float(hours) if isinstance(hours, int | float) and hours >= 0 else None,
        "people": people,
        "children": children if isinstance(children, int) and not isinstance(children, bool) else 0,
        **cells,
    }


def _codes(value: Any) -> list[str]:
    """Every code of a multi-valued answer, once each in the order given; ``unknown`` when none."""
    values = value if isinstance(value, list | tuple) else [value]
    codes = list(dict.fromkeys(str(v)[:MAX_CODE] for v in values if v is not None and v != ""))
    return codes or [UNKNOWN]


def _code(value: Any) -> str:
    """One code: the first of a multi-valued answer (a group's main transport, first nationality)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or value == "":
        return UNKNOWN
    return str(value)[:MAX_CODE]
