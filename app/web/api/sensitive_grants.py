"""The sensitive-data grant on a project assignment: ``PATCH /v1/projects/{pid}/assignments/{role}/{userId}``
with ``{"maySeeSensitive": true|false}``. Managers of the project and administrators only."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from app.db import get_session
from app.errors import NotFoundError
from app.models import ProjectRole
from app.services.protection import sensitive
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body


@bp.patch("/projects/<int:project_id>/assignments/<role>/<int:user_id>")
@accepts(bodies.SensitiveGrant)
def set_sensitive_grant(project_id: int, role: str, user_id: int) -> Response:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "project.roles")
    allowed = load_body()["maySeeSensitive"]
    session = get_session()
    assignment = session.scalar(
        select(ProjectRole).where(ProjectRole.project_id == project.id, ProjectRole.user_id == user_id)
    )
    if assignment is None or assignment.role != role:
        raise NotFoundError(f"This user does not have the role {role!r} in this project.")
    sensitive.set_grant(session, actor=actor, project=project, role=assignment, allowed=allowed)
    return jsonify({"actorId": user_id, "role": role, "roleId": role, "maySeeSensitive": allowed})
