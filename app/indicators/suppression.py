"""Small-cell suppression of output tables (statistical disclosure control, INDICATORS.md §6).

A table is a set of cells, each keyed by one value per dimension; a margin (a published total) has
:data:`TOTAL` in the dimensions it sums over. Suppression runs in two steps:

1. **Primary**: a cell whose n, numerator or denominator is below k (5; 10 for sensitive indicators) is
   suppressed; a sensitive percentage also needs a denominator of at least 30.
2. **Secondary (complementary)**: every published total and the cells it sums form a relation; a
   relation with exactly one suppressed member would give that member away by subtraction, so the
   smallest other member (a child before the total) is suppressed too, until no relation has exactly
   one. Suppression hides the whole cell (value, numerator, denominator, n), so counts and numerators
   are protected together.

Percentages are ``numerator / denominator`` exactly; rounding is left to :func:`display_value`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TOTAL = "_total"
K = 5
K_SENSITIVE = 10
MIN_DENOMINATOR_SENSITIVE = 30
SMALL_BASE = 30
MAX_PUBLIC_DIMENSIONS = 3

PRIMARY = "primary"
SENSITIVE_BASE = "sensitive_base"
SECONDARY = "secondary"

# The dimensions the public cap counts, by group: site and admin 2 are one geographic slot.
CAPPED_GROUPS: Mapping[str, str] = {
    "site_code": "site/adm2",
    "site": "site/adm2",
    "adm2_pcode": "site/adm2",
    "adm2": "site/adm2",
    "nationality_iso3": "nationality",
    "nationality": "nationality",
    "sex_gender": "sex",
    "sex": "sex",
    "age_band": "age_band",
    "disability_wg": "disability",
    "disability_wg_any": "disability",
    "disability": "disability",
}
# Sensitive indicators are published at country or admin 1 only.
FINE_GEOGRAPHY = "site/adm2"

Key = tuple[str, ...]


class DimensionError(ValueError):
    """A requested breakdown crosses too many identifying dimensions for a public output."""


@dataclass(frozen=True)
class Cell:
    key: Key
    numerator: float | None = None
    denominator: float | None = None
    n: int = 0
    sensitive: bool = False


@dataclass(frozen=True)
class Table:
    dimensions: tuple[str, ...]
    cells: tuple[Cell, ...]

    def __post_init__(self) -> None:
        keys = [c.key for c in self.cells]
        if any(len(k) != len(self.dimensions) for k in keys):
            raise ValueError("every cell needs one key value per dimension")
        if len(set(keys)) != len(keys):
            raise ValueError("cell keys must be unique")


@dataclass(frozen=True)
class CellOutcome:
    """A cell after suppression; ``value`` is None when suppressed (the counts are hidden too)."""

    cell: Cell
    suppressed: bool
    reason: str | None
    value: float | None
    small_base: bool = False

    @property
    def numerator(self) -> float | None:
        return None if self.suppressed else self.cell.numerator

    @property
    def denominator(self) -> float | None:
        return None if self.suppressed else self.cell.denominator

    @property
    def n(self) -> int | None:
        return None if self.suppressed else self.cell.n


@dataclass(frozen=True)
class SuppressedTable:
    dimensions: tuple[str, ...]
    outcomes: Mapping[Key, CellOutcome] = field(default_factory=dict)

    def published(self) -> list[CellOutcome]:
        return [o for o in self.outcomes.values() if not o.suppressed]


def primary_reason(
    cell: Cell,
    *,
    k: int = K,
    k_sensitive: int = K_SENSITIVE,
    min_denominator: int = MIN_DENOMINATOR_SENSITIVE,
) -> str | None:
    """Why ``cell`` must be suppressed on its own, or None."""
    threshold = k_sensitive if cell.sensitive else k
    counts = [cell.n, cell.numerator, cell.denominator]
    if any(c is not None and c < threshold for c in counts):
        return PRIMARY
    if cell.sensitive and cell.denominator is not None and cell.denominator < min_denominator:
        return SENSITIVE_BASE
    return None


def relations(table: Table) -> list[tuple[Key, list[Key]]]:
    """(published total, the cells it sums) for every margin cell and every dimension it totals."""
    present = {c.key for c in table.cells}
    groups: dict[tuple[int, Key], list[Key]] = {}
    for key in present:
        for d, value in enumerate(key):
            if value != TOTAL:
                total = (*key[:d], TOTAL, *key[d + 1 :])
                groups.setdefault((d, total), []).append(key)
    return [(total, sorted(children)) for (_, total), children in sorted(groups.items()) if total in present]


def suppress(
    table: Table,
    *,
    k: int = K,
    k_sensitive: int = K_SENSITIVE,
    min_denominator_sensitive: int = MIN_DENOMINATOR_SENSITIVE,
    small_base: int = SMALL_BASE,
    forced: Mapping[Key, str] | None = None,
) -> SuppressedTable:
    """Primary then secondary suppression of ``table`` (see the module docstring). ``forced`` names
    cells already hidden elsewhere (a breakdown row whose base cell another table hides), with why;
    they take part in the secondary suppression like any hidden cell."""
    cells = {c.key: c for c in table.cells}
    reasons: dict[Key, str] = {k: why for k, why in (forced or {}).items() if k in cells}
    for cell in table.cells:
        if cell.key in reasons:
            continue
        reason = primary_reason(cell, k=k, k_sensitive=k_sensitive, min_denominator=min_denominator_sensitive)
        if reason:
            reasons[cell.key] = reason
    links = relations(table)
    changed = True
    while changed:  # each pass suppresses at least one more cell, so this ends
        changed = False
        for total, children in links:
            hidden = [m for m in (total, *children) if m in reasons]
            if len(hidden) != 1:
                continue
            open_children = [c for c in children if c not in reasons]
            candidates = open_children or [total]
            # Interior cells before margins: a margin is also a cell of the coarser tables published
            # beside this one, where it would stay visible.
            pick = min(candidates, key=lambda key: (key.count(TOTAL), _size(cells[key])))
            reasons[pick] = SECONDARY
            changed = True
    outcomes = {
        key: CellOutcome(
            cell=cell,
            suppressed=key in reasons,
            reason=reasons.get(key),
            value=None if key in reasons else _value(cell),
            small_base=cell.denominator is not None and cell.denominator < small_base,
        )
        for key, cell in cells.items()
    }
    return SuppressedTable(table.dimensions, outcomes)


def _size(cell: Cell) -> tuple[float, float, float, Key]:
    """Smallest first: the least information is lost by hiding it; the key breaks ties stably."""
    return (cell.n, cell.numerator or 0.0, cell.denominator or 0.0, cell.key)


def _value(cell: Cell) -> float | None:
    if cell.denominator is None:
        return cell.numerator
    if cell.numerator is None or cell.denominator == 0:
        return None
    return cell.numerator / cell.denominator


def check_dimensions(dims: Sequence[str], *, public: bool = True, sensitive: bool = False) -> tuple[str, ...]:
    """The identifying dimension groups ``dims`` crosses; raise :class:`DimensionError` when a public
    output would cross more than three (site/adm2 x nationality x sex x age band x disability), or when
    a sensitive indicator would be published below admin 1."""
    groups = tuple(dict.fromkeys(g for g in (_group(d) for d in dims) if g is not None))
    if public and len(groups) > MAX_PUBLIC_DIMENSIONS:
        raise DimensionError(
            f"a public output may cross at most {MAX_PUBLIC_DIMENSIONS} of site/adm2, nationality, sex, "
            f"age band and disability; asked for {', '.join(groups)}"
        )
    if public and sensitive and FINE_GEOGRAPHY in groups:
        raise DimensionError(
            "sensitive indicators are published at country or admin 1 only, never per site/adm2"
        )
    return groups


def _group(dimension: str) -> str | None:
    return CAPPED_GROUPS.get(dimension.rsplit(".", 1)[-1])


def display_value(outcome: CellOutcome, *, percent: bool = True, decimals: int = 1) -> str:
    """How a cell is shown: blank when suppressed; a 10-point range for a percentage on a small base
    (§6: "shown as ranges or not at all"); otherwise the value rounded for display only."""
    if outcome.suppressed or outcome.value is None:
        return ""
    if not percent or outcome.cell.denominator is None:
        return f"{outcome.value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{outcome.value:.0f}"
    pct = outcome.value * 100
    if outcome.small_base:
        low = min(math.floor(pct / 10) * 10, 90)
        return f"{low}-{low + 10}%"
    return f"{pct:.{decimals}f}%"
