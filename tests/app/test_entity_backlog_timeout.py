"""Held offline entity updates are forced after a delay (issue 19), as Central does: the hourly maintenance
job queues ``entities.force_held``, which applies every update held longer than
``ENTITY_BACKLOG_FORCE_HOURS`` for an earlier step that never came, flagged for a person to review."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.db import get_database, utcnow
from app.models import AuditEvent, EntityBacklog, Job
from app.worker import schedule_maintenance
from tests.app.conftest import World
from tests.app.entity_helpers import (
    device,
    publish_xlsform,
    registration_xlsform,
    registration_xml,
    send,
    update_xlsform,
    update_xml,
)
from tests.app.job_helpers import run_jobs

UUID = "9a1f2e3d-4c5b-4a69-8877-665544332211"
BRANCH = "bbbbbbbb-0000-4000-8000-00000000000b"


def _versions(world: World) -> list[tuple[int, str, str | None]]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{UUID}/versions",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    return [(v["version"], v["data"]["capacity"], v["conflict"]) for v in res.json]


def _held_since(world: World, hours: float) -> None:
    """Make the held update ``hours`` old (as if it had waited that long)."""
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        s.execute(sa.update(EntityBacklog).values(created_at=utcnow() - timedelta(hours=hours)))
        s.commit()


def _maintenance(world: World) -> None:
    """The hourly maintenance run, now (its next run, queued an hour ahead, is brought forward)."""
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        s.execute(sa.delete(Job).where(Job.kind == "maintenance", Job.status == "queued"))
        schedule_maintenance(s)
        s.commit()
    run_jobs(world.app)  # maintenance, then the entities.force_held job it queues


def test_a_held_update_is_forced_by_the_job_queue_once_older_than_the_configured_delay(world: World) -> None:
    world.app.config["ENTITY_BACKLOG_FORCE_HOURS"] = 6
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    # The device's second offline step (base 2) arrives; its first step never does.
    send(world, phone, update_xml("b-3", UUID, 90, base=2, trunk=1, branch=BRANCH))
    assert _versions(world) == [(1, "120", None)]

    _held_since(world, 5)  # younger than the delay: still waiting, nothing applied
    _maintenance(world)
    assert _versions(world) == [(1, "120", None)]

    _held_since(world, 7)
    _maintenance(world)
    assert _versions(world) == [(1, "120", None), (2, "90", "soft")]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(EntityBacklog)) == 0
        (event,) = s.scalars(sa.select(AuditEvent).where(AuditEvent.action == "entity.backlog.force"))
        assert event.details == {"applied": 1, "held": 1, "automatic": True, "olderThanHours": 6.0}
        assert event.actor_user_id is None
