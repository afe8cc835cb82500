"""type_changes reports fields kept under the same path whose data type or kind changed."""

from __future__ import annotations

from forms.diff import type_changes
from forms.schema import Field, FormSchema, TypeChange


def _schema(*fields: Field) -> FormSchema:
    return FormSchema(
        form_id="f",
        version=None,
        title="f",
        root="data",
        languages=[],
        default_language=None,
        fields=list(fields),
        choices={},
        media=[],
    )


def _q(path: str, type_: str) -> Field:
    return Field(path=path, name=path.rsplit("/", 1)[-1], kind="question", type=type_)


def test_changed_types_are_reported_in_new_order_and_unchanged_added_removed_are_not() -> None:
    old = _schema(
        _q("/data/age", "string"),
        _q("/data/name", "string"),
        _q("/data/members", "int"),
        _q("/data/gone", "date"),
        _q("/data/origin", "select1"),
    )
    new = _schema(
        _q("/data/name", "string"),
        Field(path="/data/members", name="members", kind="repeat", type="repeat"),
        _q("/data/age", "int"),
        _q("/data/added", "geopoint"),
        _q("/data/origin", "select"),
    )
    assert type_changes(old, new) == [
        TypeChange(path="/data/members", old_type="int", new_type="repeat"),
        TypeChange(path="/data/age", old_type="string", new_type="int"),
        TypeChange(path="/data/origin", old_type="select1", new_type="select"),
    ]


def test_group_that_became_a_repeat_is_a_change() -> None:
    old = _schema(Field(path="/data/hh", name="hh", kind="group", type="group"))
    new = _schema(Field(path="/data/hh", name="hh", kind="repeat", type="repeat"))
    assert type_changes(old, new) == [TypeChange(path="/data/hh", old_type="group", new_type="repeat")]


def test_identical_versions_have_no_changes() -> None:
    schema = _schema(_q("/data/a", "int"), Field(path="/data/g", name="g", kind="group", type="group"))
    assert type_changes(schema, schema) == []
