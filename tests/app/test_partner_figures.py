"""Per-partner indicators in a shared project (issue 21, item 1).

The owner (org A) collects the Portuguese form of ``tests/indicators/test_two_partners.py``, partner B
the Spanish one, in one project. B's people read indicators computed over B's rows only, each cell
equal to the reference evaluator over B's records alone; a partner with no rows reads no figure; the
owner and a coordinator read every partner's figures (equal to the reference over all records). All
suppressed alike.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from app.auth.actor import Actor
from app.db import get_database
from app.indicators.catalog import load_catalog
from app.indicators.facts import dimension_keys
from app.indicators.normalise import normalise
from app.indicators.reference import compute
from app.indicators.suppression import TOTAL
from app.models import User
from app.services import projects
from app.services.accounts import people as accounts
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.test_indicators_two_partners import for_xform, submission_xml, xform
from tests.indicators import test_two_partners as partners

PEOPLE = {
    "b_manager": ("ORG-PB", "manager"),
    "b_analyst": ("ORG-PB", "analyst"),
    "c_analyst": ("ORG-PC", "analyst"),
    "coordinator": ("ORG-CO", "coordinator"),
}


def _people(world: World) -> None:
    app = world.app
    with app.app_context(), get_database(app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        orgs = {
            code: projects.create_organisation(session, actor=admin, code=code, name=code).id
            for code in ("ORG-PB", "ORG-PC", "ORG-CO")
        }
        session.commit()
    for code in ("ORG-PB", "ORG-PC"):
        res = world.client.post(
            f"/v1/projects/{world.project_id}/partners",
            json={"organisationId": orgs[code]},
            headers=world.headers("manager"),
        )
        assert res.status_code == 200, res.json
    with app.app_context(), get_database(app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        project = projects.get_project(session, world.project_id)
        for who, (code, role) in PEOPLE.items():
            world.emails[who] = f"{who}@example.org"
            world.passwords[who] = f"{who}-password-123"
            user = accounts.create_user(
                session,
                actor=admin,
                email=world.emails[who],
                password=world.passwords[who],
                realm=app.config["DIGEST_REALM"],
                organisation_id=orgs[code],
            )
            accounts.assign_role(session, actor=admin, project=project, user=user, role=role)
            world.user_ids[who] = user.id
        session.commit()


@pytest.fixture
def loaded(world: World) -> tuple[World, dict[str, list[Any]]]:
    """B's manager sends the Spanish form's records, the owner's manager the Portuguese form's."""
    _people(world)
    catalog = load_catalog()
    rng = random.Random(2121)
    records: dict[str, list[Any]] = {"A": [], "B": []}
    for org, sender, (schema, mapping, make) in (
        ("B", "b_manager", (partners.es_form(), partners.ES_MAPPING, partners.es_submission)),
        ("A", "manager", (partners.pt_form(), partners.PT_MAPPING, partners.pt_submission)),
    ):
        parsed, mapping = for_xform(schema, mapping)
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
            data=xform(schema).encode(),
            content_type="application/xml",
            headers=world.headers("admin"),
        )
        assert res.status_code == 200, res.json
        res = world.client.put(
            f"/v1/projects/{world.project_id}/forms/{schema.form_id}/mapping",
            json={"document": mapping},
            headers=world.headers("analyst"),
        )
        assert res.status_code == 200, res.json
        headers = world.headers(sender)
        for i in range(40):
            values = make(rng)
            uid = f"{schema.form_id}-{i}"
            res = world.client.post(
                f"/v1/projects/{world.project_id}/forms/{schema.form_id}/submissions",
                data=submission_xml(schema.form_id, uid, values).encode(),
                content_type="application/xml",
                headers=headers,
            )
            assert res.status_code == 200, res.json
            meta = {"submission_id": f"uuid:{uid}", "form_id": schema.form_id, "form_version": "1"}
            records[org].append(normalise(values, parsed, mapping, catalog, submission_meta=meta))
    run_jobs(world.app)
    return world, records


def _compare(world: World, who: str, records: list[Any], by: tuple[str, ...]) -> int:
    """Every published cell ``who`` reads equals the reference over ``records``; the cells compared."""
    catalog = load_catalog()
    res = world.client.get(
        f"/v1/projects/{world.project_id}/indicators?includeReceived=true&by={','.join(by)}",
        headers=world.headers(who),
    )
    assert res.status_code == 200, res.json
    compared = 0
    for indicator in catalog.indicators.values():
        if indicator.code in res.json["skipped"]:
            continue
        keys = dimension_keys(indicator, catalog)
        reference = {
            (c.statistic, c.key, c.breakdown, c.category): c
            for c in compute(indicator, records, catalog, by=[keys[d] for d in by])
        }
        for row in (r for r in res.json["values"] if r["indicator"] == indicator.code):
            key = tuple(TOTAL if row["dimensions"][d] == "total" else row["dimensions"][d] for d in by)
            cell = reference.get((row["unit"], key, row["breakdown"], row["category"]))
            assert cell is not None, (who, indicator.code, by, row)
            if row["suppressed"]:
                continue
            got = (row["numerator"], row["denominator"], row["n"], row["dkRefused"])
            assert got == (cell.numerator, cell.denominator, cell.n, cell.dk_refused), (who, row)
            compared += 1
    return compared


def test_a_partner_reads_figures_over_its_own_rows_only(loaded: tuple[World, dict[str, list[Any]]]) -> None:
    world, records = loaded
    everyone = records["A"] + records["B"]
    for by in (("sex_gender",), ("nationality",), ("country", "sex_gender")):
        assert _compare(world, "b_analyst", records["B"], by) > 10, by
        mine = _compare(world, "manager", everyone, by)
        assert mine > 10 and _compare(world, "coordinator", everyone, by) == mine, by
    # A partner whose organisation sent nothing reads no count at all, not the others'.
    res = world.client.get(f"/v1/projects/{world.project_id}/indicators", headers=world.headers("c_analyst"))
    assert res.status_code == 200
    assert all(not v["n"] for v in res.json["values"]), res.json["values"][:3]
    # The download and the admin's dashboard say the same, and the audit names the row scope.
    csv = world.client.get(
        f"/v1/projects/{world.project_id}/indicators.csv?includeReceived=true",
        headers=world.headers("b_analyst"),
    )
    assert csv.status_code == 200
    events = world.client.get(
        f"/v1/audits?action=indicators.export&actorId={world.user_ids['b_analyst']}",
        headers=world.headers("admin"),
    ).json
    assert [e["details"]["rowScope"] for e in events] == ["own organisation"]
    page = login(world, "b_analyst").get(f"/admin/projects/{world.project_id}/indicators")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="indicator-scope"' in text
    # The gaps beside the figures are the partner's too: none of the owner's form is listed.
    assert "pt_abrigo" not in text.split('id="indicator-gaps"')[1]
    owner = login(world, "manager").get(f"/admin/projects/{world.project_id}/indicators")
    assert 'id="indicator-scope"' not in owner.get_data(as_text=True)
