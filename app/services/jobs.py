"""The durable job queue on the database (``app/models/job.py``): enqueue, claim, finish, retry.

Why a table rather than a queue library: a job must be inserted in the transaction of the write that
causes it, on SQLite as on PostgreSQL, with no other service to run. PostgreSQL claims with ``FOR
UPDATE SKIP LOCKED`` (workers never wait on each other's rows); SQLite's ``BEGIN IMMEDIATE`` already
lets one writer at a time claim. The worker loop is ``app/worker.py``; these functions only flush or
execute, the worker commits.

Delivery is at least once; *exactly once in effect* comes from the handler's writes and the job's
``done`` mark committing in one transaction that is refused when the worker no longer holds the job
(``complete`` matches on ``locked_by``): a worker killed mid-job leaves nothing, and the job runs again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.db import utcnow
from app.models import Job

JOBS = cast(sa.Table, Job.__table__)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0
DEFAULT_LEASE = timedelta(seconds=60)
# Writes to a project within this delay share one indicator refresh and one webhook dispatch.
DEBOUNCE = timedelta(seconds=1)


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease ran out and another worker took it)."""


class PermanentJobError(Exception):
    """A job that cannot succeed by retrying (its export's form was deleted, say): failed at once."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    dedupe_key: str | None


def backoff(attempts: int) -> timedelta:
    """Exponential: 2 s after the first failure, 4 s, 8 s ... at most an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def job_row(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    delay: timedelta = timedelta(0),
    max_attempts: int = 8,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "kind": kind,
        "dedupe_key": key,
        "payload": payload or {},
        "status": "queued",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": now + delay,
        "created_at": now,
    }


@functools.cache
def _insert_rows(dialect: str, count: int) -> Any:
    """``count`` rows in one INSERT ... SELECT of numbered parameters: one statement, compiled once
    (an executemany of a list of rows is rendered again on every call, on the ingest hot path)."""
    keys = list(job_row(""))
    selects = [
        sa.select(*(sa.bindparam(f"{k}_{i}", type_=JOBS.c[k].type) for k in keys)) for i in range(count)
    ]
    source = selects[0] if count == 1 else sa.union_all(*selects)
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(JOBS).from_select(keys, source).on_conflict_do_nothing()


def enqueue_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        params = {f"{k}_{i}": v for i, row in enumerate(rows) for k, v in row.items()}
        session.execute(_insert_rows(session.get_bind().dialect.name, len(rows)), params)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    delay: timedelta = timedelta(0),
    max_attempts: int = 8,
    now: datetime | None = None,
) -> None:
    """Queue a job in the caller's transaction (one statement; a no-op when ``key`` is queued)."""
    enqueue_rows(session, [job_row(kind, payload, key=key, delay=delay, max_attempts=max_attempts, now=now)])


def submission_change_rows(project_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """What a new, edited or reviewed submission causes: the project's indicator refresh and webhook
    dispatch, each queued once per burst (the one place that says so)."""
    return [
        job_row(
            "indicators.refresh",
            {"project": project_id},
            key=f"indicators:{project_id}",
            delay=DEBOUNCE,
            now=now,
        ),
        job_row(
            "webhooks.dispatch",
            {"project": project_id},
            key=f"webhooks:{project_id}",
            delay=DEBOUNCE,
            now=now,
        ),
    ]


def after_submission_change(session: Session, project_id: int) -> None:
    enqueue_rows(session, submission_change_rows(project_id))


def after_mapping_change(session: Session, project_id: int) -> None:
    enqueue_rows(session, submission_change_rows(project_id)[:1])


def claim(
    session: Session, *, worker: str, lease: timedelta = DEFAULT_LEASE, now: datetime | None = None
) -> ClaimedJob | None:
    """Take the next due job: ``running``, held by ``worker`` until ``now + lease``. A job whose key
    has a running twin waits for it (two refreshes of one project would only contend)."""
    now = now or utcnow()
    twin = aliased(Job)
    pick = (
        sa.select(Job.id)
        .where(
            Job.status == "queued",
            Job.run_after <= now,
            ~sa.exists().where(
                twin.dedupe_key == Job.dedupe_key, twin.status == "running", twin.locked_until > now
            ),
        )
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = session.execute(
        sa.update(JOBS)
        .where(JOBS.c.id == pick)
        .values(
            status="running",
            attempts=JOBS.c.attempts + 1,
            locked_by=worker,
            locked_until=now + lease,
            started_at=now,
        )
        .returning(
            JOBS.c.id, JOBS.c.kind, JOBS.c.payload, JOBS.c.attempts, JOBS.c.max_attempts, JOBS.c.dedupe_key
        )
    ).first()
    return None if row is None else ClaimedJob(*row)


def heartbeat(session: Session, job_id: int, *, worker: str, lease: timedelta = DEFAULT_LEASE) -> bool:
    """Extend the lease; False when the job is no longer this worker's."""
    result = session.execute(
        sa.update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.locked_by == worker, JOBS.c.status == "running")
        .values(locked_until=utcnow() + lease)
    )
    return bool(getattr(result, "rowcount", 0))


def complete(session: Session, job_id: int, *, worker: str) -> None:
    """Mark done in the handler's transaction; raises ``LeaseLost`` (so its writes roll back) when
    another worker has taken the job meanwhile."""
    result = session.execute(
        sa.update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.locked_by == worker, JOBS.c.status == "running")
        .values(status="done", finished_at=utcnow(), locked_by=None, locked_until=None)
    )
    if not getattr(result, "rowcount", 0):
        raise LeaseLost(f"job {job_id} is no longer held by {worker}")


def fail(
    session: Session,
    job_id: int,
    *,
    worker: str | None,
    error: str,
    permanent: bool = False,
    now: datetime | None = None,
) -> str | None:
    """After a failed attempt: queued again after ``backoff(attempts)``, or ``failed`` once the attempts
    are spent (or ``permanent``). ``worker`` None: whoever held it (stale leases). Returns the new
    status, or None when the job was not this worker's any more."""
    now = now or utcnow()
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status != "running" or (worker is not None and job.locked_by != worker):
        return None
    job.locked_by = job.locked_until = None
    job.last_error = error[:4000]
    if permanent or job.attempts >= job.max_attempts:
        job.status, job.finished_at = "failed", now
    else:
        _requeue(session, job, now + backoff(job.attempts))
    session.flush()
    return job.status


def _requeue(session: Session, job: Job, run_after: datetime) -> None:
    """Back in the queue, unless a twin (same key) is queued already: then the twin does the work, no
    sooner than this job would have."""
    twin = None
    if job.dedupe_key is not None:
        twin = session.scalar(
            sa.select(Job).where(Job.dedupe_key == job.dedupe_key, Job.status == "queued", Job.id != job.id)
        )
    if twin is None:
        job.status, job.run_after = "queued", run_after
        return
    twin.run_after = max(twin.run_after, run_after)
    job.status, job.finished_at = "done", utcnow()
    job.last_error = f"{job.last_error}\n(retried as job #{twin.id})"


def requeue_stale(session: Session, *, now: datetime | None = None) -> int:
    """Running jobs whose lease ran out (their worker died): retried, or failed when out of attempts."""
    now = now or utcnow()
    stale = session.scalars(
        sa.select(Job.id)
        .where(Job.status == "running", Job.locked_until < now)
        .order_by(Job.id)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for job_id in stale:
        fail(
            session,
            job_id,
            worker=None,
            error="The worker running this job stopped (its lease ran out).",
            now=now,
        )
    return len(stale)


def retry(session: Session, job: Job) -> None:
    """The admin's retry of a failed job: queued now, with a fresh set of attempts."""
    if job.status != "failed":
        return
    job.attempts, job.last_error = 0, (job.last_error or "") + "\n(retried by an administrator)"
    job.finished_at = None
    _requeue(session, job, utcnow())
    session.flush()


def list_jobs(session: Session, *, status: str, limit: int = 100) -> list[Job]:
    order = Job.finished_at.desc() if status in ("done", "failed") else Job.id
    return list(
        session.scalars(sa.select(Job).where(Job.status == status).order_by(order, Job.id).limit(limit))
    )


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all()
    return {status: int(n) for status, n in rows}


def purge_finished(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Done jobs are history: kept a while for the admin, then deleted (failed ones stay)."""
    cutoff = (now or utcnow()) - older_than
    result = session.execute(sa.delete(JOBS).where(JOBS.c.status == "done", JOBS.c.finished_at < cutoff))
    return int(getattr(result, "rowcount", 0))


def pending_for(session: Session, key: str) -> Job | None:
    """The queued or running job of ``key``, if any (for 'figures are being updated' notices)."""
    return session.scalar(
        sa.select(Job)
        .where(Job.dedupe_key == key, Job.status.in_(("queued", "running")))
        .order_by(Job.id)
        .limit(1)
    )
