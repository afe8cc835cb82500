"""The job queue: dedupe, retry with backoff, stale leases, and a real ``ruta worker`` killed with
SIGKILL mid-job and restarted (the job finishes exactly once in effect). SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.db import get_database, utcnow
from app.models import AuditEvent, Job
from app.services import jobs
from app.worker import HANDLERS, Handler, JobContext, Worker


def _jobs(app: Flask, **where: Any) -> list[Job]:
    with get_database(app).session_scope() as session:
        return list(session.scalars(sa.select(Job).filter_by(**where).order_by(Job.id)))


def _enqueue(app: Flask, kind: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> None:
    with get_database(app).session_scope() as session:
        jobs.enqueue(session, kind, payload, **kwargs)
        session.commit()


def test_one_queued_job_per_key_and_one_more_while_it_runs(app: Flask) -> None:
    for _ in range(3):
        _enqueue(app, "jobs.ping", key="k")
    assert len(_jobs(app, status="queued")) == 1
    with get_database(app).session_scope() as session:
        claimed = jobs.claim(session, worker="w1")
        session.commit()
    assert claimed is not None and claimed.dedupe_key == "k"
    _enqueue(app, "jobs.ping", key="k")  # a write during the run: queued again, not lost
    _enqueue(app, "jobs.ping", key="k")
    assert [j.status for j in _jobs(app)] == ["running", "queued"]
    with get_database(app).session_scope() as session:
        # The twin waits while its key runs (two refreshes of one project would only contend).
        assert jobs.claim(session, worker="w2") is None


def test_enqueue_rolls_back_with_the_write(app: Flask) -> None:
    with get_database(app).session_scope() as session:
        jobs.enqueue(session, "jobs.ping")
        session.rollback()
    assert _jobs(app) == []


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A job kind that fails until its third attempt, writing an audit row when it succeeds."""
    calls: list[int] = []

    def run(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        ctx.session.add(AuditEvent(action="test.flaky", subject_type="job", subject_id=str(ctx.job.id)))
        ctx.session.flush()
        if ctx.job.attempts < int(ctx.job.payload.get("succeed_at", 3)):
            raise RuntimeError(f"boom {ctx.job.attempts}")

    monkeypatch.setitem(HANDLERS, "test.flaky", Handler(run))
    yield calls


def test_retry_with_exponential_backoff_then_success(app: Flask, flaky: list[int]) -> None:
    _enqueue(app, "test.flaky")
    worker = Worker(app, name="w")
    t0 = utcnow()
    assert worker.run_once(now=t0)
    (job,) = _jobs(app)
    assert job.status == "queued" and job.attempts == 1 and "boom 1" in (job.last_error or "")
    assert job.run_after - t0 == timedelta(seconds=2)  # backoff(1), from the failed attempt
    assert not worker.run_once(now=t0 + timedelta(seconds=0.5))  # not due yet
    t1 = job.run_after + timedelta(milliseconds=1)
    assert worker.run_once(now=t1)
    (job,) = _jobs(app)
    assert job.attempts == 2 and job.status == "queued"
    assert job.run_after - t1 == jobs.backoff(2) == timedelta(seconds=4)
    assert jobs.backoff(30) == timedelta(hours=1)  # capped
    assert worker.run_once(now=job.run_after + timedelta(milliseconds=1))
    (job,) = _jobs(app)
    assert job.status == "done" and job.attempts == 3 and flaky == [1, 2, 3]
    with get_database(app).session_scope() as session:
        # The failed attempts' writes rolled back with them: one row, from the attempt that succeeded.
        assert session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "test.flaky")) == 1


def test_out_of_attempts_fails_with_the_error_and_retry_requeues(app: Flask, flaky: list[int]) -> None:
    _enqueue(app, "test.flaky", {"succeed_at": 99}, max_attempts=2)
    worker = Worker(app, name="w")
    now = utcnow()
    assert worker.run_once(now=now) and worker.run_once(now=now + timedelta(seconds=3))
    (job,) = _jobs(app)
    assert job.status == "failed" and "boom 2" in (job.last_error or "")
    with get_database(app).session_scope() as session:
        failed = session.get(Job, job.id)
        assert failed is not None
        jobs.retry(session, failed)
        session.commit()
    (job,) = _jobs(app)
    assert job.status == "queued" and job.attempts == 0


def test_a_stale_lease_is_requeued_and_the_old_holder_cannot_finish(app: Flask) -> None:
    _enqueue(app, "jobs.ping")
    t0 = utcnow()
    with get_database(app).session_scope() as session:
        claimed = jobs.claim(session, worker="dead", lease=timedelta(seconds=10), now=t0)
        session.commit()
    assert claimed is not None
    with get_database(app).session_scope() as session:
        assert jobs.requeue_stale(session, now=t0 + timedelta(seconds=5)) == 0  # lease still valid
        assert jobs.requeue_stale(session, now=t0 + timedelta(seconds=11)) == 1
        session.commit()
    (job,) = _jobs(app)
    assert job.status == "queued" and "lease" in (job.last_error or "")
    with get_database(app).session_scope() as session, pytest.raises(jobs.LeaseLost):
        jobs.complete(session, job.id, worker="dead")


def _worker_process(database_url: str, instance: Path, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "RUTA_DATABASE_URL": database_url,
        "RUTA_INSTANCE_PATH": str(instance),
        "RUTA_SECRET_KEY": "test-secret",
        "RUTA_JOB_LEASE_SECONDS": "2",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--poll", "0.1"], env=env, stdout=out, stderr=out
        )


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_job_leaves_it_to_the_next_which_finishes_it_once(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    _enqueue(app, "jobs.ping", {"seconds": 4})
    log = tmp_path / "worker.log"
    first = _worker_process(database_url, tmp_path / "instance", log)
    try:
        _wait_for(lambda: _jobs(app, kind="jobs.ping")[0].status == "running", 300, "the job to start")
        time.sleep(0.5)  # mid-job: the handler is sleeping inside its transaction
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    (job,) = _jobs(app, kind="jobs.ping")
    assert job.status == "running" and job.attempts == 1  # nobody finished it
    second = _worker_process(database_url, tmp_path / "instance", log)
    try:
        _wait_for(lambda: _jobs(app, kind="jobs.ping")[0].status == "done", 300, "the restarted worker")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    (job,) = _jobs(app, kind="jobs.ping")
    assert job.attempts == 2 and "lease" in (job.last_error or ""), log.read_text()
    with get_database(app).session_scope() as session:
        pings = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "jobs.ping")).all()
    assert [p.subject_id for p in pings] == [str(job.id)]  # exactly once in effect
