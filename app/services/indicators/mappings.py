"""Per-form mapping documents onto the canonical record: the one in force, a suggestion when none is
confirmed, and confirming a new version (validated against the form, audited).

A bundled form (forms/library) ships with a reviewed mapping (app/indicators/mapping/bundled/); the first
time a write needs it (the indicator refresh job, or confirming a replacement) it is stored as version 1
with ``source='bundled'``, so it is versioned and replaceable like any other. Reads (``describe``) show
the shipped document without storing it: a GET never writes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError, MappingInvalidError
from app.indicators.catalog import Catalog, load_catalog
from app.indicators.mapping import (
    ERROR,
    MappingDocument,
    MappingFormatError,
    MappingProblem,
    suggest_mapping,
    validate_mapping,
)
from app.models import Form, IndicatorMapping, Project
from app.services import jobs
from app.services.audit import events as audit
from forms.schema import FormSchema

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "indicators" / "mapping" / "bundled"


@lru_cache(maxsize=8)
def bundled_document(xml_form_id: str) -> dict[str, Any] | None:
    """The shipped mapping of a bundled form, or None."""
    path = BUNDLED_DIR / f"{xml_form_id}.yaml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def form_schema(form: Form) -> FormSchema | None:
    version = form.current_version or form.draft_version
    return None if version is None else FormSchema.from_dict(version.schema)


def _version_id(form: Form) -> int | None:
    version = form.current_version or form.draft_version
    return None if version is None else version.id


def mapping_label(form: Form, mapping: IndicatorMapping) -> str:
    """How a mapping version is named in outputs (``#meta+source``): ``<xmlFormId>@v<version>``."""
    return f"{form.xml_form_id}@v{mapping.version}"


def current_mapping(session: Session, *, form: Form, install: bool = True) -> IndicatorMapping | None:
    """The confirmed mapping in force for ``form``, or None. A bundled form's shipped mapping is stored
    as version 1 when ``install``; otherwise (reads) it is returned unsaved, as it would be stored."""
    found = session.scalar(
        select(IndicatorMapping)
        .where(IndicatorMapping.form_id == form.id, IndicatorMapping.status == "confirmed")
        .order_by(IndicatorMapping.version.desc())
        .limit(1)
    )
    if found is not None:
        return found
    shipped = bundled_document(form.xml_form_id)
    if shipped is None or _has_any(session, form):
        return None
    mapping = IndicatorMapping(
        form_id=form.id, version=1, status="confirmed", source="bundled", document=dict(shipped)
    )
    if install:
        session.add(mapping)
        session.flush()
    return mapping


def _has_any(session: Session, form: Form) -> bool:
    return session.scalar(select(func.count()).where(IndicatorMapping.form_id == form.id)) != 0


def describe(session: Session, *, form: Form, catalog: Catalog | None = None) -> dict[str, Any]:
    """What GET .../mapping returns: the mapping in force, or a suggestion marked ``suggested``."""
    catalog = catalog or load_catalog()
    mapping = current_mapping(session, form=form, install=False)
    schema = form_schema(form)
    if mapping is not None:
        problems = validate_mapping(mapping.document, schema, catalog) if schema is not None else []
        return {
            "status": "confirmed",
            "source": mapping.source,
            "version": mapping.version,
            "mappingVersion": mapping_label(form, mapping),
            "confirmedBy": mapping.created_by_id,
            # None for a bundled mapping not yet stored (no refresh or confirmation has needed it).
            "confirmedAt": mapping.created_at.isoformat() if mapping.created_at else None,
            "document": mapping.document,
            "problems": [p.to_dict() for p in problems],
        }
    if schema is None:
        raise InvalidValueError("This form has no version yet; upload one before mapping it.")
    suggestion = suggest_mapping(schema, catalog)
    return {
        "status": "suggested",
        "source": "suggestion",
        "version": None,
        "mappingVersion": None,
        "confirmedBy": None,
        "confirmedAt": None,
        "document": suggestion.to_dict(),
        "problems": [p.to_dict() for p in validate_mapping(suggestion, schema, catalog)],
    }


def read_document(sent: Any) -> MappingDocument:
    """The one reader of a mapping document, whoever sends it: the API's PUT body, the admin's YAML or
    editor, a stored version. A pasted GET answer or PUT body (``{"document": {...}, ...}``) is read as
    the document it wraps. A malformed one is a ``MappingInvalidError`` saying where."""
    if isinstance(sent, dict) and "fields" not in sent and "document" in sent:
        sent = sent["document"]
    if not isinstance(sent, dict):
        raise MappingInvalidError("Send the mapping document as a JSON object.")
    try:
        return MappingDocument.from_dict(sent)
    except MappingFormatError as exc:
        raise MappingInvalidError(
            f"The mapping document is malformed at {exc.key or 'the top level'}: {exc.message}",
            details={"problems": [MappingProblem(ERROR, exc.key, exc.message).to_dict()]},
        ) from exc


def confirm(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    document: Any,
    catalog: Catalog | None = None,
) -> IndicatorMapping:
    """Read ``document`` (``read_document``), validate it against the form's current version and
    store it as the next confirmed version; the previous one is superseded. Records normalised under
    it become stale and are rebuilt before the next indicator read."""
    catalog = catalog or load_catalog()
    parsed = read_document(document)
    schema = form_schema(form)
    if schema is None:
        raise InvalidValueError("This form has no version yet; upload one before mapping it.")
    problems = validate_mapping(parsed, schema, catalog)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        first = errors[0]
        raise MappingInvalidError(
            f"The mapping has {len(errors)} error(s); the first, at {first.where}: {first.message}",
            details={"problems": [p.to_dict() for p in problems]},
        )
    current_mapping(session, form=form)  # a bundled form's shipped mapping stays in the history as v1
    latest = session.scalar(
        select(func.max(IndicatorMapping.version)).where(IndicatorMapping.form_id == form.id)
    )
    for old in session.scalars(
        select(IndicatorMapping).where(
            IndicatorMapping.form_id == form.id, IndicatorMapping.status == "confirmed"
        )
    ):
        old.status = "superseded"
    mapping = IndicatorMapping(
        form_id=form.id,
        form_version_id=_version_id(form),
        version=(latest or 0) + 1,
        status="confirmed",
        source="user",
        document=parsed.to_dict(),
        created_by_id=actor.user_id,
    )
    session.add(mapping)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="indicators.mapping.confirm",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"version": mapping.version, "warnings": len(problems) - len(errors)},
    )
    jobs.after_mapping_change(session, project.id)
    return mapping
