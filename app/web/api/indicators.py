"""Shared monitoring indicators in the API: values (JSON, or long-format CSV/XLSX with the HXL hashtag
row) and each form's mapping onto the canonical record (GET the one in force or a suggestion; PUT
confirms a new version)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request

from app.auth.actor import Actor
from app.db import get_session
from app.exports import indicators as export
from app.indicators.catalog import load_catalog
from app.indicators.suppression import TOTAL
from app.indicators.values import IndicatorResult, IndicatorValue
from app.models import Project
from app.replica import get_read_session
from app.services.audit import events as audit
from app.services.indicator_sadd import SaddRow, compute_sadd
from app.services.indicators import mappings as indicator_mappings
from app.services.indicators import records as indicator_records
from app.services.indicators.values import DIMENSIONS, IndicatorQuery, compute_values
from app.services.protection import classification, row_access
from app.services.publishing import versions as form_service
from app.web import query
from app.web.api import bodies, bp
from app.web.api.helpers import flag
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.downloads import content_disposition
from app.web.query import accepts, load_body

MONTH = re.compile(r"\d{4}-\d{2}")
BASE = "/projects/<int:project_id>/indicators"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ShareArgs(query.QuerySchema):
    shareClass = query.Text(max_length=32)


def _list_arg(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip())


def query_from_args() -> IndicatorQuery:
    """``indicator``, ``by`` and one filter per dimension (the defaults and every indicator's own),
    each repeatable or comma-separated; ``period`` (day, week or month) and ``cumulative``."""
    catalog = load_catalog()
    own = {name for i in catalog.indicators.values() for name in catalog.own_dimensions(i)}
    filters = {dim: _list_arg(dim) for dim in (*DIMENSIONS, *sorted(own)) if _list_arg(dim)}
    # ``period`` names the series' period length; a month filter is ``period=2026-11`` as before.
    granularity = request.args.get("period", "month")
    if filters.get("period") and all(MONTH.fullmatch(v) for v in filters["period"]):
        granularity = "month"
    else:
        filters.pop("period", None)
        filters |= {"period": _list_arg("periodIn")} if _list_arg("periodIn") else {}
    include = flag("includeReceived") if "includeReceived" in request.args else None
    return IndicatorQuery(
        codes=_list_arg("indicator"),
        by=_list_arg("by"),
        filters=filters,
        include_received=include,
        period=granularity,
        cumulative=flag("cumulative"),
        weighted=flag("weighted"),
    )


def openapi_parameters() -> list[dict[str, Any]]:
    """The query string of the indicator values and their CSV/XLSX (the OpenAPI document's)."""
    catalog = load_catalog()
    own: dict[str, list[str]] = {}
    for indicator in catalog.indicators.values():
        for name in catalog.own_dimensions(indicator):
            own.setdefault(name, []).append(indicator.code)
    extras = "; ".join(f"{name} ({', '.join(codes)})" for name, codes in sorted(own.items()))

    def text(name: str, description: str, **schema: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return [
        text("indicator", "Indicator codes, comma-separated or repeated; all when absent.", type="string"),
        text(
            "by",
            f"Up to 3 dimensions to break down by: {', '.join(DIMENSIONS)}, or an indicator's own "
            f"disaggregations: {extras}. An indicator without one is skipped (see `skipped`).",
            type="string",
        ),
        text(
            "period",
            "Length of a `period` row: day, week (ISO, Monday-Sunday) or month.",
            enum=["day", "week", "month"],
        ),
        text(
            "periodIn",
            "Only these periods (in the chosen length: 2026-11-03, 2026-W45 or 2026-11).",
            type="string",
        ),
        text(
            "cumulative",
            "With by=period: each row sums the data from the start of the series to the end of its period.",
            type="boolean",
        ),
        text("includeReceived", "Count received (not yet approved) submissions too.", type="boolean"),
        text(
            "weighted",
            "Weight numerators and denominators by each record's survey weight (submission.weight; "
            "1 when a form has none). Suppression still runs on unweighted counts; medians stay "
            "unweighted. Every row's method says which.",
            type="boolean",
        ),
        *(
            text(dim, f"Only rows with these {dim} values (comma-separated or repeated).", type="string")
            for dim in (*[d for d in DIMENSIONS if d != "period"], *sorted(own))
        ),
    ]


def _result(actor: Actor, project: Project) -> IndicatorResult:
    """The figures as the last refresh left them (a GET never writes; the worker refreshes), from the
    read replica when there is one: the aggregation is the heavy read of this API. Over the rows the
    reader's organisation may count (a partner's own; ``row_access.figure_rows``)."""
    rows = row_access.figure_rows(get_session(), actor, project)
    return compute_values(get_read_session(), project=project, query=query_from_args(), rows=rows)


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
        "method": v.method,
    }


@bp.get(BASE)
def list_indicator_values(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "indicator.read")
    result = _result(actor, project)
    # From the same database as the figures, so "as of" describes them even when the replica lags.
    fresh = indicator_records.freshness(get_read_session(), project=project)
    return jsonify(
        {
            "class": _output_class(project),
            "freshness": fresh.to_json(),
            "by": list(result.by),
            "reviewStates": list(result.states),
            # Weighted by the records' survey weights (a record without one counts 1), or not.
            "method": "weighted" if query_from_args().weighted else "unweighted",
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
    output_class = _output_class(project)
    share = query.parse(ShareArgs()).get("shareClass")
    classification.check_share(share, output_class, what="indicator table")
    result = _result(actor, project)
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
            "rowScope": row_access.scope_label(get_session(), actor, project, figures=True),
            "class": output_class,
        },
    )
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


for _view in (list_indicator_values, export_indicator_values_csv, export_indicator_values_xlsx):
    _view.openapi_query = openapi_parameters  # type: ignore[attr-defined]


SADD_PATH = f"{BASE}/sadd"


def sadd_json(row: SaddRow) -> dict[str, Any]:
    dims = {k: ("total" if v == TOTAL else v) for k, v in row.key.items()}
    return {
        "instrument": row.instrument,
        "dimensions": {k: v for k, v in dims.items() if k not in ("sex_gender", "age_band")},
        "sex": dims["sex_gender"],
        "ageBand": dims["age_band"],
        "persons": row.persons,
        "suppressed": row.suppressed,
        "suppressionReason": row.reason,
        "periodStart": row.period_start,
        "periodEnd": row.period_end,
    }


@bp.get(SADD_PATH)
def list_persons_by_sex_and_age(project_id: int) -> Response:
    """Persons by sex and age band (the SADD grid), per instrument, suppressed."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "indicator.read")
    rows = row_access.figure_rows(get_session(), actor, project)
    result = compute_sadd(get_read_session(), project=project, query=query_from_args(), rows=rows)
    fresh = indicator_records.freshness(get_read_session(), project=project)
    return jsonify(
        {
            "class": _output_class(project),
            "freshness": fresh.to_json(),
            "by": list(result.by),
            "reviewStates": list(result.states),
            "method": "unweighted",
            "rows": [sadd_json(r) for r in result.rows],
        }
    )


def _sadd_download(project_id: int, kind: str) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "indicator.read")
    rows = row_access.figure_rows(get_session(), actor, project)
    output_class = _output_class(project)
    classification.check_share(query.parse(ShareArgs()).get("shareClass"), output_class, what="persons table")
    result = compute_sadd(get_read_session(), project=project, query=query_from_args(), rows=rows)
    label = classification.LABELS[output_class]
    body = export.sadd_to_csv(result) if kind == "csv" else export.sadd_to_xlsx(result, label)
    audit.record(
        get_session(),
        actor=actor,
        action="indicators.export",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={
            "format": kind,
            "table": "sadd",
            "query": request.args.to_dict(flat=False),
            "rows": len(result.rows),
            "class": output_class,
        },
    )
    response = Response(body, mimetype="text/csv" if kind == "csv" else XLSX)
    response.headers["Content-Disposition"] = content_disposition(f"persons-project-{project.id}.{kind}")
    response.headers[classification.HEADER] = label
    return response


@bp.get(f"{SADD_PATH}.csv")
def export_persons_by_sex_and_age_csv(project_id: int) -> Response:
    return _sadd_download(project_id, "csv")


@bp.get(f"{SADD_PATH}.xlsx")
def export_persons_by_sex_and_age_xlsx(project_id: int) -> Response:
    return _sadd_download(project_id, "xlsx")


def sadd_openapi_parameters() -> list[dict[str, Any]]:
    keep = {
        "period",
        "periodIn",
        "includeReceived",
        *(d for d in DIMENSIONS if d not in ("sex_gender", "age_band")),
    }
    found = [p for p in openapi_parameters() if p["name"] in keep]
    found.insert(
        0,
        {
            "name": "by",
            "in": "query",
            "required": False,
            "description": "Up to 2 more dimensions beside sex and age band: "
            + ", ".join(d for d in DIMENSIONS if d not in ("sex_gender", "age_band")),
            "schema": {"type": "string"},
        },
    )
    return found


for _view in (
    list_persons_by_sex_and_age,
    export_persons_by_sex_and_age_csv,
    export_persons_by_sex_and_age_xlsx,
):
    _view.openapi_query = sadd_openapi_parameters  # type: ignore[attr-defined]


MAPPING = "/projects/<int:project_id>/forms/<xml_form_id>/mapping"


@bp.get(MAPPING)
def get_form_mapping(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "mapping.read")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    return jsonify(indicator_mappings.describe(session, form=form))


@bp.put(MAPPING)
@accepts(bodies.MappingDocument)
def put_form_mapping(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "mapping.update")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    body = load_body()
    document = body.get("document", body)
    indicator_mappings.confirm(session, actor=actor, project=project, form=form, document=document)
    described = indicator_mappings.describe(session, form=form)
    return jsonify(described)
