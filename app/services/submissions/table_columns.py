"""The answer columns of a form's review table: which questions a form shows beside the submission's
own columns, and their values for one page of rows.

The choice is saved per form (``forms.settings["table_columns"]``, a list of question paths), so
everyone reviewing a form sees the same table; whoever may review may change it, and the change is
audited. Labels come from the form's published version in the reviewer's language; select answers
show their choice labels. A sensitive question is shown as hidden to a person without the grant.
Only questions outside repeats can be columns (a repeat has many answers per submission).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError
from app.models import Form, Submission, SubmissionVersion
from app.services.audit import events as audit
from app.services.submissions.reading import label_in
from forms.schema import GROUP, REPEAT, Field, FormSchema

SETTING = "table_columns"
MAX_COLUMNS = 20
SELECT_TYPES = ("select1", "select", "odk:rank", "rank")


@dataclass(frozen=True)
class Column:
    path: str
    name: str
    label: str
    sensitive_hidden: bool


def available(schema: FormSchema) -> list[Field]:
    """Questions that can be columns: not groups, not repeats, not inside a repeat."""
    return [f for f in schema.fields if f.kind not in (GROUP, REPEAT) and f.repeat is None]


def saved(form: Form) -> list[str]:
    paths = (form.settings or {}).get(SETTING, [])
    return [str(p) for p in paths] if isinstance(paths, list) else []


def save(session: Session, *, actor: Actor, form: Form, schema: FormSchema, paths: list[str]) -> list[str]:
    """Replace the form's table columns (order kept, duplicates dropped); checked against ``schema``."""
    known = {f.path for f in available(schema)}
    unknown = [p for p in paths if p not in known]
    if unknown:
        raise InvalidValueError(
            f"The form has no question {unknown[0]!r} that can be a table column.",
            details={"field": "columns"},
        )
    chosen = list(dict.fromkeys(paths))
    if len(chosen) > MAX_COLUMNS:
        raise InvalidValueError(f"Choose at most {MAX_COLUMNS} answer columns.", details={"field": "columns"})
    if chosen != saved(form):
        form.settings = {**(form.settings or {}), SETTING: chosen}
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="form.table_columns",
            project_id=form.project_id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={"columns": chosen},
        )
    return chosen


def columns(
    schema: FormSchema, paths: list[str], *, language: str | None, hidden: frozenset[str]
) -> list[Column]:
    """The saved columns still in ``schema`` (a question dropped by a later version disappears)."""
    by_path = schema.field_by_path()
    return [
        Column(p, by_path[p].name, label_in(by_path[p].labels, language, by_path[p].name), p in hidden)
        for p in paths
        if p in by_path
    ]


def _lookup(values: Any, steps: list[str]) -> Any:
    for step in steps:
        if not isinstance(values, dict):
            return None
        values = values.get(step)
    return values


def _display(field: Field, raw: Any, schema: FormSchema, language: str | None) -> str:
    if raw is None or raw == "":
        return ""
    if field.choice_list and field.type in SELECT_TYPES:
        options = {c.value: c for c in schema.choices.get(field.choice_list, [])}
        chosen = raw if isinstance(raw, list) else str(raw).split()
        return ", ".join(
            label_in(options[str(v)].labels, language, str(v)) if str(v) in options else str(v)
            for v in chosen
        )
    if field.type == "geopoint" and isinstance(raw, dict):
        return f"{raw.get('lat')}, {raw.get('lon')}"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (dict, list)):
        return ", ".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
    return str(raw)


def cells(
    session: Session,
    schema: FormSchema,
    cols: list[Column],
    ids: list[int],
    *,
    language: str | None,
) -> dict[int, list[str | None]]:
    """Each row's answers for ``cols``, read from the current versions of ``ids`` (one query); None
    stands for a sensitive answer the reader may not see."""
    if not cols or not ids:
        return {}
    by_path = schema.field_by_path()
    root = f"/{schema.root}/"
    steps = [c.path[len(root) :].split("/") if c.path.startswith(root) else [c.name] for c in cols]
    rows = session.execute(
        select(Submission.id, SubmissionVersion.values)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(Submission.id.in_(ids))
    )
    out: dict[int, list[str | None]] = {}
    for sid, values in rows:
        out[sid] = [
            None
            if col.sensitive_hidden
            else _display(by_path[col.path], _lookup(values, s), schema, language)
            for col, s in zip(cols, steps, strict=True)
        ]
    return out
