"""Work done by the job worker, seen from the API: export jobs of a form and a project's webhooks.

Export jobs: ``POST .../forms/{id}/exports`` with ``format`` and the export options (as for the
streamed downloads) answers 202 with the run's id; ``GET .../exports/{eid}`` says its status and
progress; ``GET .../exports/{eid}/file`` serves the file once done (audited). Webhooks:
``GET|POST /projects/{pid}/webhooks``, ``DELETE .../webhooks/{wid}`` (managers).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, url_for

from app.blobs import get_blob_store
from app.db import get_session
from app.services import webhooks
from app.services.exports import runs as export_runs
from app.services.publishing import versions as form_service
from app.web.api import bodies, bp
from app.web.api.exports import option_text
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body

EXPORTS = "/projects/<int:project_id>/forms/<xml_form_id>/exports"


@bp.post(EXPORTS)
@accepts(bodies.ExportRequest)
def request_export(project_id: int, xml_form_id: str) -> tuple[Response, int, dict[str, str]]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.export")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    body = load_body()
    fmt = str(body.pop("format", "csv.zip"))
    options = {k: option_text(v) for k, v in body.items()}
    run = export_runs.request_export(
        session, actor=actor, project=project, form=form, fmt=fmt, options=options
    )
    location = url_for("api.export_status", project_id=project_id, xml_form_id=xml_form_id, export_id=run.id)
    return jsonify(export_runs.describe(run)), 202, {"Location": location}


def _run(project_id: int, xml_form_id: str, export_id: int) -> tuple[Any, Any, Any]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.export")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    return (
        actor,
        project,
        export_runs.get_run(session, actor=actor, project=project, form=form, run_id=export_id),
    )


@bp.get(EXPORTS + "/<int:export_id>")
def export_status(project_id: int, xml_form_id: str, export_id: int) -> Response:
    _, _, run = _run(project_id, xml_form_id, export_id)
    return jsonify(export_runs.describe(run))


@bp.get(EXPORTS + "/<int:export_id>/file")
def export_file(project_id: int, xml_form_id: str, export_id: int) -> Response:
    actor, project, run = _run(project_id, xml_form_id, export_id)
    export_runs.download(get_session(), actor=actor, project=project, run=run)
    assert run.blob_sha256 is not None
    response = Response(get_blob_store().iter_chunks(run.blob_sha256), mimetype=run.content_type)
    response.headers["Content-Length"] = str(run.size)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(run.filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


WEBHOOKS = "/projects/<int:project_id>/webhooks"


@bp.get(WEBHOOKS)
def list_webhooks(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "webhook.manage")
    return jsonify([webhooks.describe(h) for h in webhooks.list_webhooks(get_session(), project=project)])


@bp.post(WEBHOOKS)
@accepts(bodies.NewWebhook)
def create_webhook(project_id: int) -> tuple[Response, int]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "webhook.manage")
    body = load_body()
    events = body.get("events")
    hook = webhooks.create_webhook(
        get_session(),
        actor=actor,
        project=project,
        url=body["url"],
        secret=body.get("secret") or None,
        events=events,
    )
    return jsonify(webhooks.describe(hook, with_secret=True)), 201


@bp.delete(WEBHOOKS + "/<int:webhook_id>")
def delete_webhook(project_id: int, webhook_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "webhook.manage")
    session = get_session()
    hook = webhooks.get_webhook(session, project=project, webhook_id=webhook_id)
    webhooks.delete_webhook(session, actor=actor, project=project, webhook=hook)
    return jsonify({"success": True})
