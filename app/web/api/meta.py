"""Service metadata: the OpenAPI document of everything Ruta serves, and a health check."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify
from marshmallow import Schema
from sqlalchemy import text
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from app.db import get_session
from app.web.api import bp
from app.web.query import BodySchema, json_schema

_DESCRIPTIONS = {
    "api": "JSON API (ODK Central shapes where they overlap)",
    "openrosa": "OpenRosa device protocol (ODK Collect, KoboCollect, Enketo, Web Forms)",
    "admin": "Admin web interface (HTML)",
    "odata": "OData v4 feed of each form (ODK Central's .svc)",
}


@bp.get("/openapi.json")
def openapi() -> Response:
    """An OpenAPI 3.1 document generated from the URL map and the schemas that load the request bodies,
    so it cannot drift from what is served."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": _ERROR}
    operation_ids: set[str] = set()
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        blueprint = rule.endpoint.split(".", 1)[0]
        path = _PATH_ARGUMENT.sub(r"{\1}", rule.rule)  # <int:id>, <path:p>, <any(a, b):kind> -> {id}
        view = current_app.view_functions[rule.endpoint]
        summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
        declared: type[BodySchema] | None = getattr(view, "body_schema", None)
        answered: tuple[type[Schema], bool] | None = getattr(view, "response_schema", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            # One view may serve two rules (qr and qr.<fmt>): operation ids must still be unique.
            operation_id = f"{rule.endpoint}.{method.lower()}"
            while operation_id in operation_ids:
                operation_id += "_"
            operation_ids.add(operation_id)
            operation = paths.setdefault(path, {})[method.lower()] = {
                "operationId": operation_id,
                "summary": summary,
                "tags": [_DESCRIPTIONS.get(blueprint, blueprint)],
                "parameters": [
                    {"name": a, "in": "path", "required": True, "schema": _path_schema(rule, a)}
                    for a in sorted(rule.arguments)
                ]
                + _query_parameters(view),
                "responses": {
                    "default": {
                        "description": "See docs; errors are {message, code, details}.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                },
            }
            if declared is not None and method in {"POST", "PUT", "PATCH"}:
                operation["requestBody"] = _request_body(declared, components)
            if answered is not None:
                shape = json_schema(answered[0], components)
                operation["responses"]["200"] = {
                    "description": "Success",
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": shape} if answered[1] else shape
                        }
                    },
                }
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {"title": "Ruta", "version": "1"},
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": dict(sorted(components.items())),
            },
            "security": [{"bearer": []}],
            "paths": dict(sorted(paths.items())),
        }
    )


def _query_parameters(view: Any) -> list[dict[str, Any]]:
    """The query parameters a view declares (``view.openapi_query``: a callable, so a list built from
    the indicator catalogue is read when the document is asked for)."""
    declared = getattr(view, "openapi_query", None)
    return list(declared()) if callable(declared) else []


_PATH_ARGUMENT = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def _path_schema(rule: Rule, name: str) -> dict[str, Any]:
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        return {"type": "integer", "minimum": 0}
    if isinstance(converter, AnyConverter):
        return {"type": "string", "enum": sorted(converter.items)}
    return {"type": "string"}


_ERROR = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "details": {"type": "object"}},
    "required": ["message", "code"],
}


def _request_body(declared: type[BodySchema], components: dict[str, Any]) -> dict[str, Any]:
    schema = json_schema(declared, components)
    if declared.bare_list:  # also taken as a bare JSON array of that field's items
        listed = components[declared.__name__]["properties"][declared.bare_list]
        schema = {"anyOf": [schema, listed]}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


@bp.get("/health")
def health() -> Response:
    """Liveness and database reachability."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
