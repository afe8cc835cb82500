"""A field hub acting on the central Ruta: it may push submissions into its own project and read that
project's forms, nothing else, and only while its credential is not revoked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import HubProjectError
from app.models import Hub, Project

HUB_ACTIONS = frozenset({"form.list", "form.read", "submission.create"})


@dataclass
class HubActor(Actor):
    hub: Hub | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.hub is None

    def can(self, session: Session, action: str, project_id: int) -> bool:
        hub = self.hub
        return (
            hub is not None
            and hub.revoked_at is None
            and hub.project_id == project_id
            and action in HUB_ACTIONS
        )

    def require(self, session: Session, action: str, project: Project) -> None:
        if self.hub is not None and self.hub.project_id != project.id:
            # Explicit, not 404: a misconfigured hub must learn it points at the wrong project.
            raise HubProjectError(
                f"This hub credential is for project {self.hub.project_id}, not project {project.id}. "
                "Check the project id given to `ruta hub link`."
            )
        super().require(session, action, project)

    def visible_project_ids(self, session: Session) -> list[int] | None:
        return [self.hub.project_id] if self.hub is not None else []
