"""OData system query options as Central reads them: ``$top``, ``$skip``, ``$count``, ``$wkt``,
``$expand=*``, ``$select``, ``$filter`` and the server's own ``$skiptoken``; everything else that is an
OData option Ruta does not offer is refused plainly rather than ignored (a silently ignored
``$orderby`` would hand back wrongly sorted data)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import NotFoundError, ODataNotImplementedError, ODataQueryError
from app.exports.odata.filter import Expr, FilterSyntaxError, FilterUnsupportedError, parse_filter
from app.exports.odata.model import SYSTEM_FIELDS, Node, ODataModel, Table
from app.exports.odata.rows import RowOptions
from forms.schema import REPEAT

UNSUPPORTED = ("$orderby", "$search", "$apply", "$compute", "$levels", "$index")
SYSTEM_NAMES = frozenset(n for n, _ in SYSTEM_FIELDS)
MAX_INT = 2**31 - 1  # row ids and counts beyond this cannot exist; bigger numbers would overflow SQL


@dataclass(frozen=True)
class SkipToken:
    """Where the previous page stopped: after submission ``sid`` (internal row id), having emitted
    ``rows`` of its repeat rows already (repeat tables only)."""

    sid: int
    rows: int = 0


@dataclass(frozen=True)
class QueryOptions:
    top: int | None = None
    skip: int = 0
    count: bool = False
    wkt: bool = False
    expand: bool = False
    select: tuple[str, ...] | None = None
    filter: Expr | None = None
    skiptoken: SkipToken | None = None


def _bool(args: Mapping[str, str], name: str) -> bool:
    raw = args.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0", ""):
        return False
    raise ODataQueryError(f"{name} must be true or false, not {raw!r}.", details={"option": name})


def _count(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_INT:  # "²".isdigit() is true
        raise ODataQueryError(
            f"{name} must be a whole number of rows (0 or more), not {raw!r}.", details={"option": name}
        )
    return int(raw)


def encode_skiptoken(token: SkipToken) -> str:
    payload = json.dumps({"s": token.sid, "r": token.rows}, separators=(",", ":")).encode()
    return "01" + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_skiptoken(raw: str) -> SkipToken:
    bad = ODataQueryError(
        "The $skiptoken is not one Ruta issued. Follow @odata.nextLink exactly as given, or start again "
        "without $skiptoken.",
        details={"option": "$skiptoken"},
    )
    if not raw.startswith("01"):
        raise bad
    body = raw[2:]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as err:
        raise bad from err
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("s", "r")):
        raise bad
    if not (0 <= data["s"] <= MAX_INT and 0 <= data["r"] <= MAX_INT):
        raise bad
    return SkipToken(sid=data["s"], rows=data["r"])


def parse_options(args: Mapping[str, str]) -> QueryOptions:
    for name in UNSUPPORTED:
        if name in args:
            raise ODataNotImplementedError(
                f"{name} is not supported. Ruta's OData feed, like ODK Central's, offers $top, $skip, "
                "$count, $select, $filter, $wkt and $expand=*.",
                details={"option": name},
            )
    fmt = args.get("$format")
    if fmt is not None and fmt.split(";")[0].strip().lower() not in ("json", "application/json"):
        raise ODataNotImplementedError("Only $format=json is offered.", details={"option": "$format"})
    expand = args.get("$expand")
    if expand not in (None, "", "*"):
        raise ODataNotImplementedError(
            f"$expand={expand} is not supported; use $expand=* to inline every repeat.",
            details={"option": "$expand"},
        )
    select = args.get("$select")
    selected = None
    if select not in (None, "", "*"):
        selected = tuple(p.strip() for p in select.split(",") if p.strip())
    expr: Expr | None = None
    raw_filter = args.get("$filter")
    if raw_filter is not None:
        try:
            expr = parse_filter(raw_filter)
        except FilterSyntaxError as err:
            raise ODataQueryError(
                f"The $filter could not be read at character {err.position + 1}: {err}.",
                details={"option": "$filter", "position": err.position},
            ) from err
        except FilterUnsupportedError as err:
            raise ODataNotImplementedError(f"In $filter, {err}.", details={"option": "$filter"}) from err
    token = args.get("$skiptoken")
    return QueryOptions(
        top=_count(args, "$top"),
        skip=_count(args, "$skip") or 0,
        count=_bool(args, "$count"),
        wkt=_bool(args, "$wkt"),
        expand=expand == "*",
        select=selected,
        filter=expr,
        skiptoken=decode_skiptoken(token) if token else None,
    )


def _descendants(node: Node, keep: set[int]) -> None:
    for child in node.children:
        keep.add(id(child))
        _descendants(child, keep)


def row_options(model: ODataModel, table: Table, options: QueryOptions) -> RowOptions:
    """Resolve ``$select`` against ``table``: properties are ``/``-separated paths of OData names
    inside the table (``meta/instanceID``, a group, ``__id``, ``__system`` or ``__system/x`` on
    Submissions, the parent id on a repeat table)."""
    if options.select is None:
        return RowOptions(wkt=options.wkt, expand=options.expand)
    keep: set[int] = set()
    system: set[str] = set()
    parent_id = False
    for prop in options.select:
        if prop == "__id":
            continue
        if table.node is None and prop == "__system":
            system |= SYSTEM_NAMES
            continue
        if table.node is None and prop.startswith("__system/") and prop[9:] in SYSTEM_NAMES:
            system.add(prop[9:])
            continue
        if table.node is not None and prop == table.parent_id_name:
            parent_id = True
            continue
        nodes = table.children if table.node else model.roots
        trail: list[Node] = []
        for step in prop.split("/"):
            found = next((n for n in nodes if n.name == step), None)
            if found is None or (trail and trail[-1].kind == REPEAT):
                raise ODataQueryError(
                    f"There is no property {prop!r} in {table.name} to $select.",
                    details={"option": "$select", "property": prop},
                )
            trail.append(found)
            nodes = found.children
        if any(n.kind == REPEAT for n in trail[:-1]):
            raise ODataNotImplementedError(
                f"$select of {prop!r} inside a repeat is not supported; read the repeat's own table.",
                details={"option": "$select", "property": prop},
            )
        keep.update(id(n) for n in trail)
        _descendants(trail[-1], keep)
    return RowOptions(
        wkt=options.wkt,
        expand=options.expand,
        keep=frozenset(keep),
        system=frozenset(system),
        parent_id=parent_id,
    )


# Resource paths ----------------------------------------------------------------------------------

_SEGMENT = re.compile(r"^([^(')]+)(?:\('((?:[^']|'')*)'\))?$")


@dataclass(frozen=True)
class Address:
    """What a resource path names: a table, optionally within one submission (``Submissions('id')``)
    and one row (``.../person('rowid')/...``): rows must have ``row_field == row_value``."""

    table: str
    instance_id: str | None = None
    row_field: str | None = None
    row_value: str | None = None


def parse_address(model: ODataModel, subpath: str) -> Address:
    """``Submissions.a.b``, or Central's entity paths ``Submissions('uuid:x')/a/b('rowid')/c`` (what
    ``@odata.navigationLink`` holds). Unknown tables raise NotFoundError."""
    names: list[str] = []
    keys: list[str | None] = []
    for segment in subpath.strip("/").split("/"):
        m = _SEGMENT.match(segment)
        if m is None:
            raise NotFoundError(f"{subpath!r} is not an OData table or entity of this form.")
        names.append(m.group(1))
        keys.append(None if m.group(2) is None else m.group(2).replace("''", "'"))
    name = ".".join(names)
    table = model.tables.get(name)
    if table is None:
        raise NotFoundError(
            f"This form has no OData table {name!r}. The service document lists them: "
            + ", ".join(model.tables)
            + "."
        )
    if len(names) > 1 and names[0] != "Submissions":
        raise NotFoundError(f"{subpath!r} is not an OData table or entity of this form.")
    keyed = [i for i, k in enumerate(keys) if k is not None]
    if not keyed:
        return Address(table.name)
    instance_id = keys[0]
    if keyed == [0]:
        return Address(table.name, instance_id=instance_id)
    if keyed[0] != 0:
        raise ODataQueryError("An entity path starts with the submission: Submissions('<instanceId>')/...")
    last = keyed[-1]
    keyed_table = model.tables.get(".".join(names[: last + 1]))
    value = keys[last]
    if keyed_table is table:
        return Address(table.name, instance_id, "__id", value)
    if table.parent is keyed_table and keyed_table is not None:
        return Address(table.name, instance_id, table.parent_id_name, value)
    raise ODataNotImplementedError(
        "Name the row of the enclosing repeat just above the table, e.g. Submissions('id')/a('rowid')/b."
    )
