"""Reading answers out of a submission's nested values and coercing them to canonical types.

Submission values arrive as parsed from the instance XML: groups as dicts keyed by node name, repeats as
lists of dicts, select-one answers as strings, select-multiple answers as lists of strings, numbers as
numbers or strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.indicators import derive


def is_empty(value: Any) -> bool:
    return value is None or value == []


def steps(path: str) -> list[str]:
    """Instance path steps below the root: ``/data/grp/q`` -> ``["grp", "q"]``."""
    return [s for s in path.split("/") if s][1:]


def walk(node: Any, path: list[str]) -> list[Any]:
    """The values at ``path`` below ``node``; repeats (lists) on the way contribute one value each."""
    if not path:
        return [] if node is None else [node]
    if isinstance(node, list):
        return [v for item in node for v in walk(item, path)]
    if isinstance(node, Mapping):
        return walk(node.get(path[0]), path[1:])
    return []


def repeat_items(values: Mapping[str, Any], path: str) -> list[Mapping[str, Any]]:
    """The entries of the repeat at ``path`` (a single entry may arrive as a dict rather than a list)."""
    items: list[Mapping[str, Any]] = []
    for node in walk(values, steps(path)):
        for item in node if isinstance(node, list) else [node]:
            if isinstance(item, Mapping):
                items.append(item)
    return items


def transform(value: Any, name: str | None) -> Any:
    """Apply a mapping rule's ``transform`` (see ``TRANSFORMS``) before the value is coerced."""
    if name is None or not isinstance(value, str | int | float):
        return value
    if name == "date":
        return derive.to_date(value) or value
    if name == "upper":
        return str(value).upper()
    if name == "lower":
        return str(value).lower()
    if name == "strip":
        return str(value).strip()
    if name == "split":
        return str(value).split()
    if name == "months_to_years":
        number = to_number(value)
        return None if number is None else int(number // 12)
    return value


def to_number(value: Any) -> float | None:
    """A number from a number or a numeric string (a decimal comma is accepted)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return None


def to_boolean(value: Any) -> bool | None:
    """True/False from yes/no-like answers in the catalogue languages; None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y", "si", "sí", "sim", "oui", "wi"}:
        return True
    if text in {"0", "false", "no", "n", "não", "nao", "non"}:
        return False
    return None
