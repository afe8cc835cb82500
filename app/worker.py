"""``ruta worker``: runs the jobs of the queue (``app/services/jobs.py``), one at a time per worker.

Each job: claim (committed, so every worker sees it running), a heartbeat thread extending the lease
while the handler runs, then the handler's writes and the job's ``done`` mark in one transaction. A
handler that raises leaves nothing behind; the job is retried with backoff or, out of attempts, failed
with its error for the admin. Start as many workers as you like, on as many machines: PostgreSQL's
SKIP LOCKED keeps them off each other's jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from app.blobs import get_blob_store
from app.db import get_database
from app.services import jobs

log = logging.getLogger("ruta.worker")
MAINTENANCE_EVERY = timedelta(hours=1)
FORCE_HELD_ENTITIES = "entities.force_held"


@dataclass
class JobContext:
    app: Flask
    session: Session  # committed together with the job's done mark
    job: jobs.ClaimedJob
    worker: str
    final_attempt: bool = field(init=False)

    def __post_init__(self) -> None:
        self.final_attempt = self.job.attempts >= self.job.max_attempts


@dataclass(frozen=True)
class Handler:
    run: Callable[[JobContext], None]
    # Called in its own transaction after a failed attempt (``final``: no retry follows).
    on_failure: Callable[[Session, jobs.ClaimedJob, str, bool], None] | None = None


def _refresh_indicators(ctx: JobContext) -> None:
    from app.models import Project
    from app.services.indicators import records as indicator_records

    project = ctx.session.get(Project, ctx.job.payload["project"])
    if project is not None:
        indicator_records.refresh_project(ctx.session, project=project)


def _dispatch_webhooks(ctx: JobContext) -> None:
    from app.services import webhooks

    webhooks.dispatch(ctx.session, project_id=int(ctx.job.payload["project"]))


def _deliver_webhook(ctx: JobContext) -> None:
    from app.services import webhooks

    webhooks.deliver(
        ctx.session,
        delivery_id=int(ctx.job.payload["delivery"]),
        timeout=ctx.app.config["WEBHOOK_TIMEOUT_SECONDS"],
    )


def _webhook_failed(session: Session, job: jobs.ClaimedJob, error: str, final: bool) -> None:
    from app.services import webhooks

    webhooks.record_failure(session, delivery_id=int(job.payload["delivery"]), error=error, dead=final)


def _run_export(ctx: JobContext) -> None:
    from app.services.exports import runs as export_runs

    app = ctx.app
    export_runs.run(
        get_database(app),
        get_blob_store(app),
        ctx.session,
        secret_key=str(app.config["SECRET_KEY"]),
        ttl_hours=int(app.config["EXPORT_TTL_HOURS"]),
        run_id=int(ctx.job.payload["export"]),
        worker=ctx.worker,
    )


def _export_failed(session: Session, job: jobs.ClaimedJob, error: str, final: bool) -> None:
    from app.services.exports import runs as export_runs

    export_runs.record_failure(session, run_id=int(job.payload["export"]), error=error, final=final)


def _purge_records(ctx: JobContext) -> None:
    from app.services.protection import retention

    retention.run_purge(ctx.session, store=get_blob_store(ctx.app), payload=ctx.job.payload)


def _maintenance(ctx: JobContext) -> None:
    """Expired export files and old finished jobs go, the retention purge and the forcing of stale held
    entity updates are queued; then the next run is queued an hour later."""
    from app.services.exports import runs as export_runs
    from app.services.protection import retention

    export_runs.purge_expired(ctx.session, store=get_blob_store(ctx.app))
    retention.enqueue_purge(ctx.session)
    jobs.enqueue(ctx.session, FORCE_HELD_ENTITIES, key=FORCE_HELD_ENTITIES)
    jobs.purge_finished(ctx.session, older_than=timedelta(days=1))
    schedule_maintenance(ctx.session, delay=MAINTENANCE_EVERY)


def _force_held_entities(ctx: JobContext) -> None:
    from app.services.entities import from_submissions

    hours = ctx.app.config["ENTITY_BACKLOG_FORCE_HOURS"]
    from_submissions.force_stale_backlog(ctx.session, older_than=timedelta(hours=hours))


def _ping(ctx: JobContext) -> None:
    """A diagnostic job (``ruta worker --ping``): waits, then records that it ran."""
    from app.services.audit import events as audit

    time.sleep(float(ctx.job.payload.get("seconds", 0)))
    audit.record(
        ctx.session,
        actor=None,
        action="jobs.ping",
        subject_type="job",
        subject_id=ctx.job.id,
        details={"worker": ctx.worker},
    )


HANDLERS: dict[str, Handler] = {
    "indicators.refresh": Handler(_refresh_indicators),
    "webhooks.dispatch": Handler(_dispatch_webhooks),
    "webhooks.deliver": Handler(_deliver_webhook, _webhook_failed),
    "exports.run": Handler(_run_export, _export_failed),
    "maintenance": Handler(_maintenance),
    "retention.purge": Handler(_purge_records),
    "jobs.ping": Handler(_ping),
    FORCE_HELD_ENTITIES: Handler(_force_held_entities),
}


def schedule_maintenance(session: Session, *, delay: timedelta = timedelta(0)) -> None:
    jobs.enqueue(session, "maintenance", key="maintenance", delay=delay)


class Worker:
    def __init__(self, app: Flask, *, name: str | None = None, lease_seconds: float | None = None) -> None:
        self.app = app
        self.db = get_database(app)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds or app.config["JOB_LEASE_SECONDS"])

    def run_once(self, *, now: datetime | None = None) -> bool:
        """Claim and run one due job; False when none is due."""
        with self.db.session_scope() as session:
            jobs.requeue_stale(session, now=now)
            job = jobs.claim(session, worker=self.name, lease=self.lease, now=now)
            session.commit()
        if job is None:
            return False
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, stop), daemon=True)
        beat.start()
        try:
            self._run(job, now)
        finally:
            stop.set()
            beat.join()
        return True

    def drain(self, *, now: datetime | None = None, limit: int = 1000) -> int:
        """Run due jobs until none is left (tests, ``ruta worker --drain``); how many ran."""
        ran = 0
        while ran < limit and self.run_once(now=now):
            ran += 1
        return ran

    def run_forever(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        with self.db.session_scope() as session:
            schedule_maintenance(session)
            session.commit()
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database went away: wait and try again, never exit
                log.exception("worker %s: claiming failed", self.name)
                busy = False
            if not busy:
                stop.wait(poll_seconds)

    def _run(self, job: jobs.ClaimedJob, now: datetime | None = None) -> None:
        handler = HANDLERS.get(job.kind)
        try:
            with self.app.app_context(), self.db.session_scope() as session:
                if handler is None:
                    raise jobs.PermanentJobError(f"No handler for job kind {job.kind!r}.")
                handler.run(JobContext(self.app, session, job, self.name))
                jobs.complete(session, job.id, worker=self.name)
                session.commit()
        except jobs.LeaseLost:
            log.warning(
                "worker %s: lost job %s to another worker; its writes were rolled back", self.name, job.id
            )
        except Exception as exc:
            permanent = isinstance(exc, jobs.PermanentJobError)
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "worker %s: job %s (%s) failed: %s\n%s",
                self.name,
                job.id,
                job.kind,
                error,
                traceback.format_exc(),
            )
            with self.app.app_context(), self.db.session_scope() as session:
                status = jobs.fail(
                    session, job.id, worker=self.name, error=error, permanent=permanent, now=now
                )
                if status is not None and handler is not None and handler.on_failure is not None:
                    handler.on_failure(session, job, error, status == "failed")
                session.commit()

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        every = max(self.lease.total_seconds() / 3, 0.2)
        while not stop.wait(every):
            try:
                with self.db.session_scope() as session:
                    held = jobs.heartbeat(session, job_id, worker=self.name, lease=self.lease)
                    session.commit()
                if not held:
                    return
            except Exception:  # a busy SQLite or a blip: the next beat tries again
                log.warning("worker %s: heartbeat of job %s failed", self.name, job_id, exc_info=True)


def run_jobs_now(app: Flask, **kwargs: Any) -> int:
    """Run every due job in this process (tests; the SQLite laptop without a worker)."""
    return Worker(app).drain(**kwargs)
