"""A form's mapping in the admin: read (status, questions, recodings, problems), and edited and
confirmed by managers and analysts through the same validated, audited service as the API."""

from __future__ import annotations

import copy
import json

import yaml
from sqlalchemy import func, select

from app.db import get_database
from app.models import AuditEvent, IndicatorMapping
from tests.app import indicator_fixtures as fx
from tests.app.admin_helpers import login, post
from tests.app.conftest import World


def _urls(world: World) -> tuple[str, str]:
    page = f"/admin/projects/{world.project_id}/forms/{fx.PT}/mapping"
    return page, f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping"


def _stored(world: World) -> tuple[int, int]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        mappings = session.scalar(select(func.count()).select_from(IndicatorMapping)) or 0
        audits = session.scalar(select(func.count()).where(AuditEvent.action == "indicators.mapping.confirm"))
        return mappings, audits or 0


def test_admin_shows_edits_and_confirms_a_mapping(world: World) -> None:
    fx.publish_pt(world)
    page, api = _urls(world)
    analyst = login(world, "analyst")
    form_page = analyst.get(f"/admin/projects/{world.project_id}/forms/{fx.PT}").text
    assert f'href="{page}"' in form_page  # linked from the form page
    dashboard = analyst.get(f"/admin/projects/{world.project_id}/indicators").text
    assert 'id="mapping-links"' in dashboard and f'href="{page}"' in dashboard
    html = analyst.get(page).text
    # Nothing confirmed yet: the suggestion, readable and prefilled in the editor.
    assert 'data-status="suggested"' in html and 'id="mapping-form"' in html
    assert "<code>/data/sexo</code>" in html and "<code>respondent.sex_gender</code>" in html
    assert 'id="mapping-choices"' in html and "<code>sexo</code>" in html
    textarea = html.split('id="mapping-document"')[1].split("</textarea>")[0]
    assert "/data/sexo" in textarea

    # A valid edit (as JSON) is confirmed as version 1 and the API sees it.
    res = post(analyst, page, {"document": json.dumps(fx.PT_MAPPING)}, page=page)
    assert res.status_code == 303, res.text[:500]
    got = world.client.get(api, headers=world.headers("analyst")).json
    assert (got["status"], got["version"], got["source"]) == ("confirmed", 1, "user")
    assert got["document"]["fields"]["/data/agua"]["to"] == "needs.water_source_safe"
    html = analyst.get(page).text
    assert 'data-status="confirmed"' in html and f"{fx.PT}@v1" in html
    # The editor now holds the confirmed document as YAML; confirming it again makes version 2.
    textarea = html.split('id="mapping-document"')[1].split("</textarea>")[0].split(">", 1)[1]
    assert yaml.safe_load(textarea.replace("&#34;", '"').replace("&#39;", "'"))["fields"]["/data/agua"]
    edited = copy.deepcopy(fx.PT_MAPPING)
    edited["fields"]["/data/ajuda"] = {"drop": True}
    # A recoding of a list no mapped question uses could never apply: the mapper is told so.
    res = post(analyst, page, {"document": yaml.safe_dump(edited)}, page=page)
    assert res.status_code == 400 and "nunca se aplicarían" in res.text  # in the page's Spanish
    del edited["choices"]["ajuda"]
    assert post(analyst, page, {"document": yaml.safe_dump(edited)}, page=page).status_code == 303
    got = world.client.get(api, headers=world.headers("manager")).json
    assert got["version"] == 2 and got["document"]["fields"]["/data/ajuda"]["drop"] is True
    assert _stored(world) == (2, 2)

    # A bad document: every problem shown, nothing stored.
    bad = copy.deepcopy(fx.PT_MAPPING)
    bad["fields"]["/data/agua"] = "needs.water_is_lovely"
    bad["fields"]["/data/nowhere"] = "respondent.age_years"
    res = post(analyst, page, {"document": yaml.safe_dump(bad)}, page=page)
    assert res.status_code == 400
    refused = res.text.split('id="refused-problems"')[1].split("</ul>")[0]
    assert "/data/agua" in refused and "/data/nowhere" in refused
    assert "water_is_lovely" in res.text.split('id="mapping-document"')[1]  # the edit is kept to fix
    res = post(analyst, page, {"document": "fields: [unclosed"}, page=page)
    assert res.status_code == 400 and 'id="refused-problems"' in res.text
    res = post(analyst, page, {"document": "- just a list"}, page=page)
    assert res.status_code == 400 and 'id="mapping-refused"' in res.text
    assert _stored(world) == (2, 2)
    assert world.client.get(api, headers=world.headers("analyst")).json["version"] == 2

    # Supervisors read it but cannot edit; enumerators do not see it.
    supervisor = login(world, "supervisor")
    html = supervisor.get(page).text
    assert 'data-status="confirmed"' in html and 'id="mapping-form"' not in html
    assert post(supervisor, page, {"document": json.dumps(fx.PT_MAPPING)}, page=page).status_code == 403
    manager = login(world, "manager")
    assert 'id="mapping-form"' in manager.get(page).text
    # A pasted API body ({"document": ...}) is taken as the API takes it.
    res = post(manager, page, {"document": json.dumps({"document": fx.PT_MAPPING})}, page=page)
    assert res.status_code == 303
    assert world.client.get(api, headers=world.headers("manager")).json["version"] == 3
    enumerator = login(world, "enumerator")
    assert enumerator.get(page).status_code in (403, 404)
    assert _stored(world) == (3, 3)
