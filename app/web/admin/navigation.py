"""The way in: organisations → projects → forms, each with the day's numbers."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.db import get_session
from app.models import Organisation
from app.services import projects as project_service
from app.services.protection import row_access
from app.services.publishing import versions as form_service
from app.services.submissions import counts as submission_counts
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu


@bp.get("/")
def index() -> str:
    actor = current_actor()
    db = get_session()
    visible = project_service.list_projects(db, actor=actor)
    counts = submission_counts.counts_by_project(
        db, project_ids=[p.id for p in visible], rows=row_access.visible_rows_of(db, actor, visible)
    )
    org_ids = sorted({p.organisation_id for p in visible})
    orgs = list(
        db.scalars(select(Organisation).where(Organisation.id.in_(org_ids)).order_by(Organisation.name))
    )
    by_org = {o.id: [p for p in visible if p.organisation_id == o.id and not p.is_archived] for o in orgs}
    return render_template("admin/index.html", orgs=orgs, by_org=by_org, counts=counts)


@bp.get("/projects/<int:project_id>")
def project(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "form.list")
    db = get_session()
    forms = form_service.list_forms(db, project=p)
    counts = submission_counts.counts_by_form(
        db, project_ids=[p.id], rows=row_access.visible_rows(db, actor, p)
    )
    return render_template(
        "admin/project.html",
        project=p,
        forms=forms,
        counts=counts,
        may_review=actor.can(db, "submission.list", p.id),
        may_manage=actor.can(db, "form.manage", p.id),
        today=submission_counts.day_and_week_start()[0].date().isoformat(),
        project_menu=project_menu(p, "admin.project"),
    )
