"""Chart geometry for the response dashboard (issue 20), drawn as inline SVG by the template: no script,
no library, nothing fetched from elsewhere. Each chart is 390 units wide (a phone's width; the SVG scales
down inside a narrower card) and sits beside the table with the same figures, which stays the accessible
reading of it.

A suppressed value (None: hidden because it is small or would reveal a small one) is never plotted: no
bar, no point, and a line is broken around it, so its size cannot be read off the drawing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH = 390

# Gap chart: one row per place or population type, people in need as a light bar and reached as a dark
# bar over it, on one scale (the largest of either).
LABEL = 96  # the row label's column
PLOT = WIDTH - LABEL - 8
ROW = 22
BAR = 14
AXIS = 16  # the scale's line at the bottom

# Flow chart: movements per month (12 slots), one line per site.
LEFT = 36  # the y axis' labels
TOP = 8
PLOT_W = WIDTH - LEFT - 8
PLOT_H = 140
MONTHS = 12
MAX_SITES = 6  # more lines than this cannot be told apart at this width; the table has every site
LEGEND_ROW = 16
LEGEND_PER_ROW = 3
# Okabe–Ito: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


@dataclass(frozen=True)
class GapBar:
    key: str
    y: float
    need: int | None
    reached: int | None  # None: hidden, not drawn
    need_width: float
    reached_width: float | None


@dataclass(frozen=True)
class GapChart:
    bars: list[GapBar]
    top: int  # the scale's end
    height: float
    hidden: int  # how many reached values are not drawn

    label_width = LABEL
    plot_width = PLOT
    bar_height = BAR


def gap_chart(rows: Sequence[Any], key: Callable[[Any], str]) -> GapChart | None:
    """The bars of gap rows (``reach.Row``: ``people_in_need`` and a possibly hidden ``reached``), None
    when nothing would be drawn."""
    top = max(
        (v for r in rows for v in (r.people_in_need, r.reached) if v is not None),
        default=0,
    )
    if not top:
        return None
    bars = [
        GapBar(
            key=key(r),
            y=i * ROW + (ROW - BAR) / 2,
            need=r.people_in_need,
            reached=r.reached,
            need_width=round((r.people_in_need or 0) / top * PLOT, 1),
            reached_width=None if r.reached is None else round(r.reached / top * PLOT, 1),
        )
        for i, r in enumerate(rows)
    ]
    hidden = sum(1 for r in rows if r.reached is None)
    return GapChart(bars=bars, top=top, height=len(rows) * ROW + AXIS, hidden=hidden)


@dataclass(frozen=True)
class Point:
    month: str
    movements: int
    x: float
    y: float


@dataclass
class Series:
    site: str
    colour: str
    segments: list[list[Point]] = field(default_factory=list)  # broken at hidden or uncounted months

    @property
    def points(self) -> list[Point]:
        return [p for segment in self.segments for p in segment]

    def path(self, segment: list[Point]) -> str:
        return " ".join(f"{p.x},{p.y}" for p in segment)


@dataclass(frozen=True)
class FlowChart:
    series: list[Series]
    months: list[tuple[str, float]]  # (YYYY-MM, x) of the axis
    top: int
    height: float
    left_out: int  # sites with figures not drawn (beyond MAX_SITES)
    hidden: int  # site-months hidden by suppression, not drawn

    left = LEFT
    plot_top = TOP
    plot_width = PLOT_W
    plot_height = PLOT_H
    legend_row = LEGEND_ROW
    legend_per_row = LEGEND_PER_ROW

    @property
    def legend_top(self) -> float:
        return TOP + PLOT_H + 22


def month_x(index: int) -> float:
    return round(LEFT + index * PLOT_W / (MONTHS - 1), 1)


def flow_chart(rows: Sequence[Any], year: int) -> FlowChart | None:
    """Lines of movements per site and month of ``year`` from flow rows (``flows.FlowRow`` keyed by site
    and month period, suppressed or not): the MAX_SITES sites with the most shown movements. None when
    no movement can be drawn."""
    months = [f"{year}-{m:02d}" for m in range(1, MONTHS + 1)]
    shown: dict[str, dict[str, int]] = defaultdict(dict)
    hidden = 0
    for row in rows:
        site, month = row.key["site"], row.key["period"]
        if month not in months:
            continue
        if row.movements is None:
            hidden += 1
        else:
            shown[site][month] = row.movements
    ranked = sorted(shown, key=lambda s: (-sum(shown[s].values()), s))
    drawn = ranked[:MAX_SITES]
    top = max((v for s in drawn for v in shown[s].values()), default=0)
    if not top:
        return None
    series = []
    for i, site in enumerate(drawn):
        line = Series(site=site, colour=PALETTE[i % len(PALETTE)])
        segment: list[Point] = []
        for index, month in enumerate(months):
            value = shown[site].get(month)
            if value is None:  # hidden or not counted: the line stops here
                if segment:
                    line.segments.append(segment)
                segment = []
                continue
            y = round(TOP + PLOT_H - value / top * PLOT_H, 1)
            segment.append(Point(month=month, movements=value, x=month_x(index), y=y))
        if segment:
            line.segments.append(segment)
        series.append(line)
    legend_rows = -(-len(series) // LEGEND_PER_ROW)
    return FlowChart(
        series=series,
        months=[(m, month_x(i)) for i, m in enumerate(months)],
        top=top,
        height=TOP + PLOT_H + 22 + legend_rows * LEGEND_ROW,
        left_out=len(ranked) - len(drawn),
        hidden=hidden,
    )
