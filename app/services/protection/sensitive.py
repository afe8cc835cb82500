"""Which fields of a form are sensitive, who may see them, and the keyed pseudonyms that stand in for
them. One rule for every output that shows submission values (the JSON API, CSV/XLSX/GeoJSON exports,
OData, the admin), so no format can leak what another hides.

A field is sensitive when the form marks it (the XLSForm ``sensitive`` column, carried as
``instance::ruta_sensitive``) or when the project lists it in ``settings["sensitive_fields"]`` (by
question name or absolute path: a project can protect a partner form it did not write). Everything
inside a sensitive group or repeat is sensitive too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import Project, ProjectRole
from app.services.audit import events as audit
from forms import safe_xml
from forms.schema import FormSchema

SENSITIVE_ACTION = "submission.sensitive"


def project_marked(project: Project) -> frozenset[str]:
    marked = (project.settings or {}).get("sensitive_fields", [])
    return frozenset(str(m) for m in marked) if isinstance(marked, list) else frozenset()


def sensitive_paths(schema: FormSchema, project: Project) -> frozenset[str]:
    """Absolute instance paths of every sensitive field (containers included) of ``schema``."""
    extra = project_marked(project)
    roots = {f.path for f in schema.fields if f.sensitive or f.name in extra or f.path in extra}
    return frozenset(
        f.path for f in schema.fields if f.path in roots or any(f.path.startswith(r + "/") for r in roots)
    )


def may_see_sensitive(session: Session, actor: Actor, project: Project) -> bool:
    """Whether ``actor`` may see sensitive values in ``project``: by role (``submission.sensitive``)
    or by the grant a manager set on the person's assignment (``project_roles.may_see_sensitive``)."""
    if actor.can(session, SENSITIVE_ACTION, project.id):
        return True
    if actor.user is None:
        return False
    granted = session.scalar(
        select(ProjectRole.may_see_sensitive).where(
            ProjectRole.user_id == actor.user.id, ProjectRole.project_id == project.id
        )
    )
    return bool(granted)


def pseudonym_key(secret_key: str, project_id: int) -> bytes:
    """A per-project key: the same person gets the same pseudonym within a project (so analysts can
    still count and link), and different ones across projects (so exports cannot be joined)."""
    return hmac.new(secret_key.encode(), f"ruta-pseudonym:{project_id}".encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """A keyed, stable, non-reversible stand-in for ``value`` (HMAC-SHA256, 80 bits, base32)."""
    digest = hmac.new(key, value.strip().encode(), hashlib.sha256).digest()[:10]
    return "ps_" + base64.b32encode(digest).decode().lower()


def set_grant(session: Session, *, actor: Actor, project: Project, role: ProjectRole, allowed: bool) -> None:
    """Grant or withdraw the sight of sensitive fields on one assignment; audited either way."""
    before = role.may_see_sensitive
    role.may_see_sensitive = allowed
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.role.sensitive",
        project_id=project.id,
        subject_type="user",
        subject_id=role.user_id,
        details={"role": role.role, "maySeeSensitive": allowed, "before": before},
    )


def hidden_paths(session: Session, actor: Actor, project: Project, schema: FormSchema) -> frozenset[str]:
    """The sensitive paths of ``schema`` that ``actor`` may not see (none when they may)."""
    if may_see_sensitive(session, actor, project):
        return frozenset()
    return sensitive_paths(schema, project)


def redact_xml(xml: bytes, hidden: frozenset[str]) -> bytes:
    """The submission XML with the content of every hidden element removed (the element stays, empty,
    so the document still fits its form). Unchanged when nothing is hidden."""
    if not hidden:
        return xml
    root = safe_xml.parse(xml)
    changed = False

    def walk(element: Element, path: str) -> None:
        nonlocal changed
        for child in list(element):
            here = f"{path}/{safe_xml.local_name(child.tag)}"
            if here in hidden:
                tail = child.tail
                for grandchild in list(child):
                    child.remove(grandchild)
                child.text = None
                child.tail = tail
                changed = True
            else:
                walk(child, here)

    walk(root, "/" + safe_xml.local_name(root.tag))
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) if changed else xml


def hidden_file_names(schema: FormSchema, values: dict[str, Any], hidden: frozenset[str]) -> set[str]:
    """File names the hidden binary (photo, audio, signature...) fields of one submission hold."""
    names: set[str] = set()
    for f in schema.fields:
        if f.type != "binary" or f.path not in hidden:
            continue
        steps = [s.rsplit(":", 1)[-1] for s in f.path.split("/")[2:]]
        frames: list[Any] = [values]
        for step in steps:
            nxt: list[Any] = []
            for frame in frames:
                value = frame.get(step) if isinstance(frame, dict) else None
                nxt.extend(value if isinstance(value, list) else [value])
            frames = nxt
        names.update(v for v in frames if isinstance(v, str) and v)
    return names
