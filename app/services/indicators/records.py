"""Canonical records, persons, unmapped values and indicator facts, kept current with the submissions.

Design: *refresh in a job after writes*. Every write that can change figures (a new, edited or
reviewed submission, a mapping change) queues the project's ``indicators.refresh`` job in its own
transaction (``jobs.after_submission_change``, one per burst); the worker runs
:func:`refresh_project`. Reads never write: they show the figures as of the last refresh and say how
fresh they are (:func:`freshness`).

:func:`refresh_project` finds, with one query per mapped form, the submissions whose canonical record
is missing or stale: a new submission, an edit (the current version changed), a mapping change (the
mapping in force changed) or a review change (the state differs). A review change is one indexed
UPDATE of the facts' ``review_state``; the others renormalise just those submissions. Whatever path
wrote the submission (single, batch, hub sync, admin review), the next refresh sees it, and no ingest
path pays for normalisation.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.indicators.catalog import Catalog, load_catalog
from app.indicators.facts import record_facts, sadd_facts
from app.indicators.flow_facts import flow_fact
from app.indicators.normalise import NormalisedResult, Normaliser
from app.models import (
    CanonicalPerson,
    CanonicalRecord,
    FlowFact,
    FlowFactTransport,
    Form,
    FormVersion,
    IndicatorFact,
    IndicatorMapping,
    IndicatorRefreshMark,
    Project,
    ReviewEvent,
    Submission,
    SubmissionVersion,
    UnmappedValue,
)
from app.services import jobs, quality, sites
from app.services.indicators import mappings as indicator_mappings
from app.services.protection import record_scope
from forms.library import bundled_forms
from forms.schema import FormSchema

CHUNK = 500
LATE_WINDOW = 100  # ids below a mark re-examined for late commits (see _late_commits)
REFRESH_LOCK = 0x5275  # first key of the per-project advisory lock ("Ru")
UNMAPPED_FLAG = "unmapped_values"
NO_CONSENT = ("n", "refused")


@dataclass
class RefreshResult:
    normalised: int = 0
    review_updates: int = 0
    unmapped_forms: list[str] = field(default_factory=list)


def refresh_project(session: Session, *, project: Project, catalog: Catalog | None = None) -> RefreshResult:
    """Bring every mapped form's canonical rows up to date (module docstring). Flushes only.

    Three cheap look-ups (the newest submission version, review event and mapping ids, each a primary
    key index) decide how much to do: nothing when none moved since the last refresh; only the
    submissions of the new review events when only those moved; otherwise the staleness query per form.
    Two bounded look-ups below the marks catch what committed late (:func:`_late_commits`) and send the
    read down the staleness path.
    """
    catalog = catalog or load_catalog()
    result = RefreshResult()
    marks = session.get(IndicatorRefreshMark, project.id)
    now = (
        session.scalar(select(func.max(SubmissionVersion.id))) or 0,
        session.scalar(select(func.max(ReviewEvent.id))) or 0,
        session.scalar(select(func.max(IndicatorMapping.id))) or 0,
    )
    late = marks is not None and _late_commits(session, project, marks)
    if not late and marks is not None and now == (marks.version_mark, marks.review_mark, marks.mapping_mark):
        return result
    marks = _lock_marks(session, project)
    if not late and now[0] == marks.version_mark and now[2] == marks.mapping_mark:
        if now[1] != marks.review_mark:
            reviewed = select(ReviewEvent.submission_id).where(ReviewEvent.id > marks.review_mark)
            for form, mapping in _mapped_forms(session, project, result):
                _, _, restate = _stale(session, form, mapping, only=reviewed)
                result.review_updates += _update_states(session, restate)
        marks.review_mark = now[1]
        session.flush()
        return result
    for form, mapping in _mapped_forms(session, project, result):
        _forget_trashed(session, form)
        fresh, renormalise, restate = _stale(session, form, mapping)
        result.review_updates += _update_states(session, restate)
        normalisers: dict[int, tuple[FormSchema, Normaliser]] = {}  # per form version, for every chunk
        # A first normalisation has nothing to delete (and must not scan the growing tables for it).
        for ids, replace in ((fresh, False), (renormalise, True)):
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                result.normalised += _renormalise(
                    session, project, form, mapping, chunk, catalog, normalisers, replace=replace
                )
    # A bundled form's shipped mapping installed just now moved the mapping mark: read it afresh.
    marks.version_mark, marks.review_mark = now[0], now[1]
    marks.mapping_mark = session.scalar(select(func.max(IndicatorMapping.id))) or 0
    marks.refreshed_at = dt.datetime.now(dt.UTC)
    session.flush()
    return result


@dataclass(frozen=True)
class Freshness:
    """How current a project's figures are: the last refresh, and whether one is queued or running."""

    refreshed_at: dt.datetime | None
    pending: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "refreshedAt": self.refreshed_at.isoformat() if self.refreshed_at else None,
            "updatePending": self.pending,
        }


def freshness(session: Session, *, project: Project) -> Freshness:
    """Read only: the refresh marks and the project's refresh job (two primary/unique key look-ups)."""
    marks = session.get(IndicatorRefreshMark, project.id)
    pending = jobs.pending_for(session, f"indicators:{project.id}") is not None
    return Freshness(marks.refreshed_at if marks is not None else None, pending)


def _late_commits(session: Session, project: Project, marks: IndicatorRefreshMark) -> bool:
    """Whether a submission version or review event with an id at or below the marks committed after
    the refresh that set them (PostgreSQL hands ids out at insert, so a transaction that inserted
    before a concurrent one may commit after it and after a refresh saw the higher id).

    Only the last ``LATE_WINDOW`` ids below each mark are looked at: a late commit is a transaction
    that was in flight during the refresh, so its ids are among the most recent. Each is a primary-key
    range, then the submissions and records by unique keys, skipping what is already normalised (the
    current version of a submission of a mapped form whose record holds that version, in the
    submission's state)."""
    s, v, r = Submission, SubmissionVersion, CanonicalRecord
    mapped = session.scalars(
        select(IndicatorMapping.form_id)
        .join(Form, Form.id == IndicatorMapping.form_id)
        .where(Form.project_id == project.id, IndicatorMapping.status == "confirmed")
    ).all()
    # In steps, by primary and unique keys: as one join the planner may scan the submissions.
    window = dict(
        session.execute(
            select(v.id, v.submission_id).where(
                v.id > marks.version_mark - LATE_WINDOW, v.id <= marks.version_mark
            )
        ).all()
    )
    version = None
    if mapped and window:
        for current, normalised in session.execute(
            select(s.current_version_id, r.source_version_id)
            .outerjoin(r, r.submission_id == s.id)
            .where(s.id.in_(set(window.values())), s.form_id.in_(mapped))
        ):
            if current in window and current != normalised:
                version = current
                break
    if version is not None:
        return True
    review = session.scalar(
        select(ReviewEvent.id)
        .join(s, s.id == ReviewEvent.submission_id)
        .join(r, r.submission_id == s.id)
        .where(
            ReviewEvent.id > marks.review_mark - LATE_WINDOW,
            ReviewEvent.id <= marks.review_mark,
            r.project_id == project.id,
            r.review_state != s.review_state,
        )
        .limit(1)
    )
    return review is not None


def _lock_marks(session: Session, project: Project) -> IndicatorRefreshMark:
    """The project's marks, read again once this transaction holds the project's refresh lock.

    Two app servers answering reads at the same moment would otherwise both normalise the same new
    submissions and the second would hit the unique record per submission. PostgreSQL: a transaction
    advisory lock, so the second waits and then finds the work done. SQLite transactions already start
    with the write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(REFRESH_LOCK, project.id)))
    marks = session.get(IndicatorRefreshMark, project.id, populate_existing=True)
    if marks is None:
        marks = IndicatorRefreshMark(project_id=project.id, version_mark=-1, review_mark=-1, mapping_mark=-1)
        session.add(marks)
    return marks


# Bundled forms whose submissions are not survey answers (the 5W activity report).
_NOT_SURVEYS = frozenset(f.form_id for f in bundled_forms() if f.kind != "survey")


def _mapped_forms(
    session: Session, project: Project, result: RefreshResult
) -> list[tuple[Form, IndicatorMapping]]:
    found = []
    for form in session.scalars(select(Form).where(Form.project_id == project.id).order_by(Form.id)).all():
        if form.xml_form_id in _NOT_SURVEYS:
            continue  # its submissions feed the 5W rows, not the indicators: nothing to map
        mapping = indicator_mappings.current_mapping(session, form=form)
        if mapping is None:
            result.unmapped_forms.append(form.xml_form_id)
        else:
            found.append((form, mapping))
    return found


def _stale(
    session: Session, form: Form, mapping: IndicatorMapping, *, only: sa.Select[Any] | None = None
) -> tuple[list[int], list[int], dict[str, list[int]]]:
    """The submissions normalised for the first time, those to renormalise, and those whose review
    state alone changed (by new state)."""
    s, r = Submission, CanonicalRecord
    rows = session.execute(
        select(s.id, s.review_state, r.id, r.source_version_id == s.current_version_id, r.mapping_id)
        .select_from(s)
        .outerjoin(r, r.submission_id == s.id)
        .where(
            s.form_id == form.id,
            record_scope.visible(s),
            s.id.in_(only) if only is not None else sa.true(),
            or_(
                r.id.is_(None),
                r.source_version_id.is_distinct_from(s.current_version_id),
                r.mapping_id.is_distinct_from(mapping.id),
                r.review_state != s.review_state,
            ),
        )
    ).all()
    fresh: list[int] = []
    renormalise: list[int] = []
    restate: dict[str, list[int]] = defaultdict(list)
    for sub_id, state, record_id, same_version, mapping_id in rows:
        if record_id is None:
            fresh.append(sub_id)
        elif not same_version or mapping_id != mapping.id:
            renormalise.append(sub_id)
        else:
            restate[state].append(sub_id)
    return fresh, renormalise, restate


def _forget_trashed(session: Session, form: Form) -> None:
    """Trashed submissions leave the figures: their canonical rows and facts are deleted (a restore
    makes them new again, normalised on this same path)."""
    gone = list(
        session.scalars(
            select(CanonicalRecord.submission_id)
            .join(Submission, Submission.id == CanonicalRecord.submission_id)
            .where(Submission.form_id == form.id, record_scope.trashed())
        )
    )
    for start in range(0, len(gone), CHUNK):
        delete_rows(session, gone[start : start + CHUNK])


def invalidate(session: Session, *, project_id: int) -> None:
    """Make the next refresh take the staleness path: trashing or restoring moves none of the marks
    (no version, review event or mapping is added), so the quick look-ups would see nothing to do."""
    session.execute(
        update(IndicatorRefreshMark)
        .where(IndicatorRefreshMark.project_id == project_id)
        .values(version_mark=-1)
        .execution_options(synchronize_session=False)
    )


def _update_states(session: Session, restate: dict[str, list[int]]) -> int:
    count = 0
    for state, ids in restate.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.execute(
                update(CanonicalRecord)
                .where(CanonicalRecord.submission_id.in_(chunk))
                .values(review_state=state)
                .execution_options(synchronize_session=False)
            )
            for facts in (IndicatorFact, FlowFact):
                session.execute(
                    update(facts)
                    .where(facts.submission_id.in_(chunk))
                    .values(review_state=state)
                    .execution_options(synchronize_session=False)
                )
            count += len(chunk)
    return count


def _renormalise(
    session: Session,
    project: Project,
    form: Form,
    mapping: IndicatorMapping,
    submission_ids: Sequence[int],
    catalog: Catalog,
    normalisers: dict[int, tuple[FormSchema, Normaliser]],
    *,
    replace: bool,
) -> int:
    if replace:
        delete_rows(session, submission_ids)
    pairs = session.execute(
        select(Submission, SubmissionVersion)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id, isouter=True)
        .where(Submission.id.in_(submission_ids))
    ).all()
    label = indicator_mappings.mapping_label(form, mapping)
    org_code = project.organisation.code
    records: list[tuple[CanonicalRecord, NormalisedResult | None, Submission]] = []
    for submission, version in pairs:
        result = None
        if version is not None and version.values and not submission.is_encrypted:
            prepared = normalisers.get(version.form_version_id)
            if prepared is None:
                form_version = session.get(FormVersion, version.form_version_id)
                assert form_version is not None
                schema = FormSchema.from_dict(form_version.schema)
                registry = sites.registry_lookup(session, project_id=project.id)
                prepared = normalisers[version.form_version_id] = (
                    schema,
                    Normaliser(schema, mapping.document, catalog, registry=registry),
                )
            schema, normaliser = prepared
            meta = {
                "submission_id": submission.instance_id,
                "form_id": form.xml_form_id,
                "form_version": schema.version,
                "org_code": org_code,
                # The device's end time is mapped when the form has one; else the server's receive date.
                "collected_at": version.received_at.date(),
            }
            result = normaliser.normalise(version.values, meta)
        record = _record(project, form, mapping, label, submission, version, result)
        session.add(record)
        records.append((record, result, submission))
        _set_flag(submission, result)
    session.flush()
    persons: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    for record, result, submission in records:
        if result is None:
            continue
        plain = result.to_json()
        persons.extend(
            {"record_id": record.id, "person_index": i, "values": p, "sources": src}
            for i, (p, src) in enumerate(zip(plain["persons"], plain["person_sources"], strict=True))
        )
        unmapped.extend(
            {
                "record_id": record.id,
                "project_id": project.id,
                "form_id": form.id,
                "mapping_version": label,
                "field": u.field[:128],
                "source_path": u.source_path[:512],
                "raw_value": _text(u.raw_value),
                "reason": u.reason,
                "person_index": u.person,
            }
            for u in result.unmapped
        )
        if record.excluded_reason is None:
            common = {
                "project_id": project.id,
                "form_id": form.id,
                "submission_id": submission.id,
                "review_state": submission.review_state,
                "mapping_version": label,
            }
            facts.extend(common | row for row in record_facts(result, catalog))
            facts.extend(common | row for row in sadd_facts(result, result.counts, catalog))
            flow = flow_fact(result.record, result.counts)
            if flow is not None:
                flows.append({k: v for k, v in common.items() if k != "mapping_version"} | flow)
    _insert(session, CanonicalPerson, persons)
    _insert(session, UnmappedValue, unmapped)
    _insert(session, IndicatorFact, facts)
    _insert_flows(session, flows)
    return len(records)


def _record(
    project: Project,
    form: Form,
    mapping: IndicatorMapping,
    label: str,
    submission: Submission,
    version: SubmissionVersion | None,
    result: NormalisedResult | None,
) -> CanonicalRecord:
    plain = result.to_json() if result is not None else None
    excluded = None
    if result is None:
        excluded = "encrypted" if submission.is_encrypted else "no_values"
    elif result.record.get("submission.consent") in NO_CONSENT:
        excluded = "no_consent"
    return CanonicalRecord(
        submission_id=submission.id,
        project_id=project.id,
        form_id=form.id,
        source_version_id=version.id if version is not None else None,
        mapping_id=mapping.id,
        mapping_version=label,
        review_state=submission.review_state,
        excluded_reason=excluded,
        has_roster=bool(result and result.has_roster),
        values=plain["record"] if plain else {},
        sources=plain["sources"] if plain else {},
        normalised_at=dt.datetime.now(dt.UTC),
    )


def delete_rows(session: Session, submission_ids: Sequence[int]) -> None:
    """The canonical rows and facts of these submissions (a renormalisation, a trash, a purge)."""
    record_ids = select(CanonicalRecord.id).where(CanonicalRecord.submission_id.in_(submission_ids))
    for model in (CanonicalPerson, UnmappedValue):
        session.execute(
            delete(model).where(model.record_id.in_(record_ids)).execution_options(synchronize_session=False)
        )
    flow_ids = select(FlowFact.id).where(FlowFact.submission_id.in_(submission_ids))
    session.execute(
        delete(FlowFactTransport)
        .where(FlowFactTransport.fact_id.in_(flow_ids))
        .execution_options(synchronize_session=False)
    )
    for facts in (IndicatorFact, FlowFact):
        session.execute(
            delete(facts)
            .where(facts.submission_id.in_(submission_ids))
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(CanonicalRecord)
        .where(CanonicalRecord.submission_id.in_(submission_ids))
        .execution_options(synchronize_session=False)
    )


def _insert_flows(session: Session, flows: list[dict[str, Any]]) -> None:
    """The flow facts and a ``flow_fact_transports`` row per mode of each (the ids come back in the
    facts' order, so each fact's modes go to its own id)."""
    for start in range(0, len(flows), 5000):
        batch = flows[start : start + 5000]
        ids = session.scalars(
            insert(FlowFact).returning(FlowFact.id, sort_by_parameter_order=True),
            [{k: v for k, v in row.items() if k != "transports"} for row in batch],
        ).all()
        modes = [
            {"fact_id": fact_id, "transport": mode}
            for fact_id, row in zip(ids, batch, strict=True)
            for mode in row["transports"]
        ]
        session.execute(insert(FlowFactTransport), modes)


def _insert(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    for start in range(0, len(batch), 5000):
        session.execute(insert(model), batch[start : start + 5000])


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _set_flag(submission: Submission, result: NormalisedResult | None) -> None:
    """The ``unmapped_values`` quality flag: raised while any answer of the submission waits in the
    review queue, cleared once the mapping covers them all."""
    if result is not None and result.unmapped:
        message = (
            f"{len(result.unmapped)} answer(s) have no canonical code yet; they count as unknown until "
            "the form's mapping is extended."
        )
        details = {"fields": sorted({u.field for u in result.unmapped})}
        current = next((f for f in submission.quality_flags or [] if f.get("code") == UNMAPPED_FLAG), None)
        if current is None or current.get("message") != message or current.get("details") != details:
            quality.set_flag(submission, UNMAPPED_FLAG, message, details)
    else:
        quality.clear_flag(submission, UNMAPPED_FLAG)


def unmapped_summary(
    session: Session, *, project: Project, limit: int = 50, records: sa.Select[Any] | None = None
) -> list[dict[str, Any]]:
    """The review queue grouped by form, field and value, most frequent first; ``records``: a select of
    the canonical record ids to cover (a partner's own), None for all."""
    u = UnmappedValue
    conds = [u.project_id == project.id]
    if records is not None:
        conds.append(u.record_id.in_(records))
    rows = session.execute(
        select(Form.xml_form_id, u.field, u.source_path, u.raw_value, u.reason, sa.func.count())
        .join(Form, Form.id == u.form_id)
        .where(*conds)
        .group_by(Form.xml_form_id, u.field, u.source_path, u.raw_value, u.reason)
        .order_by(sa.func.count().desc(), Form.xml_form_id, u.field)
        .limit(limit)
    ).all()
    return [
        {"form": f, "field": fld, "sourcePath": p, "value": v, "reason": why, "count": c}
        for f, fld, p, v, why, c in rows
    ]
