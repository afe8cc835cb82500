"""Typed values from instance trees: repeats, groups, types, problems kept as sent, unknown nodes kept."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from forms.schema import GROUP, QUESTION, REPEAT, Field, FormSchema
from sync.submission import parse_submission
from sync.values import ExtractedValues, ValueProblem, compile_schema, extract_values

INSTANCES = "central-backend/instances"


def make_schema(spec: dict[str, str], *, root: str = "data", form_id: str = "f") -> FormSchema:
    """``{"/data/g": "group", "/data/g/r": "repeat", "/data/g/r/q": "int"}`` → a FormSchema."""
    fields: list[Field] = []
    repeats: list[str] = []
    for path, type_ in spec.items():
        kind = {"group": GROUP, "repeat": REPEAT}.get(type_, QUESTION)
        enclosing = [r for r in repeats if path.startswith(r + "/")]
        fields.append(
            Field(
                path=path,
                name=path.rsplit("/", 1)[-1],
                kind=kind,
                type=type_,
                repeat=max(enclosing, key=len) if enclosing else None,
            )
        )
        if kind == REPEAT:
            repeats.append(path)
    return FormSchema(
        form_id=form_id,
        version=None,
        title=form_id,
        root=root,
        languages=[],
        default_language=None,
        fields=fields,
        choices={},
        media=[],
    )


META = {"/data/meta": "group", "/data/meta/instanceID": "string"}
WITHREPEAT = make_schema(
    {
        **META,
        "/data/name": "string",
        "/data/age": "int",
        "/data/children": "group",
        "/data/children/child": "repeat",
        "/data/children/child/name": "string",
        "/data/children/child/age": "int",
    }
)


def values_of(xml: bytes, schema: FormSchema) -> ExtractedValues:
    return extract_values(parse_submission(xml).root, schema)


def test_withrepeat_two_from_the_corpus(corpus: Path) -> None:
    extracted = extract_values(
        parse_submission((corpus / INSTANCES / "withrepeat.two.xml").read_bytes()).root, WITHREPEAT
    )
    assert extracted.values == {
        "meta": {"instanceID": "rtwo"},
        "name": "Bob",
        "age": 34,
        "children": {"child": [{"name": "Billy", "age": 4}, {"name": "Blaine", "age": 6}]},
    }
    assert extracted.problems == []
    assert extracted.unknown_paths == []
    json.dumps(extracted.values)  # JSON-able as stored


def test_a_single_repeat_instance_is_still_a_list() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta>
      <children><child><age>1</age></child></children></data>"""
    assert values_of(xml, WITHREPEAT).values["children"] == {"child": [{"age": 1}]}


def test_nested_repeats_from_double_repeat(corpus: Path) -> None:
    # The corpus file uses orx: undeclared (see test_sync_submission); declare it to read its data.
    raw = (corpus / INSTANCES / "doubleRepeat.double.xml").read_bytes()
    xml = raw.replace(
        b'<data id="doubleRepeat"', b'<data xmlns:orx="http://openrosa.org/xforms" id="doubleRepeat"'
    )
    schema = make_schema(
        {
            **META,
            "/data/name": "string",
            "/data/children": "group",
            "/data/children/child": "repeat",
            "/data/children/child/name": "string",
            "/data/children/child/toys": "group",
            "/data/children/child/toys/toy": "repeat",
            "/data/children/child/toys/toy/name": "string",
        }
    )
    values = extract_values(parse_submission(xml).root, schema).values
    children = values["children"]["child"]
    assert [c["name"] for c in children] == ["Alice", "Bob", "Chelsea"]
    assert "toys" not in children[0]
    assert [t["name"] for t in children[1]["toys"]["toy"]] == [
        "Twilight Sparkle",
        "Pinkie Pie",
        "Applejack",
        "Spike",
    ]
    assert len(children[2]["toys"]["toy"]) == 4
    assert values["meta"] == {"instanceID": "double"}  # orx:meta matched by local name


def test_repeat_inside_group_and_nested_groups(corpus: Path) -> None:
    schema = make_schema(
        {
            "/data/text": "string",
            "/data/child_repeat": "repeat",
            "/data/child_repeat/name": "string",
            "/data/child_repeat/address": "group",
            "/data/child_repeat/address/city": "string",
            "/data/child_repeat/address/country": "string",
            **META,
        }
    )
    extracted = extract_values(
        parse_submission((corpus / INSTANCES / "groupRepeat.one.xml").read_bytes()).root, schema
    )
    assert extracted.values["child_repeat"] == [
        {"name": "John", "address": {"city": "Toronto", "country": "Canada"}},
        {"name": "Jane", "address": {"city": "New York", "country": "US"}},
    ]
    assert extracted.values["text"] == "xyz"


def test_select_multiple_is_a_list_select_one_a_string(corpus: Path) -> None:
    schema = make_schema({**META, "/data/q1": "select", "/data/g1": "group", "/data/g1/q2": "select"})
    values = extract_values(
        parse_submission((corpus / INSTANCES / "selectMultiple.one.xml").read_bytes()).root, schema
    ).values
    assert values["q1"] == ["a", "b"]
    assert values["g1"] == {"q2": ["x", "y", "z"]}
    one = make_schema({**META, "/data/q1": "select1"})
    xml = b'<data id="f"><meta><instanceID>u</instanceID></meta><q1>a b</q1></data>'
    assert extract_values(parse_submission(xml).root, one).values["q1"] == "a b"


GEO = make_schema(
    {
        **META,
        "/data/p": "geopoint",
        "/data/t": "geotrace",
        "/data/s": "geoshape",
        "/data/p2": "geopoint",
    }
)


def test_geopoint_and_geotrace_become_numbers() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta>
      <p>0.8123 -78.123 2850.5 4.7</p>
      <t>1 2 3 4;1.5 2.5 0 0;</t>
      <s>1 2;1 3;2 3;1 2</s>
      <p2>-12.5 130</p2></data>"""
    extracted = values_of(xml, GEO)
    values = extracted.values
    assert values["p"] == {"lat": 0.8123, "lon": -78.123, "alt": 2850.5, "accuracy": 4.7}
    assert values["t"] == [
        {"lat": 1.0, "lon": 2.0, "alt": 3.0, "accuracy": 4.0},
        {"lat": 1.5, "lon": 2.5, "alt": 0.0, "accuracy": 0.0},
    ]
    assert len(values["s"]) == 4
    assert values["p2"] == {"lat": -12.5, "lon": 130.0, "alt": None, "accuracy": None}
    assert extracted.problems == []


@pytest.mark.parametrize("bad", ["91 0 0 0", "1", "a b", "1 2 3 4 5", "nan 2", "1 2;x"])
def test_bad_locations_are_kept_as_sent_with_a_problem(bad: str) -> None:
    xml = f'<data id="f"><meta><instanceID>u</instanceID></meta><t>{bad}</t></data>'.encode()
    extracted = extract_values(parse_submission(xml).root, GEO)
    assert extracted.values["t"] == bad
    assert [p.path for p in extracted.problems] == ["/data/t"]


NUMBERS = make_schema(
    {**META, "/data/i": "int", "/data/d": "decimal", "/data/b": "boolean", "/data/dt": "dateTime"}
)


def test_numbers_booleans_and_dates() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta>
      <i>-42</i><d>3.50</d><b>true</b><dt>2024-06-12T10:15:00.000-05:00</dt></data>"""
    values = values_of(xml, NUMBERS).values
    assert values == {
        "meta": {"instanceID": "u"},
        "i": -42,
        "d": 3.5,
        "b": True,
        "dt": "2024-06-12T10:15:00.000-05:00",
    }
    assert isinstance(values["i"], int) and isinstance(values["d"], float)


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        ("i", "12a"),
        ("i", "1.5"),
        ("i", "1_000"),
        ("i", "١٢"),
        ("d", "1e999"),
        ("d", "nan"),
        ("d", "1,5"),
        ("b", "yes"),
    ],
)
def test_values_that_do_not_fit_are_kept_as_sent(tag: str, text: str) -> None:
    xml = f'<data id="f"><meta><instanceID>u</instanceID></meta><{tag}>{text}</{tag}></data>'.encode()
    extracted = extract_values(parse_submission(xml).root, NUMBERS)
    assert extracted.values[tag] == text
    assert len(extracted.problems) == 1
    problem = extracted.problems[0]
    assert (problem.path, problem.value) == (f"/data/{tag}", text)


def test_problem_paths_name_the_repeat_instance() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta><children>
      <child><age>4</age></child><child><age>six</age></child></children></data>"""
    extracted = extract_values(parse_submission(xml).root, WITHREPEAT)
    assert extracted.problems == [
        ValueProblem("/data/children/child[2]/age", "six", "expected int: not a whole number; kept as sent")
    ]
    assert extracted.values["children"]["child"][1] == {"age": "six"}


def test_empty_elements_are_none() -> None:
    xml = b'<data id="f"><meta><instanceID>u</instanceID></meta><i/><d></d><dt/><b> </b></data>'
    values = values_of(xml, NUMBERS).values
    assert values["i"] is None and values["d"] is None and values["dt"] is None and values["b"] is None


def test_strings_are_kept_exactly_as_sent() -> None:
    schema = make_schema({**META, "/data/s": "string"})
    xml = '<data id="f"><meta><instanceID>u</instanceID></meta><s>  José &amp; co </s></data>'.encode()
    assert values_of(xml, schema).values["s"] == "  José & co "


def test_unknown_nodes_are_kept_as_strings_and_noted() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID><audit>audit.csv</audit></meta>
      <name>Ana</name><old_q>12</old_q><old_group><x>1</x><x>2</x></old_group></data>"""
    extracted = extract_values(parse_submission(xml).root, WITHREPEAT)
    assert extracted.values["old_q"] == "12"
    assert extracted.values["meta"]["audit"] == "audit.csv"
    assert extracted.values["old_group"] == {"x": ["1", "2"]}
    assert extracted.unknown_paths == [
        "/data/meta/audit",
        "/data/old_q",
        "/data/old_group",
        "/data/old_group/x",
        "/data/old_group/x[2]",
    ]
    assert extracted.problems == []


def test_text_where_a_group_or_repeat_belongs_is_kept_with_a_problem() -> None:
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta>
      <children><child>lost?</child><child/></children></data>"""
    extracted = values_of(xml, WITHREPEAT)
    assert extracted.values["children"] == {"child": ["lost?", {}]}
    assert [p.path for p in extracted.problems] == ["/data/children/child[1]"]


def test_a_known_non_repeat_node_sent_twice_keeps_both_and_reports_it() -> None:
    xml = b'<data id="f"><meta><instanceID>u</instanceID></meta><age>1</age><age>2</age></data>'
    extracted = extract_values(parse_submission(xml).root, WITHREPEAT)
    assert extracted.values["age"] == [1, 2]
    assert [p.path for p in extracted.problems] == ["/data/age"]


def test_repeat_templates_and_comments_are_not_data() -> None:
    xml = b"""<data id="f" xmlns:jr="http://openrosa.org/javarosa"><meta><instanceID>u</instanceID></meta>
      <!-- a comment --><children>
      <child jr:template=""><age/></child><child><age>3</age></child></children></data>"""
    assert values_of(xml, WITHREPEAT).values["children"] == {"child": [{"age": 3}]}


def test_binary_fields_give_attachment_names_in_document_order(corpus: Path) -> None:
    schema = make_schema({**META, "/data/file1": "binary", "/data/file2": "binary"})
    both = extract_values(
        parse_submission((corpus / INSTANCES / "binaryType.both.xml").read_bytes()).root, schema
    )
    assert both.attachment_names == ["my_file1.mp4", "here_is_file2.jpg"]
    assert both.values["file1"] == "my_file1.mp4"
    uni = extract_values(
        parse_submission((corpus / INSTANCES / "binaryType.unicode.xml").read_bytes()).root, schema
    )
    # The corpus spells fîlé2 decomposed (NFD); the name must match the multipart part byte for byte,
    # so it is never normalised.
    assert uni.attachment_names == [unicodedata.normalize("NFD", "fîlé2"), "f😂le3صادق"]


def test_attachment_names_are_deduplicated_across_repeats() -> None:
    schema = make_schema({**META, "/data/r": "repeat", "/data/r/photo": "binary"})
    xml = b"""<data id="f"><meta><instanceID>u</instanceID></meta>
      <r><photo>b.jpg</photo></r><r><photo>a.jpg</photo></r><r><photo>b.jpg</photo></r><r><photo/></r></data>"""
    assert values_of(xml, schema).attachment_names == ["b.jpg", "a.jpg"]


def test_schema_paths_with_prefixes_match_local_names() -> None:
    schema = make_schema(
        {"/data/orx:meta": "group", "/data/orx:meta/orx:instanceID": "string", "/data/n": "int"}
    )
    xml = b'<data id="f"><meta><instanceID>u</instanceID></meta><n>5</n></data>'
    extracted = values_of(xml, schema)
    assert extracted.values == {"meta": {"instanceID": "u"}, "n": 5}
    assert extracted.unknown_paths == []


def test_soak_submission_reads_every_value_with_a_compiled_schema(corpus: Path) -> None:
    # Correctness only: how fast this runs is measured by the ingest benchmark, not asserted here.
    template = (corpus / "central-backend/soak-250q/250q-submission.template.xml").read_text()
    root = parse_submission(template.replace("{{uuid}}", "x").replace("{{randInt}}", "17").encode()).root
    names = [el.tag for el in root if el.tag != "meta"]
    schema = make_schema({**META, **{f"/data/{n}": "int" for n in names}})
    compiled = compile_schema(schema)
    extracted = extract_values(root, compiled)
    assert len(names) >= 250
    assert all(extracted.values[n] == 17 for n in names)
    assert extract_values(root, compiled) == extracted  # a compiled schema is reusable


def test_with_the_schema_parse_xform_reads_from_the_corpus_form(corpus: Path) -> None:
    from forms.xform import parse_xform

    schema = parse_xform((corpus / "central-backend/forms/withrepeat.xml").read_bytes())
    xml = (corpus / INSTANCES / "withrepeat.two.xml").read_bytes()
    assert extract_values(parse_submission(xml).root, schema) == extract_values(
        parse_submission(xml).root, WITHREPEAT
    )
