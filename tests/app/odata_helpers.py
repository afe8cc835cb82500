"""Forms and submissions for the OData tests: two forms of tests/data (geo types with nested repeats; nested
repeats with a select multiple) and the bundled household form (form-marked sensitive fields, a
repeat, a select multiple)."""

from __future__ import annotations

from typing import Any

from forms.library import read_bundled
from tests.app.conftest import World
from tests.app.openrosa_helpers import publish_xml
from tests.data import data_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JR = 'xmlns:jr="http://openrosa.org/javarosa"'


def svc(world: World, form_id: str) -> str:
    return f"/v1/projects/{world.project_id}/forms/{form_id}.svc"


def submit(world: World, form_id: str, xml: str, who: str = "manager") -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms/{form_id}/submissions",
        data=xml.encode(),
        content_type="application/xml",
        headers=world.headers(who),
    )
    assert res.status_code == 200, res.json


def geo_form(world: World) -> bytes:
    xml = data_file("forms/geo_types.xml").read_bytes()
    publish_xml(world, xml)
    return xml


def geo_instance(xml: bytes, n: int, *, plurals: int = 2) -> str:
    """The form's own primary instance (it carries sample answers), with ``plurals`` copies of the
    repeat, each with ``n``-dependent coordinates so rows can be told apart."""
    text = xml.decode()
    body = text[text.index('<data id="geotest"') : text.index("</data>") + len("</data>")]
    body = body.replace(' jr:template=""', "").replace("<data ", f"<data {JR} ", 1)
    first = body.index("<plural>")
    last = body.rindex("</plural>") + len("</plural>")
    one = body[first : body.index("</plural>") + len("</plural>")]
    copies = "".join(one.replace("54 4 1 0", f"{n} {i} 1 5") for i in range(plurals))
    body = body[:first] + copies + body[last:]
    body = body.replace("50 0 0 0", f"{n} 10 0 3")
    return body.replace("<instanceID/>", f"<instanceID>uuid:geo-{n}</instanceID>")


NESTED = "forms/nested_repeats.xml"


def nested_form(world: World) -> None:
    publish_xml(world, data_file(NESTED).read_bytes())


def nested_instance(n: int, kids: list[list[str]], browsers: str = "firefox chrome") -> str:
    details = "".join(
        f"<kids_details><kids_name>kid{n}-{i}</kids_name><kids_age>{i + 1}</kids_age>"
        + "".join(f"<immunization_info><vaccine>{v}</vaccine><date/></immunization_info>" for v in vaccines)
        + "</kids_details>"
        for i, vaccines in enumerate(kids)
    )
    return (
        f'<nested_repeats {JR} id="nested_repeats"><formhub><uuid/></formhub><kids><has_kids>1</has_kids>'
        f"{details}<nested_group><nested_name>N{n}</nested_name><nested_age>4</nested_age></nested_group>"
        f"</kids><gps/><meta><instanceID>uuid:nested-{n}</instanceID></meta>"
        f"<web_browsers>{browsers}</web_browsers></nested_repeats>"
    )


def household_form(world: World) -> dict[str, Any]:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=read_bundled("ruta_household_needs"),
        content_type=XLSX,
        headers={**world.headers("admin"), "X-XlsForm-FormId-Fallback": "ruta_household_needs"},
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def household_instance(version: str, n: int) -> str:
    members = "".join(
        f"<members><m_index>{i}</m_index><m_name>Persona {n}-{i}</m_name><m_age_years>{20 + i}</m_age_years>"
        "</members>"
        for i in range(2)
    )
    return (
        f'<data {JR} id="ruta_household_needs" version="{version}">'
        "<location><country_iso3>COL</country_iso3><adm1_other>Vereda secreta</adm1_other></location>"
        f"<respondent><age_years>3{n}</age_years><nationality_iso3>VEN COL</nationality_iso3>"
        "<nationality_other>Apatrida</nationality_other></respondent>"
        f"<members_count>2</members_count>{members}"
        f"<meta><instanceID>uuid:hh-{n}</instanceID></meta></data>"
    )
