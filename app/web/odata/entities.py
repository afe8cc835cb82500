"""The OData feed of an entity list (``/v1/projects/{pid}/datasets/{name}.svc``), in ODK Central's shape:
one ``Entities`` table with ``__id``, ``label``, the properties and a ``__system`` block; ``$top``,
``$skip``, ``$count`` and ``$select`` (``$filter`` is refused plainly, never ignored)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from flask import Response, current_app, jsonify, request

from app.auth.actor import Actor
from app.db import get_session
from app.errors import NotFoundError, ODataNotImplementedError, ODataQueryError
from app.exports.odata.options import parse_options
from app.models import Dataset
from app.services import entities as entity_lists
from app.services.audit import events as audit
from app.services.entities import reads
from app.web.api.projects import project_for
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor
from app.web.odata import bp

SVC = "/projects/<int:project_id>/datasets/<dataset_name>.svc"
SYSTEM = ("createdAt", "creatorId", "updates", "updatedAt", "version", "conflict")


def _dataset(project_id: int, dataset_name: str) -> tuple[Actor, Dataset]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "entity.list")
    return actor, entity_lists.find_dataset(get_session(), project_id=project.id, name=dataset_name)


def _service_url(project_id: int, dataset_name: str) -> str:
    base = str(current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    return f"{base}/v1/projects/{project_id}/datasets/{quote(dataset_name, safe='')}.svc"


@bp.get(SVC)
@bp.get(SVC + "/")
def entity_service(project_id: int, dataset_name: str) -> Response:
    _dataset(project_id, dataset_name)
    return jsonify(
        {
            "@odata.context": f"{_service_url(project_id, dataset_name)}/$metadata",
            "value": [{"name": "Entities", "kind": "EntitySet", "url": "Entities"}],
        }
    )


@bp.get(SVC + "/$metadata")
def entity_metadata(project_id: int, dataset_name: str) -> Response:
    _actor, dataset = _dataset(project_id, dataset_name)
    props = "".join(f'<Property Name={quoteattr(p)} Type="Edm.String"/>' for p in dataset.properties or [])
    system = (
        '<ComplexType Name="metadata"><Property Name="createdAt" Type="Edm.DateTimeOffset"/>'
        '<Property Name="creatorId" Type="Edm.String"/><Property Name="updates" Type="Edm.Int64"/>'
        '<Property Name="updatedAt" Type="Edm.DateTimeOffset"/><Property Name="version" Type="Edm.Int64"/>'
        '<Property Name="conflict" Type="Edm.String"/></ComplexType>'
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0"><edmx:DataServices>'
        '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.entity">'
        f"{system}</Schema>"
        '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.user">'
        '<EntityType Name="Entities"><Key><PropertyRef Name="__id"/></Key>'
        '<Property Name="__id" Type="Edm.String"/><Property Name="label" Type="Edm.String"/>'
        '<Property Name="__system" Type="org.opendatakit.entity.metadata"/>'
        f"{props}</EntityType>"
        '<EntityContainer Name="org.opendatakit.user.container">'
        '<EntitySet Name="Entities" EntityType="org.opendatakit.user.Entities"/></EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
    return Response(body, mimetype="application/xml")


@bp.get(SVC + "/<table>")
def entity_table(project_id: int, dataset_name: str, table: str) -> Response:
    actor, dataset = _dataset(project_id, dataset_name)
    if table != "Entities":
        raise NotFoundError(f"The entity list's feed has one table, Entities; not {table!r}.")
    options = parse_options(request.args)
    if options.filter is not None or options.expand or options.skiptoken is not None:
        raise ODataNotImplementedError(
            "An entity list's feed offers $top, $skip, $count and $select.", details={"option": "$filter"}
        )
    columns = ["__id", "label", "__system", *(dataset.properties or [])]
    if options.select is not None:
        unknown = [c for c in options.select if c not in columns]
        if unknown:
            raise ODataQueryError(
                f"$select names {', '.join(unknown)}, which the list does not have.",
                details={"option": "$select"},
            )
    session = get_session()
    page_size = int(current_app.config["ODATA_PAGE_SIZE"])
    limit = min(options.top, page_size) if options.top is not None else page_size
    rows = reads.entities(session, actor=actor, dataset=dataset, limit=limit, offset=options.skip)
    values = [_row(e, dataset, options.select) for e in rows]
    body: dict[str, Any] = {
        "@odata.context": f"{_service_url(project_id, dataset_name)}/$metadata#Entities",
        "value": values,
    }
    total = reads.count(session, actor=actor, dataset=dataset)
    if options.count:
        body["@odata.count"] = total
    end = min(total, options.skip + options.top) if options.top is not None else total
    served = options.skip + len(rows)
    if served < end:  # more rows were asked for than one page holds
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("$skip", "$top")]
        args.append(("$skip", str(served)))
        if options.top is not None:
            args.append(("$top", str(end - served)))
        body["@odata.nextLink"] = f"{_service_url(project_id, dataset_name)}/Entities?" + "&".join(
            f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in args
        )
    audit.record(
        session,
        actor=actor,
        action="entity.list",
        project_id=dataset.project_id,
        subject_type="dataset",
        subject_id=dataset.name,
        details={"rows": len(values), "odata": True},
    )
    return jsonify(body)


def _row(e: Any, dataset: Dataset, select: tuple[str, ...] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "__id": e.uuid,
        "label": e.label,
        "__system": {
            "createdAt": ts(e.created_at),
            "creatorId": str(e.creator_user_id or e.creator_app_user_id or ""),
            "updates": e.current_version - 1,
            "updatedAt": ts(e.updated_at),
            "version": e.current_version,
            "conflict": e.conflict,
        },
    }
    for p in dataset.properties or []:
        row[p] = (e.data or {}).get(p) or None
    if select is not None:
        row = {k: v for k, v in row.items() if k in select}
    return row
