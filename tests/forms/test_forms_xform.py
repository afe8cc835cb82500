"""XForm introspection over real XForms from Central, javarosa and Enketo, and over hostile XML."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from forms import paths, safe_xml
from forms.errors import XFormError
from forms.safe_xml import local_name
from forms.schema import Choice, FormSchema
from forms.xform import parse_xform
from forms.xlsform import Conversion


def _parse(corpus: Path, name: str) -> FormSchema:
    return parse_xform((corpus / name).read_bytes())


def _fields(schema: FormSchema) -> dict[str, tuple[str, str, str | None]]:
    return {f.path: (f.kind, f.type, f.repeat) for f in schema.fields}


def assert_parses_consistently(data: bytes) -> FormSchema:
    """The checks every XForm must pass, the corpus's and the project's own (test_forms_own_fixtures)."""
    schema = parse_xform(data)
    assert schema.form_id and schema.title and schema.fields
    # Every node a bind names is a field, whatever prefixes or relative paths the bind used.
    field_paths = {f.path for f in schema.fields}
    model = next(e for e in safe_xml.parse(data).iter() if local_name(e.tag) == "model")
    for bind in (e for e in model.iter() if local_name(e.tag) == "bind"):
        path = paths.canonical(bind.get("nodeset"), "/" + schema.root)
        assert path is None or path in field_paths, path
    # The schema is stored as JSON on the form version and must come back equal.
    assert FormSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    return schema


def test_every_corpus_xform_parses(corpus: Path, corpus_xform: str) -> None:
    assert_parses_consistently((corpus / corpus_xform).read_bytes())


def test_very_large_xform_parses(corpus: Path) -> None:
    data = (corpus / "javarosa/whova_form.xml").read_bytes()
    schema = parse_xform(data)
    assert schema.languages == ["French", "English"]
    assert len(schema.fields) > 500


def test_itemsets_csv_is_expected_media(corpus: Path) -> None:
    media = _parse(corpus, "central-backend/forms/itemsets.xml").media
    assert [(m.name, m.kind) for m in media] == [("itemsets.csv", "file")]


def test_submission_element_action_is_the_submission_url(corpus: Path) -> None:
    schema = _parse(corpus, "javarosa/submission-element.xml")
    assert schema.submission_url and schema.submission_url.startswith("http")


def test_double_repeat_nesting_with_orx_meta(corpus: Path) -> None:
    schema = _parse(corpus, "central-backend/forms/doubleRepeat.xml")
    fields = _fields(schema)
    assert fields["/data/children"] == ("group", "group", None)
    assert fields["/data/children/child"] == ("repeat", "repeat", None)
    assert fields["/data/children/child/toys"] == ("group", "group", "/data/children/child")
    assert fields["/data/children/child/toys/toy"] == ("repeat", "repeat", "/data/children/child")
    assert fields["/data/children/child/toys/toy/name"] == (
        "question",
        "string",
        "/data/children/child/toys/toy",
    )
    # orx:meta / orx:instanceID are matched on local names.
    assert fields["/data/meta/instanceID"] == ("question", "string", None)
    assert schema.version == "1.0"


def test_enketo_nested_repeats(corpus: Path) -> None:
    fields = _fields(_parse(corpus, "enketo/nested_repeats.xml"))
    details = "/nested_repeats/kids/kids_details"
    assert fields[details] == ("repeat", "repeat", None)
    assert fields[f"{details}/immunization_info"] == ("repeat", "repeat", details)
    assert fields[f"{details}/immunization_info/date"] == ("question", "date", f"{details}/immunization_info")
    assert fields["/nested_repeats/kids/nested_group/nested_age"] == ("question", "int", None)


def test_withrepeat_reads_orx_version_and_template(corpus: Path) -> None:
    schema = _parse(corpus, "central-backend/forms/withrepeat.xml")
    assert schema.version == "1.0"
    fields = _fields(schema)
    assert fields["/data/children/child"] == ("repeat", "repeat", None)
    assert fields["/data/children/child/age"] == ("question", "int", "/data/children/child")
    assert [f.path for f in schema.fields].count("/data/children/child") == 1


def test_labels_and_choices_in_two_languages(corpus: Path) -> None:
    schema = _parse(corpus, "enketo/secondary-lang.xml")
    assert schema.languages == ["Dutch (nl)", "English (en)"]
    assert schema.default_language == "Dutch (nl)"
    one = schema.field_by_path()["/secondary-lang/one"]
    assert one.labels == {"Dutch (nl)": "Kies", "English (en)": "Choose"}
    assert (one.type, one.choice_list, one.appearance) == ("select1", "ten", "autocomplete")
    first, second = schema.choices["ten"]
    assert (first.value, first.labels) == ("1", {"nl": "één", "en": "one"})
    assert (second.value, second.labels) == ("2", {"": "tweo"})


def test_itext_labels_and_hints_in_a_large_bilingual_form(corpus: Path) -> None:
    schema = _parse(corpus, "javarosa/eIMCI-by-D-Tree.xml")
    assert schema.languages == ["English", "Swahili"]
    assert schema.namespace == "http://dtree.org/e-imci"
    better = schema.field_by_path()["/imci/followup/better"]
    assert better.type == "select1" and set(better.labels) == {"English", "Swahili"}
    assert [c.value for c in schema.choices["better"]] == ["yes", "no"]
    assert set(schema.choices["better"][0].labels) == {"English", "Swahili"}
    # bind nodeset="notice" is relative to the instance root.
    assert schema.field_by_path()["/imci/notice"].required


def test_select_multiple_without_items(corpus: Path) -> None:
    schema = _parse(corpus, "central-backend/forms/selectMultiple.xml")
    q2 = schema.field_by_path()["/data/g1/q2"]
    assert (q2.type, q2.control, q2.choice_list) == ("select", "select", "q2")
    assert schema.choices["q2"] == []


def test_select_multiple_from_pyxform_has_its_list(converted: Callable[[str], Conversion]) -> None:
    schema = parse_xform(converted("pyxform/table-list.xls").xform)
    brian = schema.field_by_path()["/data/happy_sad_table/happy_sad_brian"]
    assert (brian.type, brian.choice_list, brian.appearance) == ("select", "happy_sad", "list-nolabel")
    assert [c.value for c in schema.choices["happy_sad"]] == ["happy", "sad"]
    assert brian.labels == {"": "Brian"}
    assert brian.hints == {"": "This is a user-defined hint for the 2nd row"}
    assert {m.name for m in schema.media} >= {"happy.jpg", "sad.jpg"}
    assert [c.labels for c in schema.choices["yes_no"]] == [{"": "Yes"}, {"": "No"}]


def test_itext_choice_labels_from_pyxform(converted: Callable[[str], Conversion]) -> None:
    schema = parse_xform(converted("pyxform/yes_or_no_question.md").xform)
    assert schema.choices == {
        "yes_or_no": [
            Choice(value="yes", labels={"english": "yes"}),
            Choice(value="no", labels={"english": "no"}),
        ]
    }
    assert (schema.languages, schema.default_language) == (["english"], "english")


def test_meta_fields_and_instance_name(corpus: Path) -> None:
    schema = _parse(corpus, "central-backend/forms/multiEntityFarm.xml")
    fields = schema.field_by_path()
    assert fields["/data/meta"].kind == "group"
    assert fields["/data/meta/instanceID"].kind == "question"
    assert schema.instance_name is not None and "farm_id" in schema.instance_name


def test_last_saved_instance_is_not_media(corpus: Path) -> None:
    assert _parse(corpus, "enketo/va_who_v1_5_3.xml").media == []


def test_external_csv_geojson_and_xml_instances_are_media(corpus: Path) -> None:
    assert [m.name for m in _parse(corpus, "javarosa/external-select-csv.xml").media] == ["external-data.csv"]
    assert [m.name for m in _parse(corpus, "javarosa/external-select-geojson.xml").media] == [
        "external-data.geojson"
    ]
    assert [m.name for m in _parse(corpus, "javarosa/nigeria_wards_external.xml").media] == [
        "lgas.xml",
        "wards.xml",
    ]


HANDWRITTEN = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head>
    <h:title>Border monitoring</h:title>
    <model>
      <instance>
        <survey id="border_monitoring" orx:version="3">
          <site hxl="#loc+name"/>
          <household>
            <size hxl="#affected+hh" ruta_sensitive="true"/>
            <origin/>
          </household>
          <price/>
          <meta><instanceID/><instanceName/></meta>
        </survey>
      </instance>
      <bind nodeset="/survey/household/size" type="xsd:integer" required="true()"/>
      <bind nodeset="household/origin" type="xsd:string" required="false()"/>
      <bind nodeset="/survey/price" type="decimal" readonly="true()"
            calculate="pulldata('prices', 'price', 'site', /survey/site)"/>
      <bind nodeset="/survey/meta/instanceName" calculate="concat('Site ', /survey/site)"/>
      <submission action="https://example.org/submission" method="post"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/survey/site" appearance="search('sites')">
      <label>Site <output value=" /survey/price "/></label>
    </input>
    <group ref="/survey/household">
      <label>Household</label>
      <input ref="size"><label>Size</label><hint>People sleeping here</hint></input>
      <select1 ref="origin">
        <label>Origin</label>
        <item><label>Venezuela</label><value>VEN</value></item>
        <item><label>Haiti</label><value>HTI</value></item>
      </select1>
    </group>
  </h:body>
</h:html>
"""


def test_handwritten_xform_with_relative_refs_hxl_and_expressions() -> None:
    schema = parse_xform(HANDWRITTEN)
    assert (schema.form_id, schema.version, schema.title, schema.root) == (
        "border_monitoring",
        "3",
        "Border monitoring",
        "survey",
    )
    assert schema.languages == [] and schema.default_language is None
    fields = schema.field_by_path()
    size = fields["/survey/household/size"]
    assert (size.type, size.required, size.hxl, size.sensitive) == ("int", True, "#affected+hh", True)
    assert size.labels == {"": "Size"} and size.hints == {"": "People sleeping here"}
    origin = fields["/survey/household/origin"]
    assert (origin.type, origin.required, origin.choice_list) == ("select1", False, "origin")
    assert [(c.value, c.labels) for c in schema.choices["origin"]] == [
        ("VEN", {"": "Venezuela"}),
        ("HTI", {"": "Haiti"}),
    ]
    price = fields["/survey/price"]
    assert (price.type, price.readonly, price.calculate, price.control) == ("decimal", True, True, "")
    assert fields["/survey/site"].labels == {"": "Site ${price}"}
    assert fields["/survey/site"].hxl == "#loc+name"
    assert fields["/survey/household"].labels == {"": "Household"}
    assert [(m.name, m.source) for m in schema.media] == [("prices.csv", "pulldata"), ("sites.csv", "search")]
    assert schema.instance_name == "concat('Site ', /survey/site)"
    assert schema.submission_url == "https://example.org/submission"
    assert [f.path for f in schema.fields][:3] == [
        "/survey/site",
        "/survey/household",
        "/survey/household/size",
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<h:html xmlns:h="http://www.w3.org/1999/xhtml" xmlns="http://www.w3.org/2002/xforms"><h:head>
<h:title>&lol9;</h:title><model><instance><data id="bomb"><q/></data></instance></model></h:head></h:html>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<h:html xmlns:h="http://www.w3.org/1999/xhtml" xmlns="http://www.w3.org/2002/xforms"><h:head>
<h:title>&xxe;</h:title><model><instance><data id="xxe"><q/></data></instance></model></h:head></h:html>
"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_dtd_and_entities_are_refused_without_expansion(xml: bytes) -> None:
    with pytest.raises(XFormError, match="DOCTYPE") as caught:
        parse_xform(xml)
    assert "lollol" not in caught.value.message and "root:" not in caught.value.message


def _form_with_id(form_id: str) -> bytes:
    return (
        '<h:html xmlns:h="http://www.w3.org/1999/xhtml" xmlns="http://www.w3.org/2002/xforms"><h:head><model>'
        f'<instance><data id="{form_id}"><q/></data></instance></model></h:head></h:html>'
    ).encode()


@pytest.mark.parametrize("form_id", ["a/b", "..\\evil", "up..down", "bell&#7;", "tab&#9;id", "  "])
def test_unusable_form_ids_are_refused(form_id: str) -> None:
    with pytest.raises(XFormError, match="id"):
        parse_xform(_form_with_id(form_id))


def test_plain_form_id_is_accepted() -> None:
    assert parse_xform(_form_with_id("Encuesta_2024.v2-final")).form_id == "Encuesta_2024.v2-final"


def test_missing_id_is_refused_with_directions() -> None:
    xml = _form_with_id("x").replace(b' id="x"', b"")
    with pytest.raises(XFormError, match="has no id attribute"):
        parse_xform(xml)


def test_submission_instance_is_not_an_xform(corpus: Path) -> None:
    with pytest.raises(XFormError, match="no <model>"):
        _parse(corpus, "central-backend/instances/simple.one.xml")


def test_model_without_instance_is_refused() -> None:
    xml = b'<h:html xmlns:h="http://www.w3.org/1999/xhtml" xmlns="http://www.w3.org/2002/xforms"><h:head><model/></h:head></h:html>'
    with pytest.raises(XFormError, match="primary <instance>"):
        parse_xform(xml)


def test_undeclared_prefix_is_malformed(corpus: Path) -> None:
    with pytest.raises(XFormError, match="not well-formed"):
        _parse(corpus, "central-backend/instances/doubleRepeat.double.xml")


@pytest.mark.parametrize("data", [b"", b"not xml at all", b"<h:html"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(XFormError):
        parse_xform(data)
