"""Response monitoring in the API (INDICATORS.md §9): 5W activity rows (JSON or an R4V-style workbook) with
their QA findings and the error report, plan figures (people in need, targets), and the reach and gap tables
as JSON, or CSV/XLSX with the HXL hashtag row."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request
from marshmallow import fields

from app.db import get_session
from app.errors import InvalidValueError
from app.exports import response as export
from app.models import ActivityReport, Project
from app.response import columns
from app.services.audit import events as audit
from app.services.response import activities, flows, plans, suppression
from app.services.response.reach import ReachQuery, Row, gaps, reach
from app.web import query
from app.web.api import bodies, bp
from app.web.api.helpers import flag, read_body
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.downloads import content_disposition
from app.web.query import accepts, load_body

BASE = "/projects/<int:project_id>"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _language() -> str:
    lang = (request.args.get("lang") or "en").lower()[:2]
    return lang if lang in ("en", "es", "pt") else "en"


def _upload_response(result: activities.UploadResult) -> Response:
    upload = result.upload
    body = {
        "uploadId": upload.id,
        "rows": upload.rows_total,
        "rowsWithErrors": upload.rows_with_errors,
        "imported": result.imported,
        "held": result.held,
        "refused": result.refused,
        "report": f"/v1/projects/{upload.project_id}/activities/report.xlsx?upload={upload.id}",
        "results": [
            {
                "row": e["row"],
                "ok": not any(f["severity"] == "error" for f in e["findings"]),
                "findings": e["findings"],
            }
            for e in upload.report
        ],
    }
    if result.refused:
        body["message"] = (
            f"{upload.rows_with_errors} of {upload.rows_total} rows break a QA rule, so nothing was "
            "imported. Fix them (the report lists each finding) and upload again, or add goodRows=true to "
            "import the good rows and hold the others until they are fixed or accepted."
        )
    if result.refused:
        # Deliberate: the upload and its report are kept even when refused, so the error workbook can be
        # downloaded, although the 422 makes the unit of work roll back what is left.
        get_session().commit()
    response = jsonify(body)
    response.status_code = 422 if result.refused else 200
    return response


@bp.post(f"{BASE}/activities")
@accepts(bodies.ActivityRows)
def post_activities(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "activity.report")
    items = load_body()["rows"]
    result = activities.import_rows(
        get_session(),
        actor=actor,
        project=project,
        rows=activities.rows_from_json(items),
        source="api",
        good_rows=flag("goodRows"),
        language=_language(),
    )
    return _upload_response(result)


@bp.post(f"{BASE}/activities/import")
def import_activities(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "activity.report")
    data = read_body()
    rows = activities.rows_from_workbook(data)
    if not rows:
        raise InvalidValueError("The 5W workbook has headers but no rows.")
    filename = (request.args.get("filename") or "")[:255] or None
    result = activities.import_rows(
        get_session(),
        actor=actor,
        project=project,
        rows=rows,
        source="import",
        filename=filename,
        good_rows=flag("goodRows"),
        language=_language(),
    )
    return _upload_response(result)


def _report_json(r: ActivityReport) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id, "uploadId": r.upload_id, "row": r.row_number, "status": r.status}
    for name in columns.BY_NAME:
        value = getattr(r, name)
        out[name] = value.isoformat()[:7] if isinstance(value, date) else value
    out |= {"findings": r.findings, "acceptedReason": r.accepted_reason, "source": r.source}
    return out


@bp.get(f"{BASE}/activities")
def list_activities(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "response.read")
    args = query.parse(ListArgs())
    status = args.get("status")
    if status not in (None, "valid", "error", "accepted"):
        raise InvalidValueError("status must be valid, error or accepted.")
    limit, offset = args.get("limit", 500), args.get("offset", 0)
    session = get_session()
    selected = session.query(ActivityReport).filter(ActivityReport.project_id == project.id)
    if status:
        selected = selected.filter(ActivityReport.status == status)
    rows = selected.order_by(ActivityReport.id).offset(offset).limit(limit).all()
    audit.record(
        session,
        actor=actor,
        action="activities.read",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"status": status, "rows": len(rows)},
    )
    return jsonify([_report_json(r) for r in rows])


@bp.patch(f"{BASE}/activities/<int:report_id>")
@accepts(bodies.ActivityChanges)
def fix_activity(project_id: int, report_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "activity.report")
    report = activities.fix(
        get_session(),
        actor=actor,
        project=project,
        report_id=report_id,
        changes=load_body(),
        language=_language(),
    )
    return jsonify(_report_json(report))


@bp.post(f"{BASE}/activities/<int:report_id>/accept")
@accepts(bodies.Acceptance)
def accept_activity(project_id: int, report_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "activity.report")
    reason = load_body()["reason"]
    report = activities.accept(
        get_session(), actor=actor, project=project, report_id=report_id, reason=reason
    )
    return jsonify(_report_json(report))


@bp.get(f"{BASE}/activities/report.xlsx")
def activities_report(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "response.read")
    session = get_session()
    upload = activities.latest_upload(
        session, project=project, upload_id=query.parse(ListArgs()).get("upload")
    )
    body = activities.error_workbook(upload, language=_language())
    audit.record(
        session,
        actor=actor,
        action="activities.report",
        project_id=project.id,
        subject_type="activity_upload",
        subject_id=upload.id,
    )
    response = Response(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(f"5w-report-{upload.id}.xlsx")
    return response


@bp.put(f"{BASE}/needs")
def put_needs(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "plan.manage")
    summary = plans.replace_figures(
        get_session(), actor=actor, project=project, rows=plans.rows_from_upload(read_body())
    )
    return jsonify(summary)


class TableArgs(query.QuerySchema):
    year = query.Count(minimum=2000, maximum=2100)
    until = query.Count(minimum=1, maximum=12)
    model = query.Text(max_length=32)
    suppress = query.Text(max_length=8)


class ListArgs(query.QuerySchema):
    status = query.Text(max_length=16)
    limit = query.Count(minimum=1, maximum=5000)
    offset = query.Count()
    upload = query.Count()
    lang = query.Text(max_length=16)


def _reach_query() -> ReachQuery:
    args = query.parse(TableArgs())
    by = tuple(v.strip() for raw in request.args.getlist("by") for v in raw.split(",") if v.strip())
    return ReachQuery(
        year=args.get("year", date.today().year),
        by=by,
        model=args.get("model", "sum"),
        until_month=args.get("until"),
    )


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "dimensions": row.key,
        "category": row.split,
        "reached": row.reached,
        "totalMonthly": row.total_monthly,
        "reachedByAgeGender": row.by_age_gender or None,
        "peopleInNeed": row.people_in_need,
        "target": row.target,
        "gap": row.gap,
        "coverage": row.coverage,
        "model": row.model,
        "suppressed": row.suppressed,
    }


def download(project_id: int, table: str, fmt: str) -> Response:
    """A reach, gaps or flows table as CSV or XLSX for whoever is logged in (an API token or the admin's
    session): the admin's response page links here through its own route."""
    if table == "flows":
        return _flows(project_id, fmt)
    return _table(project_id, table, fmt)


def _table(project_id: int, kind: str, fmt: str | None) -> Response:
    actor = logged_in_actor()
    project: Project = project_for(actor, project_id, "response.read")
    session = get_session()
    query = _reach_query()
    rows = (reach if kind == "reach" else gaps)(session, project=project, query=query)
    if flag("suppress"):
        rows = suppression.suppress(rows)
    audit.record(
        session,
        actor=actor,
        action=f"{kind}.read",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"format": fmt or "json", "query": request.args.to_dict(flat=False)},
    )
    if fmt is None:
        return jsonify(
            {
                "year": query.year,
                "by": list(query.by),
                "model": query.model,
                "rows": [_row_json(r) for r in rows],
            }
        )
    headers, tags, cells = export.table(rows, year=query.year, kind=kind)
    if fmt == "csv":
        response = Response(export.to_csv(headers, tags, cells), mimetype="text/csv")
    else:
        response = Response(export.to_xlsx(headers, tags, cells, sheet=kind), mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(
        f"{kind}-project-{project.id}-{query.year}.{fmt}"
    )
    return response


@bp.get(f"{BASE}/reach")
def get_reach(project_id: int) -> Response:
    return _table(project_id, "reach", None)


@bp.get(f"{BASE}/reach.csv")
def get_reach_csv(project_id: int) -> Response:
    return _table(project_id, "reach", "csv")


@bp.get(f"{BASE}/reach.xlsx")
def get_reach_xlsx(project_id: int) -> Response:
    return _table(project_id, "reach", "xlsx")


@bp.get(f"{BASE}/gaps")
def get_gaps(project_id: int) -> Response:
    return _table(project_id, "gaps", None)


@bp.get(f"{BASE}/gaps.csv")
def get_gaps_csv(project_id: int) -> Response:
    return _table(project_id, "gaps", "csv")


@bp.get(f"{BASE}/gaps.xlsx")
def get_gaps_xlsx(project_id: int) -> Response:
    return _table(project_id, "gaps", "xlsx")


class FlowArgs(query.QuerySchema):
    period = query.Text(max_length=8)
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    suppress = query.Text(max_length=8)


def flow_query() -> flows.FlowQuery:
    """The flow query of this request's arguments (also read by the admin's response page)."""
    args = query.parse(FlowArgs())
    by = tuple(v.strip() for raw in request.args.getlist("by") for v in raw.split(",") if v.strip())
    return flows.FlowQuery(
        by=by,
        period=args.get("period", "month"),
        start=args.get("start"),
        end=args.get("end"),
        include_received=flag("includeReceived") if "includeReceived" in request.args else None,
    )


def _flow_json(row: flows.FlowRow) -> dict[str, Any]:
    return {
        "dimensions": row.key,
        "movements": row.movements,
        "groups": row.groups,
        "observedDays": row.observed_days,
        "dailyAverage": row.daily_average,
        "children": row.children,
        "childrenShare": row.children_share,
        "directionShare": row.shares.get("direction"),
        "nationalityShare": row.shares.get("nationality"),
        "nextDestinationShare": row.shares.get("next_destination"),
        "destinationShare": row.shares.get("destination"),
        "observedHours": row.observed_hours,
        "movementsPerHour": row.per_hour,
        "change": row.change,
        "peopleBySexAge": row.cells,
        "suppressed": row.suppressed,
    }


def _flows(project_id: int, fmt: str | None) -> Response:
    actor = logged_in_actor()
    project: Project = project_for(actor, project_id, "response.read")
    session = get_session()
    q = flow_query()
    rows = flows.flows(session, project=project, query=q)
    if flag("suppress"):
        rows = flows.suppress(rows)
    audit.record(
        session,
        actor=actor,
        action="flows.read",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"format": fmt or "json", "query": request.args.to_dict(flat=False)},
    )
    if fmt is None:
        return jsonify(
            {
                "by": list(q.by),
                "period": q.period,
                "sumsToTotal": q.additive,
                **({} if q.additive else {"note": flows.NOT_ADDITIVE}),
                "rows": [_flow_json(r) for r in rows],
            }
        )
    headers, tags, cells = export.flow_table(rows, by=q.by, additive=q.additive)
    if fmt == "csv":
        response = Response(export.to_csv(headers, tags, cells), mimetype="text/csv")
    else:
        response = Response(export.to_xlsx(headers, tags, cells, sheet="flows"), mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(f"flows-project-{project.id}.{fmt}")
    return response


@bp.get(f"{BASE}/flows")
def get_flows(project_id: int) -> Response:
    """Flow counts (movements, groups, daily averages, hours observed, split shares) by site, period, …"""
    return _flows(project_id, None)


@bp.get(f"{BASE}/flows.csv")
def get_flows_csv(project_id: int) -> Response:
    """Flow counts as CSV with an HXL row."""
    return _flows(project_id, "csv")


@bp.get(f"{BASE}/flows.xlsx")
def get_flows_xlsx(project_id: int) -> Response:
    """Flow counts as XLSX with an HXL row."""
    return _flows(project_id, "xlsx")


@bp.get(f"{BASE}/transit")
def get_transit(project_id: int) -> Response:
    """People reached in transit against the movements counted, per site and month (a ratio with its
    denominator)."""
    actor = logged_in_actor()
    project: Project = project_for(actor, project_id, "response.read")
    session = get_session()
    year = query.parse(TableArgs()).get("year", date.today().year)
    include = flag("includeReceived") if "includeReceived" in request.args else None
    rows = flows.transit_reach(session, project=project, year=year, include_received=include)
    hide = flag("suppress")
    audit.record(
        session,
        actor=actor,
        action="transit.read",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"year": year},
    )
    return jsonify(
        {
            "year": year,
            "rows": [
                {
                    "site": r.site,
                    "month": r.month,
                    "places": r.admin,
                    "reachedInTransit": None if hide and r.small else r.reached_in_transit,
                    "movements": None if hide and r.small else r.movements,
                    "ratio": None if hide and r.small else r.ratio,
                    "suppressed": hide and r.small,
                }
                for r in rows
            ],
        }
    )
