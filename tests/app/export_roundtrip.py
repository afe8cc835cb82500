"""Synthetic submissions for export round trips: an instance of any form built from its schema (every
question answered with a distinct value of its type, two instances of every repeat at every level),
and the rows a CSV export must hold for it, worked out independently of the exporter: Central's column
names (group path joined with ``-``, geopoints in four columns) and keys (``<parent KEY>/<path>[n]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from forms.schema import GROUP, REPEAT, Field, FormSchema

REPEATS = 2


def _local(step: str) -> str:
    return step.rsplit(":", 1)[-1]


@dataclass
class Expected:
    form_id: str
    instance_id: str
    # table file stem -> rows (each a dict of header -> expected CSV text, KEY and PARENT_KEY included)
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)


class _Filler:
    def __init__(self, schema: FormSchema, n: int) -> None:
        self.schema = schema
        self.n = n
        self.counter = 0
        self.children: dict[str, list[Field]] = {}
        for f in schema.fields:
            self.children.setdefault(f.path.rsplit("/", 1)[0], []).append(f)
        self.expected = Expected(schema.form_id, f"uuid:rt-{schema.form_id}-{n}")

    def sample(self, f: Field) -> tuple[str, dict[str, str]]:
        """(XML text, {column suffix: expected CSV text})."""
        self.counter += 1
        c = self.counter
        if _local(f.name) == "instanceID":
            return self.expected.instance_id, {"": self.expected.instance_id}
        kind = f.type
        if kind in ("int", "integer", "long", "short"):
            text = str(c)
        elif kind in ("decimal", "double", "float"):
            text = f"{c}.5"
        elif kind == "date":
            text = f"2024-01-{c % 28 + 1:02d}"
        elif kind == "dateTime":
            text = f"2024-01-02T03:04:{c % 60:02d}.000+01:00"
        elif kind == "time":
            text = f"10:11:{c % 60:02d}.000+01:00"
        elif kind == "boolean":
            text = "true"
        elif kind == "geopoint":
            lat, lon = f"{c % 80}.25", f"-{c % 170}.5"
            return f"{lat} {lon} 100 5", {
                "-Latitude": lat,
                "-Longitude": lon,
                "-Altitude": "100",
                "-Accuracy": "5",
            }
        elif kind in ("geotrace", "geoshape"):
            text = f"{c % 80}.25 1.5 100 5;{c % 80}.5 1.75 100 5;{c % 80}.25 1.5 100 5"
        elif kind in ("select1", "select"):
            values = [ch.value for ch in self.schema.choices.get(f.choice_list or "", [])]
            values = [v for v in values if v and " " not in v] or [f"c{c}", f"d{c}"]
            text = values[c % len(values)] if kind == "select1" else " ".join(values[:2])
        elif kind == "binary":
            text = f"file-{c}.jpg"
        else:
            text = f"s{c}-{self.n}"
        return text, {"": text}

    def fill(self, path: str, key: str, prefix: list[str], row: dict[str, str]) -> str:
        xml: list[str] = []
        for f in self.children.get(path, []):
            name = _local(f.name)
            if f.kind == GROUP:
                inner = self.fill(f.path, key, [*prefix, name], row)
                xml.append(f"<{name}>{inner}</{name}>")
            elif f.kind == REPEAT:
                relative = "/".join([*prefix, name])
                table = self.expected.tables.setdefault(f"{self.schema.form_id}-{name}", [])
                for i in range(REPEATS):
                    sub_key = f"{key}/{relative}[{i + 1}]"
                    sub_row = {"KEY": sub_key, "PARENT_KEY": key}
                    table.append(sub_row)
                    inner = self.fill(f.path, sub_key, [], sub_row)
                    xml.append(f"<{name}>{inner}</{name}>")
            else:
                text, cells = self.sample(f)
                header = "-".join([*prefix, name])
                row.update({header + suffix: value for suffix, value in cells.items()})
                xml.append(f"<{name}>{escape(text)}</{name}>")
        return "".join(xml)


def instance(schema: FormSchema, n: int) -> tuple[str, Expected]:
    filler = _Filler(schema, n)
    root_row = {"KEY": filler.expected.instance_id}
    filler.expected.tables[schema.form_id] = [root_row]
    body = filler.fill(f"/{schema.root}", filler.expected.instance_id, [], root_row)
    ns = f" xmlns={quoteattr(schema.namespace)}" if schema.namespace else ""
    version = f" version={quoteattr(schema.version)}" if schema.version else ""
    root = _local(schema.root)
    return f"<{root}{ns} id={quoteattr(schema.form_id)}{version}>{body}</{root}>", filler.expected


def merge(expected: list[Expected]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in expected:
        for table, rows in e.tables.items():
            out.setdefault(table, []).extend(rows)
    return out
