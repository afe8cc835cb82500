"""The site registry through the API: every project has its ``sites`` entity list; imports are all or
nothing unless goodRows asks otherwise; the list, its CSV and the stored entities agree."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa

from app.db import get_database
from app.models import AuditEvent, Dataset, Entity
from app.services import sites as site_service
from tests.app.conftest import World
from tests.data import data_file

GOOD = (
    "code,name_es,name_en,site_type,adm0_pcode,adm1_pcode,adm2_pcode,latitude,longitude,capacity\n"
    "VEN-SAN,Puente Francisco de Paula Santander,Santander Bridge,border_crossing,VEN,VE20,,7.81,-72.45,\n"
    "COL-ALB,Albergue Cúcuta,Cúcuta shelter,shelter,COL,CO54,CO54001,7.89,-72.50,120\n"
)


def _put(world: World, body: bytes, query: str = "") -> tuple[int, dict]:  # type: ignore[type-arg]
    res = world.client.put(
        f"/v1/projects/{world.project_id}/sites{query}", data=body, headers=world.headers("manager")
    )
    return res.status_code, res.get_json()


def _entities(world: World) -> list[Entity]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        dataset = session.scalar(
            sa.select(Dataset).where(Dataset.project_id == world.project_id, Dataset.name == "sites")
        )
        assert dataset is not None
        rows = list(session.scalars(sa.select(Entity).where(Entity.dataset_id == dataset.id)))
        session.expunge_all()
        return rows


def test_every_project_has_an_empty_sites_list(world: World) -> None:
    assert _entities(world) == []
    res = world.client.get(f"/v1/projects/{world.project_id}/sites", headers=world.headers("enumerator"))
    assert res.status_code == 200 and res.json == []


def test_a_bad_file_imports_nothing_and_reports_each_row(world: World) -> None:
    status, body = _put(world, data_file("sites/registry_bad.csv").read_bytes())
    assert status == 422
    assert body["code"] == "422.19"
    report = body["details"]
    assert report["rows"] == 9 and report["badRows"] == [4, 5, 6, 7, 8]
    assert {(i["row"], i["code"]) for i in report["issues"] if i["level"] == "error"} == {
        (4, "unknown_pcode"),
        (5, "pcode_mismatch"),
        (6, "duplicate_code"),
        (7, "duplicate_code"),
        (8, "bad_coordinates"),
    }
    assert _entities(world) == []


def test_good_rows_imports_only_the_rows_without_errors(world: World) -> None:
    status, body = _put(world, data_file("sites/registry_bad.csv").read_bytes(), "?goodRows=true")
    assert status == 200, body
    assert body["created"] == ["COL-CUC", "ECU-RUM", "BRA-BVA", "COL-SWP"]
    assert body["badRows"] == [4, 5, 6, 7, 8]
    stored = {e.data["code"]: e for e in _entities(world)}
    assert set(stored) == {"COL-CUC", "ECU-RUM", "BRA-BVA", "COL-SWP"}
    cuc = stored["COL-CUC"]
    assert cuc.uuid == site_service.site_uuid("COL-CUC")
    assert cuc.label == "Puente Simón Bolívar"
    assert (cuc.data["adm1_pcode"], cuc.data["adm2_pcode"]) == ("CO54", "CO54001")
    assert cuc.data["geometry"] == "7.8186 -72.4519 0 0"
    assert stored["BRA-BVA"].data["capacity"] == "500"
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sites.import"))
        assert event is not None and event.details["badRows"] == [4, 5, 6, 7, 8]


def test_reimport_updates_by_code_keeps_versions_and_the_csv_reads_back(world: World) -> None:
    assert _put(world, GOOD.encode())[0] == 200
    changed = GOOD.replace(",120\n", ",150\n")
    status, body = _put(world, changed.encode())
    assert status == 200
    assert (body["created"], body["updated"], body["unchanged"]) == ([], ["COL-ALB"], ["VEN-SAN"])
    shelter = next(e for e in _entities(world) if e.data["code"] == "COL-ALB")
    assert shelter.current_version == 2 and shelter.data["capacity"] == "150"
    listed = world.client.get(f"/v1/projects/{world.project_id}/sites", headers=world.headers("analyst")).json
    assert [s["code"] for s in listed] == ["COL-ALB", "VEN-SAN"]
    assert listed[0]["version"] == 2
    res = world.client.get(f"/v1/projects/{world.project_id}/sites.csv", headers=world.headers("supervisor"))
    assert res.status_code == 200 and res.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert [(r["code"], r["capacity"], r["adm1_pcode"]) for r in rows] == [
        ("COL-ALB", "150", "CO54"),
        ("VEN-SAN", "", "VE20"),
    ]
    # The exported CSV imports again unchanged: the registry round-trips.
    again = _put(world, res.get_data())[1]
    assert again["unchanged"] == ["COL-ALB", "VEN-SAN"]


def test_the_other_project_does_not_see_these_sites(world: World) -> None:
    assert _put(world, GOOD.encode())[0] == 200
    res = world.client.get(f"/v1/projects/{world.other_project_id}/sites", headers=world.headers("outsider"))
    assert res.status_code == 200 and res.json == []
    res = world.client.get(f"/v1/projects/{world.project_id}/sites", headers=world.headers("outsider"))
    assert res.status_code == 404


def test_junk_files_are_a_clear_4xx_and_store_nothing(world: World) -> None:
    for body in (b"", b"\x00\x01\x02", b"PK\x03\x04junk", b"name\nx\n"):
        status, answer = _put(world, body)
        assert status == 400, (body, answer)
        assert answer["details"]["field"] == "file"
    status, answer = _put(world, GOOD.encode(), "?goodRows=maybe")
    assert status == 400
    assert _entities(world) == []


def test_cli_gazetteer_import_replaces_one_country(tmp_path: Path) -> None:
    from app.cli_sites import cmd_gazetteer_import
    from app.sites import places

    for name in ("pcodes.csv", "countries.csv"):
        (tmp_path / name).write_bytes((places.DATA_DIR / name).read_bytes())
    update = tmp_path / "pan.csv"
    update.write_text(
        ",".join(places.UNIT_COLUMNS) + "\nPAN,1,PA01,Bocas del Toro,PAN,2026-01-01\n", encoding="utf-8"
    )
    import argparse

    assert cmd_gazetteer_import(argparse.Namespace(file=str(update), data_dir=str(tmp_path))) == 0
    after = places.load(tmp_path)
    assert [u.pcode for u in after.units.values() if u.iso3 == "PAN"] == ["PA01"]
    assert sum(u.iso3 == "COL" for u in after.units.values()) == 1155
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(places.UNIT_COLUMNS) + "\nPAN,2,PA0199,Orphan,PA77,\n", encoding="utf-8")
    assert cmd_gazetteer_import(argparse.Namespace(file=str(bad), data_dir=str(tmp_path))) == 1
    assert places.load(tmp_path).unit("PA01") is not None


def test_the_indicators_read_the_registry_as_code_to_pcodes(world: World) -> None:
    assert _put(world, GOOD.encode())[0] == 200
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        lookup = site_service.registry_lookup(session, project_id=world.project_id)
    assert lookup["COL-ALB"] == {
        "location.site_code": "COL-ALB",
        "location.country_iso3": "COL",
        "location.adm1_pcode": "CO54",
        "location.adm2_pcode": "CO54001",
    }
    assert lookup["VEN-SAN"]["location.adm2_pcode"] == ""
