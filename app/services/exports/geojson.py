"""GeoJSON exports: which location field the features come from, which columns become properties,
and the features themselves, read through :func:`app.services.exports.tables.submissions`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.blobs import BlobStore
from app.errors import InvalidValueError
from app.exports.odata.model import Node
from app.exports.tables import TableSpec, rows_with_frames
from app.services.exports.tables import Export, submissions
from forms.schema import GROUP, REPEAT

GEO_TYPES = ("geopoint", "geotrace", "geoshape")


@dataclass(frozen=True)
class GeoTarget:
    spec: TableSpec
    node: Node
    path: tuple[str, ...]  # key path from the table's frame to the geo field
    columns: list[int]  # indexes of the property columns


def _geo_nodes(nodes: list[Node], prefix: tuple[str, ...]) -> Iterator[tuple[Node, tuple[str, ...]]]:
    for node in nodes:
        if node.kind == GROUP:
            yield from _geo_nodes(node.children, (*prefix, node.key))
        elif node.kind != REPEAT and node.field.type in GEO_TYPES:
            yield node, (*prefix, node.key)


def geo_target(export: Export) -> GeoTarget:
    """The geo field features come from (``geoField``: its name or path; default the form's first) and
    the columns that become properties (``columns``: headers; default all of its table's)."""
    wanted = export.options.geo_field
    for spec in export.tables:
        nodes = export.model.roots if spec.is_root else spec.table.children
        for node, path in _geo_nodes(nodes, ()):
            if wanted is not None and wanted not in (node.key, node.field.path):
                continue
            if export.options.sensitive == "pseudonym" and node.field.path in export.sensitive_paths:
                raise InvalidValueError(
                    f"{node.key} is sensitive: a location cannot be pseudonymised. Choose another geoField.",
                    details={"option": "geoField"},
                )
            headers = spec.headers()
            if export.options.columns:
                missing = [c for c in export.options.columns if c not in headers]
                if missing:
                    raise InvalidValueError(
                        f"The {spec.name} table has no column {missing[0]!r}. "
                        f"Its columns: {', '.join(headers)}.",
                        details={"option": "columns"},
                    )
                keep = [headers.index(c) for c in export.options.columns]
            else:
                keep = [i for i, c in enumerate(spec.columns) if c.node is not node]
            return GeoTarget(spec, node, path, keep)
    # Nothing usable: say whether the form has no location at all, or has one left out as sensitive.
    withheld = [
        f
        for f in export.schema.fields
        if f.type in GEO_TYPES
        and f.path in export.sensitive_paths
        and (wanted is None or wanted in (f.name, f.path))
    ]
    if withheld:
        names = ", ".join(f.name for f in withheld)
        raise InvalidValueError(
            f"The form's location field ({names}) is sensitive, so it is left out of this export. "
            "Exporting it needs the project's sensitive-data grant (ask a project manager) and "
            "sensitive=include.",
            details={"option": "geoField", "sensitiveFields": [f.path for f in withheld]},
        )
    if wanted is not None:
        raise InvalidValueError(f"The form has no location field {wanted!r}.", details={"option": "geoField"})
    raise InvalidValueError(
        "This form has no geopoint, geotrace or geoshape field to export as GeoJSON.",
        details={"option": "geoField"},
    )


def _coords(p: Any) -> list[float] | None:
    if not isinstance(p, dict) or p.get("lat") is None or p.get("lon") is None:
        return None
    out = [p["lon"], p["lat"]]
    if p.get("alt") is not None:
        out.append(p["alt"])
    return out


def geometry(node: Node, value: Any) -> dict[str, Any] | None:
    if node.field.type == "geopoint":
        c = _coords(value)
        return None if c is None else {"type": "Point", "coordinates": c}
    if not isinstance(value, list):
        return None
    coords = [c for c in (_coords(p) for p in value) if c is not None]
    if not coords:
        return None
    if node.field.type == "geotrace":
        return {"type": "LineString", "coordinates": coords}
    if coords[0] != coords[-1]:
        coords.append(coords[0])  # GeoJSON rings are closed
    return {"type": "Polygon", "coordinates": [coords]}


def features(
    session: Session, export: Export, target: GeoTarget, store: BlobStore | None = None
) -> Iterator[dict[str, Any]]:
    headers = target.spec.headers()
    for sub, values, system in submissions(session, export, system=target.spec.is_root, store=store):
        for frame, row in rows_with_frames(target.spec, sub.instance_id, values, system):
            value: Any = frame
            for step in target.path:
                value = value.get(step) if isinstance(value, dict) else None
            geo = geometry(target.node, value)
            if geo is None:
                continue
            yield {
                "type": "Feature",
                "geometry": geo,
                "properties": {headers[i]: row[i] for i in target.columns},
            }
