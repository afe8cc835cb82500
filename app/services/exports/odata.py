"""Reading a form's data as OData: the model a caller may see, and one page of one table.

Never loads a form's submissions at once: the Submissions table reads one page (plus one row, to know
whether there is a next page) in SQL; a repeat table walks submissions in keyset batches until the
page is full. ``$filter`` is compiled from the parsed tree into a bound SQLAlchemy expression.
Every data read is an export and writes one audit event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import ForbiddenError, NotFoundError, ODataNotImplementedError, ODataQueryError
from app.exports.odata import filter as f
from app.exports.odata.model import ODataModel, Table, build_model
from app.exports.odata.options import Address, QueryOptions, SkipToken, row_options
from app.exports.odata.rows import RowOptions, SubmissionData, rows_for
from app.models import AppUser, Form, FormVersion, Project, Submission, SubmissionVersion, User
from app.models.submission import REVIEW_STATES
from app.services.audit import events as audit
from app.services.protection import record_scope, row_access, sensitive
from forms.schema import FormSchema

BATCH = 200  # submissions read per query while filling a repeat table's page


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    count: int | None
    next_token: SkipToken | None


def model_for(session: Session, *, actor: Actor, project: Project, form: Form) -> ODataModel:
    """The OData model of the form's published version, without the fields ``actor`` may not see."""
    version = form.current_version
    if version is None:
        raise NotFoundError("This form has no published version yet, so it has no OData feed.")
    schema = FormSchema.from_dict(version.schema)
    hidden = (
        frozenset()
        if sensitive.may_see_sensitive(session, actor, project)
        else sensitive.sensitive_paths(schema, project)
    )
    return build_model(schema, hidden)


# $filter -----------------------------------------------------------------------------------------

_DATETIME, _INT, _STRING, _REVIEW, _NUMBER, _BOOL, _NULL = (
    "datetime",
    "int",
    "string",
    "review",
    "n",
    "b",
    "null",
)

_COLUMNS: dict[str, tuple[Any, str]] = {
    "__id": (Submission.instance_id, _STRING),
    "__system/submissionDate": (Submission.created_at, _DATETIME),
    "__system/updatedAt": (Submission.updated_at, _DATETIME),
    "__system/submitterId": (
        sa.func.coalesce(Submission.submitter_user_id, Submission.submitter_app_user_id),
        _INT,
    ),
    "__system/reviewState": (Submission.review_state, _REVIEW),
    "__system/deviceId": (Submission.device_id, _STRING),
}

_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


class _Compiler:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def boolean(self, expr: f.Expr) -> Any:
        if isinstance(expr, f.BoolOp):
            parts = (self.boolean(expr.left), self.boolean(expr.right))
            return sa.and_(*parts) if expr.op == "and" else sa.or_(*parts)
        if isinstance(expr, f.Not):
            return sa.not_(self.boolean(expr.operand))
        if isinstance(expr, f.Compare):
            return self.compare(expr)
        if isinstance(expr, f.Literal) and isinstance(expr.value, bool):
            return sa.true() if expr.value else sa.false()
        raise ODataQueryError(
            "The $filter must be a condition, such as __system/reviewState eq 'approved'.",
            details={"option": "$filter"},
        )

    def value(self, expr: f.Expr) -> tuple[Any, str]:
        if isinstance(expr, f.Member):
            if expr.path not in _COLUMNS:
                raise ODataNotImplementedError(
                    f"$filter on {expr.path!r} is not supported. Filter on __id, "
                    "__system/submissionDate, __system/updatedAt, __system/submitterId, "
                    "__system/reviewState or __system/deviceId.",
                    details={"option": "$filter", "property": expr.path},
                )
            return _COLUMNS[expr.path]
        if isinstance(expr, f.Call):
            if expr.name == "now":
                return sa.literal(datetime.now(UTC), type_=Submission.created_at.type), _DATETIME
            column, kind = self.value(expr.args[0])
            if kind != _DATETIME:
                raise ODataQueryError(
                    f"{expr.name}() needs a date, such as {expr.name}(__system/submissionDate).",
                    details={"option": "$filter"},
                )
            if self.dialect == "postgresql":
                column = sa.func.timezone("UTC", column)
            return sa.cast(sa.extract(expr.name, column), sa.Integer), _INT
        if isinstance(expr, f.Literal):
            kind = {bool: _BOOL, int: _NUMBER, float: _NUMBER, str: _STRING}.get(type(expr.value), _DATETIME)
            return expr.value, _NULL if expr.value is None else kind
        return self.boolean(expr), _BOOL

    def literal_for(self, value: Any, kind: str, target: str) -> Any:
        if value is None:
            return None
        if target == _DATETIME:
            when = f.as_datetime(value)
            if when is None:
                raise ODataQueryError(
                    f"{value!r} is not a date; write 2024-01-31 or 2024-01-31T10:00:00Z.",
                    details={"option": "$filter"},
                )
            return when
        if target == _INT:
            if kind == _STRING and isinstance(value, str) and value.isdigit():
                value = int(value)  # Central reports submitterId as a string; accept it quoted too
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31:
                return value
            raise ODataQueryError(f"{value!r} is not a whole number.", details={"option": "$filter"})
        if target == _REVIEW:
            if value not in REVIEW_STATES:
                raise ODataQueryError(
                    f"{value!r} is not a review state; use null, 'hasIssues', 'edited', 'approved' or "
                    "'rejected'.",
                    details={"option": "$filter"},
                )
            return value
        if target == _STRING and not isinstance(value, str):
            raise ODataQueryError(
                f"Compare text with a quoted value, not {value!r}.", details={"option": "$filter"}
            )
        return value

    def compare(self, expr: f.Compare) -> Any:
        left, lkind = self.value(expr.left)
        right, rkind = self.value(expr.right)
        left_is_value = isinstance(expr.left, f.Literal)
        right_is_value = isinstance(expr.right, f.Literal)
        if left_is_value and not right_is_value:
            left = self.literal_for(left, lkind, rkind)
            lkind = rkind if left is not None else _NULL
        elif right_is_value and not left_is_value:
            right = self.literal_for(right, rkind, lkind)
            rkind = lkind if right is not None else _NULL
        if _REVIEW in (lkind, rkind) and _NULL in (lkind, rkind):
            # Central's null review state is Ruta's "received".
            column = left if lkind == _REVIEW else right
            return _OPS[expr.op](column, "received")
        if _NULL in (lkind, rkind):
            other, other_is_value = (right, right_is_value) if lkind == _NULL else (left, left_is_value)
            if other_is_value:
                other = sa.literal(other)
            if expr.op == "eq":
                return other.is_(None)
            if expr.op == "ne":
                return other.is_not(None)
            raise ODataQueryError("null can only be compared with eq or ne.", details={"option": "$filter"})
        if left_is_value and right_is_value:
            left = sa.literal(left)
        return _OPS[expr.op](left, right)


def _filtered(
    session: Session, form: Form, options: QueryOptions, address: Address, rows: ColumnElement[bool]
) -> Any:
    """The ids the request selects, of the rows the reader may see (``rows``: ``row_access``) and not
    in the trash."""
    query = sa.select(Submission.id).where(Submission.form_id == form.id, rows, record_scope.visible())
    if address.instance_id is not None:
        query = query.where(Submission.instance_id == address.instance_id)
    if options.filter is not None:
        dialect = session.get_bind().dialect.name
        query = query.where(_Compiler(dialect).boolean(options.filter))
    return query


# Reading -----------------------------------------------------------------------------------------


def _system(session: Session, subs: list[Any]) -> dict[int, dict[str, Any]]:
    """``__system`` for a page of submissions, in a few batched queries."""
    ids = [s.id for s in subs]
    edits = dict(
        session.execute(
            sa.select(SubmissionVersion.submission_id, sa.func.count())
            .where(SubmissionVersion.submission_id.in_(ids))
            .group_by(SubmissionVersion.submission_id)
        ).all()
    )
    versions = dict(
        session.execute(
            sa.select(SubmissionVersion.id, FormVersion.version)
            .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
            .where(SubmissionVersion.id.in_([s.current_version_id for s in subs if s.current_version_id]))
        ).all()
    )
    user_ids = {s.submitter_user_id for s in subs if s.submitter_user_id}
    app_user_ids = {s.submitter_app_user_id for s in subs if s.submitter_app_user_id}
    users = dict(session.execute(sa.select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
    app_users = dict(
        session.execute(sa.select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(app_user_ids))).all()
    )
    out: dict[int, dict[str, Any]] = {}
    for s in subs:
        submitter = s.submitter_user_id or s.submitter_app_user_id
        if s.submitter_user_id:
            name = users.get(s.submitter_user_id)
        else:
            name = app_users.get(s.submitter_app_user_id) if s.submitter_app_user_id else None
        out[s.id] = {
            "submissionDate": timestamp(s.created_at),
            "updatedAt": timestamp(s.updated_at),
            "submitterId": None if submitter is None else str(submitter),
            "submitterName": name or None,
            "attachmentsPresent": s.attachments_present or 0,
            "attachmentsExpected": s.attachments_expected or 0,
            "status": "notDecrypted" if s.is_encrypted else None,
            "reviewState": None if s.review_state == "received" else s.review_state,
            "deviceId": s.device_id,
            "edits": max(0, int(edits.get(s.id, 1)) - 1),
            "formVersion": versions.get(s.current_version_id) if s.current_version_id else None,
        }
    return out


def timestamp(value: datetime | None) -> str | None:
    """A time as OData and exports write it: UTC, milliseconds, ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _values(session: Session, version_ids: list[int | None]) -> dict[int, dict[str, Any]]:
    """Current values by submission version id."""
    wanted = [v for v in version_ids if v]
    rows = session.execute(
        sa.select(SubmissionVersion.id, SubmissionVersion.values).where(SubmissionVersion.id.in_(wanted))
    ).all()
    return {vid: values or {} for vid, values in rows}


_LIGHT = (Submission.id, Submission.instance_id, Submission.is_encrypted, Submission.current_version_id)
# What a Submissions row shows (plain columns: no ORM objects, no quality flags to decode).
_ROOT_COLUMNS = (
    *_LIGHT,
    Submission.created_at,
    Submission.updated_at,
    Submission.submitter_user_id,
    Submission.submitter_app_user_id,
    Submission.attachments_present,
    Submission.attachments_expected,
    Submission.review_state,
    Submission.device_id,
)
ROOT_COLUMNS = _ROOT_COLUMNS  # what exports read too


def _batches(session: Session, ids_query: Any, start: int) -> Iterator[list[Any]]:
    """Matching submissions (id, instance id, encrypted, current version) from id ``start`` on, in id
    order, ``BATCH`` at a time (keyset paging; plain rows, so nothing accumulates in the session)."""
    last = start - 1
    while True:
        subs = session.execute(
            sa.select(*_LIGHT)
            .where(Submission.id.in_(ids_query), Submission.id > last)
            .order_by(Submission.id)
            .limit(BATCH)
        ).all()
        if not subs:
            return
        yield list(subs)
        last = subs[-1].id


class _RowSource:
    """The rows one submission gives a repeat table, narrowed to one parent row when the address
    names it (the parent id is computed for the match even when $select leaves it out)."""

    def __init__(self, model: ODataModel, table: Table, ropts: RowOptions, address: Address) -> None:
        self.model, self.table, self.address = model, table, address
        self.strip = address.row_field if address.row_field and not ropts.parent_id else None
        self.ropts = replace(ropts, parent_id=True) if self.strip else ropts

    def rows(self, sub: Any, values: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        data = SubmissionData(
            sub.instance_id, {}, values.get(sub.current_version_id or 0, {}), sub.is_encrypted
        )
        rows = rows_for(self.model, self.table, data, self.ropts)
        field = self.address.row_field
        if field is None:
            return rows
        rows = [r for r in rows if r.get(field) == self.address.row_value]
        if self.strip:
            for r in rows:
                r.pop(self.strip, None)
        return rows


def _root_page(
    session: Session,
    model: ODataModel,
    table: Table,
    ids: Any,
    options: QueryOptions,
    size: int,
    ropts: RowOptions,
) -> tuple[list[dict[str, Any]], SkipToken | None]:
    query = sa.select(*_ROOT_COLUMNS).where(Submission.id.in_(ids))
    if options.skiptoken is not None:
        query = query.where(Submission.id >= options.skiptoken.sid)
    subs = list(session.execute(query.order_by(Submission.id).offset(options.skip).limit(size + 1)).all())
    more = subs[size:]
    subs = subs[:size]
    system = _system(session, subs) if subs else {}
    values = _values(session, [s.current_version_id for s in subs]) if subs else {}
    rows = [
        rows_for(
            model,
            table,
            SubmissionData(
                s.instance_id, system[s.id], values.get(s.current_version_id or 0, {}), s.is_encrypted
            ),
            ropts,
        )[0]
        for s in subs
    ]
    return rows, (SkipToken(more[0].id) if more else None)


def _repeat_page(
    session: Session, ids: Any, options: QueryOptions, size: int, source: _RowSource
) -> tuple[list[dict[str, Any]], SkipToken | None]:
    token = options.skiptoken or SkipToken(0)
    to_skip = options.skip
    page: list[dict[str, Any]] = []
    for subs in _batches(session, ids, token.sid):
        values = _values(session, [sub.current_version_id for sub in subs])
        for sub in subs:
            rows = source.rows(sub, values)
            first = token.rows if sub.id == token.sid else 0
            for index in range(first, len(rows)):
                if to_skip:
                    to_skip -= 1
                    continue
                if len(page) == size:
                    return page, SkipToken(sub.id, index)
                page.append(rows[index])
    return page, None


def _count(session: Session, table: Table, ids: Any, source: _RowSource) -> int:
    if table.node is None:
        return int(session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0)
    total = 0
    for subs in _batches(session, ids, 0):
        values = _values(session, [s.current_version_id for s in subs])
        total += sum(len(source.rows(s, values)) for s in subs)
    return total


def read_page(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    model: ODataModel,
    address: Address,
    options: QueryOptions,
    page_size: int,
    query_text: str,
    read_session: Session | None = None,
) -> Page:
    """One page of the table ``address`` names: at most ``$top`` rows and never more than
    ``page_size``; ``next_token`` says where the next page starts when more rows match. The rows come
    from ``read_session`` (a read replica) when given; the audit event goes to ``session``."""
    if row_access.reads_foreign_rows(session, actor, project, form.id):
        # OData hands rows over page by page, where no risk check over the whole selection can run.
        raise ForbiddenError(
            "These rows include rows collected by other organisations, which leave only through an "
            "export that passes the disclosure risk check: use GET .../submissions.csv.zip instead."
        )
    table = model.tables[address.table]
    ropts = row_options(model, table, options)
    reads = read_session or session
    ids = _filtered(reads, form, options, address, row_access.visible_rows(session, actor, project))
    size = page_size if options.top is None else min(options.top, page_size)
    audit.record(
        session,
        actor=actor,
        action="submission.export",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"format": "odata", "table": table.name, "query": query_text[:1000]},
    )
    source = _RowSource(model, table, ropts, address)
    rows: list[dict[str, Any]] = []
    token: SkipToken | None = None  # $top=0: nothing, and no next link to loop on
    if size > 0 and table.node is None:
        rows, token = _root_page(reads, model, table, ids, options, size, ropts)
    elif size > 0:
        rows, token = _repeat_page(reads, ids, options, size, source)
    count = _count(reads, table, ids, source) if options.count else None
    return Page(rows=rows, count=count, next_token=token)
