"""A form's data-quality settings: ``GET|PUT /v1/projects/{pid}/forms/{xmlFormId}/quality``."""

from __future__ import annotations

from flask import Response, jsonify

from app.db import get_session
from app.services.publishing import versions as form_service
from app.services.quality import settings as quality_settings
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/quality")
def get_form_quality(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = form_service.get_form(get_session(), project=p, xml_form_id=xml_form_id)
    return jsonify(quality_settings.describe(p, f))


@bp.put("/projects/<int:project_id>/forms/<xml_form_id>/quality")
@accepts(bodies.QualitySettings)
def put_form_quality(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    session = get_session()
    f = form_service.get_form(session, project=p, xml_form_id=xml_form_id)
    quality_settings.update(session, actor=actor, project=p, form=f, data=load_body())
    return jsonify(quality_settings.describe(p, f))
