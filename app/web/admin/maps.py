"""The map of a form's submissions: the page, its GeoJSON (the review table's filter, audited) and the
country outlines drawn when no tile server is configured. Nothing on the page loads from another
origin unless an admin sets ``MAP_TILE_URL``; the page's CSP then allows that tile origin only."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Response, current_app, render_template, request

from app.db import get_session
from app.services.protection import row_access
from app.services.publishing import versions as form_service
from app.services.submissions import map_points as submission_map
from app.web.admin import bp
from app.web.admin.context import CSP, current_actor, project_for, project_menu
from app.web.admin.filters import filter_args, parse_filter, query_string
from app.web.admin.labels import STATE_LABELS


def _tile_origin(template: str) -> str | None:
    parts = urlsplit(template)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/map")
def submissions_map(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "submission.list")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    # Bad filter values answer 400 here, not in the map's fetch.
    parse_filter(request.args, form.id, row_access.visible_rows(db, actor, p))
    args = filter_args(request.args)
    found = submission_map.map_field(db, actor, p, form)
    tiles = current_app.config.get("MAP_TILE_URL") or ""
    origin = _tile_origin(tiles) if tiles else None
    body = render_template(
        "admin/map.html",
        project=p,
        form=form,
        args=args,
        qs_args=query_string(args),
        field=found.field,
        withheld=found.withheld,
        tiles=tiles if origin else "",
        attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        state_labels={code: str(text) for code, text in STATE_LABELS.items()},
        project_menu=project_menu(p, "admin.project"),
    )
    response = Response(body, mimetype="text/html")
    if origin:
        response.headers["Content-Security-Policy"] = CSP.replace(
            "img-src 'self' data:", f"img-src 'self' data: {origin}"
        )
    return response


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/map.geojson")
def submissions_map_data(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "submission.list")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    flt = parse_filter(request.args, form.id, row_access.visible_rows(db, actor, p))  # a partner's own rows
    found = submission_map.map_field(db, actor, p, form)
    if found.field is None:
        collection: dict[str, object] = {
            "type": "FeatureCollection",
            "features": [],
            "withheld": found.withheld.path if found.withheld else None,
        }
    else:
        collection = submission_map.feature_collection(
            db, actor=actor, project=p, form=form, flt=flt, field=found.field
        )
    return Response(
        json.dumps(collection, separators=(",", ":")),
        mimetype="application/geo+json",
        headers={"Cache-Control": "private, no-store"},
    )


@bp.get("/map/outlines.geojson")
def map_outlines() -> Response:
    current_actor()
    return Response(
        submission_map.outlines_geojson(),
        mimetype="application/geo+json",
        headers={"Cache-Control": "private, max-age=86400"},
    )
