"""Organisations and projects: created by the system administrator (as ``POST /v1/organisations`` and
``POST /v1/projects``); a project's settings edited by its managers (as ``PATCH /v1/projects/{id}``)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select

from app.db import get_session
from app.errors import ConflictError, InvalidValueError, NotFoundError
from app.models import Organisation, Project, User
from app.services import projects as project_service
from app.web.admin import bp
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu

add_project_menu_item("admin.project_settings", "Settings", action="project.update")

NAME_MAX = 255


def _back(url: str) -> Response:
    return redirect(url, code=303)  # type: ignore[return-value]


def _name(raw: str | None) -> str | None:
    name = (raw or "").strip()
    return name if 0 < len(name) <= NAME_MAX else None


@bp.get("/organisations")
def organisations() -> str:
    current_actor().require_admin()
    db = get_session()
    orgs = list(db.scalars(select(Organisation).order_by(Organisation.name)))
    project_counts = dict(
        db.execute(select(Project.organisation_id, func.count()).group_by(Project.organisation_id)).all()
    )
    people_counts = dict(
        db.execute(
            select(User.organisation_id, func.count())
            .where(User.organisation_id.is_not(None))
            .group_by(User.organisation_id)
        ).all()
    )
    return render_template(
        "admin/organisations.html", orgs=orgs, project_counts=project_counts, people_counts=people_counts
    )


@bp.post("/organisations")
def create_organisation() -> Response:
    actor = current_actor()
    actor.require_admin()
    code = request.form.get("code", "").strip()
    name = _name(request.form.get("name") or code)
    if name is None:
        flash(gettext("An organisation needs a name of at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.organisations"))
    try:
        org = project_service.create_organisation(get_session(), actor=actor, code=code, name=name)
    except ConflictError:
        flash(gettext("An organisation with this code already exists."), "error")
        return _back(url_for("admin.organisations"))
    except InvalidValueError:
        flash(
            gettext("An organisation code is 1-64 letters, digits, '.', '_' or '-', e.g. 'ACNUR-ECU'."),
            "error",
        )
        return _back(url_for("admin.organisations"))
    flash(gettext("Organisation %(name)s created.", name=org.name), "ok")
    return _back(url_for("admin.organisation", organisation_id=org.id))


def _organisation(organisation_id: int) -> Organisation:
    current_actor().require_admin()
    org = get_session().get(Organisation, organisation_id)
    if org is None:
        raise NotFoundError()
    return org


@bp.get("/organisations/<int:organisation_id>")
def organisation(organisation_id: int) -> str:
    org = _organisation(organisation_id)
    db = get_session()
    return render_template(
        "admin/organisation.html",
        org=org,
        projects=list(
            db.scalars(select(Project).where(Project.organisation_id == org.id).order_by(Project.name))
        ),
        people=list(db.scalars(select(User).where(User.organisation_id == org.id).order_by(User.email))),
    )


@bp.post("/organisations/<int:organisation_id>")
def update_organisation(organisation_id: int) -> Response:
    org = _organisation(organisation_id)
    name = _name(request.form.get("name"))
    if name is None:
        flash(gettext("An organisation needs a name of at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.organisation", organisation_id=org.id))
    project_service.update_organisation(get_session(), actor=current_actor(), organisation=org, name=name)
    flash(gettext("Saved."), "ok")
    return _back(url_for("admin.organisation", organisation_id=org.id))


def _countries(raw: str | None) -> list[str] | None:
    codes = [c.strip().upper() for c in (raw or "").replace(";", ",").split(",") if c.strip()]
    try:
        return project_service.validate_countries(codes)
    except InvalidValueError:
        return None


@bp.post("/organisations/<int:organisation_id>/projects")
def create_project(organisation_id: int) -> Response:
    org = _organisation(organisation_id)
    name = _name(request.form.get("name"))
    countries = _countries(request.form.get("countries"))
    if name is None:
        flash(gettext("A project needs a name of at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.organisation", organisation_id=org.id))
    if countries is None:
        flash(gettext("Countries are ISO 3166-1 alpha-3 codes separated by commas, e.g. COL, ECU."), "error")
        return _back(url_for("admin.organisation", organisation_id=org.id))
    p = project_service.create_project(
        get_session(),
        actor=current_actor(),
        organisation=org,
        name=name,
        description=request.form.get("description", "")[:10_000],
        countries=countries,
    )
    flash(gettext("Project %(name)s created. Give people roles in it here.", name=p.name), "ok")
    return _back(url_for("admin.project_people", project_id=p.id))


@bp.get("/projects/<int:project_id>/settings")
def project_settings(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "project.update")
    return render_template(
        "admin/project_settings.html", project=p, project_menu=project_menu(p, "admin.project_settings")
    )


@bp.post("/projects/<int:project_id>/settings")
def update_project_settings(project_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "project.update")
    name = _name(request.form.get("name"))
    countries = _countries(request.form.get("countries"))
    if name is None:
        flash(gettext("A project needs a name of at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.project_settings", project_id=p.id))
    if countries is None:
        flash(gettext("Countries are ISO 3166-1 alpha-3 codes separated by commas, e.g. COL, ECU."), "error")
        return _back(url_for("admin.project_settings", project_id=p.id))
    project_service.update_project(
        get_session(),
        actor=actor,
        project=p,
        changes={
            "name": name,
            "description": request.form.get("description", "")[:10_000],
            "countries": countries,
            "indicators_include_received": request.form.get("indicators_include_received") == "on",
            "is_archived": request.form.get("is_archived") == "on",
        },
    )
    flash(gettext("Saved."), "ok")
    return _back(url_for("admin.project_settings", project_id=p.id))
