"""JSON request bodies are loaded by the schemas of ``app/web/api/bodies.py`` (``app/web/query.py``), and
the OpenAPI document describes them from the same classes. The junk walk of every route
(``test_junk_input.py``) sends junk to each declared field; here the document, the one reader of JSON
bodies, and what a client is told."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import func, select

from app.db import get_database
from app.models import Entity, Project
from tests.app.conftest import World

APP = Path(__file__).resolve().parents[2] / "app"


def _document(world: World) -> dict[str, Any]:
    res = world.client.get("/v1/openapi.json")
    assert res.status_code == 200
    doc: dict[str, Any] = res.json
    return doc


def test_the_openapi_document_is_valid_and_describes_every_json_body(world: World) -> None:
    doc = _document(world)
    validate(doc)  # type: ignore[arg-type]
    schemas = doc["components"]["schemas"]
    described = 0
    for rule in world.app.url_map.iter_rules():
        declared = getattr(world.app.view_functions[rule.endpoint], "body_schema", None)
        if declared is None:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            body = doc["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
            ref = body["$ref"] if "$ref" in body else body["anyOf"][0]["$ref"]
            component = schemas[ref.rsplit("/", 1)[1]]
            # The same fields as the schema that loads the body, with its required ones.
            assert set(component["properties"]) == set(declared().fields), (path, method)
            assert set(component.get("required", [])) == {
                k for k, f in declared().fields.items() if f.required
            }
            described += 1
    assert described >= 33  # every JSON body of the API (33 routes and methods today)
    project = schemas["NewProject"]
    assert project["required"] == ["name"]  # Central's {name} alone
    assert project["properties"]["name"] == {"type": "string", "maxLength": 1000}
    assert project["properties"]["organisationId"]["type"] == ["integer", "null"]
    assert schemas["ProjectChanges"]["additionalProperties"] is False  # a PATCH refuses typos
    assert schemas["NewProject"]["additionalProperties"] is True  # Central clients' extra fields pass
    # A route that takes a bare array of rows says so.
    rows = doc["paths"]["/v1/projects/{project_id}/activities"]["post"]["requestBody"]
    assert rows["content"]["application/json"]["schema"]["anyOf"][1]["type"] == "array"


def test_json_bodies_are_read_in_one_place() -> None:
    """No module reads a request's JSON but the schema loader: a view that did would skip the checks
    (and the OpenAPI document would not know its body)."""
    readers = []
    for path in APP.rglob("*.py"):
        if path.name == "query.py" and path.parent.name == "web":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in {"get_json", "json"}:
                value = node.value
                if isinstance(value, ast.Name) and value.id == "request":
                    readers.append(f"{path.relative_to(APP)}:{node.lineno}")
    assert readers == []


def test_junk_in_a_field_is_a_400_naming_it(world: World) -> None:
    admin = world.headers("admin")
    cases: list[tuple[Any, str]] = [
        ({"name": 123, "organisationId": world.org_id}, "name"),
        ({"name": ["a"], "organisationId": world.org_id}, "name"),
        ({"name": "x" * 1001, "organisationId": world.org_id}, "name"),
        ({"name": "a\u0000b", "organisationId": world.org_id}, "name"),
        ({"name": "P", "organisationId": "1"}, "organisationId"),
        ({"name": "P", "organisationId": 2**40}, "organisationId"),
        ({"name": "P", "organisationId": world.org_id, "countries": "ECU"}, "countries"),
    ]
    for sent, field in cases:
        res = world.client.post("/v1/projects", json=sent, headers=admin)
        assert res.status_code == 400, (sent, res.json)
        assert res.json["code"] == "400.4" and field in res.json["message"], res.json
        assert res.json["details"]["field"] == field
    res = world.client.post("/v1/projects", json={"organisationId": world.org_id}, headers=admin)
    assert res.status_code == 400 and res.json["code"] == "400.3"
    assert res.json["message"] == "The request body is missing: name is required."
    # A PATCH names the field it does not know, rather than changing nothing.
    res = world.client.patch(f"/v1/projects/{world.project_id}", json={"nmae": "Tumbes"}, headers=admin)
    assert res.status_code == 400 and "nmae is not a field of this request" in res.json["message"]
    res = world.client.patch(f"/v1/projects/{world.project_id}", json={"x" * 50_000: 1}, headers=admin)
    assert res.status_code == 400 and len(res.json["message"]) < 300  # the client's key is not echoed whole
    res = world.client.patch(
        f"/v1/projects/{world.project_id}", json={"archived": "yes"}, headers=world.headers("manager")
    )
    assert res.status_code == 400 and "archived must be true or false" in res.json["message"]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Project).where(Project.name == "P")) == 0
        assert not s.get(Project, world.project_id).is_archived  # type: ignore[union-attr]


def test_bodies_that_are_not_json_objects_are_a_400(world: World) -> None:
    admin = world.headers("admin")
    for raw in (b"", b"[]", b"null", b'"x"', b"\xff\xfe", b"\xc3\x28", b'{"name": "a"', b'{"a":' * 5000):
        res = world.client.post("/v1/projects", data=raw, content_type="application/json", headers=admin)
        assert res.status_code == 400 and res.json["code"] == "400.2", (raw[:20], res.json)


def test_a_central_client_gets_what_it_sent_to_central(world: World) -> None:
    """Central's shapes still pass: {name} alone (the caller's organisation), unknown extra fields ignored,
    and the bare array of 5W rows."""
    admin = world.headers("admin")
    res = world.client.post(
        "/v1/projects",
        json={"name": "Rumichaca", "organisationId": world.org_id, "keyId": None},
        headers=admin,
    )
    assert res.status_code == 200, res.json
    res = world.client.post(
        f"/v1/projects/{world.project_id}/app-users", json={"displayName": "Tablet 1"}, headers=admin
    )
    assert res.status_code == 200 and res.json["token"]


def test_a_bulk_of_entities_with_one_bad_item_writes_none(world: World) -> None:
    admin = world.headers("admin")
    base = f"/v1/projects/{world.project_id}/datasets"
    assert world.client.post(base, json={"name": "people"}, headers=admin).status_code == 200
    res = world.client.post(
        f"{base}/people/entities",
        json={"entities": [{"label": "Ana"}, {"label": ["Luis"]}], "source": {"name": "x"}},
        headers=admin,
    )
    assert res.status_code == 400 and "entities" in res.json["message"] and "label" in res.json["message"]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 0


def test_responses_match_the_schemas_the_document_gives(world: World) -> None:
    """The document's response shapes come from the schemas that make the responses; real answers of
    every route that declares one validate against the document (and the walk covers lists and one)."""
    doc = _document(world)
    admin = world.headers("admin")
    created = world.client.post(
        f"/v1/projects/{world.project_id}/app-users", json={"displayName": "Tablet"}, headers=admin
    ).json
    urls = {
        ("/v1/projects", "get"): "/v1/projects",
        ("/v1/projects/{project_id}", "get"): f"/v1/projects/{world.project_id}",
        ("/v1/organisations", "get"): "/v1/organisations",
        ("/v1/users", "get"): "/v1/users",
        ("/v1/users/current", "get"): "/v1/users/current",
        ("/v1/projects/{project_id}/app-users", "get"): f"/v1/projects/{world.project_id}/app-users",
    }
    declared = {
        (path, method)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if "200" in operation["responses"]
    }
    assert set(urls) <= declared
    checked = 0
    for (path, method), url in urls.items():
        shape = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**shape, "components": doc["components"]})
        res = world.client.get(url, headers=admin)
        assert res.status_code == 200
        errors = [e.message for e in validator.iter_errors(res.json)]
        assert errors == [], (url, errors)
        checked += 1
    post = doc["paths"]["/v1/projects/{project_id}/app-users"]["post"]["responses"]["200"]
    validator = Draft202012Validator({**post["content"]["application/json"]["schema"], **doc})
    assert list(validator.iter_errors(created)) == []
    # The check can fail: an answer without a documented field does not validate.
    project_shape = doc["paths"]["/v1/projects/{project_id}"]["get"]["responses"]["200"]["content"]
    validator = Draft202012Validator({**project_shape["application/json"]["schema"], **doc})
    assert list(validator.iter_errors({"id": 1, "name": "x"}))
    assert checked == len(urls)


def test_an_empty_required_text_counts_as_missing(world: World) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/hubs", json={"name": ""}, headers=world.headers("admin")
    )
    assert res.status_code == 400 and res.json["code"] == "400.3" and res.json["details"]["field"] == "name"
