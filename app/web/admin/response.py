"""The response dashboard of a project (issue 20): for a year, people reached against people in need per
place and per population type (the gap), flows counted per site and month, and reached in transit against
the movements counted at each site, each table with its chart beside it (``charts``: inline SVG, suppressed
values never drawn). Figures come from the services behind the API, suppressed as the API's
``suppress=true`` output is (this page is read by people beyond the reporting organisations); the
download links are the API's CSV/XLSX, which accept the admin session."""

from __future__ import annotations

from datetime import date

from flask import Response, render_template, request

from app.db import get_session
from app.errors import NotFoundError
from app.services.audit import events as audit
from app.services.response import flows, suppression
from app.services.response.reach import ReachQuery, gaps
from app.web import query
from app.web.admin import bp, charts
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu
from app.web.api import response as api_response

add_project_menu_item("admin.response", "Response", action="response.read")


class DashboardArgs(query.QuerySchema):
    year = query.Count(minimum=2000, maximum=2100)


@bp.get("/projects/<int:project_id>/response")
def response(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "response.read")
    session = get_session()
    year = query.parse(DashboardArgs()).get("year", date.today().year)
    by_place = suppression.suppress(gaps(session, project=p, query=ReachQuery(year=year, by=("admin1",))))
    by_population = suppression.suppress(
        gaps(session, project=p, query=ReachQuery(year=year, by=("population_type",)))
    )
    flow_rows = flows.suppress(
        flows.flows(
            session,
            project=p,
            query=flows.FlowQuery(
                by=("site", "period"), period="month", start=date(year, 1, 1), end=date(year, 12, 31)
            ),
        )
    )
    transit = flows.transit_reach(session, project=p, year=year)
    audit.record(
        session,
        actor=actor,
        action="response.view",
        project_id=p.id,
        subject_type="project",
        subject_id=p.id,
        details={"year": year, "page": request.path},
    )
    return render_template(
        "admin/response.html",
        project=p,
        year=year,
        by_place=by_place,
        by_population=by_population,
        flow_rows=flow_rows,
        transit=transit,
        place_chart=charts.gap_chart(by_place, key=lambda r: r.key.get("admin1") or "—"),
        population_chart=charts.gap_chart(by_population, key=lambda r: r.split or "—"),
        flow_chart=charts.flow_chart(flow_rows, year),
        chart_width=charts.WIDTH,
        project_menu=project_menu(p, "admin.response"),
    )


@bp.get("/projects/<int:project_id>/response/<table>.<fmt>")
def response_download(project_id: int, table: str, fmt: str) -> Response:
    """The API's CSV/XLSX tables under the admin's session (the API itself takes tokens)."""
    current_actor()
    if table not in ("reach", "gaps", "flows") or fmt not in ("csv", "xlsx"):
        raise NotFoundError("There is no such download: reach, gaps or flows, as csv or xlsx.")
    return api_response.download(project_id, table, fmt)
