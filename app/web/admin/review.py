"""Reviewing: approve, has issues or reject one submission or a filtered selection, and comments."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext, ngettext

from app.db import get_session
from app.errors import InvalidValueError
from app.services.protection import row_access
from app.services.publishing import versions as form_service
from app.services.review import bulk as review_bulk
from app.services.review import decisions as review
from app.services.submissions import table_query as submission_query
from app.web import query
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for
from app.web.admin.filters import FILTER_KEYS, parse_filter, query_string
from app.web.admin.submissions import submission_for

REVIEW_ACTIONS = ("approved", "hasIssues", "rejected")


def _comment() -> str | None:
    return (request.form.get("comment") or "").strip()[:10000] or None


def _state() -> str:
    # "review", not "state": the table's filter already uses "state" for the review-state filter.
    state = request.form.get("review", "")
    if state not in REVIEW_ACTIONS:
        raise InvalidValueError(gettext("Choose approve, has issues or reject."))
    return state


def _queue_args() -> dict[str, str]:
    return {k: request.form[k] for k in FILTER_KEYS if request.form.get(k)}


@bp.post("/submissions/<int:submission_id>/review")
def review_submission(submission_id: int) -> Response:
    actor = current_actor()
    p, form, sub = submission_for(actor, submission_id, "submission.review")
    state = _state()
    db = get_session()
    review.set_review_state(db, actor=actor, project=p, submission=sub, state=state, comment=_comment())
    args = _queue_args()
    # Move on through the queue: the next submission the table's filter shows, if any.
    _prev, next_id = submission_query.neighbours(
        db, parse_filter(args, form.id, row_access.visible_rows(db, actor, p)), sub
    )
    flash(gettext("Review saved."), "ok")
    target = next_id if (next_id and request.form.get("advance") == "1") else sub.id
    qs = query_string(args)
    return redirect(url_for("admin.submission", submission_id=target) + (f"?{qs}" if qs else ""), code=303)  # type: ignore[return-value]


@bp.post("/submissions/<int:submission_id>/comments")
def comment_submission(submission_id: int) -> Response:
    actor = current_actor()
    p, _form, sub = submission_for(actor, submission_id, "submission.comment")
    review.add_comment(
        get_session(), actor=actor, project=p, submission=sub, body=request.form.get("body", "")
    )
    flash(gettext("Comment added."), "ok")
    qs = query_string(_queue_args())
    return redirect(url_for("admin.submission", submission_id=sub.id) + (f"?{qs}" if qs else ""), code=303)  # type: ignore[return-value]


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/review")
def review_bulk_view(project_id: int, xml_form_id: str) -> Response:
    """Bulk review: the ticked rows, or everything the table's filter matches (``scope=filter``)."""
    actor = current_actor()
    p = project_for(actor, project_id, "submission.review")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    state = _state()
    args = _queue_args()
    flt = parse_filter(args, form.id, row_access.visible_rows(db, actor, p))
    if request.form.get("scope") == "filter":
        ids = submission_query.matching_ids(db, flt)
    else:
        raw = request.form.getlist("ids")
        if not all(i.isascii() and i.isdigit() and int(i) <= query.MAX_DB_INT for i in raw):
            raise InvalidValueError(gettext("The selection is not valid. Reload the page."))
        ids = [int(i) for i in raw]
    if not ids:
        raise InvalidValueError(gettext("Select at least one submission."))
    n = review_bulk.bulk_set_review_state(
        db,
        actor=actor,
        project=p,
        form=form,
        submission_ids=ids,
        state=state,
        comment=_comment(),
        selection={"scope": request.form.get("scope") or "rows", "filter": args},
    )
    flash(ngettext("%(num)d submission reviewed.", "%(num)d submissions reviewed.", n), "ok")
    qs = query_string(args)
    url = url_for("admin.submissions", project_id=p.id, xml_form_id=form.xml_form_id)
    return redirect(url + (f"?{qs}" if qs else ""), code=303)  # type: ignore[return-value]
