"""Access: every endpoint walked as each role and as an anonymous caller.

Anonymous callers get 401; people with no role in the project get 404 (IDs do not leak); people with
a role that does not allow the action get 403; the others succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.app.conftest import World
from tests.data import data_file

ALL = {"admin", "manager", "supervisor", "analyst", "enumerator"}
READERS = {"admin", "manager", "supervisor", "analyst"}
MANAGERS = {"admin", "manager"}
ORDER = ["anonymous", "outsider", "enumerator", "analyst", "supervisor", "manager", "admin"]


@dataclass
class Endpoint:
    method: str
    path: str
    allowed: set[str]
    body: Callable[[World, str], dict[str, Any]] | None = None
    # Endpoints outside any project: a logged-in user without the right gets 403, not 404.
    global_endpoint: bool = False


def _json(data: dict[str, Any]) -> Callable[[World, str], dict[str, Any]]:
    return lambda _w, _role: {"json": data}


def _app_user_body(_w: World, role: str) -> dict[str, Any]:
    return {"json": {"displayName": f"phone of {role}"}}


def _form_upload(_w: World, role: str) -> dict[str, Any]:
    xml = data_file("forms/simple.xml").read_bytes()
    xml = xml.replace(b'id="simple"', f'id="simple_{role}"'.encode())
    return {"data": xml, "content_type": "application/xml", "query_string": {"publish": "true"}}


def _draft_upload(_w: World, _role: str) -> dict[str, Any]:
    return {"data": b""}


_5W_ROW = {
    "country": "COL",
    "admin1": "CO54",
    "organisation": "ACNUR",
    "month": "2026-03",
    "sector": "health",
    "indicator": "HEA-01",
    "total_beneficiaries": 5,
    "new_beneficiaries": 5,
    "in_destination": 5,
    "women": 5,
}
_PLAN_CSV = (
    b"year,sector,country,population_type,age_gender,people_in_need\n2026,health,COL,in_transit,men,10\n"
)


def _5w_workbook() -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(_5W_ROW))
    sheet.append(list(_5W_ROW.values()))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


ENDPOINTS = [
    Endpoint("GET", "/v1/users/current", ALL | {"outsider"}, global_endpoint=True),
    Endpoint("GET", "/v1/projects", ALL | {"outsider"}, global_endpoint=True),
    Endpoint(
        "POST",
        "/v1/users",
        {"admin"},
        lambda w, r: {"json": {"email": f"new-{r}@example.org", "password": "long enough pw"}},
        global_endpoint=True,
    ),
    Endpoint(
        "POST",
        "/v1/organisations",
        {"admin"},
        lambda w, r: {"json": {"code": f"ORG-{r}", "name": r}},
        global_endpoint=True,
    ),
    Endpoint(
        "POST",
        "/v1/projects",
        {"admin"},
        lambda w, r: {"json": {"name": f"p-{r}", "organisationId": w.org_id}},
        global_endpoint=True,
    ),
    Endpoint("GET", "/v1/projects/{pid}", ALL),
    Endpoint("PATCH", "/v1/projects/{pid}", MANAGERS, _json({"description": "updated"})),
    Endpoint("GET", "/v1/projects/{pid}/assignments", MANAGERS),
    # Partner rows (issue 21): a project's managers see who it is shared with; the audit trail.
    Endpoint("GET", "/v1/projects/{pid}/partners", MANAGERS),
    Endpoint("GET", "/v1/audits", ALL | {"outsider"}, global_endpoint=True),
    Endpoint("GET", "/v1/projects/{pid}/app-users", MANAGERS | {"supervisor"}),
    Endpoint("POST", "/v1/projects/{pid}/app-users", MANAGERS | {"supervisor"}, _app_user_body),
    Endpoint("DELETE", "/v1/projects/{pid}/app-users/{app_user_id}", MANAGERS | {"supervisor"}),
    Endpoint("GET", "/v1/projects/{pid}/forms", ALL),
    Endpoint("POST", "/v1/projects/{pid}/forms", MANAGERS, _form_upload),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple", ALL),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple.xml", ALL),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/versions", ALL),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/schema", ALL),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/fields", ALL),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/attachments", ALL),
    Endpoint("POST", "/v1/projects/{pid}/forms/simple/draft", MANAGERS, _draft_upload),
    Endpoint("PATCH", "/v1/projects/{pid}/forms/simple", MANAGERS, _json({"state": "open"})),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/quality", ALL),
    Endpoint("PUT", "/v1/projects/{pid}/forms/simple/quality", MANAGERS, _json({"enabledFlags": []})),
    # Retention and subject requests (issue 21): the schedule for readers, a person's records for managers.
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/retention", READERS),
    Endpoint(
        "POST",
        "/v1/projects/{pid}/forms/simple/subject-requests",
        MANAGERS,
        _json({"instanceId": "uuid:none"}),
    ),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple.svc", READERS),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple.svc/", READERS),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple.svc/$metadata", READERS),
    # Field hubs (issue 4).
    Endpoint("GET", "/v1/projects/{pid}/hubs", MANAGERS),
    Endpoint("POST", "/v1/projects/{pid}/hubs", MANAGERS, _json({"name": "office"})),
    Endpoint("GET", "/v1/projects/{pid}/hub", ALL),
    Endpoint("GET", "/v1/projects/{pid}/hub/forms", ALL),
    # Submission exports (issue 7).
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/submissions.csv.zip", READERS),
    Endpoint("POST", "/v1/projects/{pid}/forms/simple/submissions.csv.zip", READERS, _json({"hxl": True})),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/submissions.csv", READERS),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/submissions.xlsx", READERS),
    # Background work (issue 18): export jobs for readers, webhooks for managers.
    Endpoint("POST", "/v1/projects/{pid}/forms/simple/exports", READERS, _json({"format": "csv"})),
    Endpoint("GET", "/v1/projects/{pid}/webhooks", MANAGERS),
    Endpoint("POST", "/v1/projects/{pid}/webhooks", MANAGERS, _json({"url": "http://127.0.0.1:9/hook"})),
    # Shared indicators (issue 6): analysts read indicators and edit mappings; supervisors only read.
    Endpoint("GET", "/v1/projects/{pid}/indicators", READERS),
    Endpoint("GET", "/v1/projects/{pid}/indicators.csv", READERS),
    Endpoint("GET", "/v1/projects/{pid}/indicators.xlsx", READERS),
    Endpoint("GET", "/v1/projects/{pid}/indicators/sadd", READERS),
    Endpoint("GET", "/v1/projects/{pid}/indicators/sadd.csv", READERS),
    Endpoint("GET", "/v1/projects/{pid}/indicators/sadd.xlsx", READERS),
    Endpoint("GET", "/v1/projects/{pid}/forms/simple/mapping", READERS),
    Endpoint(
        "PUT",
        "/v1/projects/{pid}/forms/simple/mapping",
        MANAGERS | {"analyst"},
        _json({"document": {"form": {"id": "simple"}, "fields": {"/data/age": "respondent.age_years"}}}),
    ),
    # Response monitoring (issue 20): IM officers report 5W rows and plan figures; reviewers read.
    Endpoint(
        "POST", "/v1/projects/{pid}/activities", MANAGERS | {"analyst"}, lambda w, r: {"json": [_5W_ROW]}
    ),
    Endpoint(
        "POST",
        "/v1/projects/{pid}/activities/import",
        MANAGERS | {"analyst"},
        lambda w, r: {"data": _5w_workbook(), "content_type": "application/octet-stream"},
    ),
    Endpoint("GET", "/v1/projects/{pid}/activities", READERS),
    Endpoint(
        "PUT",
        "/v1/projects/{pid}/needs",
        MANAGERS | {"analyst"},
        lambda w, r: {"data": _PLAN_CSV, "content_type": "text/csv"},
    ),
    *(
        Endpoint("GET", f"/v1/projects/{{pid}}/{table}{suffix}", READERS)
        for table in ("reach", "gaps", "flows")
        for suffix in ("", ".csv", ".xlsx")
    ),
    Endpoint("GET", "/v1/projects/{pid}/sites", ALL),
    Endpoint("GET", "/v1/projects/{pid}/sites.csv", ALL),
    Endpoint("PUT", "/v1/projects/{pid}/sites", MANAGERS | {"analyst"}, lambda w, r: _site_file(r)),
    # Entity lists (issue 19); the per-list endpoints: tests/app/test_entities_access.py.
    Endpoint("GET", "/v1/projects/{pid}/datasets", READERS),
    Endpoint("POST", "/v1/projects/{pid}/datasets", MANAGERS, lambda w, r: {"json": {"name": f"list_{r}"}}),
    Endpoint("GET", "/v1/projects/{pid}/transit", READERS),
]


def _site_file(role: str) -> dict[str, Any]:
    csv = f"code,name_es,site_type,adm0_pcode,adm1_pcode\nS-{role},Sitio,shelter,COL,CO54\n"
    return {"data": csv.encode(), "content_type": "text/csv"}


@pytest.fixture
def published(world: World) -> dict[str, Any]:
    headers = world.headers("admin")
    xml = data_file("forms/simple.xml").read_bytes()
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true",
        data=xml,
        content_type="application/xml",
        headers=headers,
    )
    assert res.status_code == 200, res.json
    res = world.client.post(
        f"/v1/projects/{world.project_id}/app-users", json={"displayName": "x"}, headers=headers
    )
    return {"app_user_id": res.json["id"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_endpoint_access_by_role(world: World, published: dict[str, Any], endpoint: Endpoint) -> None:
    path = endpoint.path.format(pid=world.project_id, **published)
    for who in ORDER:
        headers = world.headers(who) if who != "anonymous" else {}
        kwargs = endpoint.body(world, who) if endpoint.body else {}
        res = world.client.open(path, method=endpoint.method, headers=headers, **kwargs)
        if who == "anonymous":
            expected = {401}
        elif who in endpoint.allowed:
            expected = {200, 201, 202}
        elif who == "outsider" and not endpoint.global_endpoint:
            expected = {404}
        else:
            expected = {403}
        assert res.status_code in expected, (who, res.status_code, res.get_json())
        if res.status_code >= 400:
            assert set(res.json) == {"code", "message", "details"}


def test_outsider_cannot_see_other_organisations_project_by_guessing(world: World) -> None:
    headers = world.headers("outsider")
    for path in (
        f"/v1/projects/{world.project_id}",
        f"/v1/projects/{world.project_id}/forms",
        "/v1/projects/999999",
    ):
        res = world.client.get(path, headers=headers)
        assert res.status_code == 404, path
    res = world.client.get("/v1/projects", headers=headers)
    assert [p["id"] for p in res.json] == [world.other_project_id]


def test_every_api_rule_is_covered_by_the_access_walk(world: World) -> None:
    """A new endpoint must be added to ENDPOINTS (or to the explicit exemptions with a reason)."""
    exempt = {
        "/v1/sessions": "login itself",
        "/v1/sessions/<token>": "logout of one's own token",
        "/v1/openapi.json": "public description of the API",
        "/v1/health": "public liveness check",
    }
    walked = {e.path for e in ENDPOINTS}
    for rule in world.app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") or rule.rule in exempt or rule.endpoint.startswith("openrosa."):
            continue
        path = rule.rule.replace("<int:project_id>", "{pid}").replace("<xml_form_id>", "simple")
        path = path.replace("<int:app_user_id>", "{app_user_id}")
        if path in walked:
            continue
        # Remaining rules are covered by their own test modules, which assert their access rules.
        assert rule.endpoint in COVERED_ELSEWHERE, f"{rule.rule} ({rule.endpoint}) has no access test"


COVERED_ELSEWHERE = {
    # tests/app/test_partner_rows.py: sharing a project (its owners' managers only), every role walked.
    "api.add_partner",
    "api.remove_partner",
    # tests/app/test_partner_rows.py::test_owners_grant_a_coordinator_the_raw_rows_and_revoke_them:
    # the owners' managers only (a partner's manager, the coordinator and others refused).
    "api.list_row_grants",
    "api.grant_rows",
    "api.revoke_rows",
    # tests/app/test_purge_tombstones.py::test_one_file_trashed_restored_then_purged: managers only.
    "api.delete_submission_attachment",
    "api.restore_submission_attachment",
    # tests/app/test_response.py::test_who_may_fix_accept_and_read_reports
    "api.fix_activity",
    "api.accept_activity",
    "api.activities_report",
    # tests/app/test_background_api.py: one export's status and file (only its asker), a webhook's delete.
    "api.export_status",
    "api.export_file",
    "api.delete_webhook",
    "api.list_users",
    # tests/app/test_server_sessions.py: only the person themselves, with the old password (admin: 403).
    "api.change_password",
    "api.list_organisations",
    "api.assign",
    "api.unassign",
    "api.assign_form_to_app_user",
    "api.form_xlsform",
    "api.version_xml",
    "api.version_info",
    "api.version_schema",
    "api.get_draft",
    "api.draft_xml",
    "api.publish_draft",
    "api.list_draft_attachments",
    "api.upload_draft_attachment",
    "api.get_attachment",
    # tests/app/test_submissions_api.py walks these with each role.
    "api.list_submissions",
    "api.create_submission",
    "api.get_submission",
    "api.edit_submission",
    "api.review_submission",
    "api.submission_xml",
    "api.list_comments",
    "api.add_comment",
    "api.list_submission_attachments",
    "api.get_submission_attachment",
    "api.upload_submission_attachment",
    "api.list_submission_versions",  # tests/app/test_submission_edits.py
    "api.submission_version_xml",  # tests/app/test_submission_edits.py
    # tests/app/test_encryption_and_qr.py walks these with each role.
    "api.create_key",
    "api.decrypt_submission",
    "api.app_user_qr",
    # tests/app/test_odata.py walks the OData tables with each role, over Bearer and Basic.
    "odata.table",
    # tests/app/test_hubs_api.py and test_batch_api.py walk these with each role and a hub credential.
    "api.revoke_hub",
    "api.hub_form_version_xml",
    "api.hub_media",
    "api.submission_batch",
    # tests/app/test_batch_uploads.py: per-sender uploads, anonymous 401, a reader 403, another hub's empty.
    "api.batch_upload_state",
    "api.batch_upload_chunk",
    "api.batch_upload_ingest",
    # tests/app/test_exports.py walks GeoJSON with each role (the access walk's form has no location).
    "api.export_geojson",
    # tests/app/test_exports_sensitive.py walks the sensitive-data grant with each role.
    "api.set_sensitive_grant",
    # tests/app/test_retention.py::test_who_may_delete_restore_and_check_risk walks these with each role.
    "api.delete_submission",
    "api.restore_submission",
    "api.disclosure_risk",
    # tests/app/test_entities_access.py walks one entity list's endpoints with each role.
    "api.get_dataset",
    "api.update_dataset",
    "api.add_property",
    "api.list_entities",
    "api.get_entity",
    "api.entity_versions",
    "api.create_entities",
    "api.update_entity",
    "api.delete_entity",
    "api.restore_entity",
    "api.resolve_entity",
    "api.entities_csv",
    "odata.entity_service",
    "odata.entity_metadata",
    "odata.entity_table",
}
