"""Running the job queue inside a test: what ``ruta worker`` would do next, done now."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from app.db import utcnow
from app.worker import Worker


def run_jobs(app: Flask, *, ahead: timedelta = timedelta(seconds=5)) -> int:
    """Every job due within ``ahead`` (past the debounce of writes), run in this process."""
    return Worker(app, name="test-worker").drain(now=utcnow() + ahead)
