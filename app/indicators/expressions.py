"""The small expression language indicator definitions are written in, and its reference evaluation.

Conditions (all comparisons are false on a missing value):

* ``{field: F, eq|ne: v}``, ``{field: F, in|not_in|any_except: [v, ...]}``, ``{field: F, gt|gte|lt|lte: n}``
* ``{field: F, answered: true|false}``: a substantive answer (not empty, not dk / refused / unknown)
* ``{any: [C, ...]}``, ``{all: [C, ...]}``, ``{not: C}``
* ``{any_member: C}``: at least one roster person meets ``C`` (whose fields are ``members.*``)

On a multi-valued field ``eq`` / ``in`` hold when any value matches, ``any_except`` when some value is
outside the list; ``ne`` / ``not_in`` are the negations of ``eq`` / ``in``.

Measures: ``count`` | ``{where: C}`` | ``{answered: F | [F, ...]}`` | ``{sum: F}``, where ``where`` and
``answered`` may be combined with each other and with ``sum``.

The app layer translates the same definitions into SQL; :func:`holds` is the executable meaning the
translation is tested against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.indicators.codes import NON_SUBSTANTIVE, CodeList
from app.indicators.fields import MEMBERS, CanonicalField

COMPARISONS = ("eq", "ne", "in", "not_in", "any_except", "gt", "gte", "lt", "lte", "answered")
_LIST_OPS = frozenset({"in", "not_in", "any_except"})
_ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
_MEASURE_KEYS = frozenset({"count", "sum", "where", "answered"})


class ExpressionError(ValueError):
    """A definition that cannot be parsed; ``path`` says where in the indicator it is."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


@dataclass(frozen=True)
class AnyMember:
    item: Condition


Condition = Compare | AnyOf | AllOf | Not | AnyMember


@dataclass(frozen=True)
class Measure:
    """``kind`` is ``count`` or ``sum`` (of ``field``) over the units meeting ``where`` whose
    ``answered`` fields all have a substantive answer."""

    kind: str
    field: str | None = None
    where: Condition | None = None
    answered: tuple[str, ...] = ()

    def selects(self, unit: Unit) -> bool:
        return all(is_answered(unit.get(f)) for f in self.answered) and (
            self.where is None or holds(self.where, unit)
        )

    def fields(self) -> tuple[str, ...]:
        own = (self.field,) if self.field else ()
        return own + self.answered + (referenced_fields(self.where) if self.where else ())


@dataclass(frozen=True)
class Unit:
    """What a condition is evaluated on: a canonical record, its roster, and (person basis) one person.
    Record fields are keyed ``section.name``; person dicts by the bare member field name."""

    record: Mapping[str, Any]
    persons: Sequence[Mapping[str, Any]] = ()
    person: Mapping[str, Any] | None = None

    def get(self, key: str) -> Any:
        if key.startswith(f"{MEMBERS}."):
            return None if self.person is None else self.person.get(key.split(".", 1)[1])
        return self.record.get(key)


# ---------------------------------------------------------------------------------------- parsing


def parse_condition(raw: object, path: str) -> Condition:
    if not isinstance(raw, dict) or not raw:
        raise ExpressionError(path, f"a condition must be a mapping, got {raw!r}")
    if "field" in raw:
        ops = [k for k in raw if k != "field"]
        if len(ops) != 1 or ops[0] not in COMPARISONS:
            raise ExpressionError(path, f"a comparison needs one of {', '.join(COMPARISONS)}, got {ops}")
        op = ops[0]
        value = raw[op]
        if op in _LIST_OPS and not isinstance(value, list):
            raise ExpressionError(f"{path}.{op}", "expects a list of values")
        if op == "answered" and not isinstance(value, bool):
            raise ExpressionError(f"{path}.{op}", "expects true or false")
        if isinstance(value, list):
            value = tuple(value)
        return Compare(str(raw["field"]), op, value)
    if len(raw) != 1:
        raise ExpressionError(path, f"expected one of field / any / all / not / any_member, got {list(raw)}")
    ((key, body),) = raw.items()
    if key in {"any", "all"}:
        if not isinstance(body, list) or not body:
            raise ExpressionError(f"{path}.{key}", "expects a non-empty list of conditions")
        items = tuple(parse_condition(item, f"{path}.{key}[{i}]") for i, item in enumerate(body))
        return AnyOf(items) if key == "any" else AllOf(items)
    if key == "not":
        return Not(parse_condition(body, f"{path}.not"))
    if key == "any_member":
        return AnyMember(parse_condition(body, f"{path}.any_member"))
    raise ExpressionError(path, f"unknown condition {key!r}")


def parse_measure(raw: object, path: str) -> Measure:
    if raw == "count":
        return Measure("count")
    if not isinstance(raw, dict) or not raw:
        raise ExpressionError(path, f"a measure is count, or a mapping of {sorted(_MEASURE_KEYS)}")
    unknown = set(raw) - _MEASURE_KEYS
    if unknown:
        raise ExpressionError(path, f"unknown measure key(s) {sorted(unknown)}")
    if "count" in raw and "sum" in raw:
        raise ExpressionError(path, "a measure counts or sums, not both")
    answered = raw.get("answered", ())
    if isinstance(answered, str):
        answered = (answered,)
    if not isinstance(answered, list | tuple) or not all(isinstance(a, str) for a in answered):
        raise ExpressionError(f"{path}.answered", "expects a field or a list of fields")
    where = parse_condition(raw["where"], f"{path}.where") if "where" in raw else None
    if "sum" in raw:
        if not isinstance(raw["sum"], str):
            raise ExpressionError(f"{path}.sum", "expects a field")
        return Measure("sum", raw["sum"], where, tuple(answered))
    return Measure("count", None, where, tuple(answered))


# ---------------------------------------------------------------------------------------- checking


def check_condition(
    cond: Condition,
    path: str,
    fields: Mapping[str, CanonicalField],
    codelists: Mapping[str, CodeList],
    *,
    members: bool,
) -> list[str]:
    """Problems with the fields and values ``cond`` refers to. ``members`` says whether member fields
    may be read directly (person basis, or inside ``any_member``)."""
    if isinstance(cond, AnyOf | AllOf):
        kind = "any" if isinstance(cond, AnyOf) else "all"
        return [
            msg
            for i, item in enumerate(cond.items)
            for msg in check_condition(item, f"{path}.{kind}[{i}]", fields, codelists, members=members)
        ]
    if isinstance(cond, Not):
        return check_condition(cond.item, f"{path}.not", fields, codelists, members=members)
    if isinstance(cond, AnyMember):
        if members:
            return [f"{path}: any_member is only meaningful on a whole record, not per person"]
        return check_condition(cond.item, f"{path}.any_member", fields, codelists, members=True)
    return check_reference(cond.field, path, fields, members=members) or _check_value(
        cond, path, fields[cond.field], codelists
    )


def check_reference(key: str, path: str, fields: Mapping[str, CanonicalField], *, members: bool) -> list[str]:
    field = fields.get(key)
    if field is None:
        return [f"{path}: unknown field {key!r}"]
    if field.is_member and not members:
        return [f"{path}: member field {key!r} needs person basis or any_member"]
    return []


def _check_value(
    cond: Compare, path: str, field: CanonicalField, codelists: Mapping[str, CodeList]
) -> list[str]:
    if cond.op == "answered":
        return []
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    if cond.op in _ORDER_OPS:
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if field.type not in {"int", "decimal"} or not numeric:
            return [f"{path}: {cond.op} compares a numeric field with a number"]
        return []
    if field.codelist is not None and field.codelist in codelists:
        known = codelists[field.codelist].values
        bad = [v for v in values if v not in known]
        if bad:
            return [f"{path}: {bad} not in code list {field.codelist!r}"]
    return []


def referenced_fields(cond: Condition) -> tuple[str, ...]:
    if isinstance(cond, Compare):
        return (cond.field,)
    if isinstance(cond, AnyOf | AllOf):
        return tuple(f for item in cond.items for f in referenced_fields(item))
    return referenced_fields(cond.item)


# ---------------------------------------------------------------------------------------- evaluation


def is_answered(value: Any) -> bool:
    """A substantive answer: present, not an empty list, and not only dk / refused / unknown."""
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return any(is_answered(v) for v in value)
    return not (isinstance(value, str) and value in NON_SUBSTANTIVE)


def is_dk_refused(value: Any) -> bool:
    """The answer was "don't know" or "refused" (reported beside the indicator as data quality)."""
    if isinstance(value, list | tuple):
        return bool(value) and all(is_dk_refused(v) for v in value)
    return value in {"dk", "refused"}


def holds(cond: Condition, unit: Unit) -> bool:
    if isinstance(cond, AnyOf):
        return any(holds(item, unit) for item in cond.items)
    if isinstance(cond, AllOf):
        return all(holds(item, unit) for item in cond.items)
    if isinstance(cond, Not):
        return not holds(cond.item, unit)
    if isinstance(cond, AnyMember):
        return any(holds(cond.item, Unit(unit.record, unit.persons, p)) for p in unit.persons)
    return _compare(cond, unit.get(cond.field))


def _compare(cond: Compare, value: Any) -> bool:
    if cond.op == "answered":
        return is_answered(value) is cond.value
    if value is None or value == [] or value == ():
        return False
    values = list(value) if isinstance(value, list | tuple) else [value]
    op, arg = cond.op, cond.value
    if op == "eq":
        return arg in values
    if op == "ne":
        return arg not in values
    if op == "in":
        return any(v in arg for v in values)
    if op == "not_in":
        return not any(v in arg for v in values)
    if op == "any_except":
        return any(v not in arg for v in values)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if op == "gt":
        return any(v > arg for v in numbers)
    if op == "gte":
        return any(v >= arg for v in numbers)
    if op == "lt":
        return any(v < arg for v in numbers)
    return any(v <= arg for v in numbers)
