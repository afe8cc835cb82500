"""Entity lists in the admin: each list with its counts, an entity's every version and the submissions
that wrote them, conflicts to resolve, updates held for an offline branch, and the CSV export."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext

from app.db import get_session
from app.services import entities as entity_lists
from app.services.audit import events as audit
from app.services.entities import from_submissions, reads
from app.web.admin import bp
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu
from app.web.downloads import content_disposition
from app.web.query import Count, QuerySchema, parse

add_project_menu_item("admin.entity_lists", "Entity lists", action="entity.list")

PAGE = 200
LIST = "/projects/<int:project_id>/entities/<dataset_name>"


class _Page(QuerySchema):
    offset = Count()


@bp.get("/projects/<int:project_id>/entities")
def entity_lists_page(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "entity.list")
    db = get_session()
    summaries = reads.summaries(db, actor=actor, project_id=p.id)
    conflicts = [
        (s.dataset, e)
        for s in summaries
        if s.conflicts
        for e in reads.entities(db, actor=actor, dataset=s.dataset, conflicts_only=True, limit=PAGE)
    ]
    return render_template(
        "admin/entity_lists.html",
        project=p,
        lists=summaries,
        conflicts=conflicts,
        project_menu=project_menu(p, "admin.entity_lists"),
    )


@bp.get(LIST)
def entity_list(project_id: int, dataset_name: str) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "entity.list")
    db = get_session()
    dataset = entity_lists.find_dataset(db, project_id=p.id, name=dataset_name)
    offset = parse(_Page()).get("offset", 0)
    rows = reads.entities(db, actor=actor, dataset=dataset, limit=PAGE, offset=offset)
    total = reads.count(db, actor=actor, dataset=dataset)
    deleted = reads.entities(db, actor=actor, dataset=dataset, deleted=True, limit=PAGE)
    may_write = actor.can(db, "entity.write", p.id)
    held = len(from_submissions.held_in(db, dataset=dataset))
    return render_template(
        "admin/entity_list.html",
        project=p,
        dataset=dataset,
        entities=rows,
        deleted=deleted,
        total=total,
        offset=offset,
        page=PAGE,
        held=held,
        may_write=may_write,
        project_menu=project_menu(p, "admin.entity_lists"),
    )


@bp.get(LIST + ".csv")
def entity_list_csv(project_id: int, dataset_name: str) -> Response:
    """The same CSV as ``/v1/…/entities.csv``, with the admin's login (a browser link just works)."""
    actor = current_actor()
    p = project_for(actor, project_id, "entity.list")
    db = get_session()
    dataset = entity_lists.find_dataset(db, project_id=p.id, name=dataset_name)
    body = b"".join(reads.export_csv(db, actor=actor, dataset=dataset))
    audit.record(
        db,
        actor=actor,
        action="entity.export",
        project_id=p.id,
        subject_type="dataset",
        subject_id=dataset.name,
        details={"rows": body.count(b"\n") - 1, "admin": True},
    )
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition(f"{dataset.name}.csv")
    return response


@bp.get(LIST + "/<uuid>")
def entity_detail(project_id: int, dataset_name: str, uuid: str) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "entity.list")
    db = get_session()
    dataset = entity_lists.find_dataset(db, project_id=p.id, name=dataset_name)
    entity = reads.entity(db, actor=actor, dataset=dataset, uuid=uuid)
    return render_template(
        "admin/entity.html",
        project=p,
        dataset=dataset,
        entity=entity,
        versions=reads.versions(db, entity=entity),
        held=reads.held_for(db, dataset=dataset, uuid=entity.uuid),
        may_resolve=actor.can(db, "entity.resolve", p.id),
        project_menu=project_menu(p, "admin.entity_lists"),
    )


@bp.post(LIST + "/<uuid>/resolve")
def resolve_entity_conflict(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "entity.resolve")
    db = get_session()
    dataset = entity_lists.find_dataset(db, project_id=p.id, name=dataset_name)
    entity = reads.entity(db, actor=actor, dataset=dataset, uuid=uuid)
    entity_lists.resolve_conflict(db, dataset=dataset, uuid=entity.uuid, actor=actor)
    flash(gettext("Conflict marked as resolved. Every version is kept."), "ok")
    target = url_for("admin.entity_detail", project_id=p.id, dataset_name=dataset.name, uuid=entity.uuid)
    return redirect(target, code=303)  # type: ignore[return-value]


@bp.post(LIST + "/backlog")
def apply_held_updates(project_id: int, dataset_name: str) -> Response:
    """Apply the offline updates still waiting for an earlier step that is not coming (flagged soft)."""
    actor = current_actor()
    p = project_for(actor, project_id, "entity.write")
    db = get_session()
    dataset = entity_lists.find_dataset(db, project_id=p.id, name=dataset_name)
    applied = from_submissions.force_backlog(db, dataset=dataset, actor=actor)
    flash(gettext("%(n)d held updates applied and flagged for review.", n=applied), "ok")
    return redirect(url_for("admin.entity_list", project_id=p.id, dataset_name=dataset.name), code=303)  # type: ignore[return-value]
