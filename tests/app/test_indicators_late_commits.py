"""A submission version or review event that commits after a refresh already moved the marks past its
id (concurrent transactions on PostgreSQL) is still counted by the next read. The late commit is
simulated by moving the marks over rows that were never normalised, as that refresh would have."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import get_database
from app.models import IndicatorRefreshMark, ReviewEvent, SubmissionVersion
from tests.app import indicator_fixtures as fx
from tests.app.conftest import World
from tests.app.test_indicators_fixtures import cell, values


def _water(world: World) -> tuple[int, int]:
    row = cell(values(world, "indicator=NEED-03"), "NEED-03")
    return row["numerator"], row["denominator"]


def _marks_seen_everything(world: World) -> None:
    """What a refresh running while the late transaction was in flight leaves behind: marks at the
    newest ids, with the late rows not yet visible to it and so not normalised."""
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        marks = session.get(IndicatorRefreshMark, world.project_id)
        assert marks is not None
        marks.version_mark = session.scalar(select(func.max(SubmissionVersion.id))) or 0
        marks.review_mark = session.scalar(select(func.max(ReviewEvent.id))) or 0
        session.commit()


def test_late_commits_below_the_marks_are_counted_by_the_next_read(world: World) -> None:
    fx.publish_pt(world)
    res = world.client.put(
        f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping",
        json={"document": fx.PT_MAPPING},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    for i in range(6):  # no safe water, enough for the total not to be suppressed
        fx.submit(world, fx.PT, fx.pt_xml(f"late-{i}", pais="1", agua="2", ajuda="1", idades=[30]))
        fx.review(world, fx.PT, f"late-{i}", "approved")
    before = _water(world)
    assert before == (6, 6)

    # A new submission, approved, whose version and review event commit late.
    fx.submit(world, fx.PT, fx.pt_xml("late-c", pais="1", agua="2", ajuda="1", idades=[40]))
    fx.review(world, fx.PT, "late-c", "approved")
    _marks_seen_everything(world)
    assert _water(world) == (7, 7)
    assert _water(world) == (7, 7)  # and the unchanged read after it agrees

    # A review alone committing late.
    fx.review(world, fx.PT, "late-c", "rejected")
    _marks_seen_everything(world)
    assert _water(world) == before
