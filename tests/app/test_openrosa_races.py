"""Duplicate instanceIDs racing in parallel produce exactly one submission and no 500."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.db import get_database
from app.models import Submission, SubmissionVersion
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root


def test_parallel_identical_posts_make_one_submission(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    device = root(world, device_token(world)["token"])
    xml = instance("uuid:race-1")
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        client_world = World(**{**world.__dict__, "client": world.app.test_client()})
        barrier.wait()
        res = post_submission(client_world, device, xml, {"a.jpg": b"photo"})
        statuses.append(res.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 8
    assert all(s in (201, 202) for s in statuses), statuses
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 1
        assert s.scalar(select(func.count()).select_from(SubmissionVersion)) == 1
