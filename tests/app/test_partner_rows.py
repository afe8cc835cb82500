"""Partner rows in a shared project (issue 21 items 1-2).

Org A owns the project and shares it with partners B and C. Each organisation's device sends one
record and registers one entity. Every route of the app's URL map is walked as B's manager and
analyst, C's analyst, a coordinator and a person of no organisation: a route that names a foreign row
(a submission, a file of it, an entity) answers 403/404, and no other route's body (JSON, CSV, zip,
page, entity list) names a foreign row. Reads are audited and listed by ``GET /v1/audits``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest

from app.auth.actor import Actor
from app.db import get_database
from app.models import Submission, User
from app.services import projects
from app.services.accounts import app_users
from app.services.accounts import people as accounts
from tests.app.admin_helpers import csrf_token, login
from tests.app.conftest import World
from tests.app.entity_helpers import publish_xlsform, registration_xlsform, registration_xml, update_xlsform
from tests.app.job_helpers import run_jobs
from tests.app.openrosa_helpers import OR_HEADERS, SIMPLE_FORM, instance, post_submission, publish_xml, root

PARTNER_PEOPLE = {
    "b_manager": ("ORG-PB", "manager"),
    "b_analyst": ("ORG-PB", "analyst"),
    "c_analyst": ("ORG-PC", "analyst"),
    "coordinator": ("ORG-CO", "coordinator"),
    # Of no organisation, in a shared project: neither the owner's nor a partner's, so sees no row.
    "nobody": (None, "analyst"),
}
# Each organisation's record: its instance ID and a name no other record carries.
RECORDS = {
    "A": ("uuid:row-own-a", "Alba Owner"),
    "B": ("uuid:row-own-b", "Berta Partner"),
    "C": ("uuid:row-own-c", "Carla Partner"),
}
# Each organisation's device registers one entity (issue 21: entity lists are partner rows too).
ENTITIES = {
    "A": ("0a0a0a0a-0000-4000-8000-00000000000a", "Albergue Owner"),
    "B": ("0b0b0b0b-0000-4000-8000-00000000000b", "Bodega Partner"),
    "C": ("0c0c0c0c-0000-4000-8000-00000000000c", "Casita Partner"),
}
MINE = {"b_manager": "B", "b_analyst": "B", "c_analyst": "C", "coordinator": None, "nobody": None}


@dataclass
class Shared:
    world: World
    org_ids: dict[str, int]
    submission_ids: dict[str, int]
    tokens: dict[str, str]


def _markers(org: str) -> tuple[str, ...]:
    return RECORDS[org] + ENTITIES[org]


@pytest.fixture
def shared(world: World) -> Shared:
    app = world.app
    publish_xml(world, SIMPLE_FORM)
    org_ids = {"A": world.org_id}
    with app.app_context(), get_database(app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        for code in ("ORG-PB", "ORG-PC", "ORG-CO"):
            org_ids[code] = projects.create_organisation(session, actor=admin, code=code, name=code).id
        session.commit()
    manager = world.headers("manager")
    for code in ("ORG-PB", "ORG-PC"):
        res = world.client.post(
            f"/v1/projects/{world.project_id}/partners",
            json={"organisationId": org_ids[code]},
            headers=manager,
        )
        assert res.status_code == 200, res.json
    tokens: dict[str, str] = {}
    with app.app_context(), get_database(app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        project = projects.get_project(session, world.project_id)
        for who, (code, role) in PARTNER_PEOPLE.items():
            world.emails[who] = f"{who}@example.org"
            world.passwords[who] = f"{who}-password-123"
            user = accounts.create_user(
                session,
                actor=admin,
                email=world.emails[who],
                password=world.passwords[who],
                realm=app.config["DIGEST_REALM"],
                organisation_id=org_ids[code] if code else None,
            )
            accounts.assign_role(session, actor=admin, project=project, user=user, role=role)
            world.user_ids[who] = user.id
        session.flush()
        # Each device is issued by someone of its organisation: its records are collected for that one.
        for org, who in (("A", "manager"), ("B", "b_manager"), ("C", "c_analyst")):
            issuer = Actor(user=session.get(User, world.user_ids[who]))
            tokens[org] = app_users.create_app_user(
                session, actor=issuer, project=project, display_name=f"phone {org}"
            ).token
        session.commit()
    for org, (iid, name) in RECORDS.items():
        res = post_submission(
            world, root(world, tokens[org]), instance(iid, name=name), {"a.jpg": b"jpeg " + org.encode()}
        )
        assert res.status_code == 201, res.text
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    for org, (uuid, label) in ENTITIES.items():
        xml = registration_xml(f"reg-{org}", uuid, label, 10)
        res = post_submission(world, root(world, tokens[org]), xml)
        assert res.status_code == 201, res.text
    admin_headers = world.headers("admin")
    for iid, _ in RECORDS.values():
        # Approved: exports carry approved rows by default, so every export of the walk has rows to leak.
        res = world.client.patch(
            f"/v1/projects/{world.project_id}/forms/photo/submissions/{iid}",
            json={"reviewState": "approved"},
            headers=admin_headers,
        )
        assert res.status_code == 200, res.json
    with app.app_context(), get_database(app).session_scope() as session:
        rows = {s.instance_id: (s.id, s.organisation_id) for s in session.query(Submission)}
    expected_org = {"A": world.org_id, "B": org_ids["ORG-PB"], "C": org_ids["ORG-PC"]}
    for org, (iid, _) in RECORDS.items():
        assert rows[iid][1] == expected_org[org], org
    return Shared(world, org_ids, {org: rows[iid][0] for org, (iid, _) in RECORDS.items()}, tokens)


def _texts(res: Any) -> list[str]:
    """Everything a response says: its body, or each member of a zip."""
    data = res.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [n for n in z.namelist()] + [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    return [data.decode("utf-8", "replace")]


_ARG = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def _fill(rule: str, values: dict[str, Any]) -> str | None:
    """The rule with its arguments filled, or None when it takes one this walk has no value for."""
    names = _ARG.findall(rule)
    if any(n not in values for n in names):
        return None
    return _ARG.sub(lambda m: str(values[m.group(1)]), rule)


def _clients(s: Shared, who: str) -> tuple[Any, dict[str, str]]:
    return login(s.world, who), s.world.headers(who)


@pytest.mark.parametrize("who", list(PARTNER_PEOPLE))
def test_every_route_hides_foreign_partner_rows(shared: Shared, who: str) -> None:
    world = shared.world
    mine = MINE[who]
    foreign = [org for org in RECORDS if org != mine]
    admin_client, headers = _clients(shared, who)
    base = {"project_id": world.project_id, "xml_form_id": "photo", "name": "a.jpg", "subpath": "Submissions"}
    base |= {"format": "csv", "dataset_name": "shelters", "table": "Entities"}
    walked_rows = walked_lists = 0
    for rule in world.app.url_map.iter_rules():
        path_rule = rule.rule
        if not (path_rule.startswith("/v1/") or path_rule.startswith("/admin/")) or "/key/" in path_rule:
            continue
        client = admin_client if path_rule.startswith("/admin/") else world.client
        hdrs = {} if path_rule.startswith("/admin/") else headers
        names = set(_ARG.findall(path_rule))
        if names & {"instance_id", "submission_id", "version_id", "uuid"}:
            for org in foreign:
                iid = RECORDS[org][0]
                values = base | {
                    "instance_id": iid,
                    "version_id": iid,
                    "submission_id": shared.submission_ids[org],
                    "uuid": ENTITIES[org][0],
                }
                path = _fill(path_rule, values)
                if path is None:
                    continue
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    data = (
                        {"csrf_token": csrf_token(admin_client, "/admin/")}
                        if client is admin_client
                        else None
                    )
                    kwargs: dict[str, Any] = {"data": data} if data else {"json": {}}
                    res = client.open(path, method=method, headers=hdrs, **kwargs)
                    assert res.status_code in (403, 404), (who, method, path, res.status_code)
                    walked_rows += 1
            continue
        if "GET" not in (rule.methods or set()):
            continue
        path = _fill(path_rule, base)
        if path is None:
            continue
        res = client.get(path, headers=hdrs)
        assert res.status_code < 500, (who, path, res.status_code)
        walked_lists += 1
        for text in _texts(res):
            for org in foreign:
                for marker in _markers(org):
                    assert marker not in text, (who, path, org, marker)
    assert walked_rows > 10 and walked_lists > 20, (walked_rows, walked_lists)


def test_partner_reads_its_own_rows_and_the_owner_reads_all(shared: Shared) -> None:
    world = shared.world
    form = f"/v1/projects/{world.project_id}/forms/photo"
    for who, expected in (
        ("b_analyst", {"B"}),
        ("c_analyst", {"C"}),
        ("manager", {"A", "B", "C"}),
        ("admin", {"A", "B", "C"}),
    ):
        headers = world.headers(who)
        listed = world.client.get(f"{form}/submissions", headers=headers).json
        assert {r["instanceId"] for r in listed} == {RECORDS[o][0] for o in expected}, who
        odata = world.client.get(f"{form}.svc/Submissions?$count=true", headers=headers).json
        assert odata["@odata.count"] == len(expected), who
        csv = world.client.get(f"{form}/submissions.csv", headers=headers).get_data(as_text=True)
        assert sum(RECORDS[o][1] in csv for o in RECORDS) == len(expected), who
        for org in expected:
            res = world.client.get(f"{form}/submissions/{RECORDS[org][0]}", headers=headers)
            assert res.status_code == 200, (who, org)
    coordinator = world.headers("coordinator")
    assert world.client.get(f"{form}/submissions", headers=coordinator).status_code == 403
    assert (
        world.client.get(f"/v1/projects/{world.project_id}/indicators", headers=coordinator).status_code
        == 200
    )
    # A partner's people get figures over their own rows (tests/app/test_partner_figures.py checks them).
    res = world.client.get(f"/v1/projects/{world.project_id}/indicators", headers=world.headers("b_analyst"))
    assert res.status_code == 200


def test_owners_grant_a_coordinator_the_raw_rows_and_revoke_them(shared: Shared) -> None:
    world = shared.world
    pid, coordinator_id = world.project_id, world.user_ids["coordinator"]
    form = f"/v1/projects/{pid}/forms/photo"
    coordinator = world.headers("coordinator")
    grants = f"/v1/projects/{pid}/row-grants"
    listed = world.client.get(grants, headers=world.headers("manager")).json
    assert listed == [{"actorId": coordinator_id, "role": "coordinator", "granted": False, "grantedAt": None}]
    assert world.client.get(grants, headers=world.headers("b_manager")).status_code == 403
    # Only the owners decide: not a partner's manager, not the coordinator, not for a non-coordinator.
    for who, status in (("b_manager", 403), ("coordinator", 403), ("c_analyst", 403), ("outsider", 404)):
        res = world.client.put(f"{grants}/{coordinator_id}", headers=world.headers(who))
        assert res.status_code == status, (who, res.json)
    res = world.client.put(f"{grants}/{world.user_ids['b_analyst']}", headers=world.headers("manager"))
    assert res.status_code == 404, res.json
    assert world.client.get(f"{form}/submissions", headers=coordinator).status_code == 403
    res = world.client.put(f"{grants}/{coordinator_id}", headers=world.headers("manager"))
    assert res.status_code == 200 and res.json["granted"] is True, res.json
    listed = world.client.get(f"{form}/submissions", headers=coordinator).json
    assert {r["instanceId"] for r in listed} == {iid for iid, _ in RECORDS.values()}
    res = world.client.get(f"{form}/submissions/{RECORDS['B'][0]}", headers=coordinator)
    assert res.status_code == 200
    # Bulk pulls of other organisations' rows go through the risk check (exports), so OData, which
    # cannot run it over a whole selection, refuses them.
    assert world.client.get(f"{form}.svc/Submissions", headers=coordinator).status_code == 403
    # Reading is all the grant gives: no review, no deletion.
    res = world.client.patch(
        f"{form}/submissions/{RECORDS['B'][0]}", json={"reviewState": "rejected"}, headers=coordinator
    )
    assert res.status_code == 403
    res = world.client.delete(f"{grants}/{coordinator_id}", headers=world.headers("manager"))
    assert res.status_code == 200 and res.json["granted"] is False
    assert world.client.get(f"{form}/submissions", headers=coordinator).status_code == 403
    res = world.client.get(f"{form}/submissions/{RECORDS['B'][0]}", headers=coordinator)
    assert res.status_code == 403
    events = world.client.get(
        f"/v1/audits?actorId={world.user_ids['manager']}", headers=world.headers("admin")
    ).json
    actions = [e["action"] for e in events if e["action"].startswith("project.rows.")]
    assert sorted(actions) == ["project.rows.grant", "project.rows.revoke"], actions
    # The admin's people page grants too; a role change then clears the grant (it never carries over).
    client = login(world, "manager")
    page = client.get(f"/admin/projects/{pid}/people").get_data(as_text=True)
    assert f"/admin/projects/{pid}/people/{coordinator_id}/rows" in page
    res = client.post(
        f"/admin/projects/{pid}/people/{coordinator_id}/rows",
        data={"csrf_token": csrf_token(client, f"/admin/projects/{pid}/people"), "grant": "1"},
    )
    assert res.status_code == 303
    assert len(world.client.get(f"{form}/submissions", headers=coordinator).json) == 3
    admin = world.headers("admin")
    # Made a partner's analyst and then coordinator again: the grant went with the first change.
    res = world.client.post(
        f"/v1/projects/{pid}/partners", json={"organisationId": shared.org_ids["ORG-CO"]}, headers=admin
    )
    assert res.status_code == 200
    for role in ("analyst", "coordinator"):
        res = world.client.post(f"/v1/projects/{pid}/assignments/{role}/{coordinator_id}", headers=admin)
        assert res.status_code == 200, res.json
    assert world.client.get(f"{form}/submissions", headers=coordinator).status_code == 403
    assert world.client.get(grants, headers=world.headers("manager")).json[0]["granted"] is False


def test_export_job_reads_only_the_askers_rows(shared: Shared) -> None:
    world = shared.world
    headers = world.headers("b_analyst")
    form = f"/v1/projects/{world.project_id}/forms/photo"
    res = world.client.post(f"{form}/exports", json={"format": "csv"}, headers=headers)
    assert res.status_code == 202, res.json
    run_jobs(world.app)
    status = world.client.get(res.headers["Location"], headers=headers).json
    assert status["status"] == "done", status
    body = world.client.get(res.headers["Location"] + "/file", headers=headers)
    texts = "".join(_texts(body))
    assert RECORDS["B"][1] in texts
    assert RECORDS["A"][1] not in texts and RECORDS["C"][1] not in texts


def test_removing_a_partner_hides_its_rows_from_its_people_at_once(shared: Shared) -> None:
    world = shared.world
    manager = world.headers("manager")
    pid = world.project_id
    listed = world.client.get(f"/v1/projects/{pid}/partners", headers=manager).json
    assert {p["code"] for p in listed} == {"ORG-PB", "ORG-PC"}
    res = world.client.delete(f"/v1/projects/{pid}/partners/{shared.org_ids['ORG-PB']}", headers=manager)
    assert res.status_code == 200
    rows = world.client.get(
        f"/v1/projects/{pid}/forms/photo/submissions", headers=world.headers("b_analyst")
    ).json
    assert rows == []
    res = world.client.get(
        f"/v1/projects/{pid}/forms/photo/submissions/{RECORDS['B'][0]}", headers=world.headers("b_analyst")
    )
    assert res.status_code == 404


def test_who_may_share_a_project(shared: Shared) -> None:
    world = shared.world
    pid = world.project_id
    body = {"json": {"organisationId": shared.org_ids["ORG-CO"]}}
    for who, status in (
        ("anonymous", 401),
        ("outsider", 404),
        ("analyst", 403),
        ("b_manager", 403),  # a partner's manager does not share the owner's project further
        ("coordinator", 403),
    ):
        res = world.client.post(f"/v1/projects/{pid}/partners", headers=world.headers(who), **body)
        assert res.status_code == status, (who, res.json)
        res = world.client.delete(
            f"/v1/projects/{pid}/partners/{shared.org_ids['ORG-PC']}", headers=world.headers(who)
        )
        assert res.status_code == status, (who, res.json)
    res = world.client.post(f"/v1/projects/{pid}/partners", headers=world.headers("admin"), **body)
    assert res.status_code == 200
    again = world.client.post(f"/v1/projects/{pid}/partners", headers=world.headers("manager"), **body)
    assert again.status_code == 409
    for bad in ({"organisationId": "x"}, {"organisationId": 999999}, {"organisationId": world.org_id}, {}):
        res = world.client.post(f"/v1/projects/{pid}/partners", headers=world.headers("manager"), json=bad)
        assert res.status_code == 400, (bad, res.json)
    res = world.client.delete(
        f"/v1/projects/{pid}/partners/{world.other_org_id}", headers=world.headers("manager")
    )
    assert res.status_code == 404


def test_reads_are_audited_and_listed(shared: Shared) -> None:
    world = shared.world
    form = f"/v1/projects/{world.project_id}/forms/photo"
    analyst = world.headers("b_analyst")
    assert world.client.get(f"{form}/submissions/{RECORDS['B'][0]}", headers=analyst).status_code == 200
    assert world.client.get(f"{form}/submissions.csv", headers=analyst).status_code == 200
    assert world.client.get(f"{form}.svc/Submissions", headers=analyst).status_code == 200
    admin_client = login(world, "b_manager")
    assert admin_client.get(f"/admin/submissions/{shared.submission_ids['B']}").status_code == 200
    events = world.client.get(
        f"/v1/audits?action=read&actorId={world.user_ids['b_analyst']}", headers=world.headers("admin")
    ).json
    actions = sorted(e["action"] for e in events)
    assert actions == ["submission.export", "submission.export", "submission.read"], actions
    read = next(e for e in events if e["action"] == "submission.read")
    assert read["acteeId"] == RECORDS["B"][0] and read["details"]["via"] == "api"
    assert read["loggedAt"].endswith("Z") and read["projectId"] == world.project_id
    formats = sorted(e["details"]["format"] for e in events if e["action"] == "submission.export")
    assert formats == ["csv", "odata"]
    admin_view = world.client.get(
        f"/v1/audits?action=submission.read&actorId={world.user_ids['b_manager']}",
        headers=world.headers("admin"),
    ).json
    assert [e["details"]["via"] for e in admin_view] == ["admin"]
    # The owner's manager sees the partner's reads; C's analyst has no audit right; B's manager sees
    # only B's people's events.
    owner = world.client.get("/v1/audits?action=read", headers=world.headers("manager")).json
    assert {e["actorId"] for e in owner} >= {world.user_ids["b_analyst"], world.user_ids["b_manager"]}
    assert world.client.get("/v1/audits", headers=world.headers("c_analyst")).json == []
    partner = world.client.get("/v1/audits", headers=world.headers("b_manager")).json
    b_people = {world.user_ids["b_analyst"], world.user_ids["b_manager"]}
    assert partner and {e["actorId"] for e in partner} <= b_people
    # Time bounds: nothing before the epoch of this test, everything up to the end of today.
    assert world.client.get("/v1/audits?end=2000-01-01", headers=world.headers("admin")).json == []
    for bad in ("start=yesterday", "end=2026-13-01", "actorId=-1", "limit=0"):
        res = world.client.get(f"/v1/audits?{bad}", headers=world.headers("admin"))
        assert res.status_code == 400, bad


def test_coordinator_through_the_assignments_api(shared: Shared) -> None:
    world = shared.world
    pid, admin = world.project_id, world.headers("admin")
    outsider = world.user_ids["outsider"]  # org B of the world: neither the owner nor a partner
    res = world.client.post(f"/v1/projects/{pid}/assignments/analyst/{outsider}", headers=admin)
    assert res.status_code == 400, res.json
    res = world.client.post(f"/v1/projects/{pid}/assignments/coordinator/{outsider}", headers=admin)
    assert res.status_code == 200, res.json
    roles = world.client.get(f"/v1/projects/{pid}/assignments", headers=admin).json
    assert {"actorId": outsider, "role": "coordinator"}.items() <= next(
        r for r in roles if r["actorId"] == outsider
    ).items()
    headers = world.headers("outsider")
    form = f"/v1/projects/{pid}/forms/photo"
    assert world.client.get(f"{form}/submissions", headers=headers).status_code == 403
    assert world.client.get(f"{form}/submissions.csv", headers=headers).status_code == 403
    assert world.client.get(f"/v1/projects/{pid}/indicators.csv", headers=headers).status_code == 200


def test_a_partners_manager_sets_no_webhook(shared: Shared) -> None:
    world = shared.world
    body = {"url": "http://127.0.0.1:9/hook"}
    url = f"/v1/projects/{world.project_id}/webhooks"
    assert world.client.post(url, json=body, headers=world.headers("b_manager")).status_code == 403
    assert world.client.post(url, json=body, headers=world.headers("manager")).status_code in (200, 201)


def test_entity_lists_are_partner_rows(shared: Shared) -> None:
    """A partner's people and devices read only the entities their organisation's submissions created,
    in the API, its CSV, OData and a device's list file; the owners read every one."""
    world = shared.world
    pid = world.project_id
    lists = f"/v1/projects/{pid}/datasets/shelters"
    for who, expected in (("b_analyst", {"B"}), ("c_analyst", {"C"}), ("manager", {"A", "B", "C"})):
        headers = world.headers(who)
        listed = world.client.get(f"{lists}/entities", headers=headers).json
        assert {e["uuid"] for e in listed} == {ENTITIES[o][0] for o in expected}, who
        csv = world.client.get(f"{lists}/entities.csv", headers=headers).get_data(as_text=True)
        odata = world.client.get(f"{lists}.svc/Entities?$count=true", headers=headers).json
        assert odata["@odata.count"] == len(expected), who
        summary = next(d for d in world.client.get(f"/v1/projects/{pid}/datasets", headers=headers).json)
        assert summary["entities"] == len(expected), (who, summary)
        for org, (uuid, label) in ENTITIES.items():
            assert (label in csv) == (org in expected), (who, org)
            res = world.client.get(f"{lists}/entities/{uuid}", headers=headers)
            assert res.status_code == (200 if org in expected else 404), (who, org)
    # Devices: the follow-up form's list file carries the device's organisation's entities only.
    for org, expected in (("A", {"A", "B", "C"}), ("B", {"B"}), ("C", {"C"})):
        base = root(world, shared.tokens[org])
        res = world.client.get(f"{base}/formList/shelter_update/manifest", headers=OR_HEADERS)
        url = re.search(r"<downloadUrl>([^<]+shelters[^<]*)</downloadUrl>", res.get_data(as_text=True))
        assert url is not None, res.data
        body = world.client.get(url.group(1).replace("http://localhost", ""), headers=OR_HEADERS)
        text = body.get_data(as_text=True)
        assert {o for o, (_, label) in ENTITIES.items() if label in text} == expected, org
    # A coordinator reads no entity; the owner's manager a partner's entity made through the API too.
    assert world.client.get(f"{lists}/entities", headers=world.headers("coordinator")).status_code == 403
    res = world.client.post(
        f"{lists}/entities", json={"label": "Bunker Partner API"}, headers=world.headers("b_manager")
    )
    assert res.status_code in (200, 201), res.json
    seen_by_c = world.client.get(f"{lists}/entities.csv", headers=world.headers("c_analyst"))
    assert "Bunker Partner API" not in seen_by_c.get_data(as_text=True)
    seen_by_b = world.client.get(f"{lists}/entities.csv", headers=world.headers("b_analyst"))
    assert "Bunker Partner API" in seen_by_b.get_data(as_text=True)


def _grant(world: World) -> dict[str, str]:
    res = world.client.put(
        f"/v1/projects/{world.project_id}/row-grants/{world.user_ids['coordinator']}",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    return world.headers("coordinator")


def test_rows_leaving_their_organisation_go_through_the_risk_check(shared: Shared) -> None:
    world = shared.world
    pid = world.project_id
    form = f"/v1/projects/{pid}/forms/photo"
    coordinator = _grant(world)
    # No quasi-identifiers declared: rows collected by others cannot leave (fail closed) ...
    res = world.client.get(f"{form}/submissions.csv", headers=coordinator)
    assert res.status_code == 400, res.json
    assert "collected by another organisation" in res.json["message"]
    # ... while the owners and a partner exporting its own rows are not a share.
    assert world.client.get(f"{form}/submissions.csv", headers=world.headers("manager")).status_code == 200
    assert world.client.get(f"{form}/submissions.csv", headers=world.headers("b_analyst")).status_code == 200
    res = world.client.patch(form, json={"quasiIdentifiers": ["name"]}, headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    # Three records, each alone in its group: 100 % at risk, refused with the figures, and audited.
    res = world.client.get(f"{form}/submissions.csv", headers=coordinator)
    assert res.status_code == 422, res.json
    assert res.json["details"]["recordsAtRisk"] == 3 and res.json["details"]["records"] == 3
    assert world.client.get(f"{form}/submissions.csv", headers=world.headers("manager")).status_code == 200
    events = world.client.get(
        f"/v1/audits?action=submission.risk_check&actorId={world.user_ids['coordinator']}",
        headers=world.headers("admin"),
    ).json
    assert events and all(e["details"]["crossesOrganisations"] for e in events)
    # An export job is checked on the rows it would write, and fails with the reason.
    res = world.client.post(f"{form}/exports", json={"format": "csv"}, headers=coordinator)
    assert res.status_code == 202, res.json
    run_jobs(world.app)
    status = world.client.get(res.headers["Location"], headers=coordinator).json
    assert status["status"] == "failed" and "quasi-identifiers" in status["error"], status


def test_share_classes_on_export_jobs_partners_and_hubs(shared: Shared) -> None:
    world = shared.world
    pid = world.project_id
    form = f"/v1/projects/{pid}/forms/photo"
    manager = world.headers("manager")
    res = world.client.patch(form, json={"sensitivity": "confidential"}, headers=manager)
    assert res.status_code == 200, res.json
    # A job asked to share below the form's class is refused at once, as the direct download is.
    res = world.client.post(
        f"{form}/exports", json={"format": "csv", "shareClass": "restricted"}, headers=manager
    )
    assert res.status_code == 403 and res.json["code"] == "403.60", res.json
    res = world.client.post(
        f"{form}/exports", json={"format": "csv", "shareClass": "confidential"}, headers=manager
    )
    assert res.status_code == 202, res.json
    run_jobs(world.app)
    assert world.client.get(res.headers["Location"], headers=manager).json["status"] == "done"
    # Sharing the project with a partner, or issuing a hub, at a class below its data's: refused.
    other = world.client.post(
        f"/v1/projects/{pid}/partners",
        json={"organisationId": shared.org_ids["ORG-CO"], "shareClass": "restricted"},
        headers=manager,
    )
    assert other.status_code == 403 and other.json["code"] == "403.60", other.json
    res = world.client.post(
        f"/v1/projects/{pid}/hubs", json={"name": "Hub", "shareClass": "public"}, headers=manager
    )
    assert res.status_code == 403 and res.json["code"] == "403.60", res.json
    ok = world.client.post(
        f"/v1/projects/{pid}/partners",
        json={"organisationId": shared.org_ids["ORG-CO"], "shareClass": "strictly_confidential"},
        headers=manager,
    )
    assert ok.status_code == 200, ok.json
    res = world.client.post(
        f"/v1/projects/{pid}/partners", json={"organisationId": 1, "shareClass": "x"}, headers=manager
    )
    assert res.status_code == 400, res.json
