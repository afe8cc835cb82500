"""Real clients against a live Ruta over HTTP: pyodk (ODK's official Python client) runs the calls
API.md lists, and python-odata (a generic OData v4 consumer) reflects ``$metadata`` and pages through
Submissions and repeat tables with Basic auth, as Excel and Power BI connect."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import requests

from forms.library import read_bundled
from tests.app.conftest import World
from tests.app.odata_helpers import geo_form, geo_instance, nested_form, nested_instance, submit


def _pyodk_client(world: World, live: str, tmp_path: Path, who: str) -> Any:
    from pyodk.client import Client

    config = tmp_path / f"pyodk_{who}.toml"
    config.write_text(
        "[central]\n"
        f'base_url = "{live}"\n'
        f'username = "{world.emails[who]}"\n'
        f'password = "{world.passwords[who]}"\n'
        f"default_project_id = {world.project_id}\n"
    )
    return Client(config_path=config, cache_path=tmp_path / f"pyodk_cache_{who}.toml")


HH_SUBMISSION = """<data xmlns:jr="http://openrosa.org/javarosa"
  id="ruta_household_needs" version="{version}">
  <location><country_iso3>ECU</country_iso3></location>
  <respondent><age_years>41</age_years><nationality_iso3>VEN</nationality_iso3></respondent>
  <members_count>1</members_count>
  <members><m_index>1</m_index><m_name>Ana</m_name><m_age_years>9</m_age_years></members>
  <meta><instanceID>uuid:pyodk-1</instanceID></meta>
</data>"""


@pytest.mark.slow
def test_pyodk_lists_creates_submits_reviews_and_reads_the_table(
    world: World, live: str, tmp_path: Path
) -> None:
    manager = _pyodk_client(world, live, tmp_path, "manager")
    projects = manager.projects.list()
    assert [p.id for p in projects] == [world.project_id]
    assert manager.forms.list() == []

    xlsform = tmp_path / "ruta_household_needs.xlsx"
    xlsform.write_bytes(read_bundled("ruta_household_needs"))
    created = manager.forms.create(definition=xlsform)
    assert created.xmlFormId == "ruta_household_needs"
    listed = manager.forms.list()
    assert [f.xmlFormId for f in listed] == ["ruta_household_needs"] and listed[0].publishedAt is not None

    sub = manager.submissions.create(
        xml=HH_SUBMISSION.format(version=listed[0].version), form_id="ruta_household_needs"
    )
    assert sub.instanceId == "uuid:pyodk-1" and sub.submitterId == world.user_ids["manager"]
    assert [s.instanceId for s in manager.submissions.list(form_id="ruta_household_needs")] == [
        "uuid:pyodk-1"
    ]

    # Devices: an app user with the form assigned (Central's role id 2), as pyodk does it.
    users = manager.projects.create_app_users(display_names=["Phone 1"], forms=["ruta_household_needs"])
    assert [u.displayName for u in users] == ["Phone 1"] and users[0].token

    # A new version from the XForm, then an edit of the submission with a comment.
    version = listed[0].version
    xform = manager.forms.get_xml("ruta_household_needs")
    manager.forms.update("ruta_household_needs", definition=xform.replace(f'"{version}"', f'"{version}-2"'))
    assert manager.forms.get("ruta_household_needs").version == f"{version}-2"
    edited = HH_SUBMISSION.format(version=version).replace(
        "<instanceID>uuid:pyodk-1</instanceID>",
        "<instanceID>uuid:pyodk-1b</instanceID><deprecatedID>uuid:pyodk-1</deprecatedID>",
    )
    manager.submissions.edit("uuid:pyodk-1", xml=edited, form_id="ruta_household_needs", comment="fixed")

    supervisor = _pyodk_client(world, live, tmp_path, "supervisor")
    supervisor.submissions.review(
        instance_id="uuid:pyodk-1", review_state="approved", form_id="ruta_household_needs", comment="OK"
    )
    assert (
        supervisor.submissions.get("uuid:pyodk-1", form_id="ruta_household_needs").reviewState == "approved"
    )
    comments = supervisor.submissions.list_comments("uuid:pyodk-1", form_id="ruta_household_needs")
    assert [c.body for c in comments] == ["fixed", "OK"]

    table = supervisor.submissions.get_table(form_id="ruta_household_needs", count=True)
    assert table["@odata.count"] == 1
    row = table["value"][0]
    assert row["__id"] == "uuid:pyodk-1" and row["__system"]["reviewState"] == "approved"
    assert row["__system"]["edits"] == 1 and row["meta"]["instanceID"] == "uuid:pyodk-1b"
    assert row["respondent"]["age_years"] == 41
    members = supervisor.submissions.get_table(
        form_id="ruta_household_needs", table_name="Submissions.members"
    )
    assert [(m["m_name"], m["__Submissions-id"]) for m in members["value"]] == [("Ana", "uuid:pyodk-1")]
    filtered = supervisor.submissions.get_table(
        form_id="ruta_household_needs", filter="__system/reviewState eq 'approved'", select="respondent"
    )
    assert filtered["value"] == [{"__id": "uuid:pyodk-1", "respondent": row["respondent"]}]

    # The analyst reads the table too, without the sensitive member names.
    analyst = _pyodk_client(world, live, tmp_path, "analyst")
    members = analyst.submissions.get_table(form_id="ruta_household_needs", table_name="Submissions.members")
    assert "m_name" not in members["value"][0] and members["value"][0]["m_age_years"] == 9


@pytest.fixture
def odata_world(world: World) -> World:
    world.app.config["ODATA_PAGE_SIZE"] = 2  # so a handful of rows spans several pages
    xml = geo_form(world)
    for n in range(5):
        submit(world, "geotest", geo_instance(xml, n, plurals=n % 3))
    nested_form(world)
    for n in range(3):
        submit(world, "nested_repeats", nested_instance(n, [["Polio", "Flu"], ["BCG"]]))
    return world


def _service(world: World, live: str, form_id: str, who: str = "analyst") -> Any:
    from odata import ODataService

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # python-odata imports deprecated helpers
        return ODataService(
            f"{live}/v1/projects/{world.project_id}/forms/{form_id}.svc/",
            auth=requests.auth.HTTPBasicAuth(world.emails[who], world.passwords[who]),
            reflect_entities=True,
            quiet_progress=True,
        )


@pytest.mark.slow
def test_python_odata_reflects_metadata_and_pages_through_tables(odata_world: World, live: str) -> None:
    world = odata_world
    service = _service(world, live, "geotest")
    assert set(service.entities) == {"Submissions", "Submissions.plural", "Submissions.plural.nested_repeat"}
    submissions = list(service.query(service.entities["Submissions"]))
    assert [s.__id for s in submissions] == [f"uuid:geo-{n}" for n in range(5)]  # three pages of two
    plural = list(service.query(service.entities["Submissions.plural"]))
    assert len(plural) == 4
    assert [getattr(p, "__Submissions-id") for p in plural] == [
        "uuid:geo-1",
        "uuid:geo-2",
        "uuid:geo-2",
        "uuid:geo-4",
    ]
    nested = list(service.query(service.entities["Submissions.plural.nested_repeat"]))
    assert [getattr(n, "__Submissions-plural-id") for n in nested] == [p.__id for p in plural]

    service = _service(world, live, "nested_repeats")
    shots = list(service.query(service.entities["Submissions.kids.kids_details.immunization_info"]))
    assert [s.vaccine for s in shots] == ["Polio", "Flu", "BCG"] * 3  # nine rows over five pages
    kids = list(service.query(service.entities["Submissions.kids.kids_details"]))
    assert [k.kids_name for k in kids] == [f"kid{n}-{i}" for n in range(3) for i in range(2)]
    assert {getattr(s, "__Submissions-kids-kids_details-id") for s in shots} == {k.__id for k in kids}
    # Client-side paging ($top/$skip) as a tool would page by hand.
    page = service.query(service.entities["Submissions"]).limit(2).offset(1).all()
    assert [p.__id for p in page] == ["uuid:nested-1", "uuid:nested-2"]
