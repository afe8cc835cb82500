"""The map of a form's submissions: the first geopoint of each submission matching the review table's
filter, as GeoJSON for the admin's map (clustered in the browser).

Which point: the form's first geopoint question outside repeats, in the published version. A
sensitive geopoint is not mapped for a person without the grant (the map says why instead). Each
feature carries only what the marker's popup shows: the submission id, its name, review state and
when it was received. Reading the map is audited like an export: it hands out locations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import Form, Project, Submission, SubmissionVersion
from app.services.audit import events as audit
from app.services.protection import sensitive
from app.services.submissions.table_query import SubmissionFilter, conditions
from forms.schema import REPEAT, Field, FormSchema

# The country outlines Ruta ships for its location checks (Natural Earth, public domain): the map's
# base layer when no tile server is configured, so a hub with no internet still draws a map.
OUTLINES = Path(__file__).resolve().parents[1] / "quality" / "lac_countries.json"

# More points than this in one map answer a clear "narrow the filter" instead of a browser that hangs.
MAX_POINTS = 200_000


@dataclass(frozen=True)
class MapField:
    field: Field | None  # the geopoint mapped, None when there is nothing the reader may see
    withheld: Field | None  # a sensitive geopoint kept from this reader


def map_field(session: Session, actor: Actor, project: Project, form: Form) -> MapField:
    """The geopoint the map shows to ``actor``, or why there is none."""
    if form.current_version is None:
        return MapField(None, None)
    schema = FormSchema.from_dict(form.current_version.schema)
    first = next(
        (f for f in schema.fields if f.type == "geopoint" and f.kind != REPEAT and f.repeat is None), None
    )
    if first is None:
        return MapField(None, None)
    hidden = first.path in sensitive.sensitive_paths(schema, project)
    if hidden and not sensitive.may_see_sensitive(session, actor, project):
        return MapField(None, first)
    return MapField(first, None)


def _steps(schema_root: str, path: str) -> list[str]:
    prefix = f"/{schema_root}/"
    return path[len(prefix) :].split("/") if path.startswith(prefix) else [path.rsplit("/", 1)[-1]]


def _point(values: Any, steps: list[str]) -> tuple[float, float] | None:
    for step in steps:
        if not isinstance(values, dict):
            return None
        values = values.get(step)
    if not isinstance(values, dict):
        return None
    lat, lon = values.get("lat"), values.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def feature_collection(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    flt: SubmissionFilter,
    field: Field,
) -> dict[str, Any]:
    """GeoJSON of the filtered submissions' points (those without a usable point are counted apart)."""
    schema_root = (form.current_version.schema if form.current_version else {}).get("root", "data")
    steps = _steps(schema_root, field.path)
    rows = session.execute(
        select(
            Submission.id,
            Submission.instance_name,
            Submission.instance_id,
            Submission.review_state,
            Submission.created_at,
            # Only the point travels from the database (a JSON path on both databases), not the answers.
            SubmissionVersion.values[tuple(steps)],
        )
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(*conditions(flt))
        .order_by(Submission.id)
        .limit(MAX_POINTS + 1)
    )
    features = []
    without = 0
    for sid, name, instance_id, state, received, value in rows:
        point = _point(value, [])
        if point is None:
            without += 1
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [point[1], point[0]]},
                "properties": {
                    "id": sid,
                    "name": name or instance_id,
                    "state": state,
                    "received": received.strftime("%Y-%m-%d %H:%M"),
                },
            }
        )
    truncated = len(features) + without > MAX_POINTS
    if truncated:
        features = features[:MAX_POINTS]
    audit.record(
        session,
        actor=actor,
        action="submission.map",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"field": field.path, "points": len(features), "filter": _describe(flt)},
    )
    return {
        "type": "FeatureCollection",
        "features": features,
        "field": field.path,
        "withoutLocation": without,
        "truncated": truncated,
    }


def _describe(flt: SubmissionFilter) -> dict[str, Any]:
    # The row filter is an SQL condition, not a filter the person chose: the audit records their choices.
    skip = ("form_id", "sort", "descending", "rows")
    out = {k: v for k, v in vars(flt).items() if v is not None and k not in skip}
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in out.items()}


@lru_cache(maxsize=1)
def outlines_geojson() -> str:
    """The shipped country outlines as a GeoJSON FeatureCollection (serialised once per process)."""
    raw = json.loads(OUTLINES.read_text(encoding="utf-8"))
    features = [
        {
            "type": "Feature",
            "properties": {"iso3": iso3, "name": c["name"]},
            "geometry": {"type": "MultiPolygon", "coordinates": [[ring] for ring in c["rings"]]},
        }
        for iso3, c in sorted(raw["countries"].items())
    ]
    return json.dumps({"type": "FeatureCollection", "source": raw.get("source", ""), "features": features})
