"""A form's mapping onto the canonical record in the admin: the one in force (or a suggestion), read as
a table of question → canonical field and choice recodings with the validator's problems. Managers and
analysts edit it as a form (each canonical field: which question fills it, chosen by label; each
answer of a mapped choice question: which canonical code it becomes, chosen by label; suggestions
marked; the validator's messages beside the row they concern), or, as an advanced view, as the YAML
or JSON document. Both go through ``MappingDocument`` (the one mapping reader) and the same service as
``PUT /v1/projects/{pid}/forms/{xmlFormId}/mapping``: validated against the form, versioned, audited."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import yaml
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, ngettext

from app.db import get_session
from app.errors import MappingInvalidError
from app.indicators.catalog import load_catalog
from app.indicators.mapping import MappingDocument, editor
from app.models import Form, Project, User
from app.services.indicators import mappings as indicator_mappings
from app.services.publishing import versions as form_service
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu

MAX_DOCUMENT_CHARS = 500_000  # far beyond any real form's mapping; keeps a pasted mistake cheap


@dataclass(frozen=True)
class FieldRow:
    question: str
    target: str
    notes: str


@dataclass(frozen=True)
class ChoiceRow:
    list_name: str
    value: str
    code: str
    notes: str


def _field_rows(document: dict[str, Any]) -> list[FieldRow]:
    """The ``fields`` section as rows; tolerant of a malformed document (it is shown, not trusted)."""
    fields = document.get("fields")
    rows = []
    for question, rule in fields.items() if isinstance(fields, dict) else []:
        if isinstance(rule, dict):
            target = "—" if rule.get("drop") else str(rule.get("to") or "?")
            notes = ", ".join(
                f"{key}: {rule[key]}"
                for key in ("via", "transform", "multi", "rank", "confidence", "reason")
                if rule.get(key) not in (None, "", False)
            )
        else:
            target, notes = ("—" if rule is None else str(rule)), ""
        rows.append(FieldRow(str(question), target, notes))
    for question in document.get("drop") or [] if isinstance(document.get("drop"), list) else []:
        rows.append(FieldRow(str(question), "—", "drop"))
    return rows


def _choice_rows(document: dict[str, Any]) -> list[ChoiceRow]:
    choices = document.get("choices")
    rows = []
    for list_name, recodes in choices.items() if isinstance(choices, dict) else []:
        for value, rule in recodes.items() if isinstance(recodes, dict) else []:
            if isinstance(rule, dict):
                code = str(rule.get("to") or "?")
                notes = ", ".join(
                    f"{key}: {rule[key]}"
                    for key in ("confidence", "reason")
                    if rule.get(key) not in (None, "")
                )
            else:
                code, notes = str(rule), ""
            rows.append(ChoiceRow(str(list_name), str(value), code, notes))
    return rows


def _problems(error: MappingInvalidError) -> list[dict[str, Any]]:
    found = error.details.get("problems")
    return list(found) if isinstance(found, list) else []


def _refused_summary(error: MappingInvalidError) -> str:
    """What the page says above a refused document's problems: the service's summary is English (the
    API's), so the admin says it again in the reader's language when the problems are listed."""
    problems = _problems(error)
    if not problems:
        return error.message
    errors = sum(1 for p in problems if isinstance(p, dict) and p.get("severity") == "error")
    return ngettext(
        "The mapping has %(num)d error; it is listed below with where it is.",
        "The mapping has %(num)d errors; they are listed below with where each is.",
        errors,
    )


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def choice_name(list_name: str, value: str) -> str:
    """A recoding's form field name: the list and value, whatever characters they hold."""
    raw = json.dumps([list_name, value], ensure_ascii=False).encode("utf-8")
    return "c." + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _choice_key(name: str) -> tuple[str, str] | None:
    try:
        raw = base64.urlsafe_b64decode(name[2:] + "=" * (-len(name[2:]) % 4))
        found = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if isinstance(found, list) and len(found) == 2 and all(isinstance(x, str) for x in found):
        return found[0], found[1]
    return None


def _language() -> str:
    return str(get_locale() or "en")[:2]


def _editor(
    form: Form, document: dict[str, Any], problems: list[dict[str, Any]], edited: MappingDocument | None
) -> dict[str, Any]:
    """The editor's rows, from the edited document when a save was refused, else the one shown."""
    schema = indicator_mappings.form_schema(form)
    if schema is None:
        return {"editable": False}
    try:
        doc = edited or indicator_mappings.read_document(document)
    except MappingInvalidError:
        return {"editable": False}  # a malformed stored document: the YAML view shows it as it is
    catalog = load_catalog()
    return {
        "editable": True,
        "editor_fields": editor.field_rows(doc, schema, catalog, problems),
        "edit_choice_rows": editor.choice_rows(doc, schema, catalog, _language(), problems),
        "questions": editor.question_options(schema, _language()),
        "choice_name": choice_name,
    }


def _render(
    project: Project,
    form: Form,
    *,
    text: str | None = None,
    refused: MappingInvalidError | None = None,
    edited: MappingDocument | None = None,
    status: int = 200,
) -> Response:
    actor = current_actor()
    db = get_session()
    described = indicator_mappings.describe(db, form=form)
    confirmed_by = db.get(User, described["confirmedBy"]) if described["confirmedBy"] else None
    document = described["document"] if isinstance(described["document"], dict) else {}
    # The editor's inline messages: of the refused edit when the editor sent it, else of the document shown.
    problems = (
        _problems(refused) if refused is not None and edited is not None else list(described["problems"])
    )
    html = render_template(
        "admin/form_mapping.html",
        project=project,
        form=form,
        mapping=described,
        confirmed_by=confirmed_by,
        field_rows=_field_rows(document),
        choice_rows=_choice_rows(document),
        may_edit=actor.can(db, "mapping.update", project.id),
        text=as_yaml(document) if text is None else text,
        refused=_refused_summary(refused) if refused is not None else None,
        refused_problems=_problems(refused) if refused is not None else [],
        refused_yaml=refused is not None and edited is None,
        project_menu=project_menu(project, "admin.project"),
        **_editor(form, document, problems, edited),
    )
    return Response(html, status=status)


def _form(actor_action: str, project_id: int, xml_form_id: str) -> tuple[Project, Form]:
    project = project_for(current_actor(), project_id, actor_action)
    return project, form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/mapping")
def form_mapping(project_id: int, xml_form_id: str) -> Response:
    project, form = _form("mapping.read", project_id, xml_form_id)
    response = _render(project, form)
    return response


def _parse(text: str) -> Any:
    """The posted document: YAML, of which JSON is a subset. A syntax error is a refused document."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise MappingInvalidError(gettext("The mapping document is too long."))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}" if where is not None else "the document"
        message = str(getattr(exc, "problem", None) or exc)
        raise MappingInvalidError(
            gettext("The mapping document is not valid YAML or JSON."),
            details={"problems": [{"severity": "error", "where": line, "message": message}]},
        ) from exc


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/mapping")
def confirm_form_mapping(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    project, form = _form("mapping.update", project_id, xml_form_id)
    db = get_session()
    text = request.form.get("document") or ""
    try:
        document = _parse(text)  # a pasted API answer or PUT body is read as the API reads it
        mapping = indicator_mappings.confirm(db, actor=actor, project=project, form=form, document=document)
    except MappingInvalidError as exc:
        db.rollback()  # nothing of a refused document is kept
        form = form_service.get_form(db, project=project, xml_form_id=xml_form_id)
        return _render(project, form, text=text, refused=exc, status=400)
    flash(
        gettext("Mapping version %(v)s confirmed; indicators use it from the next read.", v=mapping.version),
        "ok",
    )
    url = url_for("admin.form_mapping", project_id=project.id, xml_form_id=form.xml_form_id)
    return redirect(url, code=303)  # type: ignore[return-value]


def _edits(
    current: MappingDocument, form: Form
) -> tuple[dict[str, str | None], dict[tuple[str, str], str | None]]:
    """What the person changed in the editor: only fields and recodings whose value differs from
    what the page showed (so untouched suggestions keep their marks)."""
    schema = indicator_mappings.form_schema(form)
    assert schema is not None
    catalog = load_catalog()
    shown_fields = {row.key: row.path for row in editor.field_rows(current, schema, catalog)}
    fields: dict[str, str | None] = {}
    for key, question in shown_fields.items():
        name = f"f.{key}"
        if name in request.form:
            chosen = request.form.get(name) or None
            if chosen != question:
                fields[key] = chosen
    shown_codes = {
        (row.list_name, row.value): row.code
        for row in editor.choice_rows(current, schema, catalog, _language())
    }
    recodes: dict[tuple[str, str], str | None] = {}
    for name, value in request.form.items():
        if not name.startswith("c."):
            continue
        found = _choice_key(name)
        if found is None or found not in shown_codes:
            continue  # a recoding of an answer the page did not offer: nothing to change
        if (value or None) != shown_codes[found]:
            recodes[found] = value or None
    return fields, recodes


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/mapping/form")
def save_mapping_form(project_id: int, xml_form_id: str) -> Response:
    """The editor's choices applied to the document shown, confirmed as the next version."""
    actor = current_actor()
    project, form = _form("mapping.update", project_id, xml_form_id)
    db = get_session()
    described = indicator_mappings.describe(db, form=form)
    try:
        current = indicator_mappings.read_document(described["document"])
    except MappingInvalidError as exc:
        raise MappingInvalidError(
            gettext("The stored mapping cannot be read as a form; fix it in the YAML view.")
        ) from exc
    fields, recodes = _edits(current, form)
    edited = editor.apply_edits(current, fields=fields, recodes=recodes)
    try:
        mapping = indicator_mappings.confirm(
            db, actor=actor, project=project, form=form, document=edited.to_dict()
        )
    except MappingInvalidError as exc:
        db.rollback()  # nothing of a refused edit is kept
        form = form_service.get_form(db, project=project, xml_form_id=xml_form_id)
        return _render(project, form, refused=exc, edited=edited, status=400)
    flash(
        gettext("Mapping version %(v)s confirmed; indicators use it from the next read.", v=mapping.version),
        "ok",
    )
    url = url_for("admin.form_mapping", project_id=project.id, xml_form_id=form.xml_form_id)
    return redirect(url, code=303)  # type: ignore[return-value]
