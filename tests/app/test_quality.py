"""Data-quality flags (issue 5 item 6): each one firing and not firing, through both ingest paths
(OpenRosa POST and batch), with the reason it gives; the form settings API and its validation."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Submission
from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token, post_submission, publish_xml, root

QUALITY_FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head><h:title>Household</h:title>
    <model><instance><data id="household" version="1">
      <start/><end/><doc_id/><person><birth/></person><location/><photo/>
      <meta><instanceID/><deprecatedID/></meta>
    </data></instance>
    <bind nodeset="/data/start" type="dateTime" jr:preload="timestamp" jr:preloadParams="start"/>
    <bind nodeset="/data/end" type="dateTime" jr:preload="timestamp" jr:preloadParams="end"/>
    <bind nodeset="/data/doc_id" type="string"/>
    <bind nodeset="/data/person/birth" type="date"/>
    <bind nodeset="/data/location" type="geopoint"/>
    <bind nodeset="/data/photo" type="binary"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body><input ref="/data/doc_id"><label>Document</label></input>
    <group ref="/data/person"><input ref="/data/person/birth"><label>Birth date</label></input></group>
    <input ref="/data/location"><label>Where</label></input>
    <upload ref="/data/photo" mediatype="image/*"><label>Photo</label></upload></h:body></h:html>"""

QUITO = "-0.1807 -78.4678 2850 5"
MADRID = "40.4168 -3.7038 650 5"


def household(
    iid: str,
    *,
    minutes: int = 20,
    doc: str = "A-1",
    birth: str = "1990-01-01",
    location: str = QUITO,
    photo: str = "",
    deprecated: str | None = None,
) -> bytes:
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    end = f"2026-11-20T10:{minutes:02d}:00.000-05:00" if minutes >= 0 else "2026-11-20T09:55:00.000-05:00"
    return (
        '<data id="household" version="1"><start>2026-11-20T10:00:00.000-05:00</start>'
        f"<end>{end}</end><doc_id>{doc}</doc_id><person><birth>{birth}</birth></person>"
        f"<location>{location}</location><photo>{photo}</photo>"
        f"<meta><instanceID>{iid}</instanceID>{dep}</meta></data>"
    ).encode()


@pytest.fixture
def device(world: World) -> str:
    publish_xml(world, QUALITY_FORM)
    res = world.client.patch(
        f"/v1/projects/{world.project_id}", json={"countries": ["ECU", "COL"]}, headers=world.headers("admin")
    )
    assert res.status_code == 200, res.json
    return root(world, device_token(world)["token"])


def _quality_url(world: World, form: str = "household") -> str:
    return f"/v1/projects/{world.project_id}/forms/{form}/quality"


def _configure(world: World, **settings: Any) -> Any:
    res = world.client.put(_quality_url(world), json=settings, headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    return res.json


def _flags(world: World, iid: str) -> dict[str, dict[str, Any]]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sub = s.scalar(select(Submission).where(Submission.instance_id == iid))
        assert sub is not None, iid
        flags = {f["code"]: f for f in sub.quality_flags}
        assert sub.flag_codes == (f" {' '.join(sorted(flags))} " if flags else "")
        return flags


def _send(world: World, device: str, xml: bytes, files: dict[str, bytes] | None = None) -> None:
    res = post_submission(world, device, xml, files)
    assert res.status_code == 201, res.data


# --- each flag, firing and not --------------------------------------------------------------------


def test_clean_submission_has_no_flags(world: World, device: str) -> None:
    _configure(world, minInterviewMinutes=5, duplicateKeyFields=["doc_id"])
    _send(world, device, household("uuid:clean"))
    assert _flags(world, "uuid:clean") == {}


def test_short_interview_fires_below_the_forms_minimum_and_says_by_how_much(
    world: World, device: str
) -> None:
    _configure(world, minInterviewMinutes=5)
    _send(world, device, household("uuid:short", minutes=2))
    _send(world, device, household("uuid:long", minutes=5, doc="B"))
    flag = _flags(world, "uuid:short")["short_interview"]
    assert flag["message"] == "Interview took 2 min; the form's minimum is 5 min."
    assert flag["details"] == {"minutes": 2.0, "minimum": 5.0}
    assert "short_interview" not in _flags(world, "uuid:long")
    api = world.client.get(
        f"/v1/projects/{world.project_id}/forms/household/submissions/uuid:short",
        headers=world.headers("analyst"),
    )
    assert api.json["qualityFlags"] == [flag]


def test_short_interview_needs_a_minimum_and_flags_end_before_start(world: World, device: str) -> None:
    _send(world, device, household("uuid:nomin", minutes=1))
    assert "short_interview" not in _flags(world, "uuid:nomin")  # no minimum configured
    _configure(world, minInterviewMinutes=5)
    _send(world, device, household("uuid:backwards", minutes=-1, doc="C"))
    assert "before its start" in _flags(world, "uuid:backwards")["short_interview"]["message"]


def test_likely_duplicate_on_the_configured_key_fields(world: World, device: str) -> None:
    _configure(world, duplicateKeyFields=["doc_id", "/data/person/birth"])
    _send(world, device, household("uuid:first", doc="X-9"))
    _send(world, device, household("uuid:again", doc=" x-9 "))  # trimmed, case-insensitive
    _send(world, device, household("uuid:other-birth", doc="X-9", birth="1991-01-01"))
    _send(world, device, household("uuid:no-doc", doc=""))
    _send(world, device, household("uuid:no-doc-2", doc=""))
    assert "likely_duplicate" not in _flags(world, "uuid:first")
    flag = _flags(world, "uuid:again")["likely_duplicate"]
    assert flag["message"].startswith("Same doc_id, birth as submission uuid:first (received ")
    assert flag["details"]["instanceId"] == "uuid:first"
    assert "likely_duplicate" not in _flags(world, "uuid:other-birth")
    assert "likely_duplicate" not in _flags(world, "uuid:no-doc-2")  # empty keys never match


def test_new_key_fields_apply_to_submissions_already_stored(world: World, device: str) -> None:
    _send(world, device, household("uuid:before", doc="Z-1"))
    _configure(world, duplicateKeyFields=["doc_id"])
    _send(world, device, household("uuid:after", doc="Z-1"))
    assert _flags(world, "uuid:after")["likely_duplicate"]["details"]["instanceId"] == "uuid:before"


def test_geopoint_missing_and_outside_the_projects_countries(world: World, device: str) -> None:
    _send(world, device, household("uuid:here", doc="1"))
    _send(world, device, household("uuid:nowhere", doc="2", location=""))
    _send(world, device, household("uuid:madrid", doc="3", location=MADRID))
    assert _flags(world, "uuid:here") == {}
    missing = _flags(world, "uuid:nowhere")["geopoint_missing"]
    assert missing["message"] == "The form asks for a location (location) but none was recorded."
    outside = _flags(world, "uuid:madrid")["geopoint_outside"]
    assert outside["message"] == (
        "Location 40.4168, -3.7038 (location) is outside the project's countries (ECU, COL)."
    )
    assert "geopoint_missing" not in _flags(world, "uuid:madrid")


def test_no_outside_check_when_a_country_has_no_outline(world: World, device: str) -> None:
    world.client.patch(
        f"/v1/projects/{world.project_id}", json={"countries": ["ECU", "ESP"]}, headers=world.headers("admin")
    )
    got = world.client.get(_quality_url(world), headers=world.headers("analyst")).json
    assert got["countriesWithoutOutline"] == ["ESP"]
    _send(world, device, household("uuid:madrid2", location=MADRID))
    assert _flags(world, "uuid:madrid2") == {}


def test_attachments_missing_fires_and_clears_when_the_file_arrives_later(world: World, device: str) -> None:
    _send(world, device, household("uuid:photo", photo="p.jpg"))
    flag = _flags(world, "uuid:photo")["attachments_missing"]
    assert flag["message"] == "1 of 1 expected files have not arrived yet."
    _send(world, device, household("uuid:photo", photo="p.jpg"), {"p.jpg": b"jpeg bytes"})
    assert _flags(world, "uuid:photo") == {}
    _send(world, device, household("uuid:photo-ok", doc="2", photo="q.jpg"), {"q.jpg": b"jpeg"})
    assert _flags(world, "uuid:photo-ok") == {}


def test_revoked_device_flags_what_its_phone_sends_through_another_route(world: World, device: str) -> None:
    phone = device_token(world, displayName="Phone 3")
    _send(world, root(world, phone["token"]), household("uuid:before-revoke"))
    res = world.client.delete(
        f"/v1/projects/{world.project_id}/app-users/{phone['id']}", headers=world.headers("manager")
    )
    assert res.status_code == 200
    # The same phone (deviceID) reaches the server again, through a hub that cannot know.
    batch = _zip({"h1": household("uuid:via-hub", doc="H")}, device_id="collect:ABCDEFGH12345678")
    hub = world.client.post(
        f"/v1/projects/{world.project_id}/hubs", json={"name": "Office"}, headers=world.headers("admin")
    ).json
    res = _post_batch(world, batch, {"Authorization": f"Hub {hub['token']}"})
    assert res.json["counts"] == {"created": 1}
    flag = _flags(world, "uuid:via-hub")["revoked_device"]
    assert flag["message"].startswith("Sent from device collect:ABCDEFGH12345678, whose credential 'Phone 3'")
    # Another phone through the hub, and a re-onboarded phone on a live token, are not flagged.
    _post_batch(
        world,
        _zip({"h2": household("uuid:other-phone", doc="I")}, device_id="collect:OTHER"),
        {"Authorization": f"Hub {hub['token']}"},
    )
    assert "revoked_device" not in _flags(world, "uuid:other-phone")
    _send(world, device, household("uuid:new-token", doc="J"))
    assert "revoked_device" not in _flags(world, "uuid:new-token")


def test_disabled_flags_do_not_fire(world: World, device: str) -> None:
    _configure(world, minInterviewMinutes=5, enabledFlags=["likely_duplicate"])
    _send(world, device, household("uuid:quiet", minutes=1, location="", photo="x.jpg"))
    assert _flags(world, "uuid:quiet") == {}


def test_an_edit_recomputes_flags_from_the_current_version(world: World, device: str) -> None:
    _send(world, device, household("uuid:orig", location=""))
    assert set(_flags(world, "uuid:orig")) == {"geopoint_missing"}
    _send(world, device, household("uuid:fixed", deprecated="uuid:orig"))
    assert _flags(world, "uuid:orig") == {}


# --- the batch path ---------------------------------------------------------------------------------


def _zip(
    items: dict[str, bytes], device_id: str | None = None, files: dict[str, dict[str, bytes]] | None = None
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, xml in items.items():
            zf.writestr(f"instances/{key}/{key}.xml", xml)
            for name, data in (files or {}).get(key, {}).items():
                zf.writestr(f"instances/{key}/{name}", data)
        if device_id:
            zf.writestr("batch.json", json.dumps({k: {"deviceId": device_id} for k in items}))
    return buf.getvalue()


def _post_batch(world: World, data: bytes, headers: dict[str, str]) -> Any:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=data,
        content_type="application/zip",
        headers=headers,
    )
    assert res.status_code == 200, res.json
    return res


def test_batch_path_computes_the_same_flags(world: World, device: str) -> None:
    _configure(world, minInterviewMinutes=5, duplicateKeyFields=["doc_id"])
    _send(world, device, household("uuid:stored", doc="D-1"))
    batch = _zip(
        {
            "short": household("uuid:b-short", minutes=1, doc="D-2"),
            "dup-stored": household("uuid:b-dup-stored", doc="D-1"),
            "first": household("uuid:b-first", doc="D-3"),
            "dup-batch": household("uuid:b-dup-batch", doc="D-3"),
            "madrid": household("uuid:b-madrid", doc="D-4", location=MADRID),
            "nophoto": household("uuid:b-nophoto", doc="D-5", photo="n.jpg"),
            "photo": household("uuid:b-photo", doc="D-6", photo="y.jpg"),
            "clean": household("uuid:b-clean", doc="D-7"),
        },
        files={"photo": {"y.jpg": b"jpeg"}},
    )
    res = _post_batch(world, batch, world.headers("manager"))
    assert res.json["counts"] == {"created": 8}
    assert set(_flags(world, "uuid:b-short")) == {"short_interview"}
    assert _flags(world, "uuid:b-dup-stored")["likely_duplicate"]["details"]["instanceId"] == "uuid:stored"
    assert _flags(world, "uuid:b-first") == {}
    assert _flags(world, "uuid:b-dup-batch")["likely_duplicate"]["details"]["instanceId"] == "uuid:b-first"
    assert set(_flags(world, "uuid:b-madrid")) == {"geopoint_outside"}
    assert set(_flags(world, "uuid:b-nophoto")) == {"attachments_missing"}
    assert _flags(world, "uuid:b-photo") == {} and _flags(world, "uuid:b-clean") == {}
    # The files-only resend through the per-item path clears the flag.
    again = _zip(
        {"nophoto": household("uuid:b-nophoto", doc="D-5", photo="n.jpg")}, files={"nophoto": {"n.jpg": b"j"}}
    )
    assert _post_batch(world, again, world.headers("manager")).json["counts"] == {"duplicate": 1}
    assert _flags(world, "uuid:b-nophoto") == {}


# --- settings API ----------------------------------------------------------------------------------


def test_settings_round_trip_and_audit(world: World, device: str) -> None:
    got = world.client.get(_quality_url(world), headers=world.headers("enumerator")).json
    assert got["minInterviewMinutes"] is None and got["duplicateKeyFields"] == []
    assert got["hasStartEnd"] is True and got["geopointField"] == "location"
    assert got["countries"] == ["ECU", "COL"] and got["countriesWithoutOutline"] == []
    put = _configure(
        world, minInterviewMinutes=7.5, duplicateKeyFields=["doc_id"], enabledFlags=["short_interview"]
    )
    assert put["minInterviewMinutes"] == 7.5
    assert put["duplicateKeyFields"] == ["/data/doc_id"]
    assert put["enabledFlags"] == ["short_interview"]
    assert world.client.get(_quality_url(world), headers=world.headers("analyst")).json == put
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "form.quality.update"))
        assert event is not None and event.subject_id == "household"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"duplicateKeyFields": ["nope"]}, "duplicateKeyFields: 'nope' is not a question of the form"),
        (
            {"duplicateKeyFields": "doc_id"},
            "The request body is not valid: duplicateKeyFields must be a list",
        ),
        ({"minInterviewMinutes": -3}, "minInterviewMinutes must be more than 0"),
        ({"minInterviewMinutes": "5"}, "minInterviewMinutes must be a number"),
        ({"enabledFlags": ["slow"]}, "enabledFlags: unknown flag 'slow'"),
        ({"minimum": 5}, "The request body is not valid: minimum is not a field of this request"),
    ],
)
def test_bad_settings_are_400_with_a_message_and_change_nothing(
    world: World, device: str, body: dict[str, Any], message: str
) -> None:
    before = _configure(world, minInterviewMinutes=5)
    res = world.client.put(_quality_url(world), json=body, headers=world.headers("manager"))
    assert res.status_code == 400 and res.json["code"] == "400.4"
    assert res.json["message"].startswith(message), res.json["message"]
    assert world.client.get(_quality_url(world), headers=world.headers("manager")).json == before


def test_minimum_length_needs_start_and_end_fields(world: World) -> None:
    from tests.app.openrosa_helpers import SIMPLE_FORM

    publish_xml(world, SIMPLE_FORM)
    res = world.client.put(
        _quality_url(world, "photo"), json={"minInterviewMinutes": 5}, headers=world.headers("manager")
    )
    assert res.status_code == 400 and "no start and end fields" in res.json["message"]


# --- the API other modules call, and the pure parts --------------------------------------------------


def test_set_and_clear_flag_keep_codes_in_step_and_survive_recomputation(world: World, device: str) -> None:
    from app.services import quality

    _send(world, device, household("uuid:mapped", location=""))
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sub = s.scalar(select(Submission).where(Submission.instance_id == "uuid:mapped"))
        assert sub is not None
        quality.set_flag(sub, "unmapped_values", "2 values no mapping knows: nationality=XX", {"count": 2})
        assert sub.flag_codes == " geopoint_missing unmapped_values "
        s.commit()
    # An edit recomputes the ingest flags and leaves the mapping's flag alone.
    _send(world, device, household("uuid:mapped-2", deprecated="uuid:mapped"))
    assert set(_flags(world, "uuid:mapped")) == {"unmapped_values"}
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sub = s.scalar(select(Submission).where(Submission.instance_id == "uuid:mapped"))
        assert sub is not None
        quality.clear_flag(sub, "unmapped_values")
        assert sub.flag_codes == "" and sub.quality_flags == []
        s.commit()


@pytest.mark.parametrize(
    ("lat", "lon", "countries", "outside"),
    [
        (4.711, -74.072, ["COL"], False),  # Bogotá
        (10.391, -75.479, ["COL"], False),  # Cartagena, on the coast
        (7.894, -72.508, ["COL"], False),  # Cúcuta, at the Venezuelan border
        (-0.95, -90.97, ["ECU"], False),  # Galápagos
        (-12.046, -77.043, ["ECU", "COL"], True),  # Lima
        (18.54, -72.34, ["HTI"], False),  # Port-au-Prince
        (40.4168, -3.7038, ["BRA"], True),  # Madrid
        (40.4168, -3.7038, ["ESP"], None),  # no outline: cannot say
    ],
)
def test_point_in_the_projects_countries(
    lat: float, lon: float, countries: list[str], outside: bool | None
) -> None:
    from app.services.quality import geo

    assert geo.outside_all(lat, lon, countries) is outside


def test_flag_reasons_are_translated_from_their_details(world: World) -> None:
    from flask_babel import force_locale

    from app.web.admin.labels import flag_reason

    flag = {
        "code": "short_interview",
        "message": "Interview took 2 min; the form's minimum is 5 min.",
        "details": {"minutes": 2.0, "minimum": 5.0},
    }
    with world.app.test_request_context("/admin/"), force_locale("en"):
        assert flag_reason(flag) == flag["message"]
        # Details a reason cannot read fall back to the stored message.
        assert flag_reason({"code": "short_interview", "message": "as stored", "details": {}}) == "as stored"


# --- the admin's quality card -----------------------------------------------------------------------


def test_admin_form_page_shows_and_saves_quality_checks(world: World, device: str) -> None:
    from tests.app.admin_helpers import login, post

    page = f"/admin/projects/{world.project_id}/forms/household"
    action = f"{page}/quality"
    manager = login(world, "manager")
    html = manager.get(page).text
    # The admin speaks the user's language (Spanish here).
    assert 'id="quality-form"' in html and "Sin duración mínima de entrevista." in html
    res = post(
        manager,
        action,
        {
            "min_minutes": "4,5",
            "key_fields": "/data/doc_id",
            "enabled": ["short_interview", "likely_duplicate"],
        },
        page=page,
    )
    assert res.status_code == 303
    got = world.client.get(_quality_url(world), headers=world.headers("manager")).json
    assert got["minInterviewMinutes"] == 4.5 and got["duplicateKeyFields"] == ["/data/doc_id"]
    assert got["enabledFlags"] == ["short_interview", "likely_duplicate"]
    assert "Se marcan las entrevistas de menos de 4.5 min." in manager.get(page).text
    bad = post(manager, action, {"key_fields": "/data/nope"}, page=page)
    assert bad.status_code == 400 and "is not a question of the form" in bad.text
    supervisor = login(world, "supervisor")
    assert 'id="quality-form"' not in supervisor.get(page).text  # sees the checks, cannot change them
    assert post(supervisor, action, {"min_minutes": "1"}, page=page).status_code == 403
    assert world.client.get(_quality_url(world), headers=world.headers("manager")).json == got
