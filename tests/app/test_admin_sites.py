"""The admin's site registry page: the import report shown row by row (nothing stored), good rows only
on request, editing one site (a new entity version), and who gets the page."""

from __future__ import annotations

import io

from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.data import data_file


def _login(world: World, who: str) -> None:
    world.client.delete_cookie("session")
    login(world, who, world.client)


def _csrf(html: bytes) -> str:
    return html.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()


def _upload(world: World, csrf: str, good_rows: bool = False) -> bytes:
    data = {
        "csrf_token": csrf,
        "file": (io.BytesIO(data_file("sites/registry_bad.csv").read_bytes()), "s.csv"),
    }
    if good_rows:
        data["goodRows"] = "true"
    res = world.client.post(
        f"/admin/projects/{world.project_id}/sites/import", data=data, content_type="multipart/form-data"
    )
    assert res.status_code in (200, 303, 422), res.text[:500]
    return res.data if res.status_code != 303 else world.client.get(res.location).data


def test_import_report_then_good_rows_then_edit(world: World) -> None:
    _login(world, "analyst")
    base = f"/admin/projects/{world.project_id}/sites"
    page = world.client.get(base)
    assert page.status_code == 200 and b'id="sites-table"' in page.data
    csrf = _csrf(page.data)
    refused = _upload(world, csrf)
    report = refused.split(b'id="sites-report"')[1].split(b"</section>")[0]
    assert {int(r) for r in report.split(b'data-row="')[1:] for r in [r.split(b'"')[0]]} == {
        4,
        5,
        6,
        7,
        8,
        10,
    }
    assert b"PE1501 (Lima) is in PE15, not in PE24" in report
    assert b'data-site="' not in refused  # nothing stored
    stored = _upload(world, csrf, good_rows=True)
    assert stored.count(b'data-site="') == 4
    assert b'data-site="COL-CUC"' in stored and b"CO54001 San Jose de Cucuta" in stored
    edit = world.client.get(f"{base}/edit?code=BRA-BVA")
    assert edit.status_code == 200 and b'value="500"' in edit.data
    form = {
        "csrf_token": csrf,
        "existing": "1",
        "code": "BRA-BVA",
        "name_pt": "Abrigo Boa Vista",
        "site_type": "shelter",
        "adm0_pcode": "BRA",
        "adm1_pcode": "BR14",
        "adm2_pcode": "BR1400100",
        "latitude": "2.8235",
        "longitude": "-60.6758",
        "capacity": "650",
        "status": "active",
    }
    wrong = world.client.post(f"{base}/edit", data=form | {"adm2_pcode": "CO54001"})
    assert wrong.status_code == 422 and b'data-column="adm2_pcode"' in wrong.data
    saved = world.client.post(f"{base}/edit", data=form)
    assert saved.status_code == 303
    row = world.client.get(base).data.split(b'data-site="BRA-BVA"')[1].split(b"</tr>")[0]
    assert b'<td class="num">650</td>' in row and b'<td class="num">2</td>' in row  # capacity, version 2


def test_site_registry_page_access(world: World) -> None:
    base = f"/admin/projects/{world.project_id}/sites"
    _login(world, "enumerator")
    page = world.client.get(base)
    assert page.status_code == 200 and b"sites-file" not in page.data  # reads, does not import
    assert world.client.get(f"{base}/edit").status_code == 403
    _login(world, "outsider")
    assert world.client.get(base).status_code == 404
