"""Flow outputs from the flow facts (INDICATORS.md §9): movements (FLW-01, people counted passing) and
groups (FLW-02, travel groups) per site and period (day, ISO week, month), with the derived figures:

- observed days: the distinct days the key's sites were counted on; daily average = movements ÷ observed
  days (a day with no count is not a day with no movement);
- hours observed: each site-day's hours (the largest any of its groups reports: every group of a window
  repeats the window's hours), summed over the key's site-days; movements per observed hour = the
  movements of the site-days with hours ÷ those hours (a site-day without hours adds to neither);
- share of children = children ÷ movements;
- split shares: when ``direction``, ``nationality``, ``next_destination`` or ``destination`` is in ``by``,
  each row's share of the movements of the same key without that dimension (within each site/period);
- change on the previous period: when ``period`` is in ``by``, (movements − previous) ÷ previous, for the
  same other dimensions, None when the previous period has no count.

A group's transport is multi-select: ``by=transport`` counts a group under each mode it used (a bus and a
walk: once under each), so that split does not sum to the total (``FlowQuery.additive`` is false and the
outputs say so); without ``transport`` in ``by`` every group counts once.

The submissions that count are those FLW-01/02 count: approved ones, and received ones too when the project
says so (``indicators_include_received``) or the query asks (``include_received``), so the flow tables and
the two indicators always agree. SQL groups the facts by the asked dimensions; the derived figures are
computed over the (few) output rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import InvalidValueError
from app.indicators.normalise import SITE_ROLLUP
from app.models import ActivityReport, FlowFact, FlowFactTransport, Project
from app.models.response import FLOW_CELLS
from app.services import sites as site_service
from app.services.indicators.values import APPROVED, WITH_RECEIVED

PERIODS = ("day", "week", "month")
DIMENSIONS = (
    "site",
    "country",
    "period",
    "direction",
    "nationality",
    "group_type",
    "transport",
    "next_destination",
    "destination",
)
MAX_DIMENSIONS = 4
NOT_ADDITIVE = (
    "A group is counted under each transport mode it used: the rows of this split do not sum to the total."
)
# The splits that carry a share column: each row's part of the same key without the dimension.
SPLITS = ("direction", "nationality", "next_destination", "destination")
K = 5  # the small-count threshold of INDICATORS.md §6


@dataclass(frozen=True)
class FlowQuery:
    by: tuple[str, ...] = ()
    period: str = "month"
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    include_received: bool | None = None  # None: the project's setting, as for the indicators

    @property
    def additive(self) -> bool:
        """Whether the rows sum to the total: not when a group counts under each of its transport modes."""
        return "transport" not in self.by

    def check(self) -> None:
        unknown = [d for d in self.by if d not in DIMENSIONS]
        if unknown:
            raise InvalidValueError(
                f"Cannot break flows down by {', '.join(unknown)}; use {', '.join(DIMENSIONS)}.",
                details={"by": unknown},
            )
        if len(set(self.by)) != len(self.by):
            raise InvalidValueError("Name each dimension in by once.", details={"by": list(self.by)})
        if len(self.by) > MAX_DIMENSIONS:
            raise InvalidValueError(f"Cross at most {MAX_DIMENSIONS} dimensions at once.")
        if self.period not in PERIODS:
            raise InvalidValueError(f"period must be one of {', '.join(PERIODS)}.")
        if self.start and self.end and self.start > self.end:
            raise InvalidValueError("from must not be after to.")


@dataclass
class FlowRow:
    key: dict[str, str]
    movements: int | None
    groups: int | None
    children: int | None
    observed_days: int
    cells: dict[str, int | None] = field(default_factory=dict)
    shares: dict[str, float | None] = field(default_factory=dict)  # per SPLITS dimension in the key
    change: float | None = None
    suppressed: bool = False
    observed_hours: float = 0.0
    movements_in_hours: int | None = 0  # the movements of the site-days with hours observed

    @property
    def per_hour(self) -> float | None:
        """Movements per observed hour, over the site-days that report their hours."""
        if self.movements_in_hours is None or not self.observed_hours:
            return None
        return round(self.movements_in_hours / self.observed_hours, 4)

    @property
    def daily_average(self) -> float | None:
        if self.movements is None or not self.observed_days:
            return None
        return round(self.movements / self.observed_days, 2)

    @property
    def children_share(self) -> float | None:
        if self.movements is None or self.children is None or not self.movements:
            return None
        return round(self.children / self.movements, 4)


def site_places(session: Session, *, project: Project, sites: set[str]) -> dict[str, dict[str, str]]:
    """The site codes' country and admin-1/admin-2 P-codes from the project's site registry (an entity
    list, issue 19), keyed by site code. The only place a flow's site is resolved to its place; a code the
    registry does not know maps to no P-codes."""
    registry = site_service.registry_lookup(session, project_id=project.id)
    places: dict[str, dict[str, str]] = {}
    for site in sites:
        known = registry.get(site, {})
        country, adm1, adm2 = (known.get(key, "") for key in SITE_ROLLUP)
        places[site] = {k: v for k, v in (("country", country), ("adm1", adm1), ("adm2", adm2)) if v}
    return places


def _period_column(period: str) -> Any:
    return {"day": FlowFact.day, "week": FlowFact.week, "month": FlowFact.month}[period]


def counted_states(project: Project, include_received: bool | None) -> tuple[str, ...]:
    include = project.indicators_include_received if include_received is None else include_received
    return WITH_RECEIVED if include else APPROVED


def _conditions(project: Project, query: FlowQuery) -> list[sa.ColumnElement[bool]]:
    f = FlowFact
    states = counted_states(project, query.include_received)
    conds: list[sa.ColumnElement[bool]] = [f.project_id == project.id, f.review_state.in_(states)]
    if query.start:
        conds.append(f.day >= query.start)
    if query.end:
        conds.append(f.day <= query.end)
    return conds


def _columns(query: FlowQuery) -> list[Any]:
    def column(d: str) -> Any:
        if d == "period":
            return _period_column(query.period)
        return FlowFactTransport.transport if d == "transport" else getattr(FlowFact, d)

    return [column(d).label(d) for d in query.by]


def _from(select: sa.Select[Any], query: FlowQuery) -> sa.Select[Any]:
    """The facts, once per transport mode when the query splits by it (and once each otherwise)."""
    if query.additive:
        return select
    return select.join(FlowFactTransport, FlowFactTransport.fact_id == FlowFact.id)


def flows(session: Session, *, project: Project, query: FlowQuery) -> list[FlowRow]:
    """One row per key of ``query.by`` (module docstring), sorted by key."""
    query.check()
    f = FlowFact
    dims = _columns(query)
    conds = _conditions(project, query)
    # One pass over the facts, grouped by key, site and day: the key's sums are added up here, its
    # observed days are its distinct (site, day) pairs (two sites counted on one day are two site-days),
    # and each site-day carries its hours (the largest any of its counted groups reports, over every key:
    # a window over the grouped rows). A key has at most as many of these rows as site-days.
    site_day_hours = sa.func.max(sa.func.max(f.observed_hours)).over(partition_by=(f.site, f.day))
    sums = [
        sa.func.sum(f.people),
        sa.func.count(),
        sa.func.sum(f.children),
        *(sa.func.sum(getattr(f, c)) for c in FLOW_CELLS),
    ]
    site_days = session.execute(
        _from(sa.select(*dims, site_day_hours, *sums), query).where(*conds).group_by(*dims, f.site, f.day)
    ).all()
    width = len(dims)
    totals: dict[tuple[str, ...], list[int]] = {}
    days: dict[tuple[str, ...], int] = defaultdict(int)
    hours: dict[tuple[str, ...], float] = defaultdict(float)
    in_hours: dict[tuple[str, ...], int] = defaultdict(int)
    for record in site_days:
        values = tuple(record)
        key = _key(values[:width])
        site_hours = values[width]
        counts = [int(v or 0) for v in values[width + 1 :]]
        total = totals.setdefault(key, [0] * len(counts))
        for i, n in enumerate(counts):
            total[i] += n
        days[key] += 1
        if site_hours:
            hours[key] += float(site_hours)
            in_hours[key] += counts[0]
    rows = []
    for key, (people, groups, children, *cells) in totals.items():
        rows.append(
            FlowRow(
                key=dict(zip(query.by, key, strict=True)),
                movements=people,
                groups=groups,
                children=children,
                observed_days=days[key],
                cells=dict(zip(FLOW_CELLS, cells, strict=True)),
                observed_hours=round(hours[key], 4),
                movements_in_hours=in_hours[key],
            )
        )
    rows.sort(key=lambda r: tuple(r.key.values()))
    _shares(rows, query)
    _changes(rows, query)
    return rows


def _key(values: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(v.isoformat() if isinstance(v, dt.date) else str(v) for v in values)


def _shares(rows: list[FlowRow], query: FlowQuery) -> None:
    for split in (d for d in SPLITS if d in query.by):
        others: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        for row in rows:
            others[_without(row.key, split)] += row.movements or 0
        for row in rows:
            whole = others[_without(row.key, split)]
            row.shares[split] = round((row.movements or 0) / whole, 4) if whole else None


def _without(key: dict[str, str], name: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in key.items() if k != name)


def previous_period(value: str, period: str) -> str:
    """The period before ``value`` (a day 2026-12-07, a week 2026-W49, a month 2026-12)."""
    if period == "day":
        return (dt.date.fromisoformat(value) - dt.timedelta(days=1)).isoformat()
    if period == "week":
        iso_year, iso_week = value.split("-W")
        monday = dt.date.fromisocalendar(int(iso_year), int(iso_week), 1) - dt.timedelta(days=7)
        iso = monday.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    year, month = (int(p) for p in value.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _changes(rows: list[FlowRow], query: FlowQuery) -> None:
    if "period" not in query.by:
        return
    index = {tuple(sorted(r.key.items())): r for r in rows}
    for row in rows:
        before = dict(row.key) | {"period": previous_period(row.key["period"], query.period)}
        prev = index.get(tuple(sorted(before.items())))
        if prev is not None and prev.movements:
            row.change = round(((row.movements or 0) - prev.movements) / prev.movements, 4)


def suppress(rows: list[FlowRow]) -> list[FlowRow]:
    """Small-cell suppression for flows shared beyond the organisation (INDICATORS.md §6): a row counting
    fewer than K people (1 to K−1) is hidden with its groups, children, cells, shares and rate per hour;
    the sex × age cells below K are hidden, and when one cell alone is hidden the smallest other non-zero
    cell goes with it (the movements are their sum). In a split (direction, nationality, next or final
    destination), a lone hidden member takes the smallest other one with it, so it cannot be recovered
    from a total. A hidden count hides what is derived from it; the hours observed (not a count of
    people) stay."""
    for row in rows:
        row.suppressed = False
        hidden = {name for name, value in row.cells.items() if value is not None and 0 < value < K}
        if len(hidden) == 1:
            rest = sorted((v, n) for n, v in row.cells.items() if n not in hidden and v)
            if rest:
                hidden.add(rest[0][1])
        for name in hidden:
            row.cells[name] = None
        row.suppressed = bool(hidden)
    small = {id(r) for r in rows if r.movements is not None and 0 < r.movements < K}
    # Transport is left out: a group counts under each of its modes, so no mode is a total minus the rest.
    splits = [d for d in SPLITS if any(d in r.key for r in rows)]
    changed = True
    while changed:  # a complementary cell hidden in one split can leave another split's cell alone
        changed = False
        for split in splits:
            groups: dict[tuple[tuple[str, str], ...], list[FlowRow]] = defaultdict(list)
            for row in rows:
                groups[_without(row.key, split)].append(row)
            for members in groups.values():
                lone = [r for r in members if id(r) in small]
                if len(lone) == 1:
                    others = [r for r in members if id(r) not in small and r.movements]
                    if others:
                        small.add(id(min(others, key=lambda r: r.movements or 0)))
                        changed = True
    for row in rows:
        if id(row) in small:
            row.movements = row.groups = row.children = row.movements_in_hours = None
            row.cells = dict.fromkeys(row.cells)
            row.shares = dict.fromkeys(row.shares)
            row.change = None
            row.suppressed = True
    return rows


@dataclass
class TransitRow:
    site: str
    month: str
    reached_in_transit: int
    movements: int
    admin: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return round(self.reached_in_transit / self.movements, 4) if self.movements else None

    @property
    def small(self) -> bool:
        """Whether a count is below K (INDICATORS.md §6): hidden, with the ratio, when shared."""
        return 0 < self.reached_in_transit < K or 0 < self.movements < K


def transit_reach(
    session: Session, *, project: Project, year: int, include_received: bool | None = None
) -> list[TransitRow]:
    """People reached in transit (5W ``in_transit`` new beneficiaries of rows that name a site) against
    the movements counted at that site, per site and month: a ratio with its denominator, never a share of
    people (one person passing twice is two movements, and a person reached is counted once a year).
    Only 5W rows that passed QA or were accepted count, as in the reach tables."""
    a, f = ActivityReport, FlowFact
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    reached = session.execute(
        sa.select(a.site, a.month, sa.func.sum(a.in_transit))
        .where(
            a.project_id == project.id,
            a.status.in_(("valid", "accepted")),
            a.site.is_not(None),
            a.month >= start,
            a.month <= end,
        )
        .group_by(a.site, a.month)
    ).all()
    moved = session.execute(
        sa.select(f.site, f.month, sa.func.sum(f.people))
        .where(*_conditions(project, FlowQuery(start=start, end=end, include_received=include_received)))
        .group_by(f.site, f.month)
    ).all()
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for site, first_day, n in reached:
        cells[(str(site), first_day.isoformat()[:7])][0] += int(n or 0)
    for site, month, n in moved:
        cells[(str(site), str(month))][1] += int(n or 0)
    places = site_places(session, project=project, sites={s for s, _ in cells})
    return [
        TransitRow(site, month, got, count, places.get(site, {}))
        for (site, month), (got, count) in sorted(cells.items())
    ]
