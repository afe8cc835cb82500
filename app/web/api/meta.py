"""Service metadata: the OpenAPI document of everything Ruta serves, and a health check."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from sqlalchemy import text

from app.db import get_session
from app.web.api import bp

_DESCRIPTIONS = {
    "api": "JSON API (ODK Central shapes where they overlap)",
    "openrosa": "OpenRosa device protocol (ODK Collect, KoboCollect, Enketo, Web Forms)",
    "admin": "Admin web interface (HTML)",
    "odata": "OData v4 feed of each form (ODK Central's .svc)",
}


@bp.get("/openapi.json")
def openapi() -> Response:
    """An OpenAPI 3.1 document generated from the URL map, so it cannot drift from what is served."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        blueprint = rule.endpoint.split(".", 1)[0]
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
            path = path.replace(f"<path:{arg}>", f"{{{arg}}}")
        view = current_app.view_functions[rule.endpoint]
        summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": summary,
                "tags": [_DESCRIPTIONS.get(blueprint, blueprint)],
                "parameters": [
                    {"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                    for a in sorted(rule.arguments)
                ]
                + _query_parameters(view),
                "responses": {"default": {"description": "See docs; errors are {message, code, details}."}},
            }
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {"title": "Ruta", "version": "1"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
            "paths": dict(sorted(paths.items())),
        }
    )


def _query_parameters(view: Any) -> list[dict[str, Any]]:
    """The query parameters a view declares (``view.openapi_query``: a callable, so a list built from
    the indicator catalogue is read when the document is asked for)."""
    declared = getattr(view, "openapi_query", None)
    return list(declared()) if callable(declared) else []


@bp.get("/health")
def health() -> Response:
    """Liveness and database reachability."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
