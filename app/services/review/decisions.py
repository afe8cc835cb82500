"""Review: state changes and comments on submissions, each audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError
from app.models import Comment, Project, ReviewEvent, Submission
from app.models.submission import REVIEW_STATES
from app.services import jobs
from app.services.audit import events as audit
from app.services.entities import from_submissions as entity_submissions

SETTABLE_STATES = ("hasIssues", "edited", "approved", "rejected", "received")


def set_review_state(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    submission: Submission,
    state: str,
    comment: str | None = None,
) -> Submission:
    if state not in SETTABLE_STATES or state not in REVIEW_STATES:
        raise InvalidValueError(
            f"reviewState must be one of {', '.join(SETTABLE_STATES)}.", details={"field": "reviewState"}
        )
    old = submission.review_state
    submission.review_state = state
    session.add(
        ReviewEvent(
            submission_id=submission.id,
            from_state=old,
            to_state=state,
            comment=comment,
            user_id=actor.user_id,
        )
    )
    if comment:
        session.add(Comment(submission_id=submission.id, user_id=actor.user_id, body=comment))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="submission.review",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
        details={"from": old, "to": state, "comment": bool(comment)},
    )
    jobs.after_submission_change(session, project.id)
    if state == "approved" and old != "approved":
        entity_submissions.apply_on_approval(
            session, actor=actor, project_id=project.id, submission=submission
        )
    return submission


def add_comment(
    session: Session, *, actor: Actor, project: Project, submission: Submission, body: str
) -> Comment:
    body = (body or "").strip()
    if not body:
        raise InvalidValueError("A comment needs some text.", details={"field": "body"})
    comment = Comment(submission_id=submission.id, user_id=actor.user_id, body=body[:10000])
    session.add(comment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="submission.comment",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
    )
    return comment


def list_comments(session: Session, *, submission: Submission) -> list[Comment]:
    return list(
        session.scalars(select(Comment).where(Comment.submission_id == submission.id).order_by(Comment.id))
    )
