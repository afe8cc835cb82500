"""Forms for the form-admin tests: the multilingual form's second version (one label changed, a
question added, one removed, a choice added) and helpers to read audit rows and mark fields sensitive."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Project
from tests.app.admin_helpers import MULTILINGUAL_FORM
from tests.app.conftest import World

MULTILINGUAL_V2 = (
    MULTILINGUAL_FORM.decode()
    .replace('version="1"', 'version="2"')
    .replace("<value>Edad</value>", "<value>Edad en años</value>")
    .replace(
        '<text id="/data/travel/nationality/COL:label"><value>Colombiana</value></text>',
        '<text id="/data/travel/nationality/COL:label"><value>Colombiana</value></text>'
        '<text id="/data/travel/nationality/HTI:label"><value>Haitiana</value></text>',
    )
    .replace(
        '<text id="/data/travel/nationality/COL:label"><value>Colombian</value></text>',
        '<text id="/data/travel/nationality/COL:label"><value>Colombian</value></text>'
        '<text id="/data/travel/nationality/HTI:label"><value>Haitian</value></text>',
    )
    .replace(
        "<item><label ref=\"jr:itext('/data/travel/nationality/COL:label')\"/><value>COL</value></item>",
        "<item><label ref=\"jr:itext('/data/travel/nationality/COL:label')\"/><value>COL</value></item>"
        "<item><label ref=\"jr:itext('/data/travel/nationality/HTI:label')\"/><value>HTI</value></item>",
    )
    .replace("<location/><secret/>", "<location/><phone/>")
    .replace('<bind nodeset="/data/secret" type="string"/>', '<bind nodeset="/data/phone" type="int"/>')
    .replace(
        '<input ref="/data/secret"><label ref="jr:itext(\'/data/secret:label\')"/></input>',
        '<input ref="/data/phone"><label>Phone</label></input>',
    )
    .encode()
)


def audit_rows(world: World, action: str) -> list[dict[str, Any]]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [{"actor": r.actor_user_id, "subject": r.subject_id, "details": r.details} for r in rows]


def mark_sensitive(world: World, *names: str) -> None:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        project = session.get(Project, world.project_id)
        assert project is not None
        project.settings = {**(project.settings or {}), "sensitive_fields": list(names)}
        session.commit()
