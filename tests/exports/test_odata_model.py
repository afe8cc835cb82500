"""The pure parts of the OData feed: names, the model, rows from values, $filter parsing."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from defusedxml import ElementTree
from hypothesis import given
from hypothesis import strategies as st

from app.errors import ODataNotImplementedError, ODataQueryError
from app.exports.odata import filter as f
from app.exports.odata.model import build_model, edmx, identifier
from app.exports.odata.options import SkipToken, decode_skiptoken, encode_skiptoken, parse_options
from app.exports.odata.rows import RowOptions, SubmissionData, rows_for
from forms.schema import Field, FormSchema
from forms.xform import parse_xform

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("age", "age"), ("1st", "_1st"), ("a-b.c", "a_b_c"), ("ñandú", "__and_"), ("_x", "_x"), ("a--b", "a_b")],
)
def test_identifiers_are_sanitised_as_central_does(name: str, expected: str) -> None:
    assert identifier(name) == expected


def _schema() -> FormSchema:
    fields = [
        Field("/data/name", "name", "question", "string"),
        Field("/data/hh", "hh", "group", "group"),
        Field("/data/hh/member", "member", "repeat", "repeat"),
        Field("/data/hh/member/age", "age", "question", "int", repeat="/data/hh/member"),
        Field(
            "/data/hh/member/phone", "phone", "question", "string", repeat="/data/hh/member", sensitive=True
        ),
        Field("/data/hh/member/visit", "visit", "repeat", "repeat", repeat="/data/hh/member"),
        Field("/data/hh/member/visit/when", "when", "question", "dateTime", repeat="/data/hh/member/visit"),
        Field("/data/where", "where", "question", "geopoint"),
        Field("/data/langs", "langs", "question", "select"),
    ]
    return FormSchema("hh-form", "1", "HH", "data", [], None, fields, {}, [])


VALUES = {
    "name": "Ana",
    "hh": {
        "member": [{"age": 30, "phone": "555", "visit": [{"when": "2024-01-02T10:00:00+07"}]}, {"age": "x"}]
    },
    "where": {"lat": 1.5, "lon": -70.0, "alt": None, "accuracy": None},
    "langs": ["es", "en"],
}


def test_model_tables_and_parent_ids() -> None:
    model = build_model(_schema())
    assert list(model.tables) == ["Submissions", "Submissions.hh.member", "Submissions.hh.member.visit"]
    assert model.tables["Submissions.hh.member"].parent_id_name == "__Submissions-id"
    assert model.tables["Submissions.hh.member.visit"].parent_id_name == "__Submissions-hh-member-id"
    assert model.namespace == "org.opendatakit.user.hh_form"


def test_rows_from_values_typed_by_the_schema() -> None:
    model = build_model(_schema())
    sub = SubmissionData("uuid:1", {"reviewState": None}, VALUES)
    (root,) = rows_for(model, model.tables["Submissions"], sub, RowOptions())
    assert root["name"] == "Ana" and root["langs"] == "es en"
    assert root["where"] == {"type": "Point", "coordinates": [-70.0, 1.5]}
    assert root["hh"]["member@odata.navigationLink"] == "Submissions('uuid%3A1')/hh/member"
    members = rows_for(model, model.tables["Submissions.hh.member"], sub, RowOptions())
    assert [m["age"] for m in members] == [30, None]  # "x" does not fit Edm.Int64
    visits = rows_for(model, model.tables["Submissions.hh.member.visit"], sub, RowOptions())
    assert visits[0]["when"] == "2024-01-02T10:00:00+07:00"
    assert visits[0]["__Submissions-hh-member-id"] == members[0]["__id"]
    assert (
        members[0]["visit@odata.navigationLink"]
        == f"Submissions('uuid%3A1')/hh/member('{members[0]['__id']}')/visit"
    )
    encrypted = SubmissionData("uuid:2", {"status": "notDecrypted"}, {}, encrypted=True)
    assert rows_for(model, model.tables["Submissions"], encrypted, RowOptions()) == [
        {"__id": "uuid:2", "__system": {"status": "notDecrypted"}}
    ]
    assert rows_for(model, model.tables["Submissions.hh.member"], encrypted, RowOptions()) == []


def test_hidden_paths_leave_metadata_and_rows() -> None:
    model = build_model(_schema(), frozenset({"/data/hh/member/phone", "/data/where"}))
    text = edmx(model)
    assert "phone" not in text and "where" not in text and "age" in text
    sub = SubmissionData("uuid:1", {}, VALUES)
    rows = rows_for(model, model.tables["Submissions.hh.member"], sub, RowOptions())
    assert "phone" not in rows[0] and "555" not in repr(rows)
    hidden_repeat = build_model(_schema(), frozenset({"/data/hh/member", "/data/hh/member/age"}))
    assert list(hidden_repeat.tables) == ["Submissions"]


def test_edmx_of_large_corpus_forms_is_well_formed(corpus: Path) -> None:
    for name in ("enketo/SOAR_facilitysurvey_full_2017May11_Kenya.xml", "enketo/all-widgets.xml"):
        schema = parse_xform((corpus / name).read_bytes())
        root = ElementTree.fromstring(edmx(build_model(schema)).encode())
        sets = [s.get("Name") for s in root.iter(f"{EDM}EntitySet")]
        assert len(sets) == 1 + sum(fl.kind == "repeat" for fl in schema.fields), name
        names = [p.get("Name") for p in root.iter(f"{EDM}Property")]
        assert all(n and (n[0].isalpha() or n[0] == "_") for n in names)


def test_filter_parser_builds_a_tree() -> None:
    tree = f.parse_filter("not (year(__system/submissionDate) ge 2024) or __id eq 'it''s' and x ne null")
    assert isinstance(tree, f.BoolOp) and tree.op == "or"
    assert isinstance(tree.left, f.Not)
    right = tree.right
    assert isinstance(right, f.BoolOp) and right.op == "and"
    assert right.left == f.Compare("eq", f.Member("__id", 47), f.Literal("it's"))
    when = f.parse_filter("__system/submissionDate gt 2024-03-01T10:00:00.5-05:00")
    assert isinstance(when, f.Compare) and when.right == f.Literal(
        datetime(2024, 3, 1, 15, 0, 0, 500000, tzinfo=UTC).astimezone(when.right.value.tzinfo)  # type: ignore[union-attr]
    )
    assert f.parse_filter("d lt 2024-02-29") == f.Compare(
        "lt", f.Member("d", 0), f.Literal(date(2024, 2, 29))
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a eq",
        "(a eq 1",
        "a eq 1)",
        "a eq 'x",
        "a $ b",
        "year(a, b) eq 1",
        "now(a) eq 1",
        "a eq 2024-13-01",
    ],
)
def test_filter_syntax_errors(text: str) -> None:
    with pytest.raises(f.FilterSyntaxError):
        f.parse_filter(text)


@pytest.mark.parametrize("text", ["contains(a, 'x')", "a add 1 eq 2", "a has 'x'"])
def test_filter_unsupported(text: str) -> None:
    with pytest.raises(f.FilterUnsupportedError):
        f.parse_filter(text)


@given(st.text(max_size=60))
def test_filter_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(f.FilterSyntaxError, f.FilterUnsupportedError):
        f.parse_filter(text)


def test_options_and_skiptokens() -> None:
    token = SkipToken(sid=42, rows=3)
    assert decode_skiptoken(encode_skiptoken(token)) == token
    for bad in ("", "02abc", "01!!", "01" + "eyJzIjoiYSJ9"):
        with pytest.raises(ODataQueryError):
            decode_skiptoken(bad)
    options = parse_options({"$top": "5", "$skip": "2", "$count": "true", "$wkt": "1", "$expand": "*"})
    assert (options.top, options.skip, options.count, options.wkt, options.expand) == (5, 2, True, True, True)
    assert parse_options({"$select": "*"}).select is None
    with pytest.raises(ODataNotImplementedError):
        parse_options({"$orderby": "__id"})
    with pytest.raises(ODataQueryError) as err:
        parse_options({"$filter": "__id eq"})
    assert "character" in err.value.message
