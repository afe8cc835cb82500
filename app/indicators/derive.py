"""Derived canonical values: age bands, Washington Group disability status, food security scores,
group counts from the roster, and the reporting period. Pure functions over plain values, so the
normaliser and the tests share one definition of each rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from app.indicators.codes import CODE, CodeList
from app.indicators.expressions import is_answered

UNKNOWN = "unknown"
WG = "wg"
NO_WG = "no_wg"

# (code, lower bound, upper bound) with the upper bound exclusive; None means open-ended.
Band = tuple[str, float, float | None]


def bands_from_codelist(codelist: CodeList) -> list[Band]:
    """The age bands of the ``age_band`` list, from each code's inclusive ``age_min`` / ``age_max`` in
    completed years (so 0_4 covers ages up to, not including, 5)."""
    return [
        (
            c.code,
            float(c.attrs["age_min"]),
            None if c.attrs.get("age_max") is None else float(c.attrs["age_max"]) + 1,
        )
        for c in codelist.codes
        if c.kind == CODE and c.attrs.get("age_min") is not None
    ]


def bands_from_bins(bins: Sequence[float], labels: Sequence[str]) -> list[Band]:
    """A mapping's ``bins: [0, 5, 12, 18, 60]`` with labels: band i covers ``bins[i] <= age < bins[i+1]``."""
    edges = [float(b) for b in bins]
    return [
        (str(label), low, None if i + 1 == len(edges) else edges[i + 1])
        for i, (label, low) in enumerate(zip(labels, edges, strict=True))
    ]


def age_band(age: Any, bands: Sequence[Band]) -> str:
    """The band an age in completed years falls in; ``unknown`` for a missing or impossible age."""
    if not isinstance(age, int | float) or isinstance(age, bool) or age < 0:
        return UNKNOWN
    for code, low, high in bands:
        if age >= low and (high is None or age < high):
            return code
    return UNKNOWN


def wg_status(answers: Sequence[Any], cutoff: frozenset[str]) -> str:
    """WG-SS: disability when at least one domain meets the cut-off ("a lot" / "cannot"); no disability
    only when all domains were answered below it; otherwise unknown."""
    if any(a in cutoff for a in answers):
        return WG
    if answers and all(is_answered(a) for a in answers):
        return NO_WG
    return UNKNOWN


def any_wg(statuses: Iterable[str]) -> str:
    """Respondent or any member: disability if anyone has it; none only if everyone is known."""
    seen = list(statuses)
    if WG in seen:
        return WG
    if seen and all(s == NO_WG for s in seen):
        return NO_WG
    return UNKNOWN


def weighted_score(days: Sequence[Any], weights: Sequence[float], max_days: int) -> float | None:
    """Σ weight x days over items (FCS, rCSI); days are clamped to 0..max_days. None if any item is
    missing, because a partial score would look like a worse situation than it is."""
    total = 0.0
    for value, weight in zip(days, weights, strict=True):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        total += weight * min(max(value, 0), max_days)
    return total


def fcs_group(score: float | None, poor: float, borderline: float) -> str | None:
    """WFP thresholds: poor up to ``poor`` (21), borderline up to ``borderline`` (35), then acceptable."""
    if score is None:
        return None
    if score <= poor:
        return "poor"
    return "borderline" if score <= borderline else "acceptable"


def group_composition(size: Any, children: Any) -> str:
    if not isinstance(children, int) or not isinstance(size, int) or size < 1:
        return UNKNOWN
    if children > 0:
        return "with_children"
    return "single_adult" if size == 1 else "adults_only"


def period(day: dt.date | None) -> str | None:
    """The reporting month ``YYYY-MM`` (INDICATORS.md §6: the period is a calendar month)."""
    return None if day is None else f"{day.year:04d}-{day.month:02d}"


def to_date(value: Any) -> dt.date | None:
    """A date from a date, a datetime or an ISO 8601 string. The date part of an ODK timestamp is the
    device's local date, which is the day the interview happened."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
