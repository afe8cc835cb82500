"""Published indicator values: what the aggregation returns and the exports write (plain data)."""

from __future__ import annotations

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


@dataclass
class IndicatorResult:
    values: list[IndicatorValue]
    by: tuple[str, ...]
    states: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # indicator -> why it is not in this output
