"""The numbers supervisors scan first: per form, submissions today, this week, awaiting review and
flagged; per device and per enumerator, when they last synced and what they sent.

"Today" and "this week" are in UTC, the server's clock (device clocks are not trusted); a week starts
on Monday.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import AppUser, Form, Submission, User
from app.services.protection import record_scope

AWAITING_REVIEW = ("received", "edited")


@dataclass
class Counts:
    total: int = 0
    today: int = 0
    week: int = 0
    awaiting: int = 0
    flagged: int = 0

    def add(self, other: Counts) -> None:
        self.total += other.total
        self.today += other.today
        self.week += other.week
        self.awaiting += other.awaiting
        self.flagged += other.flagged


def day_and_week_start(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day - timedelta(days=day.weekday())


def _count_columns(now: datetime | None = None) -> list[Any]:
    day, week = day_and_week_start(now)
    return [
        func.count(Submission.id),
        func.coalesce(func.sum(case((Submission.created_at >= day, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Submission.created_at >= week, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Submission.review_state.in_(AWAITING_REVIEW), 1), else_=0)), 0),
        func.coalesce(func.sum(case((Submission.flag_codes != "", 1), else_=0)), 0),
    ]


def counts_by_form(
    session: Session, *, project_ids: list[int], rows: ColumnElement[bool]
) -> dict[int, Counts]:
    """Counts per form id for the forms of ``project_ids``, of the rows ``rows`` (the reader's row
    filter, ``row_access``) lets through."""
    if not project_ids:
        return {}
    result = session.execute(
        select(Submission.form_id, *_count_columns())
        .join(Form, Form.id == Submission.form_id)
        .where(Form.project_id.in_(project_ids), rows, record_scope.visible())
        .group_by(Submission.form_id)
    )
    return {row[0]: Counts(*[int(v) for v in row[1:]]) for row in result}


def counts_by_project(
    session: Session, *, project_ids: list[int], rows: ColumnElement[bool]
) -> dict[int, Counts]:
    form_projects = {
        fid: pid
        for fid, pid in session.execute(
            select(Form.id, Form.project_id).where(Form.project_id.in_(project_ids))
        )
    }
    out: dict[int, Counts] = defaultdict(Counts)
    for form_id, counts in counts_by_form(session, project_ids=project_ids, rows=rows).items():
        out[form_projects[form_id]].add(counts)
    return dict(out)


@dataclass
class Activity:
    """What one device credential, phone or person sent to a project."""

    key: str
    label: str
    last_seen_at: datetime | None
    today: int
    week: int
    total: int
    pending_attachments: int
    revoked: bool = False
    app_user_id: int | None = None


def _grouped(session: Session, project_id: int, rows: ColumnElement[bool]) -> list[Any]:
    """One scan of the project's submissions grouped by (credential, person, phone): the three tables
    of the devices page are sums over these few groups."""
    day, week = day_and_week_start()
    return list(
        session.execute(
            select(
                Submission.submitter_app_user_id,
                Submission.submitter_user_id,
                Submission.device_id,
                func.max(Submission.created_at),
                func.coalesce(func.sum(case((Submission.created_at >= day, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Submission.created_at >= week, 1), else_=0)), 0),
                func.count(Submission.id),
                func.coalesce(func.sum(Submission.attachments_expected - Submission.attachments_present), 0),
            )
            .join(Form, Form.id == Submission.form_id)
            .where(Form.project_id == project_id, rows, record_scope.visible())
            .group_by(Submission.submitter_app_user_id, Submission.submitter_user_id, Submission.device_id)
        )
    )


def _sum_by(rows: list[Any], index: int) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, list[Any]] = {}
    for row in rows:
        key = row[index]
        if key is None:
            continue
        last, today, week, total, pending = row[3:]
        acc = out.setdefault(key, [None, 0, 0, 0, 0])
        acc[0] = last if acc[0] is None or (last is not None and last > acc[0]) else acc[0]
        acc[1] += int(today)
        acc[2] += int(week)
        acc[3] += int(total)
        acc[4] += int(pending)
    return {k: tuple(v) for k, v in out.items()}


@dataclass
class ProjectActivity:
    credentials: list[Activity]
    people: list[Activity]
    phones: list[Activity]


def project_activity(session: Session, *, project_id: int, rows: ColumnElement[bool]) -> ProjectActivity:
    """What each credential, person and phone sent, of the rows ``rows`` (the reader's row filter)
    lets through."""
    grouped = _grouped(session, project_id, rows)
    return ProjectActivity(
        credentials=device_activity(session, project_id=project_id, stats=_sum_by(grouped, 0)),
        people=person_activity(session, stats=_sum_by(grouped, 1)),
        phones=phone_activity(stats=_sum_by(grouped, 2)),
    )


def device_activity(
    session: Session, *, project_id: int, stats: dict[Any, tuple[Any, ...]]
) -> list[Activity]:
    """Every device credential of the project with what it sent, revoked ones included."""
    out = []
    app_users = session.scalars(select(AppUser).where(AppUser.project_id == project_id).order_by(AppUser.id))
    for a in app_users:
        last, today, week, total, pending = stats.get(a.id, (None, 0, 0, 0, 0))
        seen = max((t for t in (a.last_seen_at, last) if t is not None), default=None)
        out.append(
            Activity(
                key=f"a:{a.id}",
                label=a.display_name,
                last_seen_at=seen,
                today=today,
                week=week,
                total=total,
                pending_attachments=pending,
                revoked=a.revoked_at is not None,
                app_user_id=a.id,
            )
        )
    return out


def person_activity(session: Session, *, stats: dict[Any, tuple[Any, ...]]) -> list[Activity]:
    """People who sent submissions with their own account (not a device token)."""
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(stats))))}
    return [
        Activity(
            key=f"u:{uid}",
            label=users[uid].display_name or users[uid].email,
            last_seen_at=last,
            today=today,
            week=week,
            total=total,
            pending_attachments=pending,
            revoked=not users[uid].is_active,
        )
        for uid, (last, today, week, total, pending) in stats.items()
        if uid in users
    ]


def phone_activity(*, stats: dict[Any, tuple[Any, ...]]) -> list[Activity]:
    """Phones by the deviceID Collect reports, whoever was logged in on them; latest first."""
    phones = [
        Activity(
            key=f"d:{device}",
            label=str(device),
            last_seen_at=last,
            today=today,
            week=week,
            total=total,
            pending_attachments=pending,
        )
        for device, (last, today, week, total, pending) in stats.items()
    ]
    return sorted(phones, key=lambda a: (a.last_seen_at is not None, a.last_seen_at or 0), reverse=True)
