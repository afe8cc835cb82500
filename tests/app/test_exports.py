"""Submission exports through HTTP: CSV zip, CSV, XLSX, GeoJSON, their options and errors."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import hxl

from forms.schema import FormSchema
from tests.app.conftest import World
from tests.app.export_helpers import export_audits, get, read_xlsx, read_zip, url
from tests.app.odata_helpers import geo_form, geo_instance, household_form, household_instance, submit
from tests.app.openrosa_helpers import device_token, post_submission, publish_xml, root
from tests.data import data_bytes, data_file

HH = "ruta_household_needs"
PASSPHRASE = "correct horse battery staple"


def _household(world: World, n: int = 2) -> str:
    version = household_form(world)["version"]
    for i in range(n):
        submit(world, HH, household_instance(version, i))
    return str(version)


def test_csv_zip_has_root_and_repeat_tables_linked_by_keys(world: World) -> None:
    _household(world)
    files = read_zip(get(world, HH, "csv.zip", reviewState="all").data)
    assert sorted(files) == [f"{HH}-members.csv", f"{HH}.csv"]
    root = {r["KEY"]: r for r in files[f"{HH}.csv"]}
    assert sorted(root) == ["uuid:hh-0", "uuid:hh-1"]
    assert root["uuid:hh-1"]["respondent-age_years"] == "31"
    assert root["uuid:hh-1"]["location-country_iso3"] == "COL"
    assert root["uuid:hh-1"]["respondent-nationality_iso3"] == "VEN COL"
    assert root["uuid:hh-0"]["SubmissionDate"].endswith("Z")
    members = files[f"{HH}-members.csv"]
    assert len(members) == 4
    first = [m for m in members if m["PARENT_KEY"] == "uuid:hh-1"]
    assert [m["KEY"] for m in first] == ["uuid:hh-1/members[1]", "uuid:hh-1/members[2]"]
    assert [m["m_age_years"] for m in first] == ["20", "21"]
    for col in ("SubmitterName", "DeviceID", "ReviewState", "AttachmentsPresent", "FormVersion", "Edits"):
        assert col in root["uuid:hh-0"]


def test_default_exports_only_approved(world: World) -> None:
    _household(world)
    assert read_zip(get(world, HH, "csv.zip").data)[f"{HH}.csv"] == []
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/{HH}/submissions/uuid:hh-1",
        json={"reviewState": "approved"},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200
    rows = read_zip(get(world, HH, "csv.zip").data)[f"{HH}.csv"]
    assert [r["KEY"] for r in rows] == ["uuid:hh-1"]
    assert rows[0]["ReviewState"] == "approved"


def test_xlsx_has_one_sheet_per_table(world: World) -> None:
    _household(world)
    sheets = read_xlsx(get(world, HH, "xlsx", reviewState="all").data)
    assert sorted(sheets) == [f"{HH}", f"{HH}-members"]
    assert {r["KEY"] for r in sheets[HH]} == {"uuid:hh-0", "uuid:hh-1"}
    assert sheets[HH][0]["respondent-age_years"] in (30, 31)
    assert len(sheets[f"{HH}-members"]) == 4


def test_bad_options_are_400_with_a_message(world: World) -> None:
    _household(world)
    for params, option in (
        ({"groupPaths": "maybe"}, "groupPaths"),
        ({"reviewState": "pending"}, "reviewState"),
        ({"start": "yesterday"}, "start"),
        ({"language": "xx"}, "language"),
        ({"formVersion": "nope"}, "formVersion"),
        ({"bogus": "1"}, "bogus"),
        ({"sensitive": "show"}, "sensitive"),
        ({"passphrase": "secret"}, "passphrase"),
    ):
        res = world.client.get(
            url(world, HH, "csv.zip"), query_string=params, headers=world.headers("manager")
        )
        assert res.status_code == 400, params
        assert res.json["details"]["option"] == option
        assert res.json["message"]


def test_labels_in_chosen_language(world: World) -> None:
    _household(world, 1)
    rows = read_zip(get(world, HH, "csv.zip", reviewState="all", labels="true", language="en").data)
    root = rows[f"{HH}.csv"][0]
    assert root["location-country_iso3"] == "Colombia"
    sheets = read_xlsx(get(world, HH, "xlsx", reviewState="all", labels="true", language="English (en)").data)
    assert sheets[HH][0]["location-country_iso3"] == "Colombia"
    posted = world.client.post(
        url(world, HH, "csv.zip"),
        json={"reviewState": ["received", "approved"], "labels": True, "language": "en"},
        headers=world.headers("manager"),
    )
    assert posted.status_code == 200
    assert read_zip(posted.data)[f"{HH}.csv"][0]["location-country_iso3"] == "Colombia"
    es = read_zip(get(world, HH, "csv.zip", reviewState="all", labels="true", header="label").data)
    assert any("edad" in h.lower() for h in es[f"{HH}.csv"][0])


def test_group_paths_off_and_split_select_multiple(world: World) -> None:
    _household(world, 1)
    rows = read_zip(
        get(world, HH, "csv.zip", reviewState="all", groupPaths="false", splitSelectMultiples="true").data
    )
    root = rows[f"{HH}.csv"][0]
    assert root["age_years"] == "30"
    assert root["nationality_iso3/VEN"] == "1"
    assert root["nationality_iso3/COL"] == "1"
    assert root["nationality_iso3/PER"] == "0"


def test_csv_is_the_root_table(world: World) -> None:
    _household(world)
    res = get(world, HH, "csv", reviewState="all")
    assert res.mimetype == "text/csv"
    assert res.data.decode("utf-8-sig").splitlines()[0].startswith("SubmissionDate,")


def test_export_is_audited_with_options(world: World) -> None:
    _household(world, 1)
    get(world, HH, "csv.zip", reviewState="all", hxl="true")
    events = export_audits(world)
    assert len(events) == 1
    event = events[0]
    assert event.actor_user_id == world.user_ids["manager"]
    assert event.subject_id == HH
    assert event.details["format"] == "csv.zip"
    assert event.details["options"]["hxl"] is True
    assert event.details["sensitive"] == "omit"
    assert "/data/members/m_name" in event.details["sensitiveFields"]


def test_geojson_access_by_role(world: World) -> None:
    geo_form(world)
    path = url(world, "geotest", "geojson")
    for who, expected in (
        ("anonymous", 401),
        ("outsider", 404),
        ("enumerator", 403),
        ("analyst", 200),
        ("supervisor", 200),
        ("manager", 200),
        ("admin", 200),
    ):
        headers = world.headers(who) if who != "anonymous" else {}
        assert world.client.get(path, headers=headers).status_code == expected, who


def test_geojson_features_of_geopoints_and_repeats(world: World) -> None:
    xml = geo_form(world)
    for n in (1, 2):
        submit(world, "geotest", geo_instance(xml, n))
    data = json.loads(get(world, "geotest", "geojson", reviewState="all").data)
    assert data["type"] == "FeatureCollection"
    points = [f for f in data["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == 2
    assert {tuple(f["geometry"]["coordinates"][:2]) for f in points} == {(10.0, 1.0), (10.0, 2.0)}
    assert {f["properties"]["KEY"] for f in points} == {"uuid:geo-1", "uuid:geo-2"}
    res = world.client.get(
        url(world, "geotest", "geojson"), query_string={"geoField": "nope"}, headers=world.headers("manager")
    )
    assert res.status_code == 400
    assert res.json["details"]["option"] == "geoField"


def _hxl_columns(rows: list[list[str]]) -> dict[str, str]:
    data = hxl.data(rows)
    list(data)  # read it all: libhxl parses lazily
    return {c.header: c.display_tag for c in data.columns}


def test_hxl_row_is_read_by_libhxl_and_matches_the_form_tags(world: World) -> None:
    _household(world, 1)
    files = read_zip(get(world, HH, "csv.zip", reviewState="all", hxl="true").data, hxl=True)
    assert len(files[f"{HH}.csv"]) == 1  # the hashtag row is not a data row
    raw = get(world, HH, "csv.zip", reviewState="all", hxl="true").data
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(f"{HH}.csv").decode("utf-8-sig")
        members = archive.read(f"{HH}-members.csv").decode("utf-8-sig")
    tags = _hxl_columns(list(csv.reader(io.StringIO(text))))
    schema = FormSchema.from_dict(
        world.client.get(
            f"/v1/projects/{world.project_id}/forms/{HH}/schema", headers=world.headers("manager")
        ).json
    )
    by_header = {
        f.path.removeprefix("/data/").replace("/", "-"): f.hxl
        for f in schema.fields
        if f.hxl and not f.repeat
    }
    assert by_header["location-country_iso3"] == "#x_location+country_iso3"
    for header, tag in by_header.items():
        if header in tags:  # sensitive fields are left out
            assert tags[header] == tag, header
    assert tags["location-country_iso3"] == "#x_location+country_iso3"
    assert tags["SubmissionDate"] == "#date+submitted"
    member_tags = _hxl_columns(list(csv.reader(io.StringIO(members))))
    assert member_tags["m_age_years"] == "#x_members+age_years"
    assert member_tags["PARENT_KEY"] == "#meta+parent_key"
    sheets = read_xlsx(get(world, HH, "xlsx", reviewState="all", hxl="true").data)
    assert sheets[HH][0]["location-country_iso3"] == "#x_location+country_iso3"


def test_media_zip_names_files_by_submission(world: World) -> None:
    xml = data_file("forms/binary_type.xml").read_bytes()
    form_id = publish_xml(world, xml)["xmlFormId"]
    schema = FormSchema.from_dict(
        world.client.get(
            f"/v1/projects/{world.project_id}/forms/{form_id}/schema", headers=world.headers("manager")
        ).json
    )
    binary = [f for f in schema.fields if f.type == "binary"]
    assert binary
    body = "".join(f"<{f.name}>photo-{i}.jpg</{f.name}>" for i, f in enumerate(binary))
    instance_xml = f'<data id="{form_id}"><meta><instanceID>uuid:media-1</instanceID></meta>{body}</data>'
    token = device_token(world)["token"]
    files = {f"photo-{i}.jpg": b"JPEG%d" % i for i in range(len(binary))}
    res = post_submission(world, root(world, token), instance_xml.encode(), files)
    assert res.status_code == 201, res.get_data(as_text=True)
    plain = read_zip(get(world, form_id, "csv.zip", reviewState="all").data)
    assert not any(n.startswith("media/") for n in plain)
    with_media = read_zip(get(world, form_id, "csv.zip", reviewState="all", attachments="true").data)
    assert with_media["media/uuid_media-1/photo-0.jpg"] == b"JPEG0"


def test_encrypted_form_exports_decrypted_with_the_passphrase(world: World) -> None:
    manager = world.headers("manager")
    pem = data_file("encrypted/test-private-key.pem").read_text()
    res = world.client.post(
        f"/v1/projects/{world.project_id}/key",
        json={"passphrase": PASSPHRASE, "privateKeyPem": pem},
        headers=manager,
    )
    assert res.status_code == 200, res.json
    publish_xml(world, data_bytes("forms/encrypted.xml"))
    device = root(world, device_token(world)["token"])
    envelope = data_bytes("encrypted/submission.xml")
    enc = data_bytes("encrypted/submission.xml.enc")
    assert post_submission(world, device, envelope, {"submission.xml.enc": enc}).status_code == 201
    path = url(world, "encrypted", "csv.zip")
    res = world.client.get(path, query_string={"reviewState": "all"}, headers=manager)
    assert res.status_code == 400
    assert res.json["details"]["option"] == "passphrase"
    assert "X-Ruta-Passphrase" in res.json["message"]
    # Only the rows an export selects count: approved only (the default) or a later date range leaves the
    # encrypted submission out, so no passphrase is asked for.
    for params in ({}, {"reviewState": "all", "start": "2999-01-01"}):
        res = world.client.get(path, query_string=params, headers=manager)
        assert res.status_code == 200, (params, res.get_data(as_text=True)[:300])
        assert read_zip(res.data)["encrypted.csv"] == []
    wrong = world.client.get(
        path, query_string={"reviewState": "all"}, headers={**manager, "X-Ruta-Passphrase": "not it at all"}
    )
    assert wrong.status_code == 403
    res = world.client.get(
        path, query_string={"reviewState": "all"}, headers={**manager, "X-Ruta-Passphrase": PASSPHRASE}
    )
    assert res.status_code == 200
    row = read_zip(res.data)["encrypted.csv"][0]
    assert (row["name"], row["age"], row["file"]) == ("Ana", "30", "1701950000000.jpg")
    # Decrypted, so not "notDecrypted"; but the envelope names a photo that was not sent, so the signature
    # cannot be checked, and the row says so.
    assert row["Status"] == "unverified"
    assert "1701950000000.jpg not received yet" in row["StatusReason"]
    # Central's way: POST with the passphrase (and options) in the body.
    res = world.client.post(
        url(world, "encrypted", "xlsx"),
        json={"passphrase": PASSPHRASE, "reviewState": "all"},
        headers=manager,
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    assert read_xlsx(res.data)["encrypted"][0]["name"] == "Ana"
    # Analysts may export but not decrypt.
    analyst = world.client.get(
        path,
        query_string={"reviewState": "all"},
        headers={**world.headers("analyst"), "X-Ruta-Passphrase": PASSPHRASE},
    )
    assert analyst.status_code == 403


def test_date_range_review_states_and_form_versions_select_rows(world: World) -> None:
    version = _household(world)

    def keys(**params: str) -> list[str]:
        rows = read_zip(get(world, HH, "csv.zip", **params).data)[f"{HH}.csv"]
        return sorted(r["KEY"] for r in rows)

    assert keys(reviewState="all") == ["uuid:hh-0", "uuid:hh-1"]
    assert keys(reviewState="received,rejected") == ["uuid:hh-0", "uuid:hh-1"]
    assert keys(reviewState="hasIssues") == []
    assert keys(reviewState="all", start="2000-01-01", end="2999-12-31") == ["uuid:hh-0", "uuid:hh-1"]
    assert keys(reviewState="all", start="2999-01-01") == []
    assert keys(reviewState="all", end="2000-01-01") == []
    assert keys(reviewState="all", formVersion=version) == ["uuid:hh-0", "uuid:hh-1"]


def test_geojson_chosen_columns_and_repeat_geofield(world: World) -> None:
    xml = geo_form(world)
    submit(world, "geotest", geo_instance(xml, 3))
    data = json.loads(get(world, "geotest", "geojson", reviewState="all", columns="KEY,SubmissionDate").data)
    assert {tuple(sorted(f["properties"])) for f in data["features"]} == {("KEY", "SubmissionDate")}
    plural = json.loads(
        get(world, "geotest", "geojson", reviewState="all", geoField="input_geopoint_repeat").data
    )
    assert len(plural["features"]) == 2  # one per repeat instance
    assert {f["properties"]["PARENT_KEY"] for f in plural["features"]} == {"uuid:geo-3"}
    shapes = json.loads(get(world, "geotest", "geojson", reviewState="all", geoField="input_geoshape").data)
    ring = shapes["features"][0]["geometry"]["coordinates"][0]
    assert shapes["features"][0]["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    res = world.client.get(
        url(world, "geotest", "geojson"), query_string={"columns": "nope"}, headers=world.headers("manager")
    )
    assert res.status_code == 400 and res.json["details"]["option"] == "columns"


def test_many_pages_export_every_row_once_in_order(world: World, monkeypatch: Any) -> None:
    # Pages of 2: seven submissions take four pages (read ahead by a second connection on
    # PostgreSQL); every row comes out once, in id order, with its repeat rows.
    from app.services.exports import tables as export_service

    monkeypatch.setattr(export_service, "PAGE", 2)
    _household(world, 7)
    files = read_zip(get(world, HH, "csv.zip", reviewState="all").data)
    assert [r["KEY"] for r in files[f"{HH}.csv"]] == [f"uuid:hh-{i}" for i in range(7)]
    assert len(files[f"{HH}-members.csv"]) == 14  # two members each


def test_a_consumer_that_stops_early_stops_the_page_reader(world: World, monkeypatch: Any) -> None:
    # A client that goes away mid-export: the pages generator is closed, and the reader (a thread on
    # PostgreSQL) ends instead of waiting forever to hand over its next page.
    import threading

    import sqlalchemy as sa

    from app.db import get_database
    from app.models import Submission
    from app.services.exports import tables as export_service

    monkeypatch.setattr(export_service, "PAGE", 1)
    _household(world, 5)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        pages = export_service._raw_pages(s, sa.select(Submission.id))
        assert len(next(pages)) == 1
        pages.close()
    assert not [t for t in threading.enumerate() if t.name == "export-prefetch"]
