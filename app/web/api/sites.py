"""The site registry of a project: list it, export it as CSV, import a CSV or XLSX with a row report.

``PUT`` takes the file as the raw body. A file with rows in error imports nothing and answers 422 with
the row-by-row report (``details.issues``); ``?goodRows=true`` imports the rows without errors and
reports the others in the 200 answer.
"""

from __future__ import annotations

from flask import Response, jsonify

from app.auth.actor import Actor
from app.db import get_session
from app.services import sites as site_service
from app.services.audit import events as audit
from app.web.api import bp
from app.web.api.helpers import flag, read_body
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor

BASE = "/projects/<int:project_id>"


@bp.get(f"{BASE}/sites")
def list_sites(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "site.read")
    session = get_session()
    rows = site_service.list_sites(session, project_id=project.id)
    _audit_read(actor, project.id, "sites.read", len(rows))
    return jsonify(rows)


@bp.get(f"{BASE}/sites.csv")
def sites_csv(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "site.read")
    rows = site_service.list_sites(get_session(), project_id=project.id)
    _audit_read(actor, project.id, "sites.export", len(rows))
    response = Response(site_service.sites_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="sites-project-{project.id}.csv"'
    return response


@bp.put(f"{BASE}/sites")
def import_sites(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "site.manage")
    good_rows = flag("goodRows")
    result = site_service.import_sites(
        get_session(),
        project_id=project.id,
        data=read_body("MAX_FORM_BYTES"),
        good_rows=good_rows,
        actor=actor,
    )
    return jsonify(result.as_dict())


def _audit_read(actor: Actor, project_id: int, action: str, count: int) -> None:
    audit.record(
        get_session(),
        actor=actor,
        action=action,
        project_id=project_id,
        subject_type="dataset",
        subject_id=site_service.LIST_NAME,
        details={"sites": count},
    )
