"""The audit log page: filtered by person, action, project and date, visible to administrators (all
events) and project managers (their projects' events), downloadable as CSV (itself audited)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from app.auth.actor import Actor
from app.db import get_database
from app.models import AuditEvent, User
from app.services.audit import events as audit
from tests.app.admin_helpers import login
from tests.app.conftest import World


def _events(world: World) -> None:
    """Four events by hand: two in the world's project, one in the other organisation's, one global."""
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sup = Actor(user=s.get(User, world.user_ids["supervisor"]))
        man = Actor(user=s.get(User, world.user_ids["manager"]))
        out = Actor(user=s.get(User, world.user_ids["outsider"]))
        rows = [
            (sup, "submission.review", world.project_id, "2026-11-03T10:00:00+00:00"),
            (man, "submission.export", world.project_id, "2026-11-20T10:00:00+00:00"),
            (out, "submission.export", world.other_project_id, "2026-11-20T11:00:00+00:00"),
            (sup, "user.password", None, "2026-11-21T09:00:00+00:00"),
        ]
        for actor, action, pid, at in rows:
            e = audit.record(s, actor=actor, action=action, project_id=pid, subject_type="form", subject_id=1)
            e.created_at = datetime.fromisoformat(at)
        s.commit()


def _shown(text: str) -> list[str]:
    import re

    return re.findall(r'<tr data-action="([^"]+)" data-event', text)


def test_manager_sees_own_projects_events_filtered(world: World) -> None:
    _events(world)
    client = login(world, "manager")  # the login itself is an event, with no project
    shown = _shown(client.get("/admin/audit").text)
    # The project's own events (the seeded two, and the world's role assignments), never the other
    # organisation's export nor events outside any project (logins, password changes).
    assert shown.count("submission.export") == 1 and "submission.review" in shown
    assert "project.role" in shown
    assert "user.password" not in shown and "user.login.web" not in shown
    page = client.get("/admin/audit", query_string={"person": world.user_ids["supervisor"]})
    assert _shown(page.text) == ["submission.review"]
    page = client.get("/admin/audit", query_string={"action": "submission.export"})
    assert _shown(page.text) == ["submission.export"]
    page = client.get("/admin/audit", query_string={"from": "2026-11-04", "to": "2026-11-20"})
    assert _shown(page.text) == ["submission.export"]
    page = client.get("/admin/audit", query_string={"to": "2026-11-03"})
    assert _shown(page.text) == ["submission.review"]


def test_admin_sees_everything_and_filters_by_project(world: World) -> None:
    _events(world)
    client = login(world, "admin")
    page = client.get("/admin/audit", query_string={"project": world.other_project_id, "to": "2026-11-30"})
    assert _shown(page.text) == ["submission.export"]
    assert "Tumbes" in page.text
    every = _shown(client.get("/admin/audit").text)
    assert "user.password" in every and "user.login.web" in every


def test_others_are_refused_and_junk_is_a_400(world: World) -> None:
    assert login(world, "supervisor").get("/admin/audit").status_code == 403
    assert login(world, "analyst").get("/admin/audit.csv").status_code == 403
    client = login(world, "manager")
    assert client.get("/admin/audit", query_string={"from": "yesterday"}).status_code == 400
    assert client.get("/admin/audit", query_string={"person": "abc"}).status_code == 400
    assert client.get("/admin/audit", query_string={"page": "0"}).status_code == 400
    assert world.app.test_client().get("/admin/audit").status_code == 302


def test_csv_is_the_filtered_selection_and_is_audited(world: World) -> None:
    _events(world)
    client = login(world, "manager")
    client.post("/admin/locale", data={"locale": "en", "csrf_token": _token(client)})
    res = client.get("/admin/audit.csv", query_string={"action": "submission.export"})
    assert res.status_code == 200 and res.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert [(r["action"], r["project"], r["email"]) for r in rows] == [
        ("submission.export", "Rumichaca", "manager@example.org")
    ]
    assert rows[0]["action_name"] == "submissions exported"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.query(AuditEvent).filter_by(action="audit.export").count() == 1
    # The download is in the trail the administrator reads (it names no project).
    assert "audit.export" in _shown(login(world, "admin").get("/admin/audit").text)
    client.post("/admin/locale", data={"locale": "es", "csrf_token": _token(client)})
    res = client.get("/admin/audit.csv", query_string={"action": "submission.export"})
    assert next(csv.DictReader(io.StringIO(res.text)))["action_name"] == "envíos exportados"


def _token(client: object) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/").text)  # type: ignore[attr-defined]
    assert found
    return found.group(1)
