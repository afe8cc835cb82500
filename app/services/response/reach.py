"""People reached (5W) and the gap against people in need, with 5W arithmetic (INDICATORS.md §9):

- monthly totals are never summed across months: ``totalMonthly`` is given only per month (``by=month``);
- people reached over the year are the new beneficiaries summed over its months (each person is new once a
  year per sector), up to a month when asked;
- across sectors, a declared de-duplication model: ``sum``, ``max_cell`` (each age/gender and population-type
  cell is the largest sector's, and the total is the sum of the age/gender maxima) or ``max_sector`` (the
  sector that reached the most stands for all); every output row says which. People in need across sectors
  follow the same model (an inter-sector PiN is not a sum either).

Only rows that passed QA or were accepted count. SQL groups by place × sector (× month); the model is
applied per output key in Python over those few sector vectors: the work grows with the output, not the rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import InvalidValueError
from app.models import ActivityReport, PlanFigure, Project
from app.response.columns import AGE_GENDER, POPULATION_TYPES

MODELS = ("sum", "max_cell", "max_sector")
REACH_DIMENSIONS = ("country", "admin1", "admin2", "site", "sector", "indicator", "organisation", "month")
GAP_DIMENSIONS = ("country", "admin1", "admin2", "sector")
SPLITS = ("population_type", "age_gender")
CELLS = ("new", *POPULATION_TYPES, *AGE_GENDER)
COUNTED = ("valid", "accepted")

Vector = dict[str, int]


@dataclass(frozen=True)
class ReachQuery:
    year: int
    by: tuple[str, ...] = ()
    model: str = "sum"
    until_month: int | None = None  # reached up to and including this month of the year

    def check(self, allowed: tuple[str, ...]) -> None:
        unknown = [d for d in self.by if d not in (*allowed, *SPLITS)]
        if unknown:
            raise InvalidValueError(
                f"Cannot break down by {', '.join(unknown)}; use {', '.join((*allowed, *SPLITS))}.",
                details={"by": unknown},
            )
        if all(s in self.by for s in SPLITS):
            raise InvalidValueError(
                "5W rows split the new beneficiaries by population type and by age/gender separately, never "
                "crossed: break down by one of the two."
            )
        if self.model not in MODELS:
            raise InvalidValueError(
                f"model must be one of {', '.join(MODELS)}.", details={"model": self.model}
            )
        if not 2000 <= self.year <= 2100:
            raise InvalidValueError("year must be a year such as 2026.")
        if self.until_month is not None and not 1 <= self.until_month <= 12:
            raise InvalidValueError("until must be a month number from 1 to 12.")


@dataclass
class Row:
    key: dict[str, Any]
    split: str | None  # population_type / age_gender category, None for the total
    reached: int | None  # None only when suppressed
    total_monthly: int | None
    by_age_gender: dict[str, int | None] = field(default_factory=dict)
    model: str = "sum"
    people_in_need: int | None = None
    target: int | None = None
    suppressed: bool = False

    @property
    def gap(self) -> int | None:
        if self.people_in_need is None or self.reached is None:
            return None
        return self.people_in_need - self.reached

    @property
    def coverage(self) -> float | None:
        if not self.people_in_need or self.reached is None:
            return None
        return round(self.reached / self.people_in_need, 4)


def combine(vectors: list[Vector], model: str) -> Vector:
    """Several sectors' vectors (new, population types, age/gender cells) as one, by the model."""
    if not vectors:
        return dict.fromkeys(CELLS, 0)
    if model == "sum" or len(vectors) == 1:
        return {c: sum(v[c] for v in vectors) for c in CELLS}
    if model == "max_sector":
        # Ties go to the vector with the larger cells, so the choice does not depend on row order.
        best: Vector = max(vectors, key=lambda v: (v["new"], sorted(v.values())))
        return dict(best)
    out = {c: max(v[c] for v in vectors) for c in (*POPULATION_TYPES, *AGE_GENDER)}
    out["new"] = sum(out[c] for c in AGE_GENDER)
    return out


def _place_dims(by: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    return [d for d in by if d in allowed]


def _reach_vectors(
    session: Session, project: Project, query: ReachQuery, dims: list[str]
) -> tuple[dict[tuple[Any, ...], list[Vector]], dict[tuple[Any, ...], int]]:
    """Per output key: one vector per sector (the list the model combines), and the month's total when
    the key includes the month."""
    t = ActivityReport
    last = query.until_month or 12
    group = [getattr(t, d) for d in dims if d != "sector"]
    sector_split = "sector" not in dims
    cols = [*group, *([t.sector] if sector_split else [])]
    if "sector" in dims:
        cols = [getattr(t, d) for d in dims]
    sums = [
        sa.func.sum(t.new_beneficiaries),
        *[sa.func.sum(getattr(t, c)) for c in (*POPULATION_TYPES, *AGE_GENDER)],
        sa.func.sum(t.total_beneficiaries),
    ]
    stmt = (
        sa.select(*cols, *sums)
        .where(
            t.project_id == project.id,
            t.status.in_(COUNTED),
            t.month >= date(query.year, 1, 1),
            t.month <= date(query.year, last, 1),
        )
        .group_by(*cols)
    )
    vectors: dict[tuple[Any, ...], list[Vector]] = defaultdict(list)
    totals: dict[tuple[Any, ...], int] = defaultdict(int)
    width = len(cols)
    for record in session.execute(stmt):
        values = tuple(record)
        key_values = values[: width - 1] if sector_split else values[:width]
        key = tuple(v.isoformat() if isinstance(v, date) else v for v in key_values)
        numbers = [int(n or 0) for n in values[width:]]
        vectors[key].append(dict(zip(CELLS, numbers[: len(CELLS)], strict=True)))
        totals[key] += numbers[-1]
    return vectors, totals


def _expand(
    key: dict[str, Any], vector: Vector, split: str | None, model: str, total: int | None
) -> list[Row]:
    ag: dict[str, int | None] = {c: vector[c] for c in AGE_GENDER}
    if split == "population_type":
        return [Row(key, p, vector[p], None, {}, model) for p in POPULATION_TYPES]
    if split == "age_gender":
        return [Row(key, c, vector[c], None, {}, model) for c in AGE_GENDER]
    return [Row(key, None, vector["new"], total, ag, model)]


def reach(session: Session, *, project: Project, query: ReachQuery) -> list[Row]:
    query.check(REACH_DIMENSIONS)
    dims = _place_dims(query.by, REACH_DIMENSIONS)
    vectors, totals = _reach_vectors(session, project, query, dims)
    split = next((s for s in SPLITS if s in query.by), None)
    rows: list[Row] = []
    for key in sorted(vectors, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        combined = combine(vectors[key], query.model)
        total = totals[key] if "month" in dims else None
        rows += _expand(dict(zip(dims, key, strict=True)), combined, split, query.model, total)
    return rows


def _plan_vectors(
    session: Session, project: Project, query: ReachQuery, dims: list[str]
) -> dict[tuple[Any, ...], dict[str, Vector]]:
    """Per output key and sector: the need vector (``new`` = all people in need, then by population type
    and by age/gender cell) and the target. The cells are pivoted in SQL (one SUM(CASE) per cell), so a
    region's plan comes back as one row per place and sector, not one per cell."""
    t = PlanFigure
    places = [getattr(t, d) for d in dims if d != "sector"]
    pin = t.people_in_need
    cells = [
        *(sa.func.sum(sa.case((t.population_type == p, pin), else_=0)) for p in POPULATION_TYPES),
        *(sa.func.sum(sa.case((t.age_gender == a, pin), else_=0)) for a in AGE_GENDER),
    ]
    stmt = (
        sa.select(*places, t.sector, sa.func.sum(pin), *cells, sa.func.sum(t.target))
        .where(t.project_id == project.id, t.year == query.year)
        .group_by(*places, t.sector)
    )
    names = [d for d in dims if d != "sector"]
    out: dict[tuple[Any, ...], dict[str, Vector]] = defaultdict(dict)
    for record in session.execute(stmt):
        values = tuple(record)
        key_of = dict(zip([*names, "sector"], values[: len(names) + 1], strict=True))
        numbers = [int(n or 0) for n in values[len(names) + 1 :]]
        vector = dict(zip((*CELLS, "target"), numbers, strict=True))
        out[tuple(key_of[d] for d in dims)][key_of["sector"]] = vector
    return out


def gaps(session: Session, *, project: Project, query: ReachQuery) -> list[Row]:
    """Reached against people in need and targets, per place (and sector), optionally by population type or
    age/gender: gap = PiN − reached, coverage = reached ÷ PiN."""
    query.check(GAP_DIMENSIONS)
    dims = _place_dims(query.by, GAP_DIMENSIONS)
    reached, _ = _reach_vectors(session, project, query, dims)
    plans = _plan_vectors(session, project, query, dims)
    split = next((s for s in SPLITS if s in query.by), None)
    rows: list[Row] = []
    keys = set(reached) | set(plans)
    for key in sorted(keys, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        got = combine(reached.get(key, []), query.model)
        sectors = list(plans.get(key, {}).values())
        need = combine(sectors, query.model) if sectors else None
        # Targets add up like needs: by the model, over the sector totals.
        target = (
            combine([{**v, "new": v["target"]} for v in sectors], query.model)["new"] if sectors else None
        )
        for row in _expand(dict(zip(dims, key, strict=True)), got, split, query.model, None):
            if need is not None:
                row.people_in_need = need[row.split or "new"]
                row.target = target if row.split is None else None
            rows.append(row)
    return rows
