"""The flag rules themselves, pure: settings, the fields a form version offers them, and one function per
flag that returns a :class:`Flag` saying why it fired, or None.

A flag is stored on the submission as ``{"code", "message", "details"}``: ``message`` is an English
sentence with the numbers (the API shows it), ``details`` the numbers alone so the admin can say the
same in the reviewer's language.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.services.quality import geo
from forms.schema import QUESTION, FormSchema

# Every code the review table can filter on (app.services.submissions.table_query.FLAG_CODES lists the same).
SHORT_INTERVIEW = "short_interview"
LIKELY_DUPLICATE = "likely_duplicate"
GEOPOINT_MISSING = "geopoint_missing"
GEOPOINT_OUTSIDE = "geopoint_outside"
REVOKED_DEVICE = "revoked_device"
ATTACHMENTS_MISSING = "attachments_missing"
UNMAPPED_VALUES = "unmapped_values"  # set by the indicators mapping through set_flag, not here
# Set by the submission ingest when two edits replace the same version; always on (no form setting).
EDIT_CONFLICT = "edit_conflict"
ALL_FLAGS = (
    SHORT_INTERVIEW,
    LIKELY_DUPLICATE,
    GEOPOINT_MISSING,
    GEOPOINT_OUTSIDE,
    REVOKED_DEVICE,
    ATTACHMENTS_MISSING,
    UNMAPPED_VALUES,
)
# The flags computed from a submission at ingest; any other code (unmapped_values) is left as it is.
COMPUTED_FLAGS = frozenset(ALL_FLAGS) - {UNMAPPED_VALUES}


@dataclass(frozen=True)
class Flag:
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclass(frozen=True)
class FormQuality:
    """A form's quality settings, kept in ``forms.settings["quality"]`` in their API shape."""

    min_interview_minutes: float | None = None
    duplicate_key_fields: tuple[str, ...] = ()  # field paths, e.g. /data/person/id_number
    enabled: frozenset[str] = frozenset(ALL_FLAGS)

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> FormQuality:
        raw = (settings or {}).get("quality") or {}
        minimum = raw.get("minInterviewMinutes")
        return cls(
            min_interview_minutes=float(minimum) if minimum is not None else None,
            duplicate_key_fields=tuple(raw.get("duplicateKeyFields") or ()),
            enabled=frozenset(raw["enabledFlags"]) if "enabledFlags" in raw else frozenset(ALL_FLAGS),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "minInterviewMinutes": self.min_interview_minutes,
            "duplicateKeyFields": list(self.duplicate_key_fields),
            "enabledFlags": [c for c in ALL_FLAGS if c in self.enabled],
        }


@dataclass(frozen=True)
class FormFields:
    """What a form version offers the rules: the start/end timestamps and the main location question."""

    start: tuple[str, ...] | None = None  # steps under the instance root
    end: tuple[str, ...] | None = None
    geopoint: tuple[str, ...] | None = None
    geopoint_name: str = ""
    paths: frozenset[str] = frozenset()  # top-level (not in a repeat) question paths, for key fields

    @classmethod
    def from_schema(cls, schema: FormSchema) -> FormFields:
        start = end = point = None
        point_name = ""
        paths: set[str] = set()
        for f in schema.fields:
            if f.repeat is not None or f.kind != QUESTION:
                continue
            paths.add(f.path)
            if f.type == "dateTime" and f.name == "start" and start is None:
                start = steps(f.path)
            elif f.type == "dateTime" and f.name == "end" and end is None:
                end = steps(f.path)
            elif f.type == "geopoint" and point is None:
                point, point_name = steps(f.path), f.name
        return cls(start, end, point, point_name, frozenset(paths))


def steps(path: str) -> tuple[str, ...]:
    """``/data/grp/orx:q`` -> ("grp", "q"): the keys of the extracted values (root and prefixes dropped)."""
    return tuple(s.rsplit(":", 1)[-1] for s in path.strip("/").split("/")[1:])


def value_at(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return None if isinstance(node, (dict, list)) else node


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _minutes(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def short_interview(values: dict[str, Any], fields: FormFields, settings: FormQuality) -> Flag | None:
    minimum = settings.min_interview_minutes
    if minimum is None or fields.start is None or fields.end is None:
        return None
    start, end = _timestamp(value_at(values, fields.start)), _timestamp(value_at(values, fields.end))
    if start is None or end is None:
        return None
    took = round((end - start).total_seconds() / 60, 1)
    if took >= minimum:
        return None
    details = {"minutes": took, "minimum": minimum}
    if took < 0:
        return Flag(SHORT_INTERVIEW, "The interview's end time is before its start time.", details)
    return Flag(
        SHORT_INTERVIEW,
        f"Interview took {_minutes(took)} min; the form's minimum is {_minutes(minimum)} min.",
        details,
    )


def duplicate_key(values: dict[str, Any], settings: FormQuality) -> str | None:
    """A hash of the key fields' values (trimmed, case-folded); None when a value is empty, since an
    unanswered question makes no two interviews alike."""
    if not settings.duplicate_key_fields:
        return None
    parts = []
    for path in settings.duplicate_key_fields:
        value = value_at(values, steps(path))
        text = "" if value is None else str(value).strip().casefold()
        if not text:
            return None
        parts.append(text)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def likely_duplicate(settings: FormQuality, other_instance_id: str, other_received: str) -> Flag:
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in settings.duplicate_key_fields]
    return Flag(
        LIKELY_DUPLICATE,
        f"Same {', '.join(names)} as submission {other_instance_id} (received {other_received}).",
        {"fields": names, "instanceId": other_instance_id, "received": other_received},
    )


def geopoint(values: dict[str, Any], fields: FormFields, countries: list[str]) -> Flag | None:
    if fields.geopoint is None:
        return None
    point = value_at_raw(values, fields.geopoint)
    name = fields.geopoint_name
    if point is None or point == "":
        return Flag(
            GEOPOINT_MISSING,
            f"The form asks for a location ({name}) but none was recorded.",
            {"field": name},
        )
    if not isinstance(point, dict):
        return None  # a malformed location is a value problem, reported as such
    lat, lon = point.get("lat"), point.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if geo.outside_all(lat, lon, countries) is not True:
        return None
    return Flag(
        GEOPOINT_OUTSIDE,
        f"Location {lat:.4f}, {lon:.4f} ({name}) is outside the project's countries "
        f"({', '.join(countries)}).",
        {"field": name, "lat": lat, "lon": lon, "countries": countries},
    )


def value_at_raw(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Like :func:`value_at` but keeps a dict leaf (a parsed geopoint)."""
    node: Any = values
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def attachments_missing(expected: int, present: int) -> Flag | None:
    if present >= expected:
        return None
    missing = expected - present
    return Flag(
        ATTACHMENTS_MISSING,
        f"{missing} of {expected} expected files have not arrived yet.",
        {"expected": expected, "present": present, "missing": missing},
    )


def revoked_device(
    *, credential: str | None, hub: str | None, device_id: str | None, device: dict[str, Any] | None
) -> Flag | None:
    """``credential`` / ``hub``: the sending app user or hub, when revoked. ``device``: what was noted
    when the credential ``device_id`` last used was revoked."""
    if credential:
        return Flag(
            REVOKED_DEVICE,
            f"Sent with the revoked device credential {credential!r}.",
            {"appUser": credential},
        )
    if hub:
        return Flag(REVOKED_DEVICE, f"Sent through the revoked hub {hub!r}.", {"hub": hub})
    if device_id and device:
        name, when = device.get("appUser", ""), device.get("revokedAt", "")
        return Flag(
            REVOKED_DEVICE,
            f"Sent from device {device_id}, whose credential {name!r} was revoked on {when[:10]}.",
            {"deviceId": device_id, "appUser": name, "revokedAt": when},
        )
    return None
