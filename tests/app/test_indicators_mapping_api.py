"""GET|PUT a form's mapping: a suggestion until someone confirms, validated versions, audited, and a
mapping change renormalises what it affects."""

from __future__ import annotations

import copy

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, IndicatorMapping, Submission, UnmappedValue
from tests.app import indicator_fixtures as fx
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs


def mapping_url(world: World, form_id: str) -> str:
    return f"/v1/projects/{world.project_id}/forms/{form_id}/mapping"


def test_unconfirmed_form_gets_a_suggestion_from_portuguese_labels(world: World) -> None:
    fx.publish_pt(world)
    res = world.client.get(mapping_url(world, fx.PT), headers=world.headers("analyst"))
    assert res.status_code == 200, res.json
    assert res.json["status"] == "suggested" and res.json["version"] is None
    document = res.json["document"]
    recoded = {
        value: rule["to"] if isinstance(rule, dict) else rule
        for value, rule in document["choices"]["sexo"].items()
    }
    assert recoded["1"] == "f" and recoded["2"] == "m"  # Feminino / Masculino
    assert document["choices"]["nac"]["1"]["to"] == "VEN"  # Venezuelana


def test_bundled_form_ships_confirmed(world: World) -> None:
    fx.publish_household(world)
    res = world.client.get(mapping_url(world, fx.HH), headers=world.headers("supervisor"))
    assert res.status_code == 200
    assert (res.json["status"], res.json["source"], res.json["version"]) == ("confirmed", "bundled", 1)
    assert res.json["mappingVersion"] == f"{fx.HH}@v1"
    assert not [p for p in res.json["problems"] if p["severity"] == "error"]


def test_reading_a_bundled_mapping_writes_nothing_until_a_refresh_needs_it(world: World) -> None:
    """A GET never writes (issue 18): the shipped document is shown unsaved; the refresh job, which
    may write, stores it as version 1, and the answer stays the same."""
    fx.publish_household(world)

    def stored() -> list[tuple[int, str]]:
        with get_database(world.app).session_scope() as session:
            rows = session.scalars(select(IndicatorMapping)).all()
            return [(m.version, m.source) for m in rows]

    shown = world.client.get(mapping_url(world, fx.HH), headers=world.headers("supervisor")).json
    page = login(world, "supervisor").get(f"/admin/projects/{world.project_id}/forms/{fx.HH}/mapping")
    assert page.status_code == 200 and 'data-status="confirmed"' in page.text
    assert stored() == [] and shown["confirmedAt"] is None
    form_version = world.client.get(
        f"/v1/projects/{world.project_id}/forms/{fx.HH}", headers=world.headers("manager")
    ).json["version"]
    xml = fx.household_xml(form_version, "hh-0", country="COL", water="no", assistance="yes", ages=[10])
    fx.submit(world, fx.HH, xml)  # queues and runs the refresh
    assert stored() == [(1, "bundled")]
    after = world.client.get(mapping_url(world, fx.HH), headers=world.headers("supervisor")).json
    assert after["document"] == shown["document"] and after["mappingVersion"] == shown["mappingVersion"]
    assert after["confirmedAt"] is not None


def test_invalid_mapping_is_refused_with_every_problem_and_nothing_stored(world: World) -> None:
    fx.publish_pt(world)
    bad = copy.deepcopy(fx.PT_MAPPING)
    bad["fields"]["/data/agua"] = "needs.water_is_lovely"
    bad["fields"]["/data/nowhere"] = "respondent.age_years"
    res = world.client.put(
        mapping_url(world, fx.PT), json={"document": bad}, headers=world.headers("analyst")
    )
    assert res.status_code == 400
    assert res.json["code"] == "400.40"
    wheres = {p["where"] for p in res.json["details"]["problems"] if p["severity"] == "error"}
    assert any("agua" in w for w in wheres) and any("nowhere" in w for w in wheres), wheres
    res = world.client.put(
        mapping_url(world, fx.PT), json={"document": "nope"}, headers=world.headers("analyst")
    )
    assert res.status_code == 400
    assert (
        world.client.get(mapping_url(world, fx.PT), headers=world.headers("analyst")).json["status"]
        == "suggested"
    )


def test_confirming_versions_the_mapping_and_audits_it(world: World) -> None:
    fx.publish_pt(world)
    for expected in (1, 2):
        res = world.client.put(
            mapping_url(world, fx.PT), json={"document": fx.PT_MAPPING}, headers=world.headers("analyst")
        )
        assert res.status_code == 200, res.json
        assert (res.json["status"], res.json["version"]) == ("confirmed", expected)
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        statuses = session.execute(
            select(IndicatorMapping.version, IndicatorMapping.status).order_by(IndicatorMapping.version)
        ).all()
        assert [tuple(s) for s in statuses] == [(1, "superseded"), (2, "confirmed")]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "indicators.mapping.confirm")
        ).all()
        assert len(actions) == 2


def test_mapping_change_renormalises_and_empties_the_queue(world: World) -> None:
    fx.publish_pt(world)
    world.client.put(
        mapping_url(world, fx.PT), json={"document": fx.PT_MAPPING}, headers=world.headers("analyst")
    )
    fx.submit(world, fx.PT, fx.pt_xml("pt-hti", pais="1", agua="2", ajuda="1", idades=[8], nac="3"))
    fx.review(world, fx.PT, "pt-hti", "approved")
    rows = world.client.get(
        f"/v1/projects/{world.project_id}/indicators?indicator=NEED-03&by=nationality",
        headers=world.headers("analyst"),
    ).json["values"]
    assert {r["dimensions"]["nationality"] for r in rows} == {"XXX", "total"}
    fixed = copy.deepcopy(fx.PT_MAPPING)
    fixed["choices"]["nac"]["3"] = "HTI"
    res = world.client.put(
        mapping_url(world, fx.PT), json={"document": fixed}, headers=world.headers("manager")
    )
    assert res.status_code == 200
    # A GET never writes: until the worker ran the refresh the mapping change queued, the figures
    # stay as they were, and the answer says an update is pending.
    stale = world.client.get(
        f"/v1/projects/{world.project_id}/indicators?indicator=NEED-03&by=nationality",
        headers=world.headers("analyst"),
    ).json
    assert stale["freshness"]["updatePending"] is True
    assert {r["dimensions"]["nationality"] for r in stale["values"]} == {"XXX", "total"}
    assert run_jobs(world.app) >= 1
    body = world.client.get(
        f"/v1/projects/{world.project_id}/indicators?indicator=NEED-03&by=nationality",
        headers=world.headers("analyst"),
    ).json
    assert body["freshness"]["updatePending"] is False and body["freshness"]["refreshedAt"]
    rows = body["values"]
    assert {r["dimensions"]["nationality"] for r in rows} == {"HTI", "total"}
    assert rows[0]["mappingVersions"] == [f"{fx.PT}@v2"]
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        assert session.scalars(select(UnmappedValue)).all() == []
        assert session.scalars(select(Submission.flag_codes)).all() == [""]
