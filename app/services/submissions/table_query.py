"""The review table's query: filter, sort and paginate a form's submissions, fast at 100,000 rows.

Moving page by page is keyset pagination: the Previous and Next links carry the id of the row the page
starts after (or ends before), and the next page is one index range from that row's sort key, whatever
the depth. A page asked for by number alone (a bookmark, the first and last page) is read by offset
from whichever end of the ordering is nearer, so the last page costs what the first does. Every sort
ends with the id as a tie-breaker, so pages never overlap.

The total shown above the table is an exact count up to ``EXACT_COUNT_LIMIT`` matching rows, and
above it on PostgreSQL the planner's estimate, shown as "about N" (``page_total``), so no page view
counts 100,000 rows. Counts and offsets over every live row of one form are index-only scans of the
partial index of migration 0024 on (form, received, id) over rows not in the trash. The reader's row filter
(``row_access.visible_rows``) is ``true`` or a single column comparison for that reason. The other
indexes of migration 0004 cover the common filters ((form, review state, received), (form, device,
received), (form, device credential, received), each ending with the id), and trigram indexes the
free-text search on PostgreSQL. The page query fetches ids only; the rows of one page are loaded
afterwards. Sorting by name or device ID sorts the whole filtered set (no index): still well under the
target at 100,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.orm import Session

from app.errors import InvalidValueError
from app.models import AppUser, FormVersion, ProjectRole, Submission, SubmissionVersion, User
from app.models.submission import REVIEW_STATES
from app.services.protection import record_scope

PAGE_SIZES = (10, 25, 50, 100, 200)
FLAG_CODES = (
    "short_interview",
    "likely_duplicate",
    "geopoint_missing",
    "geopoint_outside",
    "revoked_device",
    "attachments_missing",
    "unmapped_values",
    "edit_conflict",
)
# Sort keys the table offers; text columns are coalesced so NULLs sort (and page) predictably.
SORTS: dict[str, Any] = {
    "received": Submission.created_at,
    "name": func.coalesce(Submission.instance_name, ""),
    "state": Submission.review_state,
    "device": func.coalesce(Submission.device_id, ""),
}
MAX_BULK = 10000
# Above this many matching rows (PostgreSQL's estimate) the table shows the estimate, not a count.
EXACT_COUNT_LIMIT = 20_000


@dataclass(frozen=True)
class SubmissionFilter:
    """What the table shows: one form's submissions narrowed by these fields (None: no condition).
    ``rows`` is the reader's row filter (``row_access.visible_rows``): required, so no table forgets it."""

    form_id: int
    rows: ColumnElement[bool]
    form_version_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None  # inclusive
    submitter: str | None = None  # "u:<user id>" or "a:<app user id>"
    device_id: str | None = None
    review_state: str | None = None  # a review state, or "awaiting"
    flag: str | None = None  # a flag code, or "any"
    hub_id: int | None = None
    search: str | None = None
    sort: str = "received"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise InvalidValueError(f"Sort by one of: {', '.join(SORTS)}.")
        if self.review_state and self.review_state not in (*REVIEW_STATES, "awaiting"):
            raise InvalidValueError(f"Unknown review state {self.review_state!r}.")
        if self.flag and self.flag not in (*FLAG_CODES, "any", "none"):
            raise InvalidValueError(f"Unknown quality flag {self.flag!r}.")
        if self.submitter and not (self.submitter[:2] in ("u:", "a:") and self.submitter[2:].isdigit()):
            raise InvalidValueError("The enumerator filter is 'u:<user id>' or 'a:<device id>'.")


def _conditions(f: SubmissionFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Submission.form_id == f.form_id, f.rows, record_scope.visible()]
    if f.received_from:
        conds.append(Submission.created_at >= datetime.combine(f.received_from, time.min, tzinfo=UTC))
    if f.received_to:
        end = datetime.combine(f.received_to + timedelta(days=1), time.min, tzinfo=UTC)
        conds.append(Submission.created_at < end)
    if f.submitter:
        kind, ident = f.submitter[0], int(f.submitter[2:])
        column = Submission.submitter_user_id if kind == "u" else Submission.submitter_app_user_id
        conds.append(column == ident)
    if f.device_id:
        conds.append(Submission.device_id == f.device_id)
    if f.review_state == "awaiting":
        conds.append(Submission.review_state.in_(("received", "edited")))
    elif f.review_state:
        conds.append(Submission.review_state == f.review_state)
    if f.flag == "any":
        conds.append(Submission.flag_codes != "")
    elif f.flag == "none":
        conds.append(Submission.flag_codes == "")
    elif f.flag:
        conds.append(Submission.flag_codes.like(f"% {f.flag} %"))
    if f.form_version_id is not None or f.hub_id is not None:
        version_conds = [SubmissionVersion.id == Submission.current_version_id]
        if f.form_version_id is not None:
            version_conds.append(SubmissionVersion.form_version_id == f.form_version_id)
        if f.hub_id is not None:
            version_conds.append(SubmissionVersion.hub_id == f.hub_id)
        conds.append(select(SubmissionVersion.id).where(*version_conds).exists())
    if f.search:
        # lower(col) LIKE lower(term): served on PostgreSQL by the lower() trigram indexes of migration
        # 0007 (not ILIKE on the bare column, whose index the planner would also use for equality).
        escaped = f.search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        term = f"%{escaped}%"
        conds.append(
            or_(
                *(
                    func.lower(column).like(term, escape="\\")
                    for column in (Submission.instance_name, Submission.instance_id, Submission.device_id)
                )
            )
        )
    return conds


def _ordered(query: Select[Any], f: SubmissionFilter) -> Select[Any]:
    key = SORTS[f.sort]
    if f.descending:
        return query.order_by(key.desc(), Submission.id.desc())
    return query.order_by(key.asc(), Submission.id.asc())


@dataclass
class Row:
    submission: Submission
    version_string: str
    submitter: str
    hub_id: int | None


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    per_page: int
    ids: list[int] = field(default_factory=list)
    exact: bool = True  # False: ``total`` is PostgreSQL's estimate (EXACT_COUNT_LIMIT)
    at_end: bool = False  # the page holds the last rows of the ordering (read from the other end)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def next_after(self) -> int | None:
        """The cursor of the Next link: the last row of this page."""
        if not self.ids or self.at_end:
            return None
        # An estimated total may be short: then a full page is the sign that more rows follow.
        more = self.page < self.pages if self.exact else len(self.ids) == self.per_page
        return self.ids[-1] if more else None

    @property
    def previous_before(self) -> int | None:
        """The cursor of the Previous link (none to page 1, which is read from the start)."""
        return self.ids[0] if self.ids and self.page > 2 else None


def count(session: Session, f: SubmissionFilter) -> int:
    return int(session.scalar(select(func.count(Submission.id)).where(*_conditions(f))) or 0)


def page_total(session: Session, f: SubmissionFilter) -> tuple[int, bool]:
    """The table's total and whether it is exact. An exact count reads every matching index entry on
    every page view, so on PostgreSQL the count stops at ``EXACT_COUNT_LIMIT`` rows, and a filter
    that matches more shows the planner's estimate instead ("about 100,000"): a number read from the
    table's statistics, the same at 100,000 rows as at ten million. SQLite always counts."""
    if session.get_bind().dialect.name != "postgresql":
        return count(session, f), True
    conds = _conditions(f)
    first = select(Submission.id).where(*conds).limit(EXACT_COUNT_LIMIT + 1).subquery()
    found = int(session.scalar(select(func.count()).select_from(first)) or 0)
    if found <= EXACT_COUNT_LIMIT:
        return found, True
    return max(found, _estimated_rows(session, select(Submission.id).where(*conds))), False


def _estimated_rows(session: Session, query: Select[Any]) -> int:
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0


def list_page(
    session: Session,
    f: SubmissionFilter,
    *,
    page: int = 1,
    per_page: int = 50,
    after: int | None = None,
    before: int | None = None,
) -> Page:
    """One page of the table, with its total. ``after`` (or ``before``) is the id of the row the page
    follows (or precedes) in the table's order: the Next and Previous links' cursors."""
    if per_page not in PAGE_SIZES:
        per_page = 50
    total, exact = page_total(session, f)
    pages = max(1, -(-total // per_page))
    cursor = after is not None or before is not None
    page = max(1, page) if cursor and not exact else min(max(1, page), pages)
    conds = _conditions(f)
    ids: list[int] | None = None
    at_end = False
    # With an exact total, the first and last pages are read from their ends whatever the link said;
    # with an estimate, only the cursor knows where the page is.
    if cursor and page != 1 and (page != pages or not exact):
        ids = _from_cursor(session, f, conds, after=after, before=before, per_page=per_page)
    if ids is None and not exact and page >= pages > 1:
        # The last page of an estimated total: the last rows, read from the other end.
        reverse = replace(f, descending=not f.descending)
        query = _ordered(select(Submission.id).where(*conds), reverse).limit(per_page)
        ids, page, at_end = list(session.scalars(query))[::-1], pages, True
    if ids is None:
        ids = _by_number(session, f, conds, page=page, per_page=per_page, total=total)
    return Page(
        rows=load_rows(session, ids),
        total=total,
        page=page,
        per_page=per_page,
        ids=ids,
        exact=exact,
        at_end=at_end,
    )


def _from_cursor(
    session: Session,
    f: SubmissionFilter,
    conds: list[ColumnElement[bool]],
    *,
    after: int | None,
    before: int | None,
    per_page: int,
) -> list[int] | None:
    """The page after ``after`` (or before ``before``): one index range. None when the cursor is not a
    row of this form (a trashed or junk id), so the caller falls back to the page number."""
    key = SORTS[f.sort]
    cursor = after if after is not None else before
    found = session.execute(
        select(key).where(Submission.id == cursor, Submission.form_id == f.form_id)
    ).first()
    if found is None:
        return None
    mark = tuple_(key, Submission.id)
    here = tuple_(found[0], cursor)
    forward = after is not None
    later = mark < here if f.descending else mark > here  # "later in the table's order"
    earlier = mark > here if f.descending else mark < here
    if forward:
        ids = list(session.scalars(_ordered(select(Submission.id).where(*conds, later), f).limit(per_page)))
    else:
        reverse = replace(f, descending=not f.descending)
        query = _ordered(select(Submission.id).where(*conds, earlier), reverse).limit(per_page)
        ids = list(session.scalars(query))[::-1]
    return ids or None  # nothing beyond the cursor any more: the numbered page instead


def _by_number(
    session: Session,
    f: SubmissionFilter,
    conds: list[ColumnElement[bool]],
    *,
    page: int,
    per_page: int,
    total: int,
) -> list[int]:
    """Page ``page`` by offset, counted from the nearer end of the ordering."""
    start, stop = (page - 1) * per_page, min(page * per_page, total)
    if start <= total - stop:
        query = _ordered(select(Submission.id).where(*conds), f).limit(per_page).offset(start)
        return list(session.scalars(query))
    reverse = replace(f, descending=not f.descending)
    query = _ordered(select(Submission.id).where(*conds), reverse).limit(stop - start).offset(total - stop)
    return list(session.scalars(query))[::-1]


def load_rows(session: Session, ids: list[int]) -> list[Row]:
    """The table rows for ``ids``, in that order, with version strings and submitter names."""
    if not ids:
        return []
    subs = {s.id: s for s in session.scalars(select(Submission).where(Submission.id.in_(ids)))}
    versions = {
        sid: (vstring, hub)
        for sid, vstring, hub in session.execute(
            select(Submission.id, FormVersion.version, SubmissionVersion.hub_id)
            .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
            .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
            .where(Submission.id.in_(ids))
        )
    }
    names = submitter_names(session, list(subs.values()))
    return [
        Row(
            submission=subs[i],
            version_string=versions.get(i, ("", None))[0],
            submitter=names.get(i, ""),
            hub_id=versions.get(i, ("", None))[1],
        )
        for i in ids
        if i in subs
    ]


def submitter_names(session: Session, subs: list[Submission]) -> dict[int, str]:
    user_ids = {s.submitter_user_id for s in subs if s.submitter_user_id}
    app_ids = {s.submitter_app_user_id for s in subs if s.submitter_app_user_id}
    users: dict[int, str] = {}
    apps: dict[int, str] = {}
    if user_ids:
        query = select(User.id, User.display_name, User.email).where(User.id.in_(user_ids))
        users = {uid: name or email for uid, name, email in session.execute(query)}
    if app_ids:
        query2 = select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(app_ids))
        apps = {aid: name for aid, name in session.execute(query2)}
    out = {}
    for s in subs:
        if s.submitter_app_user_id:
            out[s.id] = str(apps.get(s.submitter_app_user_id, ""))
        elif s.submitter_user_id:
            out[s.id] = str(users.get(s.submitter_user_id, ""))
    return out


def matching_ids(session: Session, f: SubmissionFilter, *, limit: int = MAX_BULK) -> list[int]:
    """Ids of every submission the filter matches (bulk review), refusing more than ``limit``."""
    ids = list(session.scalars(_ordered(select(Submission.id).where(*_conditions(f)), f).limit(limit + 1)))
    if len(ids) > limit:
        raise InvalidValueError(
            f"The filter matches more than {limit} submissions. Narrow it (a date range, a state) and "
            "review in several steps."
        )
    return ids


def neighbours(session: Session, f: SubmissionFilter, current: Submission) -> tuple[int | None, int | None]:
    """The submissions before and after ``current`` in the table's order (for moving through a queue)."""
    key = SORTS[f.sort]
    value = session.scalar(select(key).where(Submission.id == current.id))
    conds = _conditions(f)
    # Row-value comparisons: PostgreSQL turns them into one index range, where an OR would scan.
    after_cond = tuple_(key, Submission.id) < tuple_(value, current.id)
    before_cond = tuple_(key, Submission.id) > tuple_(value, current.id)
    if not f.descending:
        after_cond, before_cond = before_cond, after_cond
    nxt = session.scalar(_ordered(select(Submission.id).where(*conds, after_cond), f).limit(1))
    reverse = replace(f, descending=not f.descending)
    prev = session.scalar(_ordered(select(Submission.id).where(*conds, before_cond), reverse).limit(1))
    return prev, nxt


def filter_choices(session: Session, *, project_id: int, form_id: int) -> dict[str, list[tuple[str, str]]]:
    """The values the table's select boxes offer: the form's versions, and the project's device
    credentials and people (read from their own small tables, not from 100,000 submissions)."""
    versions = [
        (str(vid), v or "—")
        for vid, v in session.execute(
            select(FormVersion.id, FormVersion.version)
            .where(FormVersion.form_id == form_id, FormVersion.published_at.is_not(None))
            .order_by(FormVersion.published_at.desc())
        )
    ]
    submitters = [
        (f"a:{i}", name)
        for i, name in session.execute(
            select(AppUser.id, AppUser.display_name).where(AppUser.project_id == project_id)
        )
    ] + [
        (f"u:{i}", name or email)
        for i, name, email in session.execute(
            select(User.id, User.display_name, User.email)
            .join(ProjectRole, ProjectRole.user_id == User.id)
            .where(ProjectRole.project_id == project_id)
        )
    ]
    return {"versions": versions, "submitters": sorted(submitters, key=lambda p: p[1].lower())}


def conditions(f: SubmissionFilter) -> list[ColumnElement[bool]]:
    """The filter's WHERE conditions, for other views of the same rows (the map)."""
    return _conditions(f)
