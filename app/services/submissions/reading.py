"""A submission as a reviewer reads it: values laid out as the form has them (groups, repeats), with
question and choice labels in one of the form's languages, sensitive fields hidden from those who may
not see them, what changed between versions, and the record's audit trail.

Pure except for the loaders at the end; the admin renders the tree it returns (escaped by Jinja).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Submission, SubmissionAttachment, SubmissionVersion, User
from app.services.protection import record_scope
from forms.schema import GROUP, REPEAT, Field, FormSchema

HIDDEN = object()  # stands in for a sensitive value the reader may not see


def pick_language(languages: list[str], default: str | None, wanted: str | None, locale: str) -> str | None:
    """The form language to show: the one asked for, else the one matching the UI locale
    (``Español (es)``, ``es``, ``Spanish``), else the form's default."""
    if wanted in languages:
        return wanted
    names = {
        "es": ("español", "spanish", "espanol"),
        "en": ("english", "inglés"),
        "pt": ("português", "portuguese"),
    }
    for lang in languages:
        low = lang.lower()
        if low == locale or low.endswith(f"({locale})") or low.startswith(names.get(locale, ())):
            return lang
    return default if default in languages else (languages[0] if languages else None)


def label_in(labels: dict[str, str], language: str | None, fallback: str) -> str:
    if language and labels.get(language):
        return labels[language]
    for key in ("", "default"):
        if labels.get(key):
            return labels[key]
    return next((v for v in labels.values() if v), fallback)


@dataclass
class Node:
    """One line of the laid-out submission: a question with its value, a group, or a repeat."""

    kind: str  # "question", "group", "repeat"
    name: str
    label: str
    path: str
    type: str = ""
    value: Any = None
    display: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)  # selected (value, label)
    geopoint: dict[str, Any] | None = None
    media: str | None = None  # attachment file name
    mediatype: str = ""
    hidden: bool = False
    children: list[Node] = field(default_factory=list)
    instances: list[list[Node]] = field(default_factory=list)


def _children_by_parent(schema: FormSchema) -> dict[str, list[Field]]:
    out: dict[str, list[Field]] = {}
    for f in schema.fields:
        out.setdefault(f.path.rsplit("/", 1)[0], []).append(f)
    return out


def _step(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def layout(
    schema: FormSchema,
    values: dict[str, Any],
    *,
    language: str | None,
    hidden_paths: frozenset[str] = frozenset(),
) -> list[Node]:
    """The form's tree with this submission's values; values the schema does not know come last."""
    by_parent = _children_by_parent(schema)
    root = f"/{schema.root}" if schema.root else next(iter(by_parent), "")
    return _level(root, values, by_parent, schema, language, hidden_paths)


def _level(
    parent: str,
    values: dict[str, Any],
    by_parent: dict[str, list[Field]],
    schema: FormSchema,
    language: str | None,
    hidden: frozenset[str],
) -> list[Node]:
    nodes: list[Node] = []
    known: set[str] = set()
    for f in by_parent.get(parent, []):
        name = _step(f.path)
        known.add(name)
        raw = values.get(name) if isinstance(values, dict) else None
        label = label_in(f.labels, language, name)
        if f.kind == GROUP:
            node = Node("group", name, label, f.path, hidden=f.path in hidden)
            if not node.hidden:
                node.children = _level(
                    f.path, raw if isinstance(raw, dict) else {}, by_parent, schema, language, hidden
                )
            nodes.append(node)
        elif f.kind == REPEAT:
            node = Node("repeat", name, label, f.path, hidden=f.path in hidden)
            if not node.hidden:
                items = raw if isinstance(raw, list) else ([raw] if isinstance(raw, dict) else [])
                node.instances = [
                    _level(
                        f.path, item if isinstance(item, dict) else {}, by_parent, schema, language, hidden
                    )
                    for item in items
                ]
            nodes.append(node)
        else:
            nodes.append(_question(f, name, label, raw, schema, language, f.path in hidden))
    if isinstance(values, dict):
        for name, raw in values.items():
            if name not in known:
                nodes.append(Node("question", name, name, f"{parent}/{name}", value=raw, display=_text(raw)))
    return nodes


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _question(
    f: Field, name: str, label: str, raw: Any, schema: FormSchema, language: str | None, hidden: bool
) -> Node:
    node = Node("question", name, label, f.path, type=f.type, mediatype=f.mediatype, hidden=hidden)
    if hidden:
        node.value = HIDDEN
        return node
    node.value = raw
    node.display = _text(raw)
    if raw is None:
        return node
    if f.choice_list and f.type in ("select1", "select", "odk:rank", "rank"):
        options = {
            c.value: label_in(c.labels, language, c.value) for c in schema.choices.get(f.choice_list, [])
        }
        selected = raw if isinstance(raw, list) else [raw]
        node.choices = [(str(v), options.get(str(v), str(v))) for v in selected]
        node.display = ", ".join(lbl for _, lbl in node.choices)
    elif f.type == "geopoint" and isinstance(raw, dict):
        node.geopoint = raw
        node.display = f"{raw.get('lat')}, {raw.get('lon')}"
    elif f.type == "binary" and isinstance(raw, str):
        node.media = raw
    return node


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """``{"group/q": v, "rep[2]/q": v}``: every leaf value by its path, for diffs."""
    out: dict[str, Any] = {}
    if isinstance(values, dict):
        for k, v in values.items():
            out.update(flatten(v, f"{prefix}/{k}" if prefix else k))
    elif isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        for i, v in enumerate(values, 1):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = values
    return out


@dataclass
class Change:
    path: str
    old: str
    new: str


def changes(
    old: dict[str, Any], new: dict[str, Any], *, hidden_names: frozenset[str] = frozenset()
) -> list[Change]:
    """What changed between two versions' values (sensitive fields show only that they changed)."""
    a, b = flatten(old), flatten(new)
    out = []
    for path in sorted(set(a) | set(b)):
        if a.get(path) != b.get(path):
            steps = {s.split("[")[0] for s in path.split("/")}
            if steps & hidden_names:
                out.append(Change(path, "•••", "•••"))
            else:
                out.append(Change(path, _text(a.get(path)), _text(b.get(path))))
    return out


# -- loaders ------------------------------------------------------------------------------------------


def versions_of(session: Session, submission: Submission) -> list[SubmissionVersion]:
    return list(
        session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.received_at, SubmissionVersion.id)
        )
    )


def attachments_of(session: Session, version_id: int | None) -> list[SubmissionAttachment]:
    return list(
        session.scalars(
            select(SubmissionAttachment)
            .where(SubmissionAttachment.submission_version_id == version_id, record_scope.live_file())
            .order_by(SubmissionAttachment.name)
        )
    )


@dataclass
class TrailEntry:
    at: Any
    action: str
    who: str
    details: dict[str, Any]


def audit_trail(session: Session, *, project_id: int, instance_ids: list[str]) -> list[TrailEntry]:
    """Every audit event about this record (any of its versions' instance ids), oldest first."""
    rows = session.execute(
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(
            AuditEvent.project_id == project_id,
            AuditEvent.subject_type == "submission",
            AuditEvent.subject_id.in_(instance_ids),
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return [
        TrailEntry(
            e.created_at,
            e.action,
            email or (f"device #{e.actor_app_user_id}" if e.actor_app_user_id else "system"),
            e.details or {},
        )
        for e, email in rows
    ]
