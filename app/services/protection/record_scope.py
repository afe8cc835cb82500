"""Which submission rows a read may return: the one predicate every read path adds to its query.

A trashed submission (``deleted_at`` set) is gone for every reader: the review table and submission
pages, the JSON API, exports, OData, GeoJSON, counts and the indicators. Only the trash itself
(``trashed``) lists it, for restore or purge. Read rules that narrow rows further (a partner's own
rows) belong in ``visible`` too, so one function says what a read may see.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from app.models import Submission


def visible(record: Any = Submission) -> ColumnElement[bool]:
    """The condition a read path puts on ``record`` (the Submission entity, or an alias of it)."""
    return and_(record.deleted_at.is_(None))


def trashed(record: Any = Submission) -> ColumnElement[bool]:
    """Rows in the trash: restorable until purged."""
    return and_(record.deleted_at.is_not(None))


def live_file(attachment: Any = None) -> ColumnElement[bool]:
    """The condition on ``submission_attachments``: a file in the trash (deleted on its own, issue 21)
    is gone for every read, as a trashed submission is, until restored or purged."""
    if attachment is None:
        from app.models import SubmissionAttachment

        attachment = SubmissionAttachment
    return and_(attachment.deleted_at.is_(None))
