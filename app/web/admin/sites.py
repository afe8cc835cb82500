"""The site registry of a project: the sites with their P-codes and coordinates, an import with its
row-by-row report, and an edit form for one site. Same services and access rules (``site.read``,
``site.manage``) as the JSON API."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from app.db import get_session
from app.errors import InvalidValueError, SiteImportError
from app.models import Project
from app.services import sites as site_service
from app.services.audit import events as audit
from app.sites import places, registry
from app.web import query
from app.web.admin import bp
from app.web.admin.context import CSP, add_project_menu_item, current_actor, project_for, project_menu
from app.web.admin.maps import _tile_origin

add_project_menu_item("admin.sites", "Site registry", action="site.read")
MAX_UPLOAD = 20 * 1024 * 1024


class EditArgs(query.QuerySchema):
    code = query.Text(max_length=64)


def _page(
    p: Project, *, report: dict[str, Any] | None = None, error: str = "", status: int = 200
) -> tuple[str, int]:
    session = get_session()
    rows = site_service.list_sites(session, project_id=p.id)
    gazetteer = places.shipped()
    for row in rows:
        for level in ("adm1", "adm2"):
            unit = gazetteer.unit(str(row[f"{level}_pcode"])) if row[f"{level}_pcode"] else None
            row[f"{level}_name"] = unit.name if unit else ""
    html = render_template(
        "admin/sites.html",
        project=p,
        sites=rows,
        report=report,
        error=error,
        may_manage=current_actor().can(session, "site.manage", p.id),
        is_admin=current_actor().is_admin,
        site_types=registry.SITE_TYPES,
        project_menu=project_menu(p, "admin.sites"),
    )
    return html, status


@bp.get("/projects/<int:project_id>/sites")
def sites(project_id: int) -> tuple[str, int]:
    actor = current_actor()
    p = project_for(actor, project_id, "site.read")
    audit.record(
        get_session(),
        actor=actor,
        action="sites.read",
        project_id=p.id,
        subject_type="dataset",
        subject_id="sites",
    )
    return _page(p)


@bp.get("/projects/<int:project_id>/sites/map")
def sites_map(project_id: int) -> Response:
    """The registry on the form map's page and script (vendored Leaflet; no other origin unless an admin
    configured a tile server)."""
    actor = current_actor()
    p = project_for(actor, project_id, "site.read")
    tiles = current_app.config.get("MAP_TILE_URL") or ""
    origin = _tile_origin(tiles) if tiles else None
    body = render_template(
        "admin/sites_map.html",
        project=p,
        tiles=tiles if origin else "",
        attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        may_manage=current_actor().can(get_session(), "site.manage", p.id),
        # The registry names its types in es, en and pt: the reader's language, else English.
        site_types={
            code: labels.get(str(get_locale()), labels["en"]) for code, labels in registry.SITE_TYPES.items()
        },
        project_menu=project_menu(p, "admin.sites"),
    )
    response = Response(body, mimetype="text/html")
    if origin:
        response.headers["Content-Security-Policy"] = CSP.replace(
            "img-src 'self' data:", f"img-src 'self' data: {origin}"
        )
    return response


@bp.get("/projects/<int:project_id>/sites/map.geojson")
def sites_map_data(project_id: int) -> Response:
    """The registry's sites with coordinates as GeoJSON points (audited like the registry page)."""
    actor = current_actor()
    p = project_for(actor, project_id, "site.read")
    session = get_session()
    features, without = [], 0
    for row in site_service.list_sites(session, project_id=p.id):
        try:
            lat, lon = float(row["latitude"]), float(row["longitude"])
        except (TypeError, ValueError):
            without += 1
            continue
        props = {k: row[k] for k in ("code", "site_type", "capacity", "status", "adm1_pcode", "adm2_pcode")}
        props["name"] = row["name_es"] or row["name_en"] or row["name_pt"] or row["code"]
        features.append(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}
        )
    audit.record(
        session,
        actor=actor,
        action="sites.read",
        project_id=p.id,
        subject_type="dataset",
        subject_id="sites",
        details={"view": "map"},
    )
    collection = {"type": "FeatureCollection", "features": features, "withoutLocation": without}
    return Response(
        json.dumps(collection, separators=(",", ":"), ensure_ascii=False),
        mimetype="application/geo+json",
        headers={"Cache-Control": "private, no-store"},
    )


@bp.post("/projects/<int:project_id>/sites/import")
def import_sites(project_id: int) -> tuple[str, int] | Response:
    actor = current_actor()
    p = project_for(actor, project_id, "site.manage")
    upload = request.files.get("file")
    data = upload.stream.read(MAX_UPLOAD + 1) if upload else b""
    if len(data) > MAX_UPLOAD:
        return _page(p, error=gettext("The file is larger than 20 MB; split it."), status=413)
    try:
        result = site_service.import_sites(
            get_session(),
            project_id=p.id,
            data=data,
            good_rows=request.form.get("goodRows") == "true",
            actor=actor,
        )
    except SiteImportError as err:
        return _page(p, report=err.details, status=422)
    except InvalidValueError as err:
        return _page(p, error=err.message, status=400)
    report = result.as_dict()
    flash(
        gettext(
            "%(created)s sites added, %(updated)s updated, %(unchanged)s unchanged.",
            created=len(result.created),
            updated=len(result.updated),
            unchanged=len(result.unchanged),
        ),
        "ok",
    )
    if report["issues"]:
        return _page(p, report=report)
    return redirect(url_for("admin.sites", project_id=p.id), code=303)  # type: ignore[return-value]


@bp.get("/projects/<int:project_id>/sites/edit")
def edit_site(project_id: int) -> str:
    p = project_for(current_actor(), project_id, "site.manage")
    code = query.parse(EditArgs()).get("code")
    values = site_service.find_site(get_session(), project_id=p.id, code=code) if code else {}
    return _edit_page(p, values, [], existing=bool(code))


@bp.post("/projects/<int:project_id>/sites/edit")
def save_site(project_id: int) -> tuple[str, int] | Response:
    actor = current_actor()
    p = project_for(actor, project_id, "site.manage")
    values = {c: request.form.get(c, "").strip() for c in registry.COLUMNS}
    site, issues = site_service.save_site(get_session(), project_id=p.id, values=values, actor=actor)
    if site is None:
        return _edit_page(p, values, issues, existing=request.form.get("existing") == "1"), 422
    flash(gettext("Site %(code)s saved.", code=site.code), "ok")
    return redirect(url_for("admin.sites", project_id=p.id), code=303)  # type: ignore[return-value]


def _edit_page(p: Project, values: dict[str, Any], issues: list[registry.Issue], *, existing: bool) -> str:
    return render_template(
        "admin/site_edit.html",
        project=p,
        values=values,
        issues=issues,
        existing=existing,
        columns=registry.COLUMNS,
        site_types=registry.SITE_TYPES,
        statuses=registry.STATUSES,
        project_menu=project_menu(p, "admin.sites"),
    )
