"""The mapping editor as a form: canonical fields filled by questions chosen by label, answers recoded by
choice label, suggestions marked, the validator's messages beside the rows, and the same document (read
by ``MappingDocument``) confirmed through the one service, as the YAML view and the API do."""

from __future__ import annotations

import copy
import re

from app.indicators.catalog import load_catalog
from app.indicators.mapping import MappingDocument
from app.indicators.mapping.editor import apply_edits, choice_rows, field_rows, pick_label
from app.web.admin.mappings import choice_name
from forms.xform import parse_xform
from tests.app import indicator_fixtures as fx
from tests.app.admin_helpers import csrf_token, login
from tests.app.conftest import World


def _doc(**changes: object) -> MappingDocument:
    data = copy.deepcopy(fx.PT_MAPPING)
    data.update(changes)
    return MappingDocument.from_dict(data)


def test_apply_edits_changes_only_what_is_asked() -> None:
    doc = MappingDocument.from_dict(
        {
            "form": {"id": "f"},
            "fields": {
                "/data/a": {"to": "respondent.sex_gender", "confidence": 0.75, "reason": "label"},
                "/data/b": {"to": ["respondent.nationality_iso3", "respondent.age_years"]},
                "/data/c": {"to": "needs.water_source_safe", "transform": "strip"},
            },
            "choices": {"s": {"1": {"to": "f", "confidence": 0.6}, "2": "m"}},
        }
    )
    out = apply_edits(
        doc,
        fields={"respondent.age_years": None, "needs.water_source_safe": "/data/a"},
        recodes={("s", "2"): "x", ("s", "3"): "u", ("t", "1"): None},
    )
    fields = out.to_dict()["fields"]
    # /data/a keeps its own field and gains the water one; it was changed, so the suggestion mark goes.
    assert fields["/data/a"] == {"to": ["respondent.sex_gender", "needs.water_source_safe"]}
    assert fields["/data/b"] == {"to": "respondent.nationality_iso3"}  # the age target removed only
    assert "/data/c" not in fields  # its only field moved away
    choices = out.to_dict()["choices"]["s"]
    assert choices == {"1": {"to": "f", "confidence": 0.6}, "2": "x", "3": "u"}  # "1" untouched, still marked
    # Untouched rules keep everything, including what the form does not show.
    same = apply_edits(doc, fields={}, recodes={})
    assert same.to_dict() == doc.to_dict()


def test_rows_show_labels_codes_and_suggestions() -> None:
    schema = parse_xform(fx.PT_XFORM.encode())
    catalog = load_catalog()
    doc = _doc()
    rows = {r.key: r for r in field_rows(doc, schema, catalog)}
    assert rows["respondent.sex_gender"].path == "/data/sexo" and not rows["respondent.sex_gender"].suggested
    assert rows["respondent.age_years"].question is None
    assert all(not f.derived for k, f in catalog.fields.items() if k in rows)
    recodes = {(c.list_name, c.value): c for c in choice_rows(doc, schema, catalog, "es")}
    assert recodes[("sexo", "1")].label == "Feminino" and recodes[("sexo", "1")].code == "f"
    assert recodes[("nac", "3")].code is None  # Haitiana deliberately not recoded
    assert any(o.value == "HTI" for o in recodes[("nac", "3")].options)
    assert pick_label({"Español (es)": "Sexo", "English (en)": "Sex"}, "en", "q") == "Sex"
    assert pick_label({}, "en", "q") == "q"


def _page(world: World) -> str:
    return f"/admin/projects/{world.project_id}/forms/{fx.PT}/mapping"


def _selected(html: str, name: str) -> str:
    select = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    found = re.search(r'<option value="([^"]*)" selected', select)
    return found.group(1) if found else ""


def test_saving_a_field_choice_and_recodes_from_the_form(world: World) -> None:
    fx.publish_pt(world)
    start = copy.deepcopy(fx.PT_MAPPING)
    del start["fields"]["/data/ajuda"], start["choices"]["ajuda"]
    api = f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping"
    assert world.client.put(api, json=start, headers=world.headers("analyst")).status_code == 200
    analyst = login(world, "analyst")
    html = analyst.get(_page(world)).text
    assert _selected(html, "f.assistance.received_assistance_30d") == ""
    assert "Recebeu ajuda nos últimos 30 dias? (ajuda)" in html  # questions offered by label
    save = f"{_page(world)}/form"
    res = analyst.post(
        save,
        data={
            "csrf_token": csrf_token(analyst, _page(world)),
            "f.assistance.received_assistance_30d": "/data/ajuda",
        },
    )
    assert res.status_code == 303, res.text[:800]
    got = world.client.get(api, headers=world.headers("analyst")).json
    assert got["version"] == 2 and got["document"]["fields"]["/data/ajuda"] == {
        "to": "assistance.received_assistance_30d"
    }
    assert got["document"]["fields"]["/data/sexo"] == {"to": "respondent.sex_gender"}  # the rest kept
    # Now the answers of "ajuda" are offered for recoding, by label; recode them and Haitiana.
    html = analyst.get(_page(world)).text
    assert 'data-list="ajuda" data-value="1"' in html and "Sim" in html
    res = analyst.post(
        save,
        data={
            "csrf_token": csrf_token(analyst, _page(world)),
            choice_name("ajuda", "1"): "y",
            choice_name("ajuda", "2"): "n",
            choice_name("nac", "3"): "HTI",
        },
    )
    assert res.status_code == 303, res.text[:800]
    doc = world.client.get(api, headers=world.headers("analyst")).json["document"]
    assert doc["choices"]["ajuda"] == {"1": "y", "2": "n"} and doc["choices"]["nac"]["3"] == "HTI"
    assert doc["choices"]["sexo"] == {"1": "f", "2": "m", "9": "u"}
    html = analyst.get(_page(world)).text
    assert _selected(html, choice_name("nac", "3")) == "HTI"


def test_refused_edits_show_messages_beside_their_rows(world: World) -> None:
    fx.publish_pt(world)
    api = f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping"
    assert world.client.put(api, json=fx.PT_MAPPING, headers=world.headers("analyst")).status_code == 200
    analyst = login(world, "analyst")
    save = f"{_page(world)}/form"
    res = analyst.post(
        save,
        data={
            "csrf_token": csrf_token(analyst, _page(world)),
            "f.respondent.age_years": "/data/sexo",  # a choice question cannot fill a number
            choice_name("sexo", "1"): "zz",  # not a code (only a forged form sends it)
        },
    )
    assert res.status_code == 400
    row = res.text.split('data-field="respondent.age_years"', 1)[1].split("</tr>", 1)[0]
    # The checker's messages in the page's language (Spanish by default), while the API's stay English.
    assert 'class="has-problems"' in row and "una pregunta select1 no puede llenar el campo int" in row
    recode = res.text.split('data-list="sexo" data-value="1"', 1)[1].split("</tr>", 1)[0]
    assert "zz" in recode and "no es un código de" in recode
    assert _selected(res.text, "f.respondent.age_years") == "/data/sexo"  # the choice is kept to fix
    assert world.client.get(api, headers=world.headers("analyst")).json["version"] == 1  # nothing stored
    # A supervisor reads the mapping but has no editor; the save is refused.
    supervisor = login(world, "supervisor")
    assert 'id="mapping-editor-form"' not in supervisor.get(_page(world)).text
    res = supervisor.post(save, data={"csrf_token": csrf_token(supervisor, _page(world))})
    assert res.status_code == 403
