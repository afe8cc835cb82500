"""A form's data-quality checks in the admin: what is configured, and (managers) changing it. The same
service as ``PUT /v1/projects/{pid}/forms/{xmlFormId}/quality``: validated, audited."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext

from app.db import get_session
from app.errors import InvalidValueError
from app.services.publishing import versions as form_service
from app.services.quality import settings as quality_settings
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for


def _posted() -> dict[str, Any]:
    minutes = (request.form.get("min_minutes") or "").strip()
    data: dict[str, Any] = {
        "duplicateKeyFields": request.form.getlist("key_fields"),
        "enabledFlags": request.form.getlist("enabled"),
    }
    if minutes:
        try:
            data["minInterviewMinutes"] = float(minutes.replace(",", "."))
        except ValueError as err:
            raise InvalidValueError(
                gettext("The minimum interview length must be a number of minutes.")
            ) from err
    return data


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/quality")
def form_quality(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    quality_settings.update(db, actor=actor, project=p, form=f, data=_posted())
    flash(gettext("Quality checks saved; they apply to submissions from now on."), "ok")
    url = url_for("admin.form", project_id=p.id, xml_form_id=f.xml_form_id)
    return redirect(f"{url}#quality", code=303)  # type: ignore[return-value]
