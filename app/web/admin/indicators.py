"""The indicators dashboard of a project: each catalogue indicator with its latest total and a small
chart by month, and the gaps (submissions not counted and why, answers waiting for a mapping).

Values come from the same service as the API, so suppression applies here too: a hidden month is drawn
as an empty outlined bar marked ``*``. Charts are inline SVG built here (no script, allowed by the CSP).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import render_template
from flask_babel import get_locale
from sqlalchemy import select

from app.db import get_session
from app.indicators.catalog import load_catalog
from app.indicators.suppression import TOTAL
from app.indicators.values import IndicatorValue
from app.models import Form
from app.services.indicators import gaps as indicator_gaps
from app.services.indicators import records as indicator_records
from app.services.indicators.values import IndicatorQuery, compute_values
from app.services.protection import row_access
from app.web.admin import bp
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu

add_project_menu_item("admin.indicators", "Indicators")

WIDTH, HEIGHT, GAP = 240, 60, 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    suppressed: bool


@dataclass(frozen=True)
class Panel:
    code: str
    name: str
    unit: str
    total: str
    numerator: str
    denominator: str
    n: str
    suppressed: bool
    bars: list[Bar]


def _shown(v: IndicatorValue) -> str:
    if v.suppressed or v.value is None:
        return "*" if v.suppressed else "—"
    if v.statistic == "pct":
        return f"{v.value * 100:.1f}%"
    return f"{v.value:.1f}".rstrip("0").rstrip(".")


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _bars(months: list[IndicatorValue]) -> list[Bar]:
    months = sorted(months, key=lambda v: v.key["period"])[-12:]
    if not months:
        return []
    top = max((v.value or 0.0) for v in months) or 1.0
    if months[0].statistic == "pct":
        top = max(top, 1.0)
    step = WIDTH / len(months)
    bars = []
    for i, v in enumerate(months):
        height = 0.0 if v.value is None else max(1.0, (v.value / top) * (HEIGHT - 12))
        bars.append(
            Bar(
                x=round(i * step + GAP / 2, 1),
                y=round(HEIGHT - 12 - (HEIGHT - 12 if v.suppressed else height), 1),
                width=round(step - GAP, 1),
                height=round(HEIGHT - 12 if v.suppressed else height, 1),
                label=v.key["period"][2:],
                title=f"{v.key['period']}: {_shown(v)}",
                suppressed=v.suppressed,
            )
        )
    return bars


def _panels(values: list[IndicatorValue], language: str) -> list[Panel]:
    catalog = load_catalog()
    main: dict[str, list[IndicatorValue]] = defaultdict(list)
    for v in values:
        if v.breakdown is None and v.statistic == catalog.indicators[v.indicator].unit:
            main[v.indicator].append(v)
    panels = []
    for code, indicator in catalog.indicators.items():
        rows = main.get(code, [])
        total = next((v for v in rows if v.key.get("period") == TOTAL), None)
        months = [v for v in rows if v.key.get("period") != TOTAL]
        panels.append(
            Panel(
                code=code,
                name=indicator.name(language),
                unit=indicator.unit,
                total=_shown(total) if total else "—",
                numerator=_number(total.numerator) if total else "—",
                denominator=_number(total.denominator) if total else "—",
                n=_number(total.n) if total else "—",
                suppressed=bool(total and total.suppressed),
                bars=_bars(months),
            )
        )
    return panels


@bp.get("/projects/<int:project_id>/indicators")
def indicators(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "indicator.read")
    session = get_session()
    rows = row_access.figure_rows(session, actor, p)
    result = compute_values(session, project=p, query=IndicatorQuery(by=("period",)), rows=rows)
    gaps = indicator_gaps.project_gaps(
        session,
        project=p,
        states=result.states,
        rows=rows,
        raw_values=row_access.reads_raw_values(session, actor, p),
    )
    return render_template(
        "admin/indicators.html",
        project=p,
        freshness=indicator_records.freshness(session, project=p),
        panels=_panels(result.values, str(get_locale() or "en")[:2]),
        gaps=gaps,
        own_rows_only=rows is not None,
        states=result.states,
        chart_width=WIDTH,
        chart_height=HEIGHT,
        project_menu=project_menu(p, "admin.indicators"),
        forms=session.scalars(select(Form).where(Form.project_id == p.id).order_by(Form.xml_form_id)).all(),
    )
