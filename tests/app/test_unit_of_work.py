"""One unit of work per request (app/web/unit_of_work.py): commit below 400, roll back on an error status
or an exception, run the view once more after a unique-key race. Each case writes real rows and reads
them back through a separate session, on whichever database the suite runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, Response, jsonify
from sqlalchemy import func, select

from app.db import get_database, get_session
from app.errors import BadRequestError
from app.models import Organisation, Submission
from app.services.submissions import intake as submission_service
from app.web import unit_of_work
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root


def _codes(app: Flask) -> list[str]:
    with app.app_context(), get_database(app).session_scope() as s:
        return sorted(s.scalars(select(Organisation.code)))


def _route(app: Flask, rule: str, view: Callable[..., Any], *, methods: tuple[str, ...] = ("POST",)) -> None:
    app.add_url_rule(rule, endpoint=rule, view_func=unit_of_work.wrap(view), methods=list(methods))


def _add_org(code: str) -> None:
    get_session().add(Organisation(code=code, name=code))
    get_session().flush()


def test_success_commits_and_error_status_or_exception_rolls_back(app: Flask) -> None:
    def ok() -> Response:
        _add_org("kept")
        return jsonify({"ok": True})

    def refused_by_status() -> tuple[Response, int]:
        _add_org("status-400")
        return jsonify({"no": True}), 400

    def refused_by_error() -> Response:
        _add_org("raised")
        raise BadRequestError("no")

    def crashed() -> Response:
        _add_org("crashed")
        raise RuntimeError("a bug")

    def redirected() -> Response:
        _add_org("redirected")
        return Response(status=303, headers={"Location": "/"})

    for rule, view in [
        ("/t/ok", ok),
        ("/t/status", refused_by_status),
        ("/t/error", refused_by_error),
        ("/t/crash", crashed),
        ("/t/redirect", redirected),
    ]:
        _route(app, rule, view)
    client = app.test_client()
    assert client.post("/t/ok").status_code == 200
    assert client.post("/t/status").status_code == 400
    assert client.post("/t/error").status_code == 400
    assert client.post("/t/crash").status_code == 500
    assert client.post("/t/redirect").status_code == 303
    assert _codes(app) == ["kept", "redirected"]


def test_a_unique_key_race_runs_the_view_once_more(app: Flask) -> None:
    with app.app_context(), get_database(app).session_scope() as s:
        s.add(Organisation(code="taken", name="the winner of the race"))
        s.commit()
    runs: list[int] = []

    def racing() -> Response:
        runs.append(1)
        _add_org(f"side-effect-{len(runs)}")
        if len(runs) == 1:
            _add_org("taken")  # the race: another request stored this key after we looked
        return jsonify({"runs": len(runs)})

    _route(app, "/t/race", racing)
    res = app.test_client().post("/t/race")
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.json == {"runs": 2}
    # The first run's writes were rolled back with it; the second run's are kept.
    assert _codes(app) == ["side-effect-2", "taken"]


def test_only_one_retry_and_only_for_unique_keys(app: Flask) -> None:
    with app.app_context(), get_database(app).session_scope() as s:
        s.add(Organisation(code="taken", name="x"))
        s.commit()
    runs = {"always": 0, "not-null": 0, "single": 0}

    def always_races() -> Response:
        runs["always"] += 1
        _add_org("taken")
        return jsonify({})

    def not_null() -> Response:
        runs["not-null"] += 1
        get_session().add(Organisation(code="x", name=None))  # an IntegrityError that is no race
        get_session().flush()
        return jsonify({})

    @unit_of_work.single_attempt
    def single() -> Response:
        runs["single"] += 1
        _add_org("taken")
        return jsonify({})

    _route(app, "/t/always", always_races)
    _route(app, "/t/not-null", not_null)
    _route(app, "/t/single", single)
    client = app.test_client()
    for path in ("/t/always", "/t/not-null", "/t/single"):
        assert client.post(path).status_code >= 400
    assert runs == {"always": 2, "not-null": 1, "single": 1}
    assert _codes(app) == ["taken"]


def test_a_streamed_body_starts_after_the_commit(app: Flask) -> None:
    seen: list[list[str]] = []

    def streamed() -> Response:
        _add_org("before-the-stream")

        def body() -> Iterator[bytes]:
            seen.append(_codes(app))  # another connection: only committed rows are visible
            yield b"data"

        return Response(body(), mimetype="text/plain")

    _route(app, "/t/stream", streamed, methods=("GET",))
    res = app.test_client().get("/t/stream")
    assert res.get_data() == b"data"
    assert seen == [["before-the-stream"]]


def test_every_view_of_the_app_is_one_unit_of_work(app: Flask) -> None:
    assert app.view_functions
    unwrapped = [e for e, view in app.view_functions.items() if not unit_of_work.is_wrapped(view)]
    assert unwrapped == []


@pytest.mark.parametrize("path", ["device", "api"])
def test_a_resent_submission_that_loses_the_race_gets_the_idempotent_answer(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The real race, made deterministic: the second request's read misses the stored record (as if
    the first had not committed yet), so its insert hits the unique instanceID; the unit of work runs
    the view again, which finds the record and answers 202 (device) or the record (API)."""
    publish_xml(world, SIMPLE_FORM)
    device = root(world, device_token(world)["token"])
    xml = instance("uuid:race-once")
    assert post_submission(world, device, xml).status_code == 201
    reads = {"n": 0}

    def stale(dest: Any) -> Any:
        reads["n"] += 1
        if reads["n"] == 1 and dest is not None:
            return dataclasses.replace(dest, existing_id=None, existing_sha256=None)
        return dest

    if path == "device":
        real_device = submission_service.find_device_destination

        def device_read(*args: Any, **kwargs: Any) -> Any:
            found = real_device(*args, **kwargs)
            return dataclasses.replace(found, destination=stale(found.destination))

        monkeypatch.setattr(submission_service, "find_device_destination", device_read)
        res = post_submission(world, device, xml)
        assert res.status_code == 202, res.get_data(as_text=True)
    else:
        real = submission_service.find_destination
        monkeypatch.setattr(submission_service, "find_destination", lambda *a, **k: stale(real(*a, **k)))
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms/photo/submissions",
            data=xml,
            headers={**world.headers("admin"), "Content-Type": "application/xml"},
        )
        assert res.status_code == 200, res.get_data(as_text=True)
    assert reads["n"] == 2  # the losing run, then the retry
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 1
