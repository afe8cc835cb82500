"""One unit of work per request, in this one place (the shape of indico's ``RH.process`` and warehouse's
``pyramid_tm`` with its retry).

Every view function of the app is wrapped at start-up (``init_app``, the last step of ``create_app``):

- the view runs and its response is made; if the status is below 400 the request's session is committed,
  before Flask sends anything, so a streamed body starts only after its writes (an audit event, above
  all) are durable, and a device hears 201 only for a submission already on disk;
- an error status, or any exception, rolls the session back: a refused request never leaves a partial
  write (the error handlers then render the exception);
- a unique-key ``IntegrityError`` (two requests storing the same key at once: a resent submission racing
  the original, possibly on another app server) rolls back and runs the view once more, which then
  reads the winner's row and takes its idempotent path. A second race is an error like any other.

Views and services therefore never commit; services flush when they need database-made values. The few
commits at a precise point that remain are listed, each with the reason beside it, in
``tests/test_unit_of_work_guard.py``; CLI commands and the worker's jobs have their own unit of work
(``Database.session_scope`` and one commit per job in the job runner).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import IntegrityError

F = TypeVar("F", bound=Callable[..., Any])

_WRAPPED = "__ruta_unit_of_work__"
_SINGLE_ATTEMPT = "__ruta_single_attempt__"

# PostgreSQL's unique_violation; SQLite reports the constraint in its message.
_PG_UNIQUE_VIOLATION = "23505"


def single_attempt(view: F) -> F:
    """Mark a view that must not be run twice: it reads its body from the request stream, which a second
    run would find empty. It handles its own races (savepoints per item) instead."""
    setattr(view, _SINGLE_ATTEMPT, True)
    return view


def is_unique_violation(error: IntegrityError) -> bool:
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return bool(code == _PG_UNIQUE_VIOLATION)
    return "UNIQUE constraint failed" in str(orig)


def _end(commit: bool) -> None:
    session = g.get("db_session")
    if session is None:  # the view never touched the database
        return
    if commit:
        session.commit()
    else:
        session.rollback()


def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` run as one unit of work (module docstring)."""
    if getattr(view, _WRAPPED, False):
        return view
    retries = 0 if getattr(view, _SINGLE_ATTEMPT, False) else 1

    @functools.wraps(view)
    def unit_of_work(*args: Any, **kwargs: Any) -> Response:
        attempt = 0
        while True:
            try:
                response = current_app.make_response(view(*args, **kwargs))
                _end(commit=response.status_code < 400)
                return response
            except IntegrityError as err:
                _end(commit=False)
                if attempt < retries and is_unique_violation(err):
                    attempt += 1
                    continue
                raise
            except BaseException:
                _end(commit=False)
                raise

    setattr(unit_of_work, _WRAPPED, True)
    return unit_of_work


def is_wrapped(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, _WRAPPED, False))


def init_app(app: Flask) -> None:
    """Wrap every view registered so far; ``create_app`` calls this after the last blueprint."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = wrap(view)
