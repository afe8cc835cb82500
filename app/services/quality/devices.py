"""Phones whose credential was revoked: their device IDs are noted on the project when the credential
is revoked, so a submission from one of them is flagged even when it comes through a hub or a person's
account (which cannot know about the revocation) — and the check costs ingest no query.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AppUser, Project, Submission


def remember_revoked(session: Session, *, app_user: AppUser) -> None:
    """Note every device ID the credential sent from. Flushes nothing."""
    project = session.get(Project, app_user.project_id)
    if project is None or app_user.revoked_at is None:
        return
    device_ids = session.scalars(
        select(Submission.device_id)
        .where(Submission.submitter_app_user_id == app_user.id, Submission.device_id.is_not(None))
        .distinct()
    ).all()
    if not device_ids:
        return
    noted = dict((project.settings or {}).get("revoked_devices") or {})
    when = app_user.revoked_at.isoformat()
    for device_id in device_ids:
        noted[str(device_id)] = {
            "appUser": app_user.display_name,
            "appUserId": app_user.id,
            "revokedAt": when,
        }
    # A new dict, so the JSON column sees the change.
    project.settings = {**(project.settings or {}), "revoked_devices": noted}
