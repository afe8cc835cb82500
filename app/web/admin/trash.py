"""Deleting and restoring submissions in the admin, and a form's trash with what the purge will take."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext

from app.db import get_session
from app.errors import NotFoundError
from app.models import Form, Submission
from app.services.protection import retention
from app.services.publishing import versions as form_service
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu
from app.web.admin.submissions import submission_for


@bp.post("/submissions/<int:submission_id>/delete")
def delete_submission(submission_id: int) -> Response:
    actor = current_actor()
    p, form, sub = submission_for(actor, submission_id, "submission.delete")
    retention.trash(get_session(), actor=actor, project=p, form=form, submission=sub)
    flash(
        gettext("Moved to the trash. It can be restored for %(days)d days.", days=retention.RESTORE_DAYS),
        "ok",
    )
    return redirect(url_for("admin.submissions", project_id=p.id, xml_form_id=form.xml_form_id), code=303)  # type: ignore[return-value]


@bp.post("/submissions/<int:submission_id>/restore")
def restore_submission(submission_id: int) -> Response:
    actor = current_actor()
    db = get_session()
    sub = db.get(Submission, submission_id)
    if sub is None or sub.deleted_at is None:
        actor.require_login()
        raise NotFoundError()
    form = db.get(Form, sub.form_id)
    assert form is not None
    p = project_for(actor, form.project_id, "submission.delete")
    retention.restore(db, actor=actor, project=p, form=form, submission=sub)
    flash(gettext("Restored."), "ok")
    return redirect(url_for("admin.submission", submission_id=sub.id), code=303)  # type: ignore[return-value]


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/trash")
def trash(project_id: int, xml_form_id: str) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "submission.delete")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    return render_template(
        "admin/trash.html",
        project=p,
        form=form,
        rows=[(s, retention.restore_deadline(s)) for s in retention.list_trashed(db, form, limit=500)],
        plan=retention.schedule(db, form),
        restore_days=retention.RESTORE_DAYS,
        project_menu=project_menu(p, "admin.project"),
    )
