"""Turning a submission's instance tree into typed, JSON-able values using the form version's schema.

The raw XML stays the source of truth; the values here are a derived view for review, normalisation
and exports. So nothing is ever dropped or rewritten: a value that does not fit its declared type is
kept as the string that was sent and reported as a :class:`ValueProblem`, and nodes the schema does not
know (an older form version, a client-added node) are kept as strings under their names. Element
attributes are not part of the view (the XML keeps them).

Speed matters (the server target is hundreds of submissions a second), so the schema is compiled once
into a tree of dicts keyed by local name (:func:`compile_schema`, cache the result per form version)
and the instance is walked once alongside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from forms.safe_xml import local_name
from forms.schema import GROUP, REPEAT, Field, FormSchema
from sync import limits

_JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class ValueProblem:
    """A value that does not fit its field; ``path`` names repeat instances 1-based (``child[2]``)."""

    path: str
    value: str
    message: str


@dataclass(frozen=True)
class ExtractedValues:
    values: dict[str, Any]
    problems: list[ValueProblem] = field(default_factory=list)
    attachment_names: list[str] = field(default_factory=list)
    unknown_paths: list[str] = field(default_factory=list)  # nodes kept although the schema lacks them


class _Node:
    """One schema node and its children by local name."""

    __slots__ = ("children", "field", "is_repeat")

    def __init__(self, field: Field | None) -> None:
        self.field = field
        self.is_repeat = field is not None and field.kind == REPEAT
        self.children: dict[str, _Node] = {}


@dataclass(frozen=True)
class CompiledSchema:
    """A schema prepared for fast extraction; build it once per form version with :func:`compile_schema`."""

    schema: FormSchema
    root: _Node = field(repr=False, compare=False)


def _step(step: str) -> str:
    return step.rsplit(":", 1)[-1]  # schema paths may carry prefixes (orx:meta); instances vary them


def compile_schema(schema: FormSchema) -> CompiledSchema:
    root = _Node(None)
    for f in schema.fields:
        # The first step is the instance root, whose name is matched by parse_submission, not here.
        steps = [_step(s) for s in f.path.strip("/").split("/")[1:]]
        node = root
        for step in steps:
            node = node.children.setdefault(step, _Node(None))
        node.field = f
        node.is_repeat = f.kind == REPEAT
    return CompiledSchema(schema=schema, root=root)


class _Problem(ValueError):
    pass


def _to_int(text: str) -> int:
    s = text.strip()
    if not _INT.fullmatch(s):
        raise _Problem("not a whole number")
    try:
        return int(s)
    except ValueError as err:  # more digits than Python converts by default
        raise _Problem("number too long") from err


def _to_float(text: str) -> float:
    s = text.strip()
    if not _DECIMAL.fullmatch(s):
        raise _Problem("not a decimal number")
    value = float(s)
    if not math.isfinite(value):
        raise _Problem("number out of range")
    return value


def _to_bool(text: str) -> bool:
    s = text.strip()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    raise _Problem("not true/false")


def _point(text: str) -> dict[str, float | None]:
    parts = text.split()
    if not 2 <= len(parts) <= 4:
        raise _Problem("a location needs latitude and longitude, optionally altitude and accuracy")
    try:
        nums = [float(p) for p in parts]
    except ValueError as err:
        raise _Problem("a location must be numbers separated by spaces") from err
    if not all(math.isfinite(n) for n in nums):
        raise _Problem("a location must be finite numbers")
    lat, lon = nums[0], nums[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _Problem("latitude or longitude out of range")
    alt = nums[2] if len(nums) > 2 else None
    accuracy = nums[3] if len(nums) > 3 else None
    return {"lat": lat, "lon": lon, "alt": alt, "accuracy": accuracy}


def _points(text: str) -> list[dict[str, float | None]]:
    # Collect separates points with ';' and often leaves a trailing one.
    points = [_point(p) for p in text.split(";") if p.strip()]
    if not points:
        raise _Problem("no points")
    return points


def _split(text: str) -> list[str]:
    return text.split()


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": _to_int,
    "integer": _to_int,
    "long": _to_int,
    "short": _to_int,
    "decimal": _to_float,
    "double": _to_float,
    "float": _to_float,
    "boolean": _to_bool,
    "geopoint": _point,
    "geotrace": _points,
    "geoshape": _points,
    "select": _split,
    "odk:rank": _split,
    "rank": _split,
}


class _Walker:
    __slots__ = ("attachments", "problems", "seen_attachments", "unknown")

    def __init__(self) -> None:
        self.problems: list[ValueProblem] = []
        self.attachments: list[str] = []
        self.seen_attachments: set[str] = set()
        self.unknown: list[str] = []

    def leaf(self, el: Element, node: _Node | None, path: str) -> Any:
        text = el.text
        if not text:
            return None
        f = node.field if node is not None else None
        if f is None:
            return text
        convert = _CONVERTERS.get(f.type)
        if convert is None:
            if f.type == "binary" and text not in self.seen_attachments:
                if not limits.fits("fileName", text):
                    # Kept as a value, but no file can arrive under a name Ruta cannot store.
                    self.problems.append(ValueProblem(path, text[:80], "file name too long; not expected"))
                    return text
                self.seen_attachments.add(text)
                self.attachments.append(text)
            return text  # strings, select1, dates and times: as sent
        if not text.strip():
            return None
        try:
            return convert(text)
        except _Problem as err:
            self.problems.append(ValueProblem(path, text, f"expected {f.type}: {err}; kept as sent"))
            return text

    def empty_group(self, el: Element, path: str) -> Any:
        text = el.text or ""
        if not text.strip():
            return {}
        self.problems.append(
            ValueProblem(path, text, "expected a group of questions, found a value; kept as sent")
        )
        return text

    def container(self, parent: Element, node: _Node | None, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for el in parent:
            tag = el.tag
            if not isinstance(tag, str):  # comments and processing instructions
                continue
            name = local_name(tag)
            if el.get(_JR_TEMPLATE) is not None:
                continue  # a repeat template is form structure, never data
            child = node.children.get(name) if node is not None else None
            n = counts[name] = counts.get(name, 0) + 1
            child_path = f"{path}/{name}"
            if child is None:
                self.unknown.append(child_path if n == 1 else f"{child_path}[{n}]")
            if child is not None and child.is_repeat:
                instance_path = f"{child_path}[{n}]"
                value = (
                    self.container(el, child, instance_path)
                    if len(el)
                    else self.empty_group(el, instance_path)
                )
                out.setdefault(name, []).append(value)
                continue
            if len(el):
                value = self.container(el, child, child_path if n == 1 else f"{child_path}[{n}]")
            elif child is not None and child.field is not None and child.field.kind == GROUP:
                value = self.empty_group(el, child_path)
            else:
                value = self.leaf(el, child, child_path if n == 1 else f"{child_path}[{n}]")
            if n == 1:
                out[name] = value
                continue
            # The same name twice outside a repeat: keep every copy rather than overwrite one.
            if n == 2:
                out[name] = [out[name]]
                if child is not None:
                    self.problems.append(
                        ValueProblem(child_path, "", f"{name} appears more than once but is not a repeat")
                    )
            out[name].append(value)
        return out


def extract_values(root: Element, schema: FormSchema | CompiledSchema) -> ExtractedValues:
    """Walk the instance under ``root`` once and type every value by its field.

    ``schema`` may be a :class:`CompiledSchema` (cache one per form version) or a plain schema, which
    is compiled on each call.
    """
    compiled = schema if isinstance(schema, CompiledSchema) else compile_schema(schema)
    walker = _Walker()
    values = walker.container(root, compiled.root, "/" + local_name(root.tag))
    return ExtractedValues(
        values=values,
        problems=walker.problems,
        attachment_names=walker.attachments,
        unknown_paths=walker.unknown,
    )
