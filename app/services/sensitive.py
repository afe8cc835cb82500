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

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import Project
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
    return actor.can(session, SENSITIVE_ACTION, project.id)


def pseudonym_key(secret_key: str, project_id: int) -> bytes:
    """A per-project key: the same person gets the same pseudonym within a project (so analysts can
    still count and link), and different ones across projects (so exports cannot be joined)."""
    return hmac.new(secret_key.encode(), f"ruta-pseudonym:{project_id}".encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """A keyed, stable, non-reversible stand-in for ``value`` (HMAC-SHA256, 80 bits, base32)."""
    digest = hmac.new(key, value.strip().encode(), hashlib.sha256).digest()[:10]
    return "ps_" + base64.b32encode(digest).decode().lower()
