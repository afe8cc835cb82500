"""A form's quality settings (minimum interview length, duplicate key fields, enabled flags): read,
validated against the form's published fields, stored in ``forms.settings["quality"]``, audited.

The project's countries (for ``geopoint_outside``) are the project's own ``countries``, set with the
project PATCH; the form's settings answer shows them with the ones that have no outline to check against.
"""

from __future__ import annotations

import math
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError
from app.models import Form, Project, Submission, SubmissionVersion
from app.services.audit import events as audit
from app.services.quality import geo, rules
from app.services.quality.ingest import fields_for
from app.services.quality.rules import ALL_FLAGS, FormQuality

MAX_KEY_FIELDS = 10
MAX_MINUTES = 24 * 60


def describe(project: Project, form: Form) -> dict[str, Any]:
    """The API shape of ``GET .../forms/{id}/quality``."""
    out = FormQuality.from_settings(form.settings).to_json()
    fields = fields_for(form.current_version) if form.current_version is not None else None
    countries = list(project.countries or [])
    out |= {
        "hasStartEnd": bool(fields and fields.start and fields.end),
        "geopointField": fields.geopoint_name if fields and fields.geopoint else None,
        "countries": countries,
        "countriesWithoutOutline": [c for c in countries if c not in geo.known_countries()],
    }
    return out


def _minutes(data: dict[str, Any], has_start_end: bool) -> float | None:
    raw = data.get("minInterviewMinutes")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise InvalidValueError("minInterviewMinutes must be a number of minutes, or null for no minimum.")
    if not 0 < raw <= MAX_MINUTES:
        raise InvalidValueError(f"minInterviewMinutes must be more than 0 and at most {MAX_MINUTES}.")
    if not has_start_end:
        raise InvalidValueError(
            "This form has no start and end fields (XLSForm types start and end), so the interview "
            "length cannot be measured. Add them to the form, or leave minInterviewMinutes null."
        )
    return float(raw)


def _key_fields(data: dict[str, Any], paths: frozenset[str]) -> tuple[str, ...]:
    raw = data.get("duplicateKeyFields") or []
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise InvalidValueError(
            'duplicateKeyFields must be a list of field names or paths, e.g. ["id_number"].'
        )
    if len(raw) > MAX_KEY_FIELDS:
        raise InvalidValueError(f"duplicateKeyFields may name at most {MAX_KEY_FIELDS} fields.")
    by_name: dict[str, list[str]] = {}
    for path in paths:
        by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    out: list[str] = []
    for wanted in raw:
        found = [wanted] if wanted in paths else by_name.get(wanted, [])
        if len(found) != 1:
            problem = (
                "is ambiguous: several fields have that name, give its path"
                if found
                else "is not a question of the form outside repeats"
            )
            raise InvalidValueError(
                f"duplicateKeyFields: {wanted!r} {problem}. Known fields: {', '.join(sorted(paths))}.",
                details={"field": wanted},
            )
        if found[0] not in out:
            out.append(found[0])
    return tuple(out)


def _enabled(data: dict[str, Any]) -> frozenset[str]:
    if "enabledFlags" not in data or data["enabledFlags"] is None:
        return frozenset(ALL_FLAGS)
    raw = data["enabledFlags"]
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise InvalidValueError("enabledFlags must be a list of flag codes.")
    unknown = [c for c in raw if c not in ALL_FLAGS]
    if unknown:
        raise InvalidValueError(
            f"enabledFlags: unknown flag {unknown[0]!r}. Known flags: {', '.join(ALL_FLAGS)}.",
            details={"flag": unknown[0]},
        )
    return frozenset(raw)


def update(
    session: Session, *, actor: Actor, project: Project, form: Form, data: dict[str, Any]
) -> FormQuality:
    """Replace the form's quality settings (PUT). Validates everything before changing anything."""
    extra = set(data) - {"minInterviewMinutes", "duplicateKeyFields", "enabledFlags"}
    if extra:
        raise InvalidValueError(
            f"Unknown setting {sorted(extra)[0]!r}; the settings are minInterviewMinutes, duplicateKeyFields "
            "and enabledFlags.",
        )
    if form.current_version is None:
        raise InvalidValueError("Publish the form before setting its quality checks: they name its fields.")
    fields = fields_for(form.current_version)
    new = FormQuality(
        min_interview_minutes=_minutes(data, bool(fields.start and fields.end)),
        duplicate_key_fields=_key_fields(data, fields.paths),
        enabled=_enabled(data),
    )
    old = FormQuality.from_settings(form.settings)
    form.settings = {**(form.settings or {}), "quality": new.to_json()}
    rekeyed = 0
    if new.duplicate_key_fields != old.duplicate_key_fields:
        rekeyed = _rekey(session, form=form, settings=new)
    audit.record(
        session,
        actor=actor,
        action="form.quality.update",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"settings": new.to_json(), "rekeyedSubmissions": rekeyed},
    )
    session.flush()
    return new


def _rekey(session: Session, *, form: Form, settings: FormQuality) -> int:
    """New key fields: recompute every stored submission's duplicate key, so submissions that arrive
    from now on are compared with the ones already here. Flags already set are left as they were."""
    rows = session.execute(
        select(Submission.id, SubmissionVersion.values)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(Submission.form_id == form.id, Submission.is_encrypted.is_(False))
        .execution_options(yield_per=1000)
    )
    updates = [
        {"id": sid, "duplicate_key": rules.duplicate_key(values or {}, settings)} for sid, values in rows
    ]
    table = cast(sa.Table, Submission.__table__)
    statement = table.update().where(table.c.id == bindparam("b_id")).values(duplicate_key=bindparam("b_key"))
    for start in range(0, len(updates), 1000):
        session.execute(
            statement, [{"b_id": u["id"], "b_key": u["duplicate_key"]} for u in updates[start : start + 1000]]
        )
    return len(updates)
