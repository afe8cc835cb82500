"""The bundled forms pick their site from the project's site registry (issue 19): the ``sites`` entity
list is the ``sites.csv`` attachment of their manifest, ODK's web-form engine offers its sites, and the
submitted answer is the registry code the flows and indicators group by."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Project
from app.services.sites import site_uuid
from sync.openrosa import XFORMS_MANIFEST_NS as MANIFEST_NS
from tests.app.conftest import World
from tests.app.entity_helpers import ENTITIES_NS, device, publish_xlsform, send, workbook
from tests.app.job_helpers import run_jobs
from tests.app.openrosa_helpers import OR_HEADERS, device_token, root
from tests.app.test_flows import publish
from tests.clients.engine import submit_via_server

FLOW = "ruta_flow_count"
REGISTRY = (
    "code,name_es,name_en,site_type,adm0_pcode,adm1_pcode,adm2_pcode,latitude,longitude,capacity,status\n"
    "COL-ALB,Albergue Cúcuta,Cúcuta shelter,shelter,COL,CO54,CO54001,7.89,-72.50,120,active\n"
    "COL-PAR,Paraguachón,Paraguachón,border_crossing,COL,CO44,,,,,closed\n"
    "VEN-SAN,Puente Santander,Santander Bridge,border_crossing,VEN,VE20,,7.81,-72.45,,active\n"
)


def import_registry(world: World, body: str = REGISTRY) -> None:
    res = world.client.put(
        f"/v1/projects/{world.project_id}/sites", data=body.encode(), headers=world.headers("manager")
    )
    assert res.status_code == 200, res.json


def _sites_media(world: World, base: str, form_id: str) -> ET.Element:
    res = world.client.get(f"{base}/formList/{form_id}/manifest", headers=OR_HEADERS)
    assert res.status_code == 200, res.data
    files = ET.fromstring(res.data).findall(f"{{{MANIFEST_NS}}}mediaFile")
    (media,) = [f for f in files if f.findtext(f"{{{MANIFEST_NS}}}filename") == "sites.csv"]
    return media


@pytest.mark.parametrize("form_id", ["ruta_border_fms", "ruta_household_needs", FLOW])
def test_each_bundled_form_gets_the_registry_as_its_sites_list(world: World, form_id: str) -> None:
    import_registry(world)
    publish(world, form_id)  # publishes with no file uploaded: the server serves sites.csv itself
    base = root(world, device_token(world)["token"])
    media = _sites_media(world, base, form_id)
    assert media.get("type") == "entityList"
    assert media.findtext(f"{{{MANIFEST_NS}}}integrityUrl", "").endswith("/datasets/sites/integrity")
    res = world.client.get(media.findtext(f"{{{MANIFEST_NS}}}downloadUrl", ""), headers=OR_HEADERS)
    assert res.status_code == 200
    rows = list(csv.DictReader(io.StringIO(res.data.decode())))
    assert {(r["code"], r["adm0_pcode"], r["status"]) for r in rows} == {
        ("COL-ALB", "COL", "active"),
        ("COL-PAR", "COL", "closed"),
        ("VEN-SAN", "VEN", "active"),
    }
    # The list's hash follows the registry: editing a site changes what the device must fetch.
    before = media.findtext(f"{{{MANIFEST_NS}}}hash")
    import_registry(world, REGISTRY.replace(",120,active", ",150,active"))
    assert _sites_media(world, base, form_id).findtext(f"{{{MANIFEST_NS}}}hash") != before


@pytest.mark.slow
def test_engine_picks_a_registry_site_and_the_flows_group_by_its_code(world: World, live: str) -> None:
    import_registry(world)
    publish(world, FLOW)
    token = device_token(world)["token"]
    answers = {
        "country_iso3": "COL",
        "site_code": "COL-ALB",  # offered from sites.csv; COL-PAR (closed) and VEN-SAN are not
        "observed_hours": "6",
        "direction": "in",
        "nationality_iso3": "VEN",
        "group_type": "family",
        "transport_modes": ["walk"],
        "group_size": "3",
        "n_f_18_59": "1",
        "n_m_18_59": "1",
        "n_f_0_4": "1",
    }
    result = submit_via_server(f"{live}/v1/key/{token}/projects/{world.project_id}", FLOW, answers)
    assert result["httpStatus"] == 201, result
    assert 'hxl="#x_location+site_code">COL-ALB</site_code>' in result["xml"]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, world.project_id)
        assert project is not None
        project.indicators_include_received = True  # received submissions count, as a project may say
        s.commit()
    run_jobs(world.app)
    res = world.client.get(
        f"/v1/projects/{world.project_id}/flows",
        query_string={"by": "site", "period": "month"},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    (row,) = res.json["rows"]
    assert (row["dimensions"]["site"], row["movements"]) == ("COL-ALB", 3)


# --- the shelter form updates the registry from the field ------------------------------------------------

SHELTER = "ruta_shelter_status"


def _sites(world: World) -> dict[str, dict[str, Any]]:
    res = world.client.get(f"/v1/projects/{world.project_id}/sites", headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    return {row["code"]: row for row in res.json}


def shelter_xml(version: str, instance: str, code: str, capacity: str, status: str, *, base: int) -> bytes:
    return f"""<data xmlns:entities="{ENTITIES_NS}" id="{SHELTER}" version="{version}">
  <shelter_status><country_iso3>COL</country_iso3><shelter>{site_uuid(code)}</shelter>
    <site_code>{code}</site_code><capacity_before>120</capacity_before>
    <capacity>{capacity}</capacity><status>{status}</status></shelter_status>
  <meta><instanceID>uuid:{instance}</instanceID>
    <entity dataset="sites" id="{site_uuid(code)}" update="1" baseVersion="{base}" trunkVersion=""
      branchId=""><label/></entity></meta>
</data>""".encode()


@pytest.mark.slow
def test_engine_fills_the_shelter_form_and_the_registry_site_gets_a_new_version(
    world: World, live: str
) -> None:
    import_registry(world)
    publish(world, SHELTER)
    token = device_token(world)["token"]
    answers = {
        "country_iso3": "COL",
        "shelter": site_uuid("COL-ALB"),  # the only shelter of Colombia in the registry
        "capacity": "150",
        "status": "inactive",
    }
    result = submit_via_server(f"{live}/v1/key/{token}/projects/{world.project_id}", SHELTER, answers)
    assert result["httpStatus"] == 201, result
    assert "<site_code>COL-ALB</site_code><capacity_before>120</capacity_before>" in result["xml"]
    assert 'update="1"' in result["xml"] and 'baseVersion="1"' in result["xml"], result["xml"]
    site = _sites(world)["COL-ALB"]
    assert (site["capacity"], site["status"], site["version"]) == ("150", "inactive", 2)
    assert (site["adm1_pcode"], site["name_es"]) == ("CO54", "Albergue Cúcuta")  # the rest is kept
    assert _sites(world)["VEN-SAN"]["version"] == 1


def test_shelter_updates_apply_by_version_and_bad_values_change_nothing(world: World) -> None:
    import_registry(world)
    version = publish(world, SHELTER)
    base = device(world)
    send(world, base, shelter_xml(version, "s1", "COL-ALB", "80", "active", base=1))
    assert (_sites(world)["COL-ALB"]["capacity"], _sites(world)["COL-ALB"]["version"]) == ("80", 2)
    # A second device still on version 1: applied as version 3 and flagged for a person, nothing lost.
    send(world, base, shelter_xml(version, "s2", "COL-ALB", "60", "closed", base=1))
    site = _sites(world)["COL-ALB"]
    assert (site["capacity"], site["status"], site["version"]) == ("60", "closed", 3)
    entity = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/sites/entities/{site_uuid('COL-ALB')}",
        headers=world.headers("manager"),
    ).json
    assert entity["conflict"] == "hard"
    # Stored, but a capacity or status the registry refuses is not applied: recorded as an entity error.
    send(world, base, shelter_xml(version, "s3", "COL-ALB", "-4", "closed", base=3))
    send(world, base, shelter_xml(version, "s4", "COL-ALB", "70", "demolished", base=3))
    assert _sites(world)["COL-ALB"]["version"] == 3
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        errors = [
            e.details["message"]
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == "entity.error").order_by(AuditEvent.id)
            )
        ]
    assert len(errors) == 2
    assert "capacity '-4' is not a whole number" in errors[0]
    assert "status 'demolished' is not one of active, inactive, closed" in errors[1]


def test_a_form_cannot_change_a_sites_code_or_pcodes_or_add_sites_from_the_field(world: World) -> None:
    import_registry(world)
    form = workbook(
        {
            "survey": [
                ["type", "name", "label", "save_to"],
                ["select_one_from_file sites.csv", "site", "Site", ""],
                ["text", "adm1", "Admin 1", "adm1_pcode"],
            ],
            "entities": [["list_name", "entity_id"], ["sites", "${site}"]],
            "settings": [["form_id", "version"], ["site_move", "1"]],
        }
    )
    publish_xlsform(world, form)
    xml = f"""<data xmlns:entities="{ENTITIES_NS}" id="site_move" version="1">
  <site>{site_uuid("COL-ALB")}</site><adm1>CO08</adm1>
  <meta><instanceID>uuid:m1</instanceID>
    <entity dataset="sites" id="{site_uuid("COL-ALB")}" update="1" baseVersion="1"><label/></entity></meta>
</data>""".encode()
    send(world, device(world), xml)
    site = _sites(world)["COL-ALB"]
    assert (site["adm1_pcode"], site["version"]) == ("CO54", 1)
