"""The flat tables of a form's export: the root table plus one per repeat, linked by ``PARENT_KEY`` /
``KEY``, with the columns ODK Central's CSV export has (``SubmissionDate`` first, the form's fields,
then ``KEY`` and the submission's system columns).

The tables are the OData model's (:mod:`app.exports.odata.model`: the same nodes, the same hidden
sensitive paths), flattened: groups become column-name prefixes (``location-country_iso3``, or bare
names with ``groupPaths=false``), geopoints four columns, select-multiples one column or one 0/1 column
per choice. Each table compiles once into a list of cell writers so a row is one pass over its frame:
exports walk hundreds of thousands of submissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.exports.odata.model import Node, ODataModel, Table
from app.exports.odata.rows import one_group, repeat_instances
from app.exports.options import ExportOptions
from forms.schema import GROUP, REPEAT, Choice, FormSchema

GEO_PARTS = (
    ("lat", "Latitude", "+lat"),
    ("lon", "Longitude", "+lon"),
    ("alt", "Altitude", "+alt"),
    ("accuracy", "Accuracy", "+accuracy"),
)
# The system columns after KEY, as Central names them, and the ``__system`` key each comes from.
SYSTEM_COLUMNS = (
    ("SubmitterID", "submitterId"),
    ("SubmitterName", "submitterName"),
    ("AttachmentsPresent", "attachmentsPresent"),
    ("AttachmentsExpected", "attachmentsExpected"),
    ("Status", "status"),
    ("ReviewState", "reviewState"),
    ("DeviceID", "deviceId"),
    ("Edits", "edits"),
    ("FormVersion", "formVersion"),
)
SYSTEM_KEYS = tuple(key for _, key in SYSTEM_COLUMNS)
# An export that decrypts says why a row's Status is not empty, right after Status. Only then: the
# column is not Central's, and scripts reading other exports keep their shape.
DECRYPTING_COLUMNS = (
    *SYSTEM_COLUMNS[:5],
    ("StatusReason", "statusReason"),
    *SYSTEM_COLUMNS[5:],
)
SYSTEM_HXL = {"SubmissionDate": "#date+submitted", "KEY": "#meta+key", "PARENT_KEY": "#meta+parent_key"}

Writer = Callable[[dict[str, Any], list[Any]], None]


@dataclass(frozen=True)
class Column:
    header: str
    hxl: str = ""
    node: Node | None = None
    part: str = ""  # geopoint part or split choice value


@dataclass
class TableSpec:
    """One output table: its OData table, file/sheet name, columns and compiled cell writers."""

    table: Table
    name: str  # file stem: the form id, or form id + "-" + repeat name
    columns: list[Column]
    writers: list[Writer] = field(default_factory=list, repr=False)
    # Key paths (local names through groups) from the enclosing frame to each repeat of the chain.
    chain: list[tuple[str, ...]] = field(default_factory=list)
    system_keys: tuple[str, ...] = SYSTEM_KEYS  # the root table's ``__system`` columns

    @property
    def is_root(self) -> bool:
        return self.table.node is None

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def hxl_row(self) -> list[str]:
        return [c.hxl for c in self.columns]


class Labeller:
    """Question and choice labels in one language, falling back to the default language, then the name."""

    def __init__(self, schema: FormSchema, language: str | None) -> None:
        self.language = language
        self.default = schema.default_language
        self.choices: dict[str, dict[str, Choice]] = {
            name: {c.value: c for c in choices} for name, choices in schema.choices.items()
        }

    def pick(self, labels: dict[str, str], fallback: str) -> str:
        for lang in (self.language, self.default, ""):
            if lang is not None and labels.get(lang):
                return labels[lang]
        return next((v for v in labels.values() if v), fallback)

    def choice(self, list_name: str | None, value: str) -> str:
        choice = self.choices.get(list_name or "", {}).get(value)
        return self.pick(choice.labels, value) if choice else value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def geo_text(value: Any) -> str | None:
    """A geotrace/geoshape as ODK writes it: ``lat lon alt acc;...``."""
    if not isinstance(value, list):
        return None if value is None else str(value)
    points = []
    for p in value:
        if isinstance(p, dict) and p.get("lat") is not None:
            parts = [p.get("lat"), p.get("lon"), p.get("alt"), p.get("accuracy")]
            points.append(" ".join(_num(x) for x in parts if x is not None))
    return ";".join(points)


class _Compiler:
    def __init__(
        self,
        schema: FormSchema,
        options: ExportOptions,
        language: str | None,
        pseudonymise: Callable[[Any], Any] | None,
        sensitive: frozenset[str],
    ) -> None:
        self.options = options
        self.labeller = Labeller(schema, language)
        self.pseudonymise = pseudonymise
        self.sensitive = sensitive

    def header(self, node: Node, prefix: tuple[str, ...]) -> str:
        own = self.labeller.pick(node.field.labels, node.key) if self.options.header == "label" else node.key
        return "-".join((*prefix, own)) if self.options.group_paths else own

    def group_prefix(self, node: Node, prefix: tuple[str, ...]) -> tuple[str, ...]:
        if self.options.header == "label":
            return (*prefix, self.labeller.pick(node.field.labels, node.key))
        return (*prefix, node.key)

    def compile(self, nodes: list[Node], prefix: tuple[str, ...], cols: list[Column]) -> list[Writer]:
        writers: list[Writer] = []
        plain: list[str] = []  # consecutive fields copied as stored: one C-level map per run of them

        def flush() -> None:
            if plain:
                writers.append(_plain_writer(tuple(plain)))
                plain.clear()

        for node in nodes:
            if node.kind == REPEAT:
                continue  # its own table
            if node.kind == GROUP:
                flush()
                inner = self.compile(node.children, self.group_prefix(node, prefix), cols)
                writers.append(_group_writer(node.key, inner))
                continue
            writer = self.field(node, prefix, cols)
            if writer is None:
                plain.append(node.key)
            else:
                flush()
                writers.append(writer)
        flush()
        return writers

    def field(self, node: Node, prefix: tuple[str, ...], cols: list[Column]) -> Writer | None:
        """Add the node's columns; its writer, or None when the stored value is copied as it is
        (file writers turn the odd list or dict into text)."""
        key, f = node.key, node.field
        header, tag = self.header(node, prefix), f.hxl or ""
        if self.pseudonymise is not None and f.path in self.sensitive:
            cols.append(Column(header, tag, node))
            pseudo = self.pseudonymise
            return lambda frame, row: row.append(pseudo(frame.get(key)))
        if f.type == "geopoint":
            for part, suffix, attr in GEO_PARTS:
                cols.append(Column(f"{header}-{suffix}", tag + attr if tag else "", node, part))
            return _geopoint_writer(key)
        if f.type in ("geotrace", "geoshape"):
            cols.append(Column(header, tag, node))
            return lambda frame, row: row.append(geo_text(frame.get(key)))
        if f.type == "select" and self.options.split_select_multiples:
            choices = self.labeller.choices.get(f.choice_list or "", {})
            for value, choice in choices.items():
                label = self.labeller.pick(choice.labels, value) if self.options.header == "label" else value
                cols.append(Column(f"{header}/{label}", tag, node, value))
            return _split_writer(key, tuple(choices))
        cols.append(Column(header, tag, node))
        if f.type in ("select", "select1") and self.options.labels:
            return _label_writer(key, f.choice_list, self.labeller)
        if f.type == "select":
            return _multiple_writer(key)
        return None


def _group_writer(key: str, inner: list[Writer]) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        sub = one_group(frame.get(key))
        for w in inner:
            w(sub, row)

    return write


def _plain_writer(keys: tuple[str, ...]) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        row.extend(map(frame.get, keys))

    return write


def _multiple_writer(key: str) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        value = frame.get(key)
        row.append(" ".join(map(str, value)) if isinstance(value, list) else value)  # as the XML has it

    return write


def _geopoint_writer(key: str) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        p = frame.get(key)
        if isinstance(p, dict):
            row.extend((p.get("lat"), p.get("lon"), p.get("alt"), p.get("accuracy")))
        else:
            row.extend((None, None, None, None))

    return write


def _split_writer(key: str, values: tuple[str, ...]) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        answer = frame.get(key)
        if answer is None:
            row.extend([None] * len(values))
            return
        chosen = set(answer if isinstance(answer, list) else str(answer).split())
        row.extend(1 if v in chosen else 0 for v in values)

    return write


def _label_writer(key: str, list_name: str | None, labeller: Labeller) -> Writer:
    def write(frame: dict[str, Any], row: list[Any]) -> None:
        value = frame.get(key)
        if isinstance(value, list):
            row.append(" ".join(labeller.choice(list_name, str(v)) for v in value))
        elif isinstance(value, str):
            row.append(labeller.choice(list_name, value))
        else:
            row.append(value)

    return write


def _key_path(nodes: list[Node], target: Node) -> tuple[str, ...] | None:
    """The local names through groups from ``nodes`` down to ``target``."""
    for node in nodes:
        if node is target:
            return (node.key,)
        if node.kind == GROUP:
            inner = _key_path(node.children, target)
            if inner is not None:
                return (node.key, *inner)
    return None


def build_tables(
    model: ODataModel,
    schema: FormSchema,
    options: ExportOptions,
    *,
    language: str | None,
    pseudonymise: Callable[[Any], Any] | None = None,
    sensitive: frozenset[str] = frozenset(),
    decrypting: bool = False,
) -> list[TableSpec]:
    """The export tables of ``model`` (root first, then repeats in form order). With ``pseudonymise``,
    fields whose path is in ``sensitive`` show its result instead of their value; ``decrypting`` adds
    the StatusReason column."""
    system = DECRYPTING_COLUMNS if decrypting else SYSTEM_COLUMNS
    compiler = _Compiler(schema, options, language, pseudonymise, sensitive)
    specs: list[TableSpec] = []
    for table in model.tables.values():
        cols: list[Column] = []
        if table.node is None:
            cols.append(Column("SubmissionDate", SYSTEM_HXL["SubmissionDate"]))
            writers = compiler.compile(model.roots, (), cols)
            cols.append(Column("KEY", SYSTEM_HXL["KEY"]))
            cols.extend(Column(name) for name, _ in system)
            name = schema.form_id
            chain: list[tuple[str, ...]] = []
        else:
            # Headers inside a repeat start at the repeat (Central: the repeat's own file names it).
            writers = compiler.compile(table.node.children, (), cols)
            cols.append(Column("PARENT_KEY", SYSTEM_HXL["PARENT_KEY"]))
            cols.append(Column("KEY", SYSTEM_HXL["KEY"]))
            name = f"{schema.form_id}-{table.node.key}"
            chain = []
            above = model.roots
            for rep in table.repeats:
                path = _key_path(above, rep)
                chain.append(path or (rep.key,))
                above = rep.children
        specs.append(TableSpec(table, name, cols, writers, chain, tuple(key for _, key in system)))
    _unique_names(specs)
    return specs


def _unique_names(specs: list[TableSpec]) -> None:
    seen: dict[str, int] = {}
    for spec in specs:
        n = seen.get(spec.name, 0)
        seen[spec.name] = n + 1
        if n:
            spec.name = f"{spec.name}~{n + 1}"


def _walk(frame: dict[str, Any], path: tuple[str, ...]) -> Any:
    for step in path[:-1]:
        frame = one_group(frame.get(step))
    return frame.get(path[-1])


def _frames(
    frame: dict[str, Any], chain: list[tuple[str, ...]], key: str
) -> Iterator[tuple[dict[str, Any], str, str]]:
    path, rest = chain[0], chain[1:]
    label = "/".join(path)
    for i, inst in enumerate(repeat_instances(_walk(frame, path))):
        row_key = f"{key}/{label}[{i + 1}]"
        if rest:
            yield from _frames(inst, rest, row_key)
        else:
            yield inst, key, row_key


def rows_with_frames(
    spec: TableSpec, instance_id: str, values: dict[str, Any], system: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """The rows one submission gives ``spec`` (one for the root table, one per repeat instance
    otherwise), each with the values frame it came from. A repeat row's KEY is its parent's KEY plus
    ``/<path>[n]`` (1-based), as Central writes it."""
    if spec.is_root:
        row: list[Any] = [system.get("submissionDate")]
        for w in spec.writers:
            w(values, row)
        row.append(instance_id)
        row.extend(map(system.get, spec.system_keys))
        yield values, row
        return
    for frame, parent_key, key in _frames(values, spec.chain, instance_id):
        row = []
        for w in spec.writers:
            w(frame, row)
        row.append(parent_key)
        row.append(key)
        yield frame, row
