"""Junk to every route of the URL map: every path argument and every query argument, with and without
credentials. Nothing may answer 5xx. Routes and arguments are discovered, so a new route (or a new
query argument) is covered without editing this file.

Query arguments are found by recording which ones a route reads on a clean request (``request.args``
is replaced by a recording MultiDict); a route that reads them all (``items()``: exports, OData) gets
every argument name any route reads.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Request
from flask.testing import FlaskClient
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter, Rule

from app import create_app
from app.db import get_database
from app.exports.options import KNOWN as EXPORT_OPTIONS
from app.models import AppUser, AuditEvent, FormVersion, Hub, Submission
from app.web.admin.filters import FILTER_KEYS
from tests.app.admin_helpers import login
from tests.app.conftest import PG_URL, World, _truncate_all, build_world
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root

JUNK_ARGS = ["abc", "²", "-1", "99999999999999999999", "1e3", "x" * 3000, "' OR 1=1 --", "[]", "2026-02-30"]
JUNK_INTS = [2**31, 2**63, 0]
JUNK_STRINGS = ["x" * 300, "²", "..", "صورة\u202fnarrow.png", "%25", "a b", "$metadata"]
ODATA = [
    "$top",
    "$skip",
    "$count",
    "$filter",
    "$select",
    "$expand",
    "$skiptoken",
    "$format",
    "$wkt",
    "$orderby",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

_read: set[str] = set()


class RecordingArgs(ImmutableMultiDict[str, str]):
    """``request.args`` that remembers which names the view asked for ("*": it read them all)."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        _read.add(key)
        return super().get(key, default, type)

    def getlist(self, key: Any, type: Any = None) -> Any:
        _read.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key: Any) -> Any:
        _read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        _read.add(str(key))
        return super().__contains__(key)

    def items(self, multi: bool = False) -> Iterator[tuple[str, str]]:  # type: ignore[override]
        _read.add("*")
        return super().items(multi)

    def to_dict(self, flat: bool = True) -> Any:
        _read.add("*")
        return super().to_dict(flat)

    def __iter__(self) -> Iterator[str]:
        _read.add("*")
        return super().__iter__()


class RecordingRequest(Request):
    parameter_storage_class = RecordingArgs


def _rules() -> list[tuple[str, str]]:
    application = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    found = []
    for rule in application.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & set(METHODS)):
            found.append((rule.rule, method))
    return found


RULES = _rules()


@pytest.fixture(scope="module")
def walked(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, dict[str, Any]]]:
    """One database for the whole walk (built once: the walk sends thousands of requests)."""
    tmp = tmp_path_factory.mktemp("walk")
    if PG_URL:
        _truncate_all(PG_URL)
        url = PG_URL
    else:
        shutil.copyfile(migrated_database.removeprefix("sqlite:///"), tmp / "walk.sqlite3")
        url = f"sqlite:///{tmp / 'walk.sqlite3'}"
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "test-secret",
        "ODK_VALIDATE": False,
        "ALLOW_BASIC_OVER_HTTP": True,
    }
    application = create_app(config)
    world = build_world(application, application.test_client())
    yield world, _seed(world)
    get_database(application).dispose()


@pytest.fixture
def walk(walked: tuple[World, dict[str, Any]]) -> dict[str, Any]:
    return walked[1]


@pytest.fixture
def world(walked: tuple[World, dict[str, Any]]) -> World:  # this module's world is the walked one
    return walked[0]


def _seed(world: World) -> dict[str, Any]:
    """A world where every kind of path argument has a real value to start from."""
    publish_xml(world, SIMPLE_FORM)
    token = device_token(world)["token"]
    assert (
        post_submission(world, root(world, token), instance("uuid:walk"), {"a.jpg": b"x"}).status_code == 201
    )
    hub = world.client.post(
        f"/v1/projects/{world.project_id}/hubs", json={"name": "Hub"}, headers=world.headers("admin")
    ).json
    # An entity list with one entity (issue 19), for the /datasets/<dataset_name>/… paths.
    admin = world.headers("admin")
    world.client.post(f"/v1/projects/{world.project_id}/datasets", json={"name": "walk"}, headers=admin)
    world.client.post(
        f"/v1/projects/{world.project_id}/datasets/walk/properties", json={"name": "p"}, headers=admin
    )
    entity = world.client.post(
        f"/v1/projects/{world.project_id}/datasets/walk/entities",
        json={"label": "Walk", "data": {"p": "x"}},
        headers=admin,
    ).json
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sha = s.scalar(select(FormVersion.sha256))
        app_user_id = s.scalar(select(AppUser.id))
        submission_id = s.scalar(select(Submission.id))
        hub_id = s.scalar(select(Hub.id))
    world.app.request_class = RecordingRequest
    return {
        "project_id": world.project_id,
        "xml_form_id": "photo",
        "instance_id": "uuid:walk",
        "name": "a.jpg",
        "token": token,
        "app_user_id": app_user_id,
        "hub_id": hub_id,
        "user_id": world.user_ids["manager"],
        "organisation_id": world.org_id,
        "role": "manager",
        "role_id": "app-user",
        "version": "2",
        "sha256": sha,
        "fmt": "png",
        "kind": "csv",
        "table": "flows",
        "submission_id": submission_id,
        "subpath": "Submissions",
        "hub_token": hub["token"],
        # Ids of rows the walk need not create: junk and a well-formed id of nothing both must be 4xx.
        "export_id": 1,
        "webhook_id": 1,
        "report_id": 1,
        "upload_id": "0" * 64,
        "version_id": "uuid:walk",
        "job_id": 1,
        "delivery_id": 1,
        "partner_organisation_id": world.other_org_id,
        "dataset_name": "walk",
        "uuid": entity["uuid"],
    }


def _url(rule: Rule, values: dict[str, Any]) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(values[name]), url)
    return url


def _send(client: FlaskClient, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> int:
    res = client.open(url, method=method, headers=headers, **kwargs)
    # 501.41 is the catalogue's deliberate answer to valid OData Ruta does not offer ($apply), as Central.
    deliberate = res.status_code == 501 and b'"501.41"' in res.data
    assert res.status_code < 500 or deliberate, (method, url[:200], res.status_code, res.data[:400])
    return res.status_code


def _body(method: str) -> dict[str, Any]:
    return {} if method in {"GET", "DELETE"} else {"json": {}}


@pytest.mark.parametrize(("path", "method"), RULES, ids=[f"{m} {p}" for p, m in RULES])
def test_no_junk_gives_a_5xx(walk: dict[str, Any], world: World, path: str, method: str) -> None:
    app: Flask = world.app
    rule = next(r for r in app.url_map.iter_rules() if r.rule == path)
    admin_client = login(world, "admin") if path.startswith("/admin") else world.client
    credentials = {} if path.startswith("/admin") else world.headers("admin")
    if "/hub/" in path or path.endswith("/hub"):
        credentials = {"Authorization": f"Hub {walk['hub_token']}"}
    anonymous = app.test_client()
    # <table> names a response table (flows) in the admin, and an entity list's OData table;
    # <organisation_id> an organisation to edit in the admin, and a partner of the project in the API.
    values = {**walk, "table": "Entities"} if ".svc/" in path else dict(walk)
    if "/partners/" in path:
        values["organisation_id"] = walk["partner_organisation_id"]
    url = _url(rule, values)

    # What does this route read from the query string?
    _read.clear()
    _send(admin_client, method, url, credentials, **_body(method))
    names = set(_read)
    if "*" in names:
        names = (names - {"*"}) | set(EXPORT_OPTIONS) | set(FILTER_KEYS) | set(ODATA) | {"limit", "offset"}
    for i, name in enumerate(sorted(names)):
        junk = JUNK_ARGS if len(names) < 12 else JUNK_ARGS[i % 3 :: 3]  # all of it where it is read
        for value in junk:
            _send(admin_client, method, url, credentials, query_string={name: value}, **_body(method))

    # Every path argument, with and without credentials.
    for arg, converter in rule._converters.items():
        bad_values: list[Any] = JUNK_INTS if isinstance(converter, IntegerConverter) else JUNK_STRINGS
        for bad in bad_values:
            bad_url = _url(rule, {**walk, arg: bad})
            _send(admin_client, method, bad_url, credentials, **_body(method))
            _send(anonymous, method, bad_url, {}, **_body(method))

    # Without credentials, junk everywhere at once; and junk bodies where a body is read.
    _send(anonymous, method, url, {}, query_string={n: "²" for n in names})
    if method != "GET":
        for body in (b"[]", b'{"a":' * 5000, b"\xff\xfe", b'{"name": "a\\u0000b", "displayName": "\\u0000"}'):
            _send(admin_client, method, url, credentials, data=body, content_type="application/json")
        _send(admin_client, method, url, credentials, data=io.BytesIO(b"\x00" * 64), content_type="text/xml")
    declared = getattr(app.view_functions[rule.endpoint], "body_schema", None)
    if method in BODY_METHODS and declared is not None:
        _junk_bodies(world, admin_client, method, url, credentials, declared)


BODY_METHODS = {"POST", "PUT", "PATCH"}
# Junk for one field of a JSON body: every JSON type it is not, too long, NUL, deep, huge numbers.
JUNK_FIELD_VALUES: list[Any] = [
    None,
    True,
    2**70,
    -1,
    1.5,
    "x" * 200_000,
    "a\u0000b",
    [],
    ["x" * 5000] * 3,
    {},
    {"a": {"a": {"a": [1, {"b": None}]}}},
    [[[[[[[[[[[]]]]]]]]]]],
    "²",
]
NON_OBJECTS = [b"", b"null", b"1", b'"text"', b"[1, 2]", b"[{}]", b"{", b'{"a": 1}}', b"\xc3\x28", b"\x00{}"]


def _audit_rows(world: World) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _junk_bodies(
    world: World, client: FlaskClient, method: str, url: str, headers: dict[str, str], schema: type[Schema]
) -> None:
    """Each field of the route's declared body gets every kind of junk (the others left out), and the
    body itself every non-object: each is a 4xx, never a 5xx, and a 400 leaves no audit row (nothing
    written). A typed field (text, flag, number, list of texts) that gets a value of the wrong type or
    size is a 400 naming it."""
    for raw in NON_OBJECTS:
        before = _audit_rows(world)
        res = client.open(url, method=method, headers=headers, data=raw, content_type="application/json")
        assert 400 <= res.status_code < 500, (method, url, raw, res.status_code, res.data[:300])
        if res.status_code == 400:  # (a refused 5W upload, 422, is kept on purpose for its error report)
            assert _audit_rows(world) == before, (method, url, raw)
    for name, field in schema().fields.items():
        typed = type(field) is not fields.Raw  # Raw: any JSON, read by the service
        for value in JUNK_FIELD_VALUES:
            before = _audit_rows(world)
            res = client.open(url, method=method, headers=headers, json={name: value})
            assert res.status_code < 500, (
                method,
                url,
                name,
                repr(value)[:80],
                res.status_code,
                res.data[:400],
            )
            if res.status_code == 400:
                assert _audit_rows(world) == before, (method, url, name, repr(value)[:80])
            if typed and not _fits(field, value) and res.status_code not in (403, 404):
                # (403/404: the caller was refused before the body was read, e.g. another's password.)
                assert res.status_code == 400, (method, url, name, repr(value)[:80], res.status_code)
                assert name in res.json["message"], (name, res.json)


def _fits(field: fields.Field, value: Any) -> bool:
    """Whether the junk value is one a field of this kind takes (then the route may well accept it)."""
    try:
        field.deserialize(value)
    except ValidationError:
        return False
    return True


def test_a_batch_with_a_deep_json_item_is_answered_per_item(walk: dict[str, Any], world: World) -> None:
    deep = '{"id": "photo", "submission": ' + '{"g": ' * 600 + "1" + "}" * 600 + "}"
    plain = '{"id": "photo", "version": "2", "submission": {"name": "Ana", "meta": {"instanceID": "uuid:j"}}}'
    body = f"[{deep}, {plain}]"
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=body,
        content_type="application/json",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    assert [r["status"] for r in res.json["results"]] == ["error", "created"]
    deeper = "[" * 100_000 + "]" * 100_000
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=deeper,
        content_type="application/json",
        headers=world.headers("admin"),
    )
    assert res.status_code == 400 and res.json["code"] == "400.20"
