"""The site registry's pure checks: gazetteer, row-by-row report, file reading."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from app.sites import places, registry
from app.sites.tables import TableError, read_table
from tests.data import data_file


@pytest.fixture(scope="module")
def gazetteer() -> places.Gazetteer:
    return places.shipped()


def test_the_shipped_gazetteer_covers_the_bundled_forms_countries(gazetteer: places.Gazetteer) -> None:
    levels: dict[tuple[str, int], int] = {}
    for unit in gazetteer.units.values():
        levels[(unit.iso3, unit.level)] = levels.get((unit.iso3, unit.level), 0) + 1
    # Counts as in the source file (OCHA's global P-codes list): Colombia's 32 departments and Bogotá,
    # its 1,122 municipalities; Venezuela's 24 states (Dependencias Federales has no P-code there).
    assert levels[("COL", 1)] == 33 and levels[("COL", 2)] == 1122
    assert levels[("VEN", 1)] == 24 and levels[("VEN", 2)] == 335
    assert levels[("PER", 1)] == 25 and levels[("ECU", 1)] == 25 and levels[("BRA", 1)] == 27
    assert levels[("CHL", 1)] == 16 and levels[("PAN", 1)] == 13
    cucuta = gazetteer.unit("co54001")
    assert cucuta is not None and (cucuta.name, cucuta.parent, cucuta.iso3) == (
        "San Jose de Cucuta",
        "CO54",
        "COL",
    )
    assert gazetteer.country("CO") is gazetteer.country("COL")
    for unit in gazetteer.units.values():
        parent = gazetteer.units.get(unit.parent)
        if unit.level == 2:
            assert parent is not None and parent.level == 1 and parent.iso3 == unit.iso3, unit


def test_a_file_with_bad_pcodes_duplicates_and_bad_coordinates_is_reported_row_by_row(
    gazetteer: places.Gazetteer,
) -> None:
    report = registry.check_rows(read_table(data_file("sites/registry_bad.csv").read_bytes()), gazetteer)
    assert report.rows == 9
    assert not report.ok
    found = {(i.row, i.column, i.code, i.level) for i in report.issues}
    assert found == {
        (4, "adm1_pcode", "unknown_pcode", "error"),
        (5, "adm2_pcode", "pcode_mismatch", "error"),
        (6, "code", "duplicate_code", "error"),
        (7, "code", "duplicate_code", "error"),
        (8, "latitude", "bad_coordinates", "error"),
        (8, "longitude", "bad_coordinates", "error"),
        (10, "latitude", "outside_country", "warning"),
    }
    assert report.bad_rows == [4, 5, 6, 7, 8]
    assert [(row, site.code) for row, site in report.sites] == [
        (2, "COL-CUC"),
        (3, "ECU-RUM"),
        (9, "BRA-BVA"),
        (10, "COL-SWP"),
    ]
    ecu = report.sites[1][1]
    # "Paso fronterizo" is read as the type; the COD-AB admin-0 "EC" as Ecuador's ISO3.
    assert (ecu.site_type, ecu.adm0, ecu.adm1, ecu.adm2) == ("border_crossing", "ECU", "EC04", "EC0401")
    assert report.sites[2][1].capacity == 500
    message = next(i.message for i in report.issues if i.row == 5)
    assert "PE1501 (Lima) is in PE15, not in PE24" in message


@pytest.mark.parametrize(
    ("changes", "column", "code"),
    [
        ({"adm0_pcode": "PER"}, "adm1_pcode", "pcode_mismatch"),
        ({"adm0_pcode": "XYZ"}, "adm0_pcode", "unknown_pcode"),
        ({"adm2_pcode": "CO54"}, "adm2_pcode", "unknown_pcode"),
        ({"adm1_pcode": ""}, "adm1_pcode", "missing"),
        ({"site_type": "hotel"}, "site_type", "bad_type"),
        ({"latitude": ""}, "latitude", "bad_coordinates"),
        ({"longitude": "-190"}, "longitude", "bad_coordinates"),
        ({"capacity": "12.5"}, "capacity", "bad_capacity"),
        ({"capacity": "-1"}, "capacity", "bad_capacity"),
        ({"status": "open"}, "status", "bad_status"),
        ({"code": "a b"}, "code", "bad_code"),
        ({"name_es": ""}, "name_es", "missing"),
    ],
)
def test_each_check_names_its_column(
    gazetteer: places.Gazetteer, changes: dict[str, str], column: str, code: str
) -> None:
    row = {
        "code": "COL-CUC",
        "name_es": "Puente",
        "site_type": "border_crossing",
        "adm0_pcode": "COL",
        "adm1_pcode": "CO54",
        "adm2_pcode": "CO54001",
        "latitude": "7.8186",
        "longitude": "-72.4519",
        "capacity": "40",
        "status": "active",
    }
    assert registry.check_rows([row], gazetteer).ok
    report = registry.check_rows([row | changes], gazetteer)
    assert [(i.column, i.code) for i in report.errors] == [(column, code)]
    assert report.sites == []


def test_an_xlsx_reads_like_the_csv(gazetteer: places.Gazetteer) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["Code", "name_es", "site_type", "adm0_pcode", "adm1_pcode", "latitude", "longitude", "capacity"]
    )
    sheet.append(
        ["PAN-DAR", "Estación de Recepción Migratoria", "reception_centre", "PAN", "PA05", 8.39, -77.88, 300]
    )
    sheet.append([None, None, None, None, None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    report = registry.check_rows(read_table(out.getvalue()), gazetteer)
    assert report.ok and report.rows == 1
    site = report.sites[0][1]
    assert (site.code, site.latitude, site.longitude, site.capacity) == ("PAN-DAR", 8.39, -77.88, 300)


@pytest.mark.parametrize(
    "data",
    [b"", b"name,site_type\nx,shelter\n", b"\xff\xfe\x00c\x00o", b"PK\x03\x04not really a zip"],
)
def test_unreadable_files_are_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(TableError):
        read_table(data)


def test_gazetteer_import_checks_parents_and_replaces_only_the_countries_it_covers(tmp_path: Path) -> None:
    header = ",".join(places.UNIT_COLUMNS)
    good = f"{header}\nAAA,1,AA01,One,AAA,2026-01-01\nAAA,2,AA0101,One-one,AA01,2026-01-01\n"
    units = places.parse_units(good)
    assert [u.pcode for u in units] == ["AA01", "AA0101"]
    with pytest.raises(places.GazetteerFileError) as err:
        places.parse_units(
            f"{header}\nAAA,2,AA0101,Orphan,AA09,\nAAA,1,AA01,One,AAA,\nAAA,1,AA01,Again,AAA,\n"
        )
    assert any("appears twice" in p for p in err.value.problems)
    assert any("AA0101" in p and "not an admin-1" in p for p in err.value.problems)
    current = list(places.shipped().units.values())
    colombia = [u for u in current if u.iso3 == "COL"]
    merged = places.merge_units(current, [*colombia[:1], *units])
    assert sum(u.iso3 == "COL" for u in merged) == 1
    assert sum(u.iso3 == "VEN" for u in merged) == sum(u.iso3 == "VEN" for u in current)
    assert {u.pcode for u in merged if u.iso3 == "AAA"} == {"AA01", "AA0101"}
    (tmp_path / "pcodes.csv").write_text(places.units_csv(merged), encoding="utf-8")
    (tmp_path / "countries.csv").write_text("iso3,iso2,name_en,west,south,east,north\n", encoding="utf-8")
    reloaded = places.load(tmp_path)
    assert reloaded.country("AA") is not None and reloaded.unit("AA0101") is not None
