"""OData endpoints: service document, ``$metadata``, and one page of a table."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, current_app, jsonify, request

from app.db import get_session
from app.exports.odata.model import edmx, service_document
from app.exports.odata.options import encode_skiptoken, parse_address, parse_options
from app.models import Form, Project
from app.replica import get_read_session
from app.services.exports import odata
from app.services.publishing import versions as form_service
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.odata import bp

SVC = "/projects/<int:project_id>/forms/<xml_form_id>.svc"


def _form(project_id: int, xml_form_id: str, action: str) -> tuple[Project, Form, Any]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, action)
    form = form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)
    model = odata.model_for(get_session(), actor=actor, project=project, form=form)
    return project, form, model


def _origin() -> str:
    base = current_app.config.get("BASE_URL") or request.host_url
    return str(base).rstrip("/")


def _service_url(project_id: int, xml_form_id: str) -> str:
    return f"{_origin()}/v1/projects/{project_id}/forms/{quote(xml_form_id, safe='')}.svc"


@bp.get(SVC)
@bp.get(SVC + "/")
def service(project_id: int, xml_form_id: str) -> Response:
    _, _, model = _form(project_id, xml_form_id, "submission.read")
    return jsonify(service_document(model, _service_url(project_id, xml_form_id)))


@bp.get(SVC + "/$metadata")
def metadata(project_id: int, xml_form_id: str) -> Response:
    _, _, model = _form(project_id, xml_form_id, "submission.read")
    return Response(edmx(model), mimetype="application/xml")


def _next_link(token: str) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("$skip", "$skiptoken")]
    args.append(("$skiptoken", token))
    return f"{_origin()}{request.path}?" + urlencode(args, quote_via=quote, safe="$*,/'():")


@bp.get(SVC + "/<path:subpath>")
def table(project_id: int, xml_form_id: str, subpath: str) -> Response:
    """A table (``Submissions``, ``Submissions.group.repeat``) or Central's entity paths
    (``Submissions('uuid:x')/group/repeat``)."""
    actor = logged_in_actor()
    options = parse_options(request.args)
    project, form, model = _form(project_id, xml_form_id, "submission.list")
    address = parse_address(model, subpath)
    page = odata.read_page(
        get_session(),
        read_session=get_read_session(),
        actor=actor,
        project=project,
        form=form,
        model=model,
        address=address,
        options=options,
        page_size=int(current_app.config["ODATA_PAGE_SIZE"]),
        query_text=request.query_string.decode("utf-8", "replace"),
    )
    body: dict[str, Any] = {
        "value": page.rows,
        "@odata.context": f"{_service_url(project_id, xml_form_id)}/$metadata#{address.table}",
    }
    if page.next_token is not None:
        body["@odata.nextLink"] = _next_link(encode_skiptoken(page.next_token))
    if page.count is not None:
        body["@odata.count"] = page.count
    return jsonify(body)
