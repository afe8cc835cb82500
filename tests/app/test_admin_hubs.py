"""The admin's field hubs page: managers see each hub's last sync and counts, issue a credential
(shown once) and revoke one; other roles do not get the page."""

from __future__ import annotations

from tests.app.admin_helpers import login
from tests.app.batch_helpers import make_zip
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, instance, publish_xml


def _login(world: World, who: str) -> None:
    world.client.delete_cookie("session")  # whoever was logged in on this client before
    login(world, who, world.client)


def _csrf(html: bytes) -> str:
    return html.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()


def test_hubs_page_issue_sync_counts_and_revoke(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    _login(world, "manager")
    page = world.client.get(f"/admin/projects/{world.project_id}/hubs")
    assert page.status_code == 200 and "Aún no hay nodos.".encode() in page.data  # the user's Spanish
    csrf = _csrf(page.data)
    issued = world.client.post(
        f"/admin/projects/{world.project_id}/hubs", data={"name": "Tulcan office", "csrf_token": csrf}
    )
    assert issued.status_code == 200 and b"ruta hub link" in issued.data
    token = issued.data.split(b"--token ")[1].split(b"<")[0].decode().strip()
    batch = make_zip({"a": {"a.xml": instance("uuid:admin-hub")}})
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=batch,
        content_type="application/zip",
        headers={"Authorization": f"Hub {token}"},
    )
    assert res.status_code == 200, res.json
    page = world.client.get(f"/admin/projects/{world.project_id}/hubs")
    assert b"Tulcan office" in page.data and token.encode() not in page.data
    row = page.data.split(b'data-hub="1"')[1].split(b"</tr>")[0]
    assert b'<td class="num">1</td>' in row  # one batch, one submission
    no_token = world.client.post(f"/admin/projects/{world.project_id}/hubs/1/revoke")
    assert no_token.status_code == 400  # CSRF
    revoked = world.client.post(
        f"/admin/projects/{world.project_id}/hubs/1/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    assert b"badge revoked" in world.client.get(f"/admin/projects/{world.project_id}/hubs").data
    menu = world.client.get(f"/admin/projects/{world.project_id}/devices").data
    assert f"/admin/projects/{world.project_id}/hubs".encode() in menu


def test_hubs_page_access(world: World) -> None:
    for who, status in (("supervisor", 403), ("analyst", 403), ("outsider", 404), ("admin", 200)):
        _login(world, who)
        assert world.client.get(f"/admin/projects/{world.project_id}/hubs").status_code == status, who


def test_hub_page_shows_this_hubs_link_backlog_and_rate(world: World) -> None:
    from app.db import get_database, utcnow
    from app.models import Project
    from app.services.hubs import link as hub_link
    from tests.app.openrosa_helpers import device_token, post_submission, root

    publish_xml(world, SIMPLE_FORM)
    _login(world, "manager")
    assert b'id="hub-link"' not in world.client.get(f"/admin/projects/{world.project_id}/hubs").data
    base = root(world, device_token(world)["token"])
    assert post_submission(world, base, instance("uuid:at-hub"), {"a.jpg": b"x" * 3000}).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, world.project_id)
        assert project is not None
        link = hub_link.link_project(
            s, project=project, central_url="https://central.example.org", central_project_id=7,
            token="t", central_hub_id=3,
        )  # fmt: skip
        link.link_rate, link.last_sync_at, link.last_sync_bytes, link.last_sync_seconds = (
            7900.0,
            utcnow(),
            41_000,
            52.0,
        )
        s.commit()
    page = world.client.get(f"/admin/projects/{world.project_id}/hubs").data.decode()
    assert 'id="hub-link"' in page and "https://central.example.org" in page
    backlog = page.split('id="hub-backlog">')[1].split("</td>")[0]
    assert backlog.startswith("1 ") and "3.0 kB" in backlog, backlog  # one submission, its 3 KB photo
    assert "7.9 kB/s" in page.split('id="hub-rate">')[1].split("</td>")[0]
    assert "41.0 kB" in page.split('id="hub-last-sync">')[1].split("</td>")[0]
