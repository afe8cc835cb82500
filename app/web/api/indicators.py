"""Shared monitoring indicators in the API: values (JSON, or long-format CSV/XLSX with the HXL hashtag
row) and each form's mapping onto the canonical record (GET the one in force or a suggestion; PUT
confirms a new version)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.db import commit, get_session
from app.exports import indicators as export
from app.indicators.suppression import TOTAL
from app.indicators.values import IndicatorResult, IndicatorValue
from app.models import Project
from app.replica import get_read_session
from app.services import audit, classification, indicator_mappings, indicator_records, row_access
from app.services import forms as form_service
from app.services.indicator_values import DIMENSIONS, IndicatorQuery, compute_values
from app.web import query
from app.web.api import bp
from app.web.api.helpers import flag, json_body
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.downloads import content_disposition

BASE = "/projects/<int:project_id>/indicators"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ShareArgs(query.QuerySchema):
    shareClass = query.Text(max_length=32)


def _list_arg(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip())


def query_from_args() -> IndicatorQuery:
    """``indicator``, ``by`` and one filter per dimension, each repeatable or comma-separated."""
    filters = {dim: _list_arg(dim) for dim in DIMENSIONS if _list_arg(dim)}
    include = flag("includeReceived") if "includeReceived" in request.args else None
    return IndicatorQuery(
        codes=_list_arg("indicator"), by=_list_arg("by"), filters=filters, include_received=include
    )


def _result(project: Project) -> IndicatorResult:
    """The figures as the last refresh left them (a GET never writes; the worker refreshes), from the
    read replica when there is one: the aggregation is the heavy read of this API."""
    return compute_values(get_read_session(), project=project, query=query_from_args())


def value_json(v: IndicatorValue) -> dict[str, Any]:
    return {
        "indicator": v.indicator,
        "name": v.name,
        "unit": v.statistic,
        "breakdown": v.breakdown,
        "category": v.category,
        "dimensions": {k: ("total" if val == TOTAL else val) for k, val in v.key.items()},
        "value": v.value,
        "numerator": v.numerator,
        "denominator": v.denominator,
        "n": v.n,
        "dkRefused": v.dk_refused,
        "suppressed": v.suppressed,
        "suppressionReason": v.reason,
        "smallBase": v.small_base,
        "sensitive": v.sensitive,
        "mappingVersions": list(v.mapping_versions),
        "periodStart": v.period_start,
        "periodEnd": v.period_end,
    }


@bp.get(BASE)
def list_indicator_values(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "indicator.read")
    row_access.require_project_figures(get_session(), actor, project)
    result = _result(project)
    # From the same database as the figures, so "as of" describes them even when the replica lags.
    fresh = indicator_records.freshness(get_read_session(), project=project)
    return jsonify(
        {
            "class": _output_class(project),
            "freshness": fresh.to_json(),
            "by": list(result.by),
            "reviewStates": list(result.states),
            "skipped": result.skipped,
            "values": [value_json(v) for v in result.values],
        }
    )


def _output_class(project: Project) -> str:
    """The class of the project's indicator outputs: the highest its forms declare for aggregates."""
    return classification.project_indicator_class(form_service.list_forms(get_session(), project=project))


def indicator_download(project_id: int, kind: str, *, language: str | None = None) -> Response:
    """CSV or XLSX of the values the query string asks for; indicator names in ``language`` (a
    catalogue language such as es or pt; English where the catalogue has no name in it). The admin's
    downloads call this too, with the admin's language."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "indicator.read")
    row_access.require_project_figures(get_session(), actor, project)
    output_class = _output_class(project)
    share = query.parse(ShareArgs()).get("shareClass")
    classification.check_share(share, output_class, what="indicator table")
    result = _result(project)
    label = classification.LABELS[output_class]
    body = export.to_csv(result, language) if kind == "csv" else export.to_xlsx(result, language, label)
    audit.record(
        get_session(),
        actor=actor,
        action="indicators.export",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={
            "format": kind,
            "query": request.args.to_dict(flat=False),
            "rows": len(result.values),
            "class": output_class,
        },
    )
    commit()
    fresh = indicator_records.freshness(get_read_session(), project=project)
    response = Response(body, mimetype="text/csv" if kind == "csv" else XLSX)
    if fresh.refreshed_at is not None:
        response.headers["X-Ruta-Figures-As-Of"] = fresh.refreshed_at.isoformat()
    response.headers["Content-Disposition"] = content_disposition(f"indicators-project-{project.id}.{kind}")
    response.headers[classification.HEADER] = label
    return response


def _export(project_id: int, kind: str) -> Response:
    return indicator_download(project_id, kind, language=request.args.get("language") or None)


@bp.get(f"{BASE}.csv")
def export_indicator_values_csv(project_id: int) -> Response:
    return _export(project_id, "csv")


@bp.get(f"{BASE}.xlsx")
def export_indicator_values_xlsx(project_id: int) -> Response:
    return _export(project_id, "xlsx")


MAPPING = "/projects/<int:project_id>/forms/<xml_form_id>/mapping"


@bp.get(MAPPING)
def get_form_mapping(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "mapping.read")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    return jsonify(indicator_mappings.describe(session, form=form))


@bp.put(MAPPING)
def put_form_mapping(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "mapping.update")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    indicator_mappings.confirm(session, actor=actor, project=project, form=form, document=json_body())
    described = indicator_mappings.describe(session, form=form)
    commit()
    return jsonify(described)
