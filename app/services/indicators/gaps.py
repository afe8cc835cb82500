"""What the indicators leave out, and why: submissions not counted (review state, no consent, encrypted,
form not mapped) and answers waiting in the unmapped-values queue. Shown beside the indicators so a
reader knows what the numbers do not cover."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CanonicalRecord, Form, Project, Submission
from app.services.indicators.records import unmapped_summary
from app.services.protection import record_scope


@dataclass
class Gaps:
    counted: int = 0
    # (reason code, submissions): review states not counted, excluded records, unmapped forms
    excluded: list[tuple[str, int]] = field(default_factory=list)
    unmapped_forms: list[tuple[str, int]] = field(default_factory=list)
    unmapped_values: list[dict[str, Any]] = field(default_factory=list)


def project_gaps(
    session: Session,
    *,
    project: Project,
    states: tuple[str, ...],
    rows: sa.ColumnElement[bool] | None = None,
    raw_values: bool = True,
) -> Gaps:
    """Counts per reason over the project's canonical records (call after a refresh). ``rows``: the
    reader's row filter (a partner's own rows; None: all), the same as the figures beside them; the
    unmapped answers quote raw values, so they are listed only when ``raw_values``."""
    r = CanonicalRecord
    gaps = Gaps()
    scope: list[sa.ColumnElement[bool]] = [r.project_id == project.id]
    live: list[sa.ColumnElement[bool]] = [record_scope.visible()]
    if rows is not None:
        scope.append(r.submission_id.in_(select(Submission.id).where(rows)))
        live.append(rows)
    counts = session.execute(
        select(r.review_state, r.excluded_reason, sa.func.count())
        .where(*scope)
        .group_by(r.review_state, r.excluded_reason)
    ).all()
    by_reason: dict[str, int] = {}
    for state, reason, count in counts:
        if reason is not None:
            by_reason[reason] = by_reason.get(reason, 0) + count
        elif state not in states:
            key = f"state:{state}"
            by_reason[key] = by_reason.get(key, 0) + count
        else:
            gaps.counted += count
    gaps.excluded = sorted(by_reason.items(), key=lambda item: -item[1])
    mapped = select(r.form_id).where(r.project_id == project.id).distinct()
    gaps.unmapped_forms = [
        (xml_form_id, count)
        for xml_form_id, count in session.execute(
            select(Form.xml_form_id, sa.func.count(Submission.id))
            .join(Submission, Submission.form_id == Form.id)
            .where(Form.project_id == project.id, Form.id.not_in(mapped), *live)
            .group_by(Form.xml_form_id)
            .order_by(Form.xml_form_id)
        ).all()
    ]
    if raw_values:
        records = None if rows is None else select(r.id).where(*scope)
        gaps.unmapped_values = unmapped_summary(session, project=project, records=records)
    return gaps
