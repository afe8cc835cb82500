"""Two differently built forms feeding the same canonical fields, for the indicator tests:

* the bundled Spanish household form (forms/library), whose shipped mapping is used as is;
* ``encuesta_pt``, written for the tests: other question names, numeric choice codes, Portuguese
  labels; mapped through PUT .../mapping with explicit recodings.
"""

from __future__ import annotations

from typing import Any

from forms.library import read_bundled
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JR = 'xmlns:jr="http://openrosa.org/javarosa"'
HH = "ruta_household_needs"
PT = "encuesta_pt"


def _select(path: str, label: str, options: list[tuple[str, str]]) -> str:
    items = "".join(f"<item><label>{lab}</label><value>{val}</value></item>" for val, lab in options)
    return f'<select1 ref="{path}"><label>{label}</label>{items}</select1>'


SIM_NAO = [("1", "Sim"), ("2", "Não")]
SEXO = [("1", "Feminino"), ("2", "Masculino"), ("9", "Prefere não dizer")]
NAC = [("1", "Venezuelana"), ("2", "Colombiana"), ("3", "Haitiana")]
PAIS = [("1", "Colômbia"), ("2", "Equador"), ("3", "Peru")]

PT_XFORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" {JR}
 xmlns:orx="http://openrosa.org/xforms">
<h:head><h:title>Pesquisa de domicílios (teste)</h:title><model>
<instance><data id="{PT}" version="3">
<fim/><consentimento/><pais/><sexo/><nac/><agua/><ajuda/>
<pessoas jr:template=""><idade/><sexo_p/></pessoas>
<meta><instanceID/></meta></data></instance>
<bind nodeset="/data/fim" type="dateTime"/>
<bind nodeset="/data/consentimento" type="string"/>
<bind nodeset="/data/pais" type="string"/>
<bind nodeset="/data/sexo" type="string"/>
<bind nodeset="/data/nac" type="string"/>
<bind nodeset="/data/agua" type="string"/>
<bind nodeset="/data/ajuda" type="string"/>
<bind nodeset="/data/pessoas/idade" type="int"/>
<bind nodeset="/data/pessoas/sexo_p" type="string"/>
<bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
</model></h:head>
<h:body>
<input ref="/data/fim"><label>Data e hora do fim</label></input>
{_select("/data/consentimento", "Aceita participar?", SIM_NAO)}
{_select("/data/pais", "País da entrevista", PAIS)}
{_select("/data/sexo", "Sexo da pessoa entrevistada", SEXO)}
{_select("/data/nac", "Nacionalidade", NAC)}
{_select("/data/agua", "A água que bebem é segura?", SIM_NAO)}
{_select("/data/ajuda", "Recebeu ajuda nos últimos 30 dias?", SIM_NAO)}
<group ref="/data/pessoas"><label>Pessoas do domicílio</label><repeat nodeset="/data/pessoas">
<input ref="/data/pessoas/idade"><label>Idade</label></input>
{_select("/data/pessoas/sexo_p", "Sexo", SEXO)}
</repeat></group>
</h:body></h:html>
"""

PT_MAPPING: dict[str, Any] = {
    "form": {"id": PT, "version": "3", "lang": "pt"},
    "roster_includes_respondent": True,  # "pessoas" lists everyone in the household
    "defaults": {"population_type": "in_destination", "unit_of_analysis": "household"},
    "fields": {
        "/data/fim": {"to": "submission.collected_at", "transform": "date"},
        "/data/consentimento": "submission.consent",
        "/data/pais": "location.country_iso3",
        "/data/sexo": "respondent.sex_gender",
        "/data/nac": "respondent.nationality_iso3",
        "/data/agua": "needs.water_source_safe",
        "/data/ajuda": "assistance.received_assistance_30d",
        "/data/pessoas/idade": "members[].age_years",
        "/data/pessoas/sexo_p": "members[].sex_gender",
    },
    "choices": {
        "consentimento": {"1": "y", "2": "n"},
        "agua": {"1": "y", "2": "n"},
        "ajuda": {"1": "y", "2": "n"},
        "sexo": {"1": "f", "2": "m", "9": "u"},
        "sexo_p": {"1": "f", "2": "m", "9": "u"},
        "nac": {"1": "VEN", "2": "COL"},  # "3" (Haitiana) deliberately left out: queued, becomes XXX
        "pais": {"1": "COL", "2": "ECU", "3": "PER"},
    },
}


def publish_household(world: World) -> str:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=read_bundled(HH),
        content_type=XLSX,
        headers={**world.headers("admin"), "X-XlsForm-FormId-Fallback": HH},
    )
    assert res.status_code == 200, res.json
    return str(res.json["version"])


def publish_pt(world: World) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=PT_XFORM.encode(),
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json


def household_xml(
    version: str,
    uid: str,
    *,
    country: str,
    water: str,
    assistance: str,
    ages: list[int],
    consent: str = "yes",
    nationality: str = "VEN",
) -> str:
    members = "".join(
        f"<members><m_index>{i}</m_index><m_sex_gender>f</m_sex_gender><m_age_years>{age}</m_age_years></members>"
        for i, age in enumerate(ages)
    )
    return (
        f'<data {JR} id="{HH}" version="{version}">'
        f"<end>2024-03-15T10:00:00.000-05:00</end><consent>{consent}</consent>"
        f"<location><country_iso3>{country}</country_iso3></location>"
        f"<respondent><sex_gender>f</sex_gender><age_years>34</age_years>"
        f"<nationality_iso3>{nationality}</nationality_iso3></respondent>"
        "<household><population_type>in_destination</population_type></household>"
        f"<members_count>{len(ages)}</members_count>{members}"
        f"<needs><water_source_safe>{water}</water_source_safe></needs>"
        f"<assistance><received_assistance_30d>{assistance}</received_assistance_30d></assistance>"
        f"<meta><instanceID>uuid:{uid}</instanceID></meta></data>"
    )


def pt_xml(
    uid: str,
    *,
    pais: str,
    agua: str,
    ajuda: str,
    idades: list[int],
    nac: str = "1",
    deprecated: str | None = None,
    fim: str = "2024-03-20T09:00:00.000-03:00",
) -> str:
    pessoas = "".join(f"<pessoas><idade>{i}</idade><sexo_p>2</sexo_p></pessoas>" for i in idades)
    dep = f"<deprecatedID>uuid:{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data {JR} id="{PT}" version="3"><fim>{fim}</fim>'
        f"<consentimento>1</consentimento><pais>{pais}</pais><sexo>1</sexo><nac>{nac}</nac>"
        f"<agua>{agua}</agua><ajuda>{ajuda}</ajuda>{pessoas}"
        f"<meta><instanceID>uuid:{uid}</instanceID>{dep}</meta></data>"
    )


def submit(world: World, form_id: str, xml: str) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms/{form_id}/submissions",
        data=xml.encode(),
        content_type="application/xml",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    run_jobs(world.app)  # the indicator refresh the write queued


def review(world: World, form_id: str, uid: str, state: str) -> None:
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/{form_id}/submissions/uuid:{uid}",
        json={"reviewState": state},
        headers=world.headers("supervisor"),
    )
    assert res.status_code == 200, res.json
    run_jobs(world.app)
