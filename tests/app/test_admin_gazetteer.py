"""The gazetteer upload in the admin (issue 19): administrators replace a country's P-codes from a file in
OCHA's global P-code list format; a file with problems gets a row-by-row report and changes nothing; the
site registry's checks use the new P-codes at once."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from app.sites import places
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.form_admin_helpers import audit_rows

HEADER = ",".join(places.UNIT_COLUMNS)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped gazetteer as the one in use (RUTA_GAZETTEER_DIR), so the test writes there."""
    for name in ("pcodes.csv", "countries.csv"):
        (tmp_path / name).write_bytes((places.DATA_DIR / name).read_bytes())
    monkeypatch.setattr(places, "_directory", tmp_path)
    return tmp_path


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def _upload(client, text: str):  # type: ignore[no-untyped-def]
    page = client.get("/admin/gazetteer")
    return client.post(
        "/admin/gazetteer/import",
        data={"csrf_token": _csrf(page.text), "file": (io.BytesIO(text.encode()), "pcodes.csv")},
        content_type="multipart/form-data",
    )


def _row_counts(folder: Path, iso3: str) -> tuple[int, int]:
    text = (folder / "pcodes.csv").read_text(encoding="utf-8")
    levels = Counter(r["Admin Level"] for r in csv.DictReader(io.StringIO(text)) if r["Location"] == iso3)
    return levels["1"], levels["2"]


def test_a_bad_file_is_reported_row_by_row_and_changes_nothing(world: World, folder: Path) -> None:
    client = login(world, "admin")
    page = client.get("/admin/gazetteer")
    assert page.status_code == 200
    adm1, adm2 = _row_counts(folder, "COL")  # counted from the file itself
    row = f'<td>Colombia</td><td class="num">{adm1}</td><td class="num">{adm2}</td>'
    assert f'<tr data-country="COL"><td>COL</td>{row}' in page.text
    before = (folder / "pcodes.csv").read_bytes()
    bad = f"{HEADER}\nPAN,1,PA01,Bocas del Toro,PAN,\nPAN,3,PA0101X,Too deep,PA01,\nPAN,1,PA01,Again,PAN,\n"
    res = _upload(client, bad)
    assert res.status_code == 422
    assert "Row 3: admin level &#39;3&#39; is not 1 or 2." in res.text
    assert "Row 4: P-code PA01 appears twice." in res.text
    assert (folder / "pcodes.csv").read_bytes() == before
    assert audit_rows(world, "gazetteer.import") == []


def test_an_upload_replaces_its_country_and_the_registry_checks_follow(world: World, folder: Path) -> None:
    client = login(world, "admin")
    old_pan_adm1 = places.shipped().unit("PA02")
    assert old_pan_adm1 is not None and old_pan_adm1.name == "Chiriqui"
    good = (
        f"{HEADER}\nPAN,1,PA01,Bocas del Toro,PAN,2026-01-01\nPAN,2,PA0101,Bocas del Toro,PA01,2026-01-01\n"
    )
    res = _upload(client, good)
    assert res.status_code == 303
    assert _row_counts(folder, "PAN") == (1, 1)
    assert _row_counts(folder, "COL") == (33, 1122)  # other countries are kept as they were
    assert places.shipped().unit("PA02") is None and places.shipped().unit("PA0101") is not None
    (event,) = audit_rows(world, "gazetteer.import")
    assert event["details"]["countries"] == ["PAN"] and event["details"]["imported"] == 2
    # The registry checks P-codes against the gazetteer now in use.
    body = (
        "code,name_es,site_type,adm0_pcode,adm1_pcode\nPAN-A,A,shelter,PAN,PA01\nPAN-B,B,shelter,PAN,PA02\n"
    )
    res = world.client.put(
        f"/v1/projects/{world.project_id}/sites", data=body.encode(), headers=world.headers("manager")
    )
    assert res.status_code == 422
    assert {(i["row"], i["code"]) for i in res.json["details"]["issues"]} == {(3, "unknown_pcode")}


def test_only_administrators_reach_the_gazetteer(world: World, folder: Path) -> None:
    manager = login(world, "manager")
    assert manager.get("/admin/gazetteer").status_code == 403
    page = login(world, "admin").get("/admin/gazetteer")
    res = manager.post(
        "/admin/gazetteer/import",
        data={"csrf_token": _csrf(manager.get(f"/admin/projects/{world.project_id}/sites").text)},
    )
    assert page.status_code == 200 and res.status_code == 403
