"""The OData shape of one form: its tables (``Submissions`` and one per repeat), their properties, and the
EDMX ``$metadata`` and service documents, named exactly as ODK Central names them so Excel, Power BI,
pyodk and ruODK read Ruta as they read Central.

Built from a :class:`~forms.schema.FormSchema` minus the paths the caller may not see (sensitive fields
for callers without the sensitive-data role): a hidden field is absent from the metadata and, because
rows are built from this model, from every row too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from xml.sax.saxutils import quoteattr

from forms.schema import GROUP, REPEAT, Field, FormSchema

FQDN_ROOT = "org.opendatakit.user"
ROOT_TABLE = "Submissions"

# Central's type mapping (lib/formats/odata.js); anything else is a string.
EDM_TYPES = {
    "int": "Edm.Int64",
    "integer": "Edm.Int64",
    "long": "Edm.Int64",
    "short": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "double": "Edm.Decimal",
    "float": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}

SYSTEM_FIELDS = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", "org.opendatakit.submission.Status"),
    ("reviewState", "org.opendatakit.submission.ReviewState"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)

_LEADING = re.compile(r"^([^a-zA-Z_])")
_ILLEGAL = re.compile(r"[^a-zA-Z0-9_]+")


def identifier(name: str) -> str:
    """Central's ``sanitizeOdataIdentifier``: a leading non-letter gets an underscore in front, and
    runs of other illegal characters become one underscore."""
    return _ILLEGAL.sub("_", _LEADING.sub(r"_\1", name))


def _local(step: str) -> str:
    return step.rsplit(":", 1)[-1]


@dataclass
class Node:
    """One form field as an OData property. ``key`` is the field's name in stored submission values
    (the local name), ``name`` its OData identifier."""

    field: Field
    key: str
    name: str
    parts: tuple[str, ...]  # OData identifiers from the root to this node
    children: list[Node] = dc_field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.field.kind


@dataclass
class Table:
    """An entity set: ``Submissions`` or one repeat (``Submissions.household.person``)."""

    name: str
    node: Node | None  # None for Submissions
    parent: Table | None
    # The repeat nodes from the root down to this table's repeat (empty for Submissions).
    repeats: tuple[Node, ...] = ()

    @property
    def parent_id_name(self) -> str:
        """``__Submissions-id`` or, under a nested repeat, ``__Submissions-household-person-id``."""
        parent_parts = ("Submissions",) + (self.repeats[-2].parts if len(self.repeats) > 1 else ())
        return "__" + "-".join(parent_parts) + "-id"

    @property
    def children(self) -> list[Node]:
        return self.node.children if self.node else []


@dataclass
class ODataModel:
    form_id: str
    roots: list[Node]
    tables: dict[str, Table]

    @property
    def namespace(self) -> str:
        return f"{FQDN_ROOT}.{identifier(self.form_id)}"


def build_model(schema: FormSchema, hidden: frozenset[str] = frozenset()) -> ODataModel:
    """The OData model of ``schema`` without the fields in ``hidden`` (absolute instance paths)."""
    roots: list[Node] = []
    by_path: dict[str, Node] = {}
    root_prefix = "/" + schema.root
    for f in schema.fields:
        if f.path in hidden or any(f.path.startswith(h + "/") for h in hidden):
            continue
        parent_path, _, step = f.path.rpartition("/")
        key = _local(step)
        parent = by_path.get(parent_path)
        if parent is None and parent_path != root_prefix:
            continue  # under a container the model does not show
        parts = (parent.parts if parent else ()) + (identifier(key),)
        node = Node(field=f, key=key, name=identifier(key), parts=parts)
        by_path[f.path] = node
        (parent.children if parent else roots).append(node)
    tables: dict[str, Table] = {ROOT_TABLE: Table(ROOT_TABLE, None, None)}

    def walk(nodes: list[Node], table: Table) -> None:
        for node in nodes:
            if node.kind == REPEAT:
                sub = Table(".".join((ROOT_TABLE, *node.parts)), node, table, (*table.repeats, node))
                tables[sub.name] = sub
                walk(node.children, sub)
            elif node.kind == GROUP:
                walk(node.children, table)

    walk(roots, tables[ROOT_TABLE])
    return ODataModel(form_id=schema.form_id, roots=roots, tables=tables)


# Documents ---------------------------------------------------------------------------------------


def service_document(model: ODataModel, service_url: str) -> dict[str, object]:
    return {
        "@odata.context": f"{service_url}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in model.tables],
    }


def _edm_type(node: Node) -> str:
    return EDM_TYPES.get(node.field.type, "Edm.String")


def _properties(model: ODataModel, nodes: list[Node], out: list[str], complex_types: list[str]) -> None:
    for node in nodes:
        if node.kind == REPEAT:
            type_name = f"{model.namespace}.{ROOT_TABLE}.{'.'.join(node.parts)}"
            out.append(f'<NavigationProperty Name="{node.name}" Type="Collection({type_name})"/>')
        elif node.kind == GROUP:
            type_name = ".".join(node.parts)
            out.append(f'<Property Name="{node.name}" Type="{model.namespace}.{type_name}"/>')
            inner: list[str] = []
            _properties(model, node.children, inner, complex_types)
            complex_types.append(f'<ComplexType Name="{type_name}">' + "".join(inner) + "</ComplexType>")
        else:
            out.append(f'<Property Name="{node.name}" Type="{_edm_type(node)}"/>')


_SUBMISSION_SCHEMA = (
    '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">'
    '<ComplexType Name="metadata">'
    + "".join(f'<Property Name="{n}" Type="{t}"/>' for n, t in SYSTEM_FIELDS)
    + "</ComplexType>"
    # Member values written out although CSDL defaults them to these same ordinals: some consumers
    # (python-odata) require them.
    '<EnumType Name="Status"><Member Name="notDecrypted" Value="0"/>'
    '<Member Name="missingEncryptedFormData" Value="1"/></EnumType>'
    '<EnumType Name="ReviewState"><Member Name="hasIssues" Value="0"/><Member Name="edited" Value="1"/>'
    '<Member Name="rejected" Value="2"/><Member Name="approved" Value="3"/></EnumType>'
    "</Schema>"
)

_CAPABILITIES = (
    '<Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" '
    'EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>'
    '<Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>'
    '<Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">'
    '<Record><PropertyValue Property="Countable" Bool="true"/></Record></Annotation>'
    '<Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">'
    '<Record><PropertyValue Property="Sortable" Bool="false"/></Record></Annotation>'
    '<Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">'
    '<Record><PropertyValue Property="Expandable" Bool="false"/></Record></Annotation>'
)


def _filter_restrictions(model: ODataModel) -> str:
    """Only ``__id`` and ``__system`` filter: every form property is listed as not filterable, so a
    client (Power Query) filters those itself instead of sending a $filter Ruta refuses. Central writes
    this record under the term FilterFunctions; Ruta uses the vocabulary's FilterRestrictions."""
    paths = "".join(f"<PropertyPath>{node.name}</PropertyPath>" for node in model.roots)
    return (
        '<Annotation Term="Org.OData.Capabilities.V1.FilterRestrictions"><Record>'
        '<PropertyValue Property="Filterable" Bool="true"/>'
        '<PropertyValue Property="RequiresFilter" Bool="false"/>'
        f'<PropertyValue Property="NonFilterableProperties"><Collection>{paths}</Collection></PropertyValue>'
        "</Record></Annotation>"
    )


def edmx(model: ODataModel) -> str:
    """The ``$metadata`` document: Central's layout (``org.opendatakit.submission`` system types, then
    the form's namespace with one entity type per table and one complex type per group)."""
    entity_types: list[str] = []
    complex_types: list[str] = []
    sets: list[str] = []
    for table in model.tables.values():
        props: list[str] = [
            '<Key><PropertyRef Name="__id"/></Key>',
            '<Property Name="__id" Type="Edm.String"/>',
        ]
        if table.node is None:
            props.append('<Property Name="__system" Type="org.opendatakit.submission.metadata"/>')
            _properties(model, model.roots, props, complex_types)
        else:
            props.append(f'<Property Name="{table.parent_id_name}" Type="Edm.String"/>')
            _properties(model, table.node.children, props, complex_types)
        entity_types.append(f'<EntityType Name="{table.name}">' + "".join(props) + "</EntityType>")
        annotations = _CAPABILITIES + _filter_restrictions(model) if table.node is None else ""
        sets.append(
            f'<EntitySet Name="{table.name}" EntityType="{model.namespace}.{table.name}">'
            f"{annotations}</EntitySet>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
        "<edmx:DataServices>"
        + _SUBMISSION_SCHEMA
        + f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{model.namespace}">'
        + "".join(entity_types)
        + "".join(complex_types)
        + f"<EntityContainer Name={quoteattr(identifier(model.form_id))}>"
        + "".join(sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )
