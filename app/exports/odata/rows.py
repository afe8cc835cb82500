"""Entity rows from stored submission values, shaped as ODK Central shapes them.

Every field the model knows is present (``null`` when unanswered, Central's gh#206), values are typed
by the *current* form version (a value that does not fit its type is ``null`` here; the XML keeps it),
repeats are separate rows joined by stable ids (``__id`` of the row, ``__Submissions-id`` or the
enclosing repeat's id), or inline arrays with ``$expand=*``. Geo values are GeoJSON, or WKT with
``$wkt=true``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from app.exports.odata.model import Node, ODataModel, Table
from forms.schema import GROUP, REPEAT

_SHORT_OFFSET = re.compile(r"[+-]\d\d$")
_INT_TYPES = {"int", "integer", "long", "short"}
_DECIMAL_TYPES = {"decimal", "double", "float"}


@dataclass(frozen=True)
class RowOptions:
    wkt: bool = False
    expand: bool = False
    # The nodes a $select keeps (ids of Node objects), and which system properties; None = everything.
    keep: frozenset[int] | None = None
    system: frozenset[str] | None = None
    parent_id: bool = True


@dataclass(frozen=True)
class SubmissionData:
    """What a row needs from one submission: its id, ``__system`` block and current values."""

    instance_id: str
    system: dict[str, Any]
    values: dict[str, Any]
    encrypted: bool = False


def row_id(instance_id: str, steps: list[tuple[str, int | None]]) -> str:
    """A stable id for a repeat instance: a hash of the submission and the path of (name, index)
    steps to it, as Central computes its join ids (so re-reading never renumbers rows)."""
    parts = [f"Submissions#{instance_id}"] + [f"{n}#{'' if i is None else i}" for n, i in steps]
    return hashlib.sha1("%%".join(parts).encode()).hexdigest()


def _coords(point: Any) -> list[float] | None:
    if not isinstance(point, dict) or point.get("lat") is None or point.get("lon") is None:
        return None
    out = [point["lon"], point["lat"]]
    if point.get("alt") is not None:
        out.append(point["alt"])
    return out


def _num(x: float) -> str:
    """Numbers in WKT as JavaScript (and so Central) prints them: 11, not 11.0."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _geo(node: Node, value: Any, wkt: bool) -> Any:
    kind = node.field.type
    if kind == "geopoint":
        c = _coords(value)
        if c is None:
            return None
        if wkt:
            return "POINT (" + " ".join(_num(x) for x in c) + ")"
        point: dict[str, Any] = {"type": "Point", "coordinates": c}
        if value.get("accuracy") is not None:
            point["properties"] = {"accuracy": value["accuracy"]}
        return point
    if not isinstance(value, list):
        return None
    coords = [c for c in (_coords(p) for p in value) if c is not None]
    if not coords:
        return None
    if wkt:
        text = ",".join(" ".join(_num(x) for x in c) for c in coords)
        return f"LINESTRING ({text})" if kind == "geotrace" else f"POLYGON (({text}))"
    shape: dict[str, Any] = (
        {"type": "LineString", "coordinates": coords}
        if kind == "geotrace"
        else {"type": "Polygon", "coordinates": [coords]}
    )
    accuracies = [p.get("accuracy") if isinstance(p, dict) else None for p in value]
    if any(a is not None for a in accuracies):
        shape["properties"] = {"accuracies": accuracies}
    return shape


def typed(node: Node, value: Any, wkt: bool) -> Any:
    """A stored value as the OData type of its field (None when it does not fit)."""
    if value is None:
        return None
    kind = node.field.type
    if kind in _INT_TYPES:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind in _DECIMAL_TYPES:
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in ("geopoint", "geotrace", "geoshape"):
        return _geo(node, value, wkt)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)  # select multiple, as the XML has it
    if not isinstance(value, str):
        return None
    if kind == "dateTime" and _SHORT_OFFSET.search(value.strip()):
        return value.strip() + ":00"  # Collect writes +07; OData needs +07:00
    return value


def one_group(value: Any) -> dict[str, Any]:
    if isinstance(value, list):  # a group sent twice: the first copy is the group
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def repeat_instances(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [i if isinstance(i, dict) else {} for i in items]


class _Builder:
    def __init__(self, model: ODataModel, sub: SubmissionData, options: RowOptions) -> None:
        self.model = model
        self.sub = sub
        self.options = options

    def kept(self, node: Node) -> bool:
        return self.options.keep is None or id(node) in self.options.keep

    def frame(
        self, nodes: list[Node], values: dict[str, Any], steps: list[tuple[str, int | None]], link: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node in nodes:
            if not self.kept(node):
                continue
            if node.kind == GROUP:
                out[node.name] = self.frame(
                    node.children,
                    one_group(values.get(node.key)),
                    [*steps, (node.key, None)],
                    [*link, node.name],
                )
            elif node.kind == REPEAT:
                instances = repeat_instances(values.get(node.key))
                if not instances:
                    continue
                out[f"{node.name}@odata.navigationLink"] = "/".join([*link, node.name])
                if self.options.expand:
                    out[node.name] = [
                        self.repeat_row(node, inst, [*steps, (node.key, i)], link)
                        for i, inst in enumerate(instances)
                    ]
            else:
                out[node.name] = typed(node, values.get(node.key), self.options.wkt)
        return out

    def repeat_row(
        self, node: Node, values: dict[str, Any], steps: list[tuple[str, int | None]], link: list[str]
    ) -> dict[str, Any]:
        rid = row_id(self.sub.instance_id, steps)
        inner_link = [*link, f"{node.name}('{rid}')"]
        return {"__id": rid} | self.frame(node.children, values, steps, inner_link)

    def root_link(self) -> list[str]:
        return [f"Submissions('{quote(self.sub.instance_id, safe='')}')"]

    def root_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"__id": self.sub.instance_id}
        system = self.options.system
        if system is None:
            row["__system"] = self.sub.system
        elif system:
            row["__system"] = {k: v for k, v in self.sub.system.items() if k in system}
        if not self.sub.encrypted:
            row.update(self.frame(self.model.roots, self.sub.values, [], self.root_link()))
        return row

    def table_rows(self, table: Table) -> Iterator[dict[str, Any]]:
        """The rows of a repeat table, walking groups and enclosing repeats down to it."""
        if self.sub.encrypted:
            return
        yield from self._descend(self.model.roots, self.sub.values, table.repeats, [], self.root_link(), None)

    def _descend(
        self,
        nodes: list[Node],
        values: dict[str, Any],
        repeats: tuple[Node, ...],
        steps: list[tuple[str, int | None]],
        link: list[str],
        parent_id: str | None,
    ) -> Iterator[dict[str, Any]]:
        target = repeats[0]
        for node in nodes:
            if node is target:
                for i, inst in enumerate(repeat_instances(values.get(node.key))):
                    here = [*steps, (node.key, i)]
                    if len(repeats) == 1:
                        row = self.repeat_row(node, inst, here, link)
                        if self.options.parent_id:
                            row[self._parent_name(repeats)] = parent_id or self.sub.instance_id
                        yield row
                    else:
                        rid = row_id(self.sub.instance_id, here)
                        yield from self._descend(
                            node.children, inst, repeats[1:], here, [*link, f"{node.name}('{rid}')"], rid
                        )
                return
            if node.kind == GROUP and _contains(node, target):
                yield from self._descend(
                    node.children,
                    one_group(values.get(node.key)),
                    repeats,
                    [*steps, (node.key, None)],
                    [*link, node.name],
                    parent_id,
                )
                return

    def _parent_name(self, repeats: tuple[Node, ...]) -> str:
        table = next(t for t in self.model.tables.values() if t.node is repeats[-1])
        return table.parent_id_name


def _contains(group: Node, target: Node) -> bool:
    return target.parts[: len(group.parts)] == group.parts


def rows_for(
    model: ODataModel, table: Table, sub: SubmissionData, options: RowOptions
) -> list[dict[str, Any]]:
    """The rows ``sub`` contributes to ``table``: its one root row for Submissions, else one row per
    instance of the table's repeat."""
    builder = _Builder(model, sub, options)
    if table.node is None:
        return [builder.root_row()]
    return list(builder.table_rows(table))
