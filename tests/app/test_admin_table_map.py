"""The review table's answer columns (saved per form) and the submissions map (issue 17 items 3-5):
labels in the reviewer's language, choice labels, sensitive answers and locations withheld without the
grant, the table's filters on the map, audit of map reads; a device limited to some forms."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import get_database
from app.models import AppUser, Submission
from tests.app.admin_helpers import (
    MULTILINGUAL_FORM,
    ingest,
    login,
    multilingual_instance,
    post,
    publish,
    when,
)
from tests.app.conftest import World
from tests.app.form_admin_helpers import audit_rows, mark_sensitive
from tests.app.openrosa_helpers import device_token, root

TABLE = "/admin/projects/{pid}/forms/monitoreo/submissions"


def _seed(world: World) -> list[int]:
    publish(world, MULTILINGUAL_FORM)
    return [
        ingest(
            world,
            multilingual_instance("uuid:a1", name="Ana", nationality="VEN"),
            created_at=when("2026-11-20T10:00:00+00:00"),
        ),
        ingest(
            world,
            multilingual_instance("uuid:b2", name="Beto", nationality="COL"),
            created_at=when("2026-11-21T10:00:00+00:00"),
        ),
    ]


def _save_columns(client: object, world: World, *paths: str) -> object:
    url = TABLE.format(pid=world.project_id)
    return post(client, url + "/columns", {"columns": list(paths)}, page=url)  # type: ignore[arg-type]


def test_answer_columns_are_saved_per_form_with_labels_in_the_readers_language(world: World) -> None:
    _seed(world)
    supervisor = login(world, "supervisor")
    url = TABLE.format(pid=world.project_id)
    assert _save_columns(supervisor, world, "/data/travel/nationality", "/data/secret").status_code == 303
    # Another reviewer sees the same columns: saved per form, not per person.
    manager = login(world, "manager")
    page = manager.get(url).text
    head = page[page.index("<thead>") : page.index("</thead>")]
    assert "Nacionalidad" in head and "Nombre completo" in head
    assert "Venezolana" in page and "Colombiana" in page and "Ana Pérez" in page
    post(manager, "/admin/locale", {"locale": "en", "next": url})
    page = manager.get(url).text
    assert "Nationality" in page and "Venezuelan" in page
    [saved] = audit_rows(world, "form.table_columns")
    assert saved["details"]["columns"] == ["/data/travel/nationality", "/data/secret"]


def test_sensitive_answer_columns_are_hidden_without_the_grant(world: World) -> None:
    _seed(world)
    mark_sensitive(world, "secret")
    _save_columns(login(world, "supervisor"), world, "/data/secret")
    analyst_page = login(world, "analyst").get(TABLE.format(pid=world.project_id)).text
    assert "Ana Pérez" not in analyst_page and "hidden-value" in analyst_page
    assert "Ana Pérez" in login(world, "supervisor").get(TABLE.format(pid=world.project_id)).text


def test_bad_columns_are_refused_and_only_reviewers_choose(world: World) -> None:
    _seed(world)
    supervisor = login(world, "supervisor")
    # A question inside a repeat has many answers per row: not a column.
    assert _save_columns(supervisor, world, "/data/member/age").status_code == 400
    assert _save_columns(supervisor, world, "/data/nothing").status_code == 400
    assert _save_columns(login(world, "analyst"), world, "/data/secret").status_code == 403
    assert audit_rows(world, "form.table_columns") == []


def test_map_geojson_follows_the_tables_filter_and_is_audited(world: World) -> None:
    _seed(world)
    supervisor = login(world, "supervisor")
    base = f"/admin/projects/{world.project_id}/forms/monitoreo/map"
    page = supervisor.get(base + "?from=2026-11-21&to=2026-11-21")
    assert page.status_code == 200 and 'id="submissions-map"' in page.text
    # No tile server configured: the page allows images from itself only.
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]
    data = json.loads(supervisor.get(base + ".geojson?from=2026-11-21&to=2026-11-21").data)
    assert [f["properties"]["name"] for f in data["features"]] == ["Beto"]
    assert data["features"][0]["geometry"]["coordinates"] == [-78.5, -0.2]
    everything = json.loads(supervisor.get(base + ".geojson").data)
    assert len(everything["features"]) == 2 and everything["withoutLocation"] == 0
    [first, second] = audit_rows(world, "submission.map")
    assert first["details"]["points"] == 1 and first["details"]["filter"]["received_from"] == "2026-11-21"
    assert second["details"]["points"] == 2
    assert supervisor.get(base + ".geojson?from=yesterday").status_code == 400
    assert login(world, "enumerator").get(base + ".geojson").status_code == 403


def test_sensitive_location_is_not_mapped_without_the_grant(world: World) -> None:
    _seed(world)
    mark_sensitive(world, "location")
    base = f"/admin/projects/{world.project_id}/forms/monitoreo/map"
    analyst = login(world, "analyst")
    data = json.loads(analyst.get(base + ".geojson").data)
    assert data["features"] == [] and data["withheld"] == "/data/location"
    assert 'id="map-withheld"' in analyst.get(base).text
    assert len(json.loads(login(world, "manager").get(base + ".geojson").data)["features"]) == 2


def test_configured_tile_server_is_the_only_other_origin_allowed(world: World) -> None:
    _seed(world)
    world.app.config["MAP_TILE_URL"] = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    page = login(world, "supervisor").get(f"/admin/projects/{world.project_id}/forms/monitoreo/map")
    assert "img-src 'self' data: https://*.tiles.example.org;" in page.headers["Content-Security-Policy"]
    assert 'data-tiles="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in page.text


def test_outlines_are_the_shipped_countries(world: World) -> None:
    client = login(world, "analyst")
    data = json.loads(client.get("/admin/map/outlines.geojson").data)
    names = {f["properties"]["iso3"] for f in data["features"]}
    assert {"COL", "ECU", "VEN", "HTI", "MEX"} <= names and "USA" not in names
    assert world.app.test_client().get("/admin/map/outlines.geojson").status_code in (302, 303, 401)


def test_device_limited_to_some_forms_from_the_devices_page(world: World) -> None:
    publish(world, MULTILINGUAL_FORM)
    token = device_token(world)
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        app_user_id = session.scalar(select(AppUser.id).where(AppUser.display_name == "Phone"))
        assert session.scalar(select(Submission.id)) is None
    supervisor = login(world, "supervisor")
    url = f"/admin/projects/{world.project_id}/devices"
    assert f'id="device-forms-{app_user_id}"' in supervisor.get(url).text
    res = post(supervisor, f"{url}/{app_user_id}/forms", {"scope": "some"}, page=url)
    assert res.status_code == 303
    assert (
        b"<formID>monitoreo</formID>" not in world.client.get(f"{root(world, token['token'])}/formList").data
    )
    post(supervisor, f"{url}/{app_user_id}/forms", {"scope": "some", "forms": ["monitoreo"]}, page=url)
    assert b"<formID>monitoreo</formID>" in world.client.get(f"{root(world, token['token'])}/formList").data
    assert (
        post(
            supervisor, f"{url}/{app_user_id}/forms", {"scope": "some", "forms": ["nope"]}, page=url
        ).status_code
        == 400
    )
    post(supervisor, f"{url}/{app_user_id}/forms", {"scope": "all"}, page=url)
    assert [r["details"]["forms"] for r in audit_rows(world, "app_user.forms")] == [[], ["monitoreo"], "all"]
    assert (
        post(
            login(world, "analyst"), f"{url}/{app_user_id}/forms", {"scope": "all"}, page="/admin/"
        ).status_code
        == 403
    )
