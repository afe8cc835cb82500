"""Background jobs and webhook dead letters, for administrators: what is queued, running and failed
(with the error), a retry button for a failed job and for a dead webhook delivery."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext

from app.db import get_session
from app.errors import NotFoundError
from app.models import Job, WebhookDelivery
from app.services import jobs as job_service
from app.services import webhooks
from app.services.audit import events as audit
from app.web.admin import bp
from app.web.admin.context import current_actor


@bp.get("/jobs")
def jobs() -> str:
    current_actor().require_admin()
    session = get_session()
    return render_template(
        "admin/jobs.html",
        counts=job_service.counts(session),
        queued=job_service.list_jobs(session, status="queued"),
        running=job_service.list_jobs(session, status="running"),
        failed=job_service.list_jobs(session, status="failed"),
        dead=webhooks.dead_letters(session),
    )


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int) -> Response:
    actor = current_actor()
    actor.require_admin()
    session = get_session()
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError("No such job.")
    job_service.retry(session, job)
    audit.record(session, actor=actor, action="job.retry", subject_type="job", subject_id=job.id)
    flash(gettext("Job %(id)s is queued again.", id=job_id), "ok")
    return redirect(url_for("admin.jobs"), code=303)  # type: ignore[return-value]


@bp.post("/webhook-deliveries/<int:delivery_id>/retry")
def retry_delivery(delivery_id: int) -> Response:
    actor = current_actor()
    actor.require_admin()
    session = get_session()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFoundError("No such webhook delivery.")
    webhooks.redeliver(session, actor=actor, delivery=delivery)
    flash(gettext("Delivery %(id)s will be sent again.", id=delivery_id), "ok")
    return redirect(url_for("admin.jobs"), code=303)  # type: ignore[return-value]
