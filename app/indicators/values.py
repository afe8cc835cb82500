"""Published indicator values: what the aggregation returns and the exports write (plain data)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IndicatorValue:
    indicator: str
    name: str
    statistic: str
    breakdown: str | None
    category: str | None
    key: Mapping[str, str]
    value: float | None
    numerator: float | None
    denominator: float | None
    n: int | None
    dk_refused: int | None
    suppressed: bool
    reason: str | None
    small_base: bool
    sensitive: bool
    mapping_versions: tuple[str, ...]
    # The period the row covers (ISO dates): its own month, or the months of the data it sums.
    period_start: str = ""
    period_end: str = ""
    # "weighted" (numerator and denominator times the records' survey weights) or "unweighted".
    method: str = "unweighted"


@dataclass
class IndicatorResult:
    values: list[IndicatorValue]
    by: tuple[str, ...]
    states: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # indicator -> why it is not in this output


def month_bounds(period: str | None) -> tuple[str, str]:
    """First and last day of a ``YYYY-MM`` period; blanks for anything else."""
    if period is None or len(period) != 7 or period[4] != "-":
        return ("", "")
    try:
        year, month = int(period[:4]), int(period[5:])
        last = calendar.monthrange(year, month)[1]
    except ValueError:
        return ("", "")
    return (f"{period}-01", f"{period}-{last:02d}")


def period_bounds(granularity: str, period: str | None) -> tuple[str, str]:
    """First and last day of a period of ``granularity``: a day (``2026-11-03``), an ISO week
    (``2026-W45``, Monday to Sunday) or a month (``2026-11``); blanks for anything else."""
    if granularity == "month":
        return month_bounds(period)
    try:
        if granularity == "day" and period is not None:
            day = dt.date.fromisoformat(period)
            return (day.isoformat(), day.isoformat())
        if granularity == "week" and period is not None and len(period) == 8 and period[4:6] == "-W":
            monday = dt.date.fromisocalendar(int(period[:4]), int(period[6:]), 1)
            return (monday.isoformat(), (monday + dt.timedelta(days=6)).isoformat())
    except ValueError:
        pass
    return ("", "")
