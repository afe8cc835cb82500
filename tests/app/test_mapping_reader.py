"""Issue 14 item 3: one reader of the mapping document. The API's PUT and the admin's YAML/JSON view read
a sent document by the same rule (a pasted GET answer or PUT body is read as the document it wraps) and
refuse a malformed one with the same message."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest

from tests.app import indicator_fixtures as fx
from tests.app.admin_helpers import login, post
from tests.app.conftest import World

# What is sent, and the message both answer with (None: accepted as a confirmed mapping).
SENT: list[tuple[Any, str | None]] = [
    ({"document": fx.PT_MAPPING, "status": "suggested", "problems": []}, None),
    ({"document": None}, "Send the mapping document as a JSON object."),
    ({"document": "fields: {}"}, "Send the mapping document as a JSON object."),
    ({"document": {"fields": {}}}, "The mapping document is malformed at form: needs at least an id"),
    ({"form": {"id": fx.PT}, "fields": []}, "The mapping document is malformed at fields: "),
]


@pytest.mark.parametrize(("sent", "message"), SENT)
def test_the_api_and_the_admin_read_a_document_alike(world: World, sent: Any, message: str | None) -> None:
    fx.publish_pt(world)
    api = f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping"
    page = f"/admin/projects/{world.project_id}/forms/{fx.PT}/mapping"
    res = world.client.put(api, json=sent, headers=world.headers("manager"))
    browser = login(world, "manager")
    # In English, to compare with the API's message (the admin translates the checker's messages).
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    admin = post(browser, page, {"document": json.dumps(sent)}, page=page)
    if message is None:
        assert res.status_code == 200 and res.json["status"] == "confirmed", res.json
        assert admin.status_code == 303, admin.text[:500]
        return
    assert res.status_code == 400 and res.json["message"].startswith(message), res.json
    assert admin.status_code == 400
    shown = admin.text.replace("&#34;", '"')
    # The admin lists a malformed document's problems (translated at render time) under its summary,
    # where the API puts them in details: the same problems, from the same reader.
    problems = res.json.get("details", {}).get("problems") or []
    if problems:
        assert all(html.escape(p["message"], quote=False) in shown for p in problems), problems
    else:
        assert html.escape(res.json["message"], quote=False) in shown
