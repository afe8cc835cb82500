"""What an export's filters select before it is made: how many of a form's submissions the options
take, and how many they leave out and why (review state, dates, form version). The admin shows it next
to the export form, so a new project's approved-only export is never a silent empty file."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.exports.options import ExportOptions
from app.models import Form, Submission, SubmissionVersion
from app.models.submission import REVIEW_STATES


@dataclass(frozen=True)
class Selection:
    total: int  # every submission of the form
    selected: int  # what the options take
    # Left out, by the first filter that drops them: review state (per state), then dates, then version.
    by_state: dict[str, int] = field(default_factory=dict)
    outside_dates: int = 0
    other_version: int = 0

    @property
    def left_out(self) -> int:
        return self.total - self.selected


def selection(
    session: Session, *, form: Form, options: ExportOptions, version_ids: tuple[int, ...] = ()
) -> Selection:
    """Counts in one grouped query: per review state, whether the date and version filters keep the row."""
    in_dates: sa.ColumnElement[bool] = sa.true()
    if options.start is not None:
        in_dates = sa.and_(in_dates, Submission.created_at >= options.start)
    if options.end is not None:
        in_dates = sa.and_(in_dates, Submission.created_at < options.end)
    in_version = SubmissionVersion.form_version_id.in_(version_ids) if version_ids else sa.true()
    dates = sa.case((in_dates, 1), else_=0).label("dates")
    version = sa.case((in_version, 1), else_=0).label("version")
    rows = session.execute(
        sa.select(Submission.review_state, dates, version, sa.func.count())
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(Submission.form_id == form.id)
        .group_by(Submission.review_state, dates, version)
    ).all()
    total = selected = outside = other = 0
    by_state = dict.fromkeys(REVIEW_STATES, 0)
    for state, in_range, right_version, count in rows:
        total += count
        if state not in options.review_states:
            by_state[state] = by_state.get(state, 0) + count
        elif not in_range:
            outside += count
        elif not right_version:
            other += count
        else:
            selected += count
    return Selection(
        total=total,
        selected=selected,
        by_state={s: n for s, n in by_state.items() if n},
        outside_dates=outside,
        other_version=other,
    )
