"""Entity lists in ODK Central's API shape (``/datasets``), so pyodk's ``entity_lists`` and ``entities``
calls work: lists, properties, entities (list, read, create one or many, update with baseVersion,
delete, restore), versions, conflicts and ``entities.csv``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import fields

from app.auth.actor import Actor
from app.db import get_session
from app.errors import InvalidValueError
from app.models import Dataset, Entity, Project
from app.services import entities as entity_lists
from app.services.audit import events as audit
from app.services.entities import reads
from app.services.entities.lists import Source
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor
from app.web.downloads import content_disposition
from app.web.query import Count, QuerySchema, accepts, load_body, parse

DATASET = "/projects/<int:project_id>/datasets/<dataset_name>"
# A bulk create is one transaction; past this many entities, send several requests.
MAX_BULK = 50_000


class _Update(QuerySchema):
    baseVersion = Count(minimum=1)
    force = fields.Boolean()


class _Page(QuerySchema):
    limit = Count(minimum=1, maximum=50_000)
    offset = Count()
    deleted = fields.Boolean()


def _dataset(project_id: int, dataset_name: str, action: str) -> tuple[Actor, Project, Dataset]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, action)
    return actor, project, entity_lists.find_dataset(get_session(), project_id=project.id, name=dataset_name)


def _dataset_json(d: Dataset, summary: reads.ListSummary | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": d.name,
        "projectId": d.project_id,
        "createdAt": ts(d.created_at),
        "approvalRequired": d.approval_required,
        "ownerOnly": d.owner_only,
        "matchAttributes": list(d.match_attributes or []),
    }
    if summary is not None:
        out |= {
            "entities": summary.entities,
            "conflicts": summary.conflicts,
            "lastEntity": ts(summary.last_entity),
        }
    return out


def _entity_json(e: Entity, *, with_data: bool = False) -> dict[str, Any]:
    creator = e.creator_user_id or e.creator_app_user_id or 0
    current: dict[str, Any] = {
        "label": e.label,
        "current": True,
        "createdAt": ts(e.updated_at or e.created_at),
        "creatorId": creator,
        "userAgent": "",
        "version": e.current_version,
        "baseVersion": e.current_version - 1 if e.current_version > 1 else None,
        "conflictingProperties": None,
    }
    if with_data:
        current["data"] = dict(e.data or {})
    return {
        "uuid": e.uuid,
        "creatorId": creator,
        "createdAt": ts(e.created_at),
        "updatedAt": ts(e.updated_at),
        "deletedAt": ts(e.deleted_at),
        "conflict": e.conflict,
        "currentVersion": current,
    }


@bp.get("/projects/<int:project_id>/datasets")
def list_datasets(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "entity.list")
    rows = reads.summaries(get_session(), actor=actor, project_id=project.id)
    return jsonify([_dataset_json(r.dataset, r) for r in rows])


@bp.post("/projects/<int:project_id>/datasets")
@accepts(bodies.NewDataset)
def create_dataset(project_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "dataset.manage")
    data = load_body()
    name = data["name"]
    approval, owner_only = data.get("approvalRequired"), data.get("ownerOnly")
    session = get_session()
    dataset = entity_lists.ensure_dataset(
        session,
        project_id=project.id,
        name=name,
        approval_required=approval,
        owner_only=owner_only,
        actor=actor,
    )
    return jsonify(_dataset_json(dataset) | {"properties": []})


@bp.get(DATASET)
def get_dataset(project_id: int, dataset_name: str) -> Response:
    _actor, _project, d = _dataset(project_id, dataset_name, "entity.list")
    props: list[dict[str, Any]] = [
        {"name": p, "odataName": p, "publishedAt": ts(d.created_at), "forms": []} for p in d.properties or []
    ]
    return jsonify(_dataset_json(d) | {"properties": props, "sourceForms": [], "linkedForms": []})


@bp.patch(DATASET)
@accepts(bodies.DatasetChanges)
def update_dataset(project_id: int, dataset_name: str) -> Response:
    actor, project, d = _dataset(project_id, dataset_name, "dataset.manage")
    data = load_body()
    approval, owner_only = data.get("approvalRequired"), data.get("ownerOnly")
    match = data.get("matchAttributes")
    if approval is None and owner_only is None and match is None:
        raise InvalidValueError(
            "Send approvalRequired and/or ownerOnly (true or false), or matchAttributes (property names)."
        )
    session = get_session()
    if match is not None:
        entity_lists.set_match_attributes(session, dataset=d, names=match)
    if approval is not None:
        d.approval_required = approval
    if owner_only is not None and owner_only != d.owner_only:
        d.owner_only = owner_only
        entity_lists.bump(session, d)  # what each device is served changes
    audit.record(
        session,
        actor=actor,
        action="dataset.update",
        project_id=project.id,
        subject_type="dataset",
        subject_id=d.name,
        details={"approvalRequired": approval, "ownerOnly": owner_only, "matchAttributes": match},
    )
    return jsonify(_dataset_json(d))


@bp.post(DATASET + "/properties")
@accepts(bodies.NewProperty)
def add_property(project_id: int, dataset_name: str) -> Response:
    actor, project, d = _dataset(project_id, dataset_name, "dataset.manage")
    prop = load_body()["name"]
    entity_lists.ensure_dataset(
        get_session(), project_id=project.id, name=d.name, properties=[prop], actor=actor
    )
    return jsonify({"success": True})


@bp.get(DATASET + "/entities")
def list_entities(project_id: int, dataset_name: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.list")
    page = parse(_Page())
    rows = reads.entities(
        get_session(),
        actor=actor,
        dataset=d,
        deleted=bool(page.get("deleted")),
        limit=page.get("limit"),
        offset=page.get("offset", 0),
    )
    _audit_read(actor, d, "entity.list", len(rows))
    return jsonify([_entity_json(e, with_data=True) for e in rows])


def _audit_read(actor: Actor, d: Dataset, action: str, rows: int) -> None:
    audit.record(
        get_session(),
        actor=actor,
        action=action,
        project_id=d.project_id,
        subject_type="dataset",
        subject_id=d.name,
        details={"rows": rows},
    )


@bp.get(DATASET + "/entities/<uuid>")
def get_entity(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.list")
    e = reads.entity(get_session(), actor=actor, dataset=d, uuid=uuid)
    return jsonify(_entity_json(e, with_data=True))


@bp.get(DATASET + "/entities/<uuid>/versions")
def entity_versions(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.list")
    session = get_session()
    e = reads.entity(session, actor=actor, dataset=d, uuid=uuid)
    out = [
        {
            "version": row.version.version,
            "baseVersion": row.version.base_version,
            "trunkVersion": row.version.trunk_version,
            "branchId": row.version.branch_id,
            "branchBaseVersion": row.version.branch_base_version,
            "label": row.version.label,
            "data": row.version.data,
            "dataReceived": {k: row.version.data.get(k) for k in row.version.changed if k != "label"},
            "current": row.version.version == e.current_version,
            "conflict": row.version.conflict,
            "resolved": row.version.resolved_at is not None,
            "createdAt": ts(row.version.created_at),
            "creatorId": row.version.created_by_user_id or row.version.created_by_app_user_id or 0,
            "source": {"type": row.version.source, "submission": row.instance_id},
        }
        for row in reads.versions(session, entity=e)
    ]
    return jsonify(out)


def _entity_body(data: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    return data.get("label"), data.get("data", {})


@bp.post(DATASET + "/entities")
@accepts(bodies.NewEntities)
def create_entities(project_id: int, dataset_name: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.write")
    body = load_body()
    session = get_session()
    source = Source("api")
    if "entities" in body:  # pyodk's create_many: {"entities": [...], "source": {...}}
        items = body["entities"]
        if not items or len(items) > MAX_BULK:
            raise InvalidValueError(f"entities must be a list of 1 to {MAX_BULK} objects.")
        for index, item in enumerate(items):
            label, props = _entity_body(item)
            if not label:
                raise InvalidValueError(f"entities[{index}] needs a label.")
            entity_lists.create_entity(
                session, dataset=d, label=label, data=props, uuid=item.get("uuid"), actor=actor, source=source
            )
        return jsonify({"success": True})
    label, props = _entity_body(body)
    if not label:
        raise InvalidValueError("An entity needs a label.", details={"field": "label"})
    uuid = body.get("uuid")
    e = entity_lists.create_entity(
        session, dataset=d, label=label, data=props, uuid=uuid, actor=actor, source=source
    )
    return jsonify(_entity_json(e, with_data=True))


@bp.patch(DATASET + "/entities/<uuid>")
@accepts(bodies.EntityData)
def update_entity(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.write")
    args = parse(_Update())
    label, props = _entity_body(load_body())
    session = get_session()
    reads.entity(session, actor=actor, dataset=d, uuid=uuid)
    e = entity_lists.update_entity(
        session,
        dataset=d,
        uuid=uuid,
        data=props,
        label=label,
        base_version=args.get("baseVersion"),
        force=bool(args.get("force")),
        actor=actor,
        source=Source("api"),
    )
    return jsonify(_entity_json(e, with_data=True))


@bp.delete(DATASET + "/entities/<uuid>")
def delete_entity(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.write")
    reads.entity(get_session(), actor=actor, dataset=d, uuid=uuid)
    entity_lists.delete_entity(get_session(), dataset=d, uuid=uuid, actor=actor)
    return jsonify({"success": True})


@bp.post(DATASET + "/entities/<uuid>/restore")
def restore_entity(project_id: int, dataset_name: str, uuid: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.write")
    reads.entity(get_session(), actor=actor, dataset=d, uuid=uuid)
    e = entity_lists.restore_entity(get_session(), dataset=d, uuid=uuid, actor=actor)
    return jsonify(_entity_json(e, with_data=True))


@bp.patch(DATASET + "/entities/<uuid>/resolve")
@bp.post(DATASET + "/entities/<uuid>/resolve")
def resolve_entity(project_id: int, dataset_name: str, uuid: str) -> Response:
    """Mark the entity's conflict resolved (Central: ``PATCH …?resolve=true``); every version stays."""
    actor, _project, d = _dataset(project_id, dataset_name, "entity.resolve")
    reads.entity(get_session(), actor=actor, dataset=d, uuid=uuid)
    e = entity_lists.resolve_conflict(get_session(), dataset=d, uuid=uuid, actor=actor)
    return jsonify(_entity_json(e, with_data=True))


@bp.get(DATASET + "/entities.csv")
def entities_csv(project_id: int, dataset_name: str) -> Response:
    actor, _project, d = _dataset(project_id, dataset_name, "entity.list")
    etag = entity_lists.list_hash(d)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    body = b"".join(reads.export_csv(get_session(), actor=actor, dataset=d))
    _audit_read(actor, d, "entity.export", body.count(b"\n") - 1)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition(f"{d.name}.csv")
    response.set_etag(etag)
    return response
