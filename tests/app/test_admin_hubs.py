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
