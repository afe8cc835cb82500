"""Small-cell suppression of reach tables shared beyond the reporting organisations (INDICATORS.md §6).

Asked for with ``suppress=true`` (the version an IM officer publishes, e.g. on HDX): a count of people
below k (1 to k−1) is hidden, and a second cell is hidden beside any lone hidden cell of a set that adds
up to a published or derivable total (the age/gender cells of a row; the categories of one key in a
population-type or age/gender breakdown), so no hidden count can be recovered by subtraction. A hidden
reach hides its gap and coverage too; people in need and targets are plan figures and stay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

K = 5


def _small(value: int | None) -> bool:
    return value is not None and 0 < value < K


def _hide_with_partner(cells: dict[Any, int | None], hidden: set[Any]) -> set[Any]:
    """Primary: the small cells. Secondary: when exactly one cell is hidden, the smallest other non-zero
    cell goes too (zeros cannot serve: a published zero tells nothing the total does not)."""
    hidden |= {name for name, value in cells.items() if _small(value)}
    if len(hidden) == 1:
        others = sorted((v, str(n)) for n, v in cells.items() if n not in hidden and v)
        if others:
            hidden.add(next(n for n in cells if str(n) == others[0][1]))
    return hidden


def suppress(rows: Iterable[Any]) -> list[Any]:
    """The rows with small cells set to None and ``suppressed`` marked; the rows themselves are changed."""
    rows = list(rows)
    for row in rows:
        row.suppressed = False
        if row.by_age_gender:
            hidden = _hide_with_partner(dict(row.by_age_gender), set())
            for name in hidden:
                row.by_age_gender[name] = None
            row.suppressed = bool(hidden)
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted((k, str(v)) for k, v in row.key.items()))].append(row)
    for members in groups.values():
        cells = {id(r): r.reached for r in members}
        hidden = (
            _hide_with_partner(cells, set())
            if len(members) > 1
            else {id(r) for r in members if _small(r.reached)}
        )
        for row in members:
            if id(row) in hidden:
                row.reached = None
                row.total_monthly = None
                row.suppressed = True
    return rows
