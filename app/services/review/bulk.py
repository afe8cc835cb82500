"""Reviewing many submissions at once: each one goes through ``review.set_review_state`` (so each is
audited like a single review), and the bulk action itself is audited with what it selected."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError
from app.models import Form, Project, Submission
from app.services.audit import events as audit
from app.services.protection import record_scope, row_access
from app.services.review import decisions as review


def bulk_set_review_state(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    submission_ids: list[int],
    state: str,
    comment: str | None = None,
    selection: dict[str, object] | None = None,
) -> int:
    """Set ``state`` on the given submissions of ``form``; ids of other forms are refused, not skipped."""
    if not submission_ids:
        raise InvalidValueError("Select at least one submission.")
    subs = list(
        session.scalars(
            select(Submission).where(
                Submission.id.in_(submission_ids),
                Submission.form_id == form.id,
                row_access.visible_rows(session, actor, project),
                record_scope.visible(),
            )
        )
    )
    if len(subs) != len(set(submission_ids)):
        raise InvalidValueError("Some selected submissions are not in this form. Reload the page.")
    for sub in sorted(subs, key=lambda s: s.id):
        review.set_review_state(
            session, actor=actor, project=project, submission=sub, state=state, comment=comment
        )
    audit.record(
        session,
        actor=actor,
        action="submission.review.bulk",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"to": state, "count": len(subs), "comment": bool(comment), "selection": selection or {}},
    )
    session.flush()
    return len(subs)
