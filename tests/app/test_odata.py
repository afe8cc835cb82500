"""The OData feed: Central's documents and shapes, paging, query options, access and sensitivity."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree
from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Project
from tests.app.conftest import World
from tests.app.odata_helpers import (
    geo_form,
    geo_instance,
    household_form,
    household_instance,
    nested_form,
    nested_instance,
    submit,
    svc,
)

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def get(world: World, url: str, who: str = "analyst", **query: Any) -> Any:
    res = world.client.get(url, headers=world.headers(who), query_string=query)
    assert res.status_code == 200, (url, res.status_code, res.get_json())
    assert res.headers["OData-Version"] == "4.0"
    return res.json


def walk(world: World, url: str, who: str = "analyst", **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of a table, following @odata.nextLink; returns rows and the number of pages."""
    body = get(world, url, who, **query)
    rows, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        link = urlsplit(body["@odata.nextLink"])
        res = world.client.get(f"{link.path}?{link.query}", headers=world.headers(who))
        assert res.status_code == 200, res.json
        body = res.json
        rows += body["value"]
        pages += 1
        assert pages < 100
    return rows, pages


@pytest.fixture
def geo(world: World) -> str:
    xml = geo_form(world)
    for n in range(5):
        submit(world, "geotest", geo_instance(xml, n, plurals=n % 3))
    return svc(world, "geotest")


def test_service_document_and_metadata_name_every_table_like_central(world: World, geo: str) -> None:
    doc = get(world, geo)
    assert doc["@odata.context"].endswith(f"/v1/projects/{world.project_id}/forms/geotest.svc/$metadata")
    assert [t["name"] for t in doc["value"]] == [
        "Submissions",
        "Submissions.plural",
        "Submissions.plural.nested_repeat",
    ]
    res = world.client.get(f"{geo}/$metadata", headers=world.headers("analyst"))
    assert res.status_code == 200 and res.mimetype == "application/xml"
    root = ElementTree.fromstring(res.data)
    schemas = {s.get("Namespace"): s for s in root.iter(f"{EDM}Schema")}
    assert set(schemas) == {"org.opendatakit.submission", "org.opendatakit.user.geotest"}
    types = {t.get("Name"): t for t in schemas["org.opendatakit.user.geotest"].iter(f"{EDM}EntityType")}
    assert list(types) == ["Submissions", "Submissions.plural", "Submissions.plural.nested_repeat"]
    props = {p.get("Name"): p.get("Type") for p in types["Submissions"].iter(f"{EDM}Property")}
    assert props["__id"] == "Edm.String" and props["__system"] == "org.opendatakit.submission.metadata"
    assert props["singular"] == "org.opendatakit.user.geotest.singular"
    assert props["survey_started_at"] == "Edm.DateTimeOffset"
    nav = {p.get("Name"): p.get("Type") for p in types["Submissions"].iter(f"{EDM}NavigationProperty")}
    assert nav == {"plural": "Collection(org.opendatakit.user.geotest.Submissions.plural)"}
    plural = {p.get("Name"): p.get("Type") for p in types["Submissions.plural"].iter(f"{EDM}Property")}
    assert plural["__Submissions-id"] == "Edm.String"
    assert plural["input_geopoint_repeat"] == "Edm.GeographyPoint"
    assert plural["input_geoshape_repeat"] == "Edm.GeographyPolygon"
    deep = {p.get("Name") for p in types["Submissions.plural.nested_repeat"].iter(f"{EDM}Property")}
    assert "__Submissions-plural-id" in deep
    unfilterable = [p.text for p in root.iter(f"{EDM}PropertyPath")]
    assert unfilterable == [
        "survey_started_at",
        "singular",
        "plural_count",
        "plural",
        "survey_ended_at",
        "meta",
    ]
    keys = [k.get("Name") for k in root.iter(f"{EDM}PropertyRef")]
    assert keys == ["__id"] * 3


def test_submission_rows_carry_system_fields_geojson_and_nulls(world: World, geo: str) -> None:
    body = get(world, f"{geo}/Submissions")
    rows = body["value"]
    assert [r["__id"] for r in rows] == [f"uuid:geo-{n}" for n in range(5)]
    assert body["@odata.context"].endswith("geotest.svc/$metadata#Submissions")
    first = rows[0]
    system = first["__system"]
    assert system["submitterId"] == str(world.user_ids["manager"])
    assert system["submitterName"] == "manager"
    assert system["reviewState"] is None and system["edits"] == 0 and system["formVersion"] == "10"
    assert system["submissionDate"].endswith("Z")
    assert first["singular"]["input_geopoint"] == {
        "type": "Point",
        "coordinates": [10, 0, 0],
        "properties": {"accuracy": 3},
    }
    assert first["singular"]["input_geotrace"]["type"] == "LineString"
    assert first["survey_started_at"] is None  # unanswered, yet present
    assert "plural" not in first and "plural@odata.navigationLink" not in first  # no instances
    second = rows[1]
    assert second["plural@odata.navigationLink"] == "Submissions('uuid%3Ageo-1')/plural"
    wkt = get(world, f"{geo}/Submissions", **{"$wkt": "true"})["value"][1]
    assert wkt["singular"]["input_geopoint"] == "POINT (10 1 0)"
    assert wkt["singular"]["input_geotrace"] == "LINESTRING (1 51 0,2 52 0)"
    assert wkt["singular"]["input_geoshape"].startswith("POLYGON ((3 53 0,")


def test_repeat_tables_join_to_their_parents(world: World, geo: str) -> None:
    plural = get(world, f"{geo}/Submissions.plural")["value"]
    # plurals per submission: 0, 1, 2, 0, 1
    assert [r["__Submissions-id"] for r in plural] == ["uuid:geo-1", "uuid:geo-2", "uuid:geo-2", "uuid:geo-4"]
    assert plural[0]["input_geopoint_repeat"]["coordinates"] == [0, 1, 1]
    nested = get(world, f"{geo}/Submissions.plural.nested_repeat")["value"]
    assert len(nested) == 4
    assert [n["__Submissions-plural-id"] for n in nested] == [p["__id"] for p in plural]
    assert nested[0]["repeatnested_group"]["input_geopoint_deeply_nested"]["coordinates"] == [11, 11, 11]
    assert len({r["__id"] for r in plural + nested}) == 8
    # The ids are stable: reading again gives the same ones.
    assert [r["__id"] for r in get(world, f"{geo}/Submissions.plural")["value"]] == [
        p["__id"] for p in plural
    ]


def test_expand_star_inlines_repeats_with_the_same_ids(world: World, geo: str) -> None:
    rows = get(world, f"{geo}/Submissions", **{"$expand": "*"})["value"]
    inline = rows[2]["plural"]
    assert len(inline) == 2 and len(inline[0]["nested_repeat"]) == 1
    plural = get(world, f"{geo}/Submissions.plural")["value"]
    assert [p["__id"] for p in inline] == [p["__id"] for p in plural[1:3]]
    assert "__Submissions-id" not in inline[0]


@pytest.fixture
def small_pages(app: Any) -> None:
    app.config["ODATA_PAGE_SIZE"] = 2


def test_server_paging_walks_every_row_once_through_next_links(
    world: World, geo: str, small_pages: None
) -> None:
    full, pages = walk(world, f"{geo}/Submissions", **{"$count": "true"})
    assert [r["__id"] for r in full] == [f"uuid:geo-{n}" for n in range(5)] and pages == 3
    first = get(world, f"{geo}/Submissions", **{"$count": "true"})
    assert first["@odata.count"] == 5 and "$skiptoken=01" in first["@odata.nextLink"]
    assert first["@odata.nextLink"].startswith("http://localhost/v1/")
    rows, pages = walk(world, f"{geo}/Submissions.plural.nested_repeat")
    assert len(rows) == 4 and pages == 2
    plural, _ = walk(world, f"{geo}/Submissions.plural")
    assert [n["__Submissions-plural-id"] for n in rows] == [p["__id"] for p in plural]
    # A skiptoken Ruta did not issue is a clear 400.
    res = world.client.get(f"{geo}/Submissions?$skiptoken=bogus", headers=world.headers("analyst"))
    assert res.status_code == 400 and res.json["code"] == "400.41"


def test_top_skip_and_count(world: World, geo: str) -> None:
    body = get(world, f"{geo}/Submissions", **{"$top": "2", "$skip": "1", "$count": "true"})
    assert [r["__id"] for r in body["value"]] == ["uuid:geo-1", "uuid:geo-2"]
    assert body["@odata.count"] == 5
    rows, _ = walk(world, f"{geo}/Submissions", **{"$top": "2", "$skip": "1"})
    assert [r["__id"] for r in rows] == [f"uuid:geo-{n}" for n in range(1, 5)]
    body = get(world, f"{geo}/Submissions.plural", **{"$top": "1", "$skip": "2", "$count": "true"})
    assert body["@odata.count"] == 4 and body["value"][0]["__Submissions-id"] == "uuid:geo-2"
    assert get(world, f"{geo}/Submissions", **{"$skip": "9"})["value"] == []
    empty = get(world, f"{geo}/Submissions", **{"$top": "0", "$count": "true"})
    assert empty["value"] == [] and empty["@odata.count"] == 5 and "@odata.nextLink" not in empty
    for bad in ({"$top": "-1"}, {"$skip": "x"}, {"$count": "maybe"}):
        res = world.client.get(f"{geo}/Submissions", headers=world.headers("analyst"), query_string=bad)
        assert res.status_code == 400 and res.json["code"] == "400.41", bad


def test_select_keeps_named_properties(world: World, geo: str) -> None:
    row = get(world, f"{geo}/Submissions", **{"$select": "singular/input_geopoint,__system/reviewState"})[
        "value"
    ][0]
    assert set(row) == {"__id", "__system", "singular"}
    assert set(row["singular"]) == {"input_geopoint"} and row["__system"] == {"reviewState": None}
    row = get(world, f"{geo}/Submissions", **{"$select": "meta"})["value"][0]
    assert row == {"__id": "uuid:geo-0", "meta": {"instanceID": "uuid:geo-0"}}
    plural = get(world, f"{geo}/Submissions.plural", **{"$select": "input_geopoint_repeat"})["value"][0]
    assert set(plural) == {"__id", "input_geopoint_repeat"}
    res = world.client.get(f"{geo}/Submissions?$select=nope", headers=world.headers("analyst"))
    assert res.status_code == 400 and "nope" in res.json["message"]


def _ids(world: World, url: str, expr: str) -> list[str]:
    return [r["__id"] for r in get(world, url, **{"$filter": expr})["value"]]


def test_filter_on_system_fields(world: World, geo: str) -> None:
    base = f"/v1/projects/{world.project_id}/forms/geotest/submissions"
    for n, state in ((1, "approved"), (2, "rejected")):
        res = world.client.patch(
            f"{base}/uuid:geo-{n}", json={"reviewState": state}, headers=world.headers("supervisor")
        )
        assert res.status_code == 200
    url = f"{geo}/Submissions"
    assert _ids(world, url, "__system/reviewState eq 'approved'") == ["uuid:geo-1"]
    assert _ids(world, url, "__system/reviewState eq null") == ["uuid:geo-0", "uuid:geo-3", "uuid:geo-4"]
    assert _ids(world, url, "not (__system/reviewState eq null) and __id ne 'uuid:geo-2'") == ["uuid:geo-1"]
    assert _ids(world, url, "__id eq 'uuid:geo-3' or __id eq 'uuid:geo-4'") == ["uuid:geo-3", "uuid:geo-4"]
    assert len(_ids(world, url, "__system/submissionDate gt 2000-01-01T00:00:00Z")) == 5
    assert _ids(world, url, "__system/submissionDate lt 2000-01-01") == []
    assert len(_ids(world, url, "year(__system/submissionDate) ge 2020 and month(now()) le 12")) == 5
    assert len(_ids(world, url, f"__system/submitterId eq {world.user_ids['manager']}")) == 5
    never_updated = [r["__id"] for r in get(world, url)["value"] if r["__system"]["updatedAt"] is None]
    assert _ids(world, url, "__system/updatedAt eq null") == never_updated
    # Repeat tables are filtered by their submission.
    plural = get(world, f"{geo}/Submissions.plural", **{"$filter": "__system/reviewState eq 'rejected'"})
    assert {r["__Submissions-id"] for r in plural["value"]} == {"uuid:geo-2"}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"$filter": "__system/reviewState eq"}, 400),
        ({"$filter": "__id eq 'unterminated"}, 400),
        ({"$filter": "(__id eq 'a'"}, 400),
        ({"$filter": "__system/submissionDate gt 'not a date'"}, 400),
        ({"$filter": "__system/reviewState eq 'lost'"}, 400),
        ({"$filter": "__id"}, 400),
        ({"$filter": "'; DROP TABLE submissions; --' eq __id"}, 200),
        ({"$filter": "singular/input_geopoint eq 'x'"}, 501),
        ({"$filter": "contains(__id, 'x')"}, 501),
        ({"$orderby": "__id"}, 501),
        ({"$expand": "plural"}, 501),
        ({"$format": "xml"}, 501),
        ({"$filter": "__system/submitterId eq 99999999999999999999999"}, 400),
        ({"$filter": "year(__system/submissionDate) gt 1e999"}, 400),
        ({"$skip": "99999999999999999999"}, 400),
        ({"$skiptoken": "01eyJzIjo5OTk5OTk5OTk5OTk5OTk5OTksInIiOjB9"}, 400),
    ],
)
def test_bad_or_unsupported_queries_get_clear_errors(
    world: World, geo: str, query: dict[str, str], status: int
) -> None:
    res = world.client.get(f"{geo}/Submissions", headers=world.headers("analyst"), query_string=query)
    assert res.status_code == status, res.json
    if status != 200:
        assert set(res.json) == {"code", "message", "details"} and res.json["code"].startswith(str(status))
    else:
        assert res.json["value"] == []


def test_unknown_table_and_unpublished_form_are_404(world: World, geo: str) -> None:
    res = world.client.get(f"{geo}/Submissions.nope", headers=world.headers("analyst"))
    assert res.status_code == 404 and "Submissions.plural" in res.json["message"]
    res = world.client.get(svc(world, "missing") + "/Submissions", headers=world.headers("analyst"))
    assert res.status_code == 404


def test_access_basic_auth_and_audit(world: World, geo: str) -> None:
    for path in ("", "/", "/$metadata", "/Submissions", "/Submissions.plural"):
        url = geo + path
        assert world.client.get(url).status_code == 401
        anonymous = world.client.get(url)
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        assert anonymous.headers["OData-Version"] == "4.0"
        assert world.client.get(url, headers=world.headers("outsider")).status_code == 404
        assert world.client.get(url, headers=world.headers("enumerator")).status_code == 403
        for who in ("analyst", "supervisor", "manager", "admin"):
            assert world.client.get(url, headers=world.basic(who)).status_code == 200, (who, url)
    world.app.config["ALLOW_BASIC_OVER_HTTP"] = False
    res = world.client.get(f"{geo}/Submissions", headers=world.basic("analyst"))
    assert res.status_code == 401 and "WWW-Authenticate" not in res.headers
    assert world.client.get(f"{geo}/Submissions", headers=world.headers("analyst")).status_code == 200
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "submission.export")).all()
        odata_reads = [e for e in events if e.details.get("format") == "odata"]
        # One event per data request (4 readers x 2 tables, then the bearer read), none for metadata.
        assert len(odata_reads) == 9
        assert {e.details["table"] for e in odata_reads} == {"Submissions", "Submissions.plural"}
        assert all(e.project_id == world.project_id for e in odata_reads)


def test_nested_repeats_and_select_multiple(world: World) -> None:
    nested_form(world)
    submit(world, "nested_repeats", nested_instance(1, [["Polio", "Flu"], []]))
    submit(world, "nested_repeats", nested_instance(2, [["Malaria"]], browsers="safari"))
    url = svc(world, "nested_repeats")
    tables = [t["name"] for t in get(world, url)["value"]]
    assert tables == [
        "Submissions",
        "Submissions.kids.kids_details",
        "Submissions.kids.kids_details.immunization_info",
    ]
    rows = get(world, f"{url}/Submissions")["value"]
    assert [r["web_browsers"] for r in rows] == ["firefox chrome", "safari"]
    assert rows[0]["kids"]["nested_group"] == {"nested_name": "N1", "nested_age": 4}
    assert (
        rows[0]["kids"]["kids_details@odata.navigationLink"]
        == "Submissions('uuid%3Anested-1')/kids/kids_details"
    )
    kids = get(world, f"{url}/Submissions.kids.kids_details")["value"]
    assert [(k["kids_name"], k["kids_age"], k["__Submissions-id"]) for k in kids] == [
        ("kid1-0", 1, "uuid:nested-1"),
        ("kid1-1", 2, "uuid:nested-1"),
        ("kid2-0", 1, "uuid:nested-2"),
    ]
    shots = get(world, f"{url}/Submissions.kids.kids_details.immunization_info")["value"]
    assert [s["vaccine"] for s in shots] == ["Polio", "Flu", "Malaria"]
    assert [s["__Submissions-kids-kids_details-id"] for s in shots] == [kids[0]["__id"]] * 2 + [
        kids[2]["__id"]
    ]


def _set_project_sensitive(world: World, fields: list[str]) -> None:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        project = session.get(Project, world.project_id)
        assert project is not None
        project.settings = {**(project.settings or {}), "sensitive_fields": fields}
        session.commit()


def _everything(world: World, url: str, who: str) -> str:
    """The service document, $metadata and every table (expanded) as one text, as ``who`` sees them."""
    parts = [world.client.get(f"{url}/$metadata", headers=world.headers(who)).data.decode()]
    for table in get(world, url, who)["value"]:
        rows, _ = walk(world, f"{url}/{table['name']}", who, **{"$expand": "*"})
        parts.append(repr(rows))
    return "\n".join(parts)


def test_sensitive_fields_absent_for_callers_without_the_role(world: World) -> None:
    form = household_form(world)
    for n in range(2):
        submit(world, "ruta_household_needs", household_instance(form["version"], n))
    url = svc(world, "ruta_household_needs")
    secrets = ("m_name", "Persona 0-1", "adm1_other", "Vereda secreta", "nationality_other", "Apatrida")
    analyst = _everything(world, url, "analyst")
    for secret in secrets:
        assert secret not in analyst, secret
    supervisor = _everything(world, url, "supervisor")
    for secret in secrets:
        assert secret in supervisor, secret
    members = get(world, f"{url}/Submissions.members")["value"]
    assert [m["m_age_years"] for m in members] == [20, 21, 20, 21] and "m_name" not in members[0]
    row = get(world, f"{url}/Submissions")["value"][0]
    assert row["respondent"]["nationality_iso3"] == "VEN COL" and row["respondent"]["age_years"] == 30
    # A $select naming a hidden field finds nothing to select.
    res = world.client.get(f"{url}/Submissions.members?$select=m_name", headers=world.headers("analyst"))
    assert res.status_code == 400
    # The project can protect more (here a whole repeat and a geo group of a partner form).
    _set_project_sensitive(world, ["members", "singular"])
    analyst = _everything(world, url, "analyst")
    assert "Submissions.members" not in analyst and "m_age_years" not in analyst
    assert "Submissions.members" not in [t["name"] for t in get(world, url, "analyst")["value"]]
    assert world.client.get(f"{url}/Submissions.members", headers=world.headers("analyst")).status_code == 404
    geo_xml = geo_form(world)
    submit(world, "geotest", geo_instance(geo_xml, 1))
    geo_text = _everything(world, svc(world, "geotest"), "analyst")
    assert 'input_geopoint"' not in geo_text and "singular" not in geo_text
    assert "singular" in _everything(world, svc(world, "geotest"), "manager")


def test_navigation_links_and_entity_paths_lead_to_the_rows(world: World, geo: str) -> None:
    rows = get(world, f"{geo}/Submissions", **{"$expand": "*"})["value"]
    all_plural = get(world, f"{geo}/Submissions.plural")["value"]
    link = rows[2]["plural@odata.navigationLink"]
    assert link == "Submissions('uuid%3Ageo-2')/plural"
    assert get(world, f"{geo}/{link}")["value"] == [
        p for p in all_plural if p["__Submissions-id"] == "uuid:geo-2"
    ]
    inner = rows[2]["plural"][1]
    nested = get(world, f"{geo}/{inner['nested_repeat@odata.navigationLink']}")
    assert nested["@odata.context"].endswith("#Submissions.plural.nested_repeat")
    assert [n["__Submissions-plural-id"] for n in nested["value"]] == [inner["__id"]]
    selected = get(world, f"{geo}/{inner['nested_repeat@odata.navigationLink']}", **{"$select": "__id"})
    assert selected["value"] == [{"__id": n["__id"]} for n in nested["value"]]
    one = get(world, f"{geo}/Submissions('uuid:geo-3')")["value"]
    assert [r["__id"] for r in one] == ["uuid:geo-3"]
    assert get(world, f"{geo}/Submissions('uuid:nope')")["value"] == []
    row = get(world, f"{geo}/Submissions('uuid:geo-2')/plural('{inner['__id']}')")["value"]
    assert [r["__id"] for r in row] == [inner["__id"]]
    for bad, status in (("Nope('x')/plural", 404), ("Submissions/plural('x')", 400), ("Submissions('x", 404)):
        res = world.client.get(f"{geo}/{bad}", headers=world.headers("analyst"))
        assert res.status_code == status, (bad, res.json)


def test_encrypted_submissions_are_rows_without_data_marked_not_decrypted(world: World) -> None:
    from tests.app.openrosa_helpers import device_token, post_submission, publish_xml, root
    from tests.data import data_bytes

    publish_xml(world, data_bytes("forms/encrypted.xml"))
    envelope = data_bytes("encrypted/submission.xml")
    enc = data_bytes("encrypted/submission.xml.enc")
    device = root(world, device_token(world)["token"])
    assert post_submission(world, device, envelope, {"submission.xml.enc": enc}).status_code == 201
    url = svc(world, "encrypted")
    (row,) = get(world, f"{url}/Submissions")["value"]
    assert set(row) == {"__id", "__system"}
    assert row["__system"]["status"] == "notDecrypted"
    assert row["__system"]["submitterName"] == "Phone" and row["__system"]["deviceId"]
