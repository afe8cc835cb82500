"""Clean by default: an analyst without the sensitive-data grant never receives a sensitive value in
any format (CSV zip, CSV, XLSX, GeoJSON, OData, the JSON API's XML); the grant, set by a manager on
the assignment, lets them ask for it; pseudonyms are stable and keyed."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Project
from tests.app.conftest import World
from tests.app.export_helpers import get, read_zip, url
from tests.app.odata_helpers import geo_form, geo_instance, household_form, household_instance, submit, svc

HH = "ruta_household_needs"
SECRETS = ("Persona", "Vereda secreta", "Apatrida")
FORMATS = ("csv.zip", "csv", "xlsx", "geojson")


def _seed(world: World) -> None:
    version = household_form(world)["version"]
    for i in range(2):
        submit(world, HH, household_instance(version, i))


def _text(data: bytes) -> str:
    """Every byte of a response as text, zips (CSV zip, XLSX) opened up."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return data.decode("utf-8", "replace")


def _everything(world: World, who: str, **params: str) -> str:
    headers = world.headers(who)
    parts = []
    for ext in FORMATS:
        res = world.client.get(url(world, HH, ext), query_string=params, headers=headers)
        assert res.status_code in (200, 400), (ext, res.status_code)  # 400: the form has no location
        parts.append(_text(res.data))
    base = svc(world, HH)
    for table in ("Submissions", "Submissions.members"):
        res = world.client.get(f"{base}/{table}?$expand=*", headers=headers)
        assert res.status_code == 200
        parts.append(res.get_data(as_text=True))
    parts.append(world.client.get(f"{base}/$metadata", headers=headers).get_data(as_text=True))
    for n in range(2):
        res = world.client.get(
            f"/v1/projects/{world.project_id}/forms/{HH}/submissions/uuid:hh-{n}.xml", headers=headers
        )
        assert res.status_code == 200
        parts.append(res.get_data(as_text=True))
    return "\n".join(parts)


def _grant(world: World, who: str, allowed: object, role: str = "analyst") -> object:
    return world.client.patch(
        f"/v1/projects/{world.project_id}/assignments/{role}/{world.user_ids['analyst']}",
        json={"maySeeSensitive": allowed},
        headers=world.headers(who),
    )


def test_analyst_without_grant_never_sees_a_sensitive_value(world: World) -> None:
    _seed(world)
    # The values are there: a manager asking for them gets them.
    everything = _everything(world, "manager", reviewState="all", sensitive="include")
    assert all(s in everything for s in SECRETS)
    for params in ({"reviewState": "all"}, {"reviewState": "all", "sensitive": "pseudonym"}):
        seen = _everything(world, "analyst", **params)
        leaked = [s for s in SECRETS if s in seen]
        assert leaked == [], (params, leaked)
    res = world.client.get(
        url(world, HH, "csv.zip"), query_string={"sensitive": "include"}, headers=world.headers("analyst")
    )
    assert res.status_code == 403
    assert "sensitive" in res.json["message"]


def test_pseudonyms_are_stable_and_link_rows(world: World) -> None:
    _seed(world)
    first = read_zip(get(world, HH, "csv.zip", "analyst", reviewState="all", sensitive="pseudonym").data)
    second = read_zip(get(world, HH, "csv.zip", "analyst", reviewState="all", sensitive="pseudonym").data)
    names = [m["m_name"] for m in first[f"{HH}-members.csv"]]
    assert all(n.startswith("ps_") for n in names)
    assert len(set(names)) == 4
    assert names == [m["m_name"] for m in second[f"{HH}-members.csv"]]
    default = read_zip(get(world, HH, "csv.zip", "analyst", reviewState="all").data)
    assert "m_name" not in default[f"{HH}-members.csv"][0]
    assert "location-adm1_other" not in default[f"{HH}.csv"][0]


def test_manager_grants_the_analyst_sight_of_sensitive_fields(world: World) -> None:
    _seed(world)
    assert _grant(world, "analyst", True).status_code == 403
    assert _grant(world, "supervisor", True).status_code == 403
    bad = _grant(world, "manager", "yes")
    assert bad.status_code == 400 and bad.json["details"]["field"] == "maySeeSensitive"
    assert _grant(world, "manager", True, role="supervisor").status_code == 404
    res = _grant(world, "manager", True)
    assert res.status_code == 200, res.json
    assert res.json["maySeeSensitive"] is True
    listed = world.client.get(
        f"/v1/projects/{world.project_id}/assignments", headers=world.headers("manager")
    ).json
    assert {r["actorId"]: r["maySeeSensitive"] for r in listed}[world.user_ids["analyst"]] is True
    rows = read_zip(get(world, HH, "csv.zip", "analyst", reviewState="all", sensitive="include").data)
    assert rows[f"{HH}-members.csv"][0]["m_name"].startswith("Persona")
    # OData and the XML follow the same grant.
    assert "Persona" in _everything(world, "analyst", reviewState="all")
    # Withdrawn: hidden again.
    assert _grant(world, "admin", False).status_code == 200
    assert not any(s in _everything(world, "analyst", reviewState="all") for s in SECRETS)
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "project.role.sensitive").order_by(AuditEvent.id)
        ).all()
        assert [e.details["maySeeSensitive"] for e in events] == [True, False]
        assert [e.actor_user_id for e in events] == [world.user_ids["manager"], world.user_ids["admin"]]


def test_sensitive_location_is_never_a_geojson_geometry_for_analysts(world: World) -> None:
    xml = geo_form(world)
    submit(world, "geotest", geo_instance(xml, 7))
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        project = session.get(Project, world.project_id)
        assert project is not None
        project.settings = {**(project.settings or {}), "sensitive_fields": ["input_geopoint"]}
        session.commit()
    analyst = get(world, "geotest", "geojson", "analyst", reviewState="all").get_data(as_text=True)
    manager = get(world, "geotest", "geojson", "manager", reviewState="all", sensitive="include")
    assert '"Point"' in manager.get_data(as_text=True)
    assert '"coordinates":[10.0,7.0' not in analyst and '"coordinates":[10,7' not in analyst
    res = world.client.get(
        url(world, "geotest", "geojson"),
        query_string={"geoField": "input_geopoint", "sensitive": "pseudonym"},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 400


POINT_FORM = b"""<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
<h:head><h:title>Where</h:title><model><instance><data id="where" version="1">
<name/><place/><meta><instanceID/></meta></data></instance>
<bind nodeset="/data/name" type="string"/><bind nodeset="/data/place" type="geopoint"/></model></h:head>
<h:body><input ref="/data/name"><label>Name</label></input>
<input ref="/data/place"><label>Place</label></input></h:body></h:html>"""


def test_geojson_says_precisely_why_there_is_no_location(world: World) -> None:
    """ "No geopoint" only when the form has none; a sensitive one the caller may not see is named."""
    from tests.app.openrosa_helpers import publish_xml

    publish_xml(world, POINT_FORM)
    xml = (
        b'<data id="where" version="1"><name>Ana</name><place>-1.5 -78.2 0 5</place>'
        b"<meta><instanceID>uuid:where-1</instanceID></meta></data>"
    )
    submit(world, "where", xml.decode())
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        project = session.get(Project, world.project_id)
        assert project is not None
        project.settings = {**(project.settings or {}), "sensitive_fields": ["place"]}
        session.commit()
    for query in ({}, {"geoField": "place"}):
        res = world.client.get(
            url(world, "where", "geojson"),
            query_string={"reviewState": "all", **query},
            headers=world.headers("analyst"),
        )
        assert res.status_code == 400
        assert "(place) is sensitive" in res.json["message"] and "no geopoint" not in res.json["message"]
        assert res.json["details"]["sensitiveFields"] == ["/data/place"]
    manager = get(world, "where", "geojson", "manager", reviewState="all", sensitive="include").json
    assert manager["features"][0]["geometry"]["coordinates"][:2] == [-78.2, -1.5]
    # A form with no location at all still says so.
    publish_xml(
        world, POINT_FORM.replace(b'type="geopoint"', b'type="string"').replace(b'"where"', b'"plain"')
    )
    res = world.client.get(url(world, "plain", "geojson"), headers=world.headers("manager"))
    assert res.status_code == 400 and "no geopoint" in res.json["message"]
    assert "sensitiveFields" not in res.json["details"]
