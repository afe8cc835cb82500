"""The meaning of the definition language: missing values, multi-valued fields, roster conditions."""

from __future__ import annotations

from typing import Any

import pytest

from app.indicators.expressions import (
    ExpressionError,
    Unit,
    holds,
    is_answered,
    parse_condition,
    parse_measure,
)


def check(raw: dict[str, Any], record: dict[str, Any], persons: list[dict[str, Any]] | None = None) -> bool:
    return holds(parse_condition(raw, "test"), Unit(record, persons or []))


def test_comparisons_are_false_on_a_missing_value() -> None:
    for op, value in (("eq", "y"), ("ne", "y"), ("in", ["y"]), ("not_in", ["y"]), ("gt", 1), ("lte", 1)):
        assert not check({"field": "a.b", op: value}, {"a.b": None})
        assert not check({"field": "a.b", op: value}, {"a.b": []})


def test_multi_valued_fields_match_any_value() -> None:
    record = {"protection.incidents": ["theft_robbery", "none"]}
    assert check({"field": "protection.incidents", "eq": "theft_robbery"}, record)
    assert check({"field": "protection.incidents", "in": ["kidnapping", "theft_robbery"]}, record)
    assert check({"field": "protection.incidents", "any_except": ["none", "refused"]}, record)
    assert not check(
        {"field": "protection.incidents", "any_except": ["none", "refused"]},
        {"protection.incidents": ["none"]},
    )
    assert not check({"field": "protection.incidents", "not_in": ["none"]}, record)
    assert check({"field": "protection.incidents", "ne": "kidnapping"}, record)


def test_answered_excludes_dk_refused_and_unknown() -> None:
    assert is_answered("n") and is_answered(0) and is_answered(["VEN"])
    assert not any(is_answered(v) for v in (None, [], "dk", "refused", "unknown", "XXX", ["dk", "refused"]))
    assert check({"field": "x.y", "answered": False}, {"x.y": "dk"})


def test_any_member_looks_at_each_roster_person() -> None:
    cond = {"any_member": {"field": "members.age_years", "lt": 5}}
    assert check(cond, {}, [{"age_years": 30}, {"age_years": 3}])
    assert not check(cond, {}, [{"age_years": 30}, {"age_years": None}])
    assert not check(cond, {}, [])


def test_boolean_combinators() -> None:
    record = {"a.x": "y", "a.z": 1}
    assert check({"all": [{"field": "a.x", "eq": "y"}, {"field": "a.z", "gte": 1}]}, record)
    assert check({"any": [{"field": "a.x", "eq": "n"}, {"field": "a.z", "gt": 0}]}, record)
    assert check({"not": {"field": "a.x", "in": ["n", "refused"]}}, record)
    assert check({"not": {"field": "a.missing", "in": ["n"]}}, record)  # no consent question: counts


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "a.b", "equals": "y"},
        {"field": "a.b", "in": "y"},
        {"any": []},
        {"field": "a.b", "answered": "yes"},
        {"maybe": {"field": "a.b", "eq": 1}},
        "a.b == y",
    ],
)
def test_malformed_conditions_raise_with_their_path(raw: Any) -> None:
    with pytest.raises(ExpressionError, match=r"^X\.where"):
        parse_condition(raw, "X.where")


def test_measures_parse_count_sum_and_answered() -> None:
    assert parse_measure("count", "m").kind == "count"
    measure = parse_measure({"sum": "context.group_size", "answered": "context.count_0_17"}, "m")
    assert (measure.kind, measure.field, measure.answered) == (
        "sum",
        "context.group_size",
        ("context.count_0_17",),
    )
    for bad in ({"count": True, "sum": "a.b"}, {"total": "a.b"}, {"answered": 3}, 5):
        with pytest.raises(ExpressionError):
            parse_measure(bad, "m")
