"""The actor: who is making a request, and the checks every endpoint runs through."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.policy import COORDINATOR, ROW_GRANT_ACTIONS, role_allows
from app.errors import AuthenticationRequiredError, ForbiddenError, NotFoundError
from app.models import AppUser, Project, ProjectRole, User


@dataclass
class Actor:
    """A web user, an app user (device), or nobody. Roles are loaded once per request."""

    user: User | None = None
    app_user: AppUser | None = None
    _roles: dict[int, str] | None = field(default=None, repr=False)
    _row_grants: frozenset[int] = field(default=frozenset(), repr=False)

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.app_user is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def app_user_id(self) -> int | None:
        return self.app_user.id if self.app_user else None

    def roles(self, session: Session) -> dict[int, str]:
        if self._roles is None:
            if self.user is None:
                self._roles = {}
            else:
                rows = session.execute(
                    select(ProjectRole.project_id, ProjectRole.role, ProjectRole.rows_granted_at).where(
                        ProjectRole.user_id == self.user.id
                    )
                ).all()
                self._roles = {pid: role for pid, role, _ in rows}
                self._row_grants = frozenset(
                    pid for pid, role, granted in rows if role == COORDINATOR and granted is not None
                )
        return self._roles

    def has_row_grant(self, session: Session, project_id: int) -> bool:
        """Whether this coordinator was granted the project's raw rows (``row_access``)."""
        self.roles(session)
        return project_id in self._row_grants

    def role_in(self, session: Session, project_id: int) -> str | None:
        return self.roles(session).get(project_id)

    def can(self, session: Session, action: str, project_id: int) -> bool:
        if self.is_admin:
            return True
        if self.app_user is not None:
            # Device tokens only ever fill and submit forms of their own project.
            return (
                self.app_user.project_id == project_id
                and self.app_user.revoked_at is None
                and action in {"form.list", "form.read", "submission.create"}
            )
        if role_allows(self.role_in(session, project_id), action):
            return True
        return action in ROW_GRANT_ACTIONS and self.has_row_grant(session, project_id)

    def require(self, session: Session, action: str, project: Project) -> None:
        """Raise unless the actor may do ``action`` in ``project``.

        Someone with no role at all in the project gets a 404, not a 403: guessing IDs must not reveal
        which projects (or submissions) exist.
        """
        if self.is_anonymous:
            raise AuthenticationRequiredError()
        if self.can(session, action, project.id):
            return
        if self.is_admin or self.role_in(session, project.id) is not None:
            raise ForbiddenError()
        if self.app_user is not None and self.app_user.project_id == project.id:
            raise ForbiddenError()
        raise NotFoundError()

    def require_login(self) -> None:
        if self.is_anonymous:
            raise AuthenticationRequiredError()

    def require_admin(self) -> None:
        self.require_login()
        if not self.is_admin:
            raise ForbiddenError("Only a system administrator may do this.")

    def visible_project_ids(self, session: Session) -> list[int] | None:
        """The projects this actor may see; None means all (the administrator)."""
        if self.is_admin:
            return None
        if self.app_user is not None:
            return [self.app_user.project_id]
        return sorted(self.roles(session))
