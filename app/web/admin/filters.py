"""Reading the review table's filter from the query string, and writing it back into links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import ColumnElement

from app.errors import InvalidValueError
from app.services.submissions.table_query import SubmissionFilter
from app.web import query

FILTER_KEYS = ("version", "from", "to", "submitter", "device", "state", "flag", "hub", "q", "sort", "dir")


class FilterArgs(query.QuerySchema):
    version = query.Count()
    hub = query.Count()
    submitter = query.Text(max_length=64)
    device = query.Text(max_length=255)
    state = query.Text(max_length=32)
    flag = query.Text(max_length=64)
    q = query.Text()
    sort = query.Text(max_length=32)
    dir = query.Text(max_length=8)
    # Dates are read below, with a message in the admin's terms.
    from_ = query.Text(data_key="from", max_length=32)
    to = query.Text(max_length=32)


def _date(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as err:
        raise InvalidValueError(f"The {name} date must look like 2026-11-23.") from err


def parse_filter(args: Mapping[str, str], form_id: int, rows: ColumnElement[bool]) -> SubmissionFilter:
    """``rows``: the reader's row filter (``row_access.visible_rows``)."""
    a = query.parse(FilterArgs(), args)
    return SubmissionFilter(
        form_id=form_id,
        rows=rows,
        form_version_id=a.get("version"),
        received_from=_date(a.get("from_"), "from"),
        received_to=_date(a.get("to"), "to"),
        submitter=a.get("submitter"),
        device_id=a.get("device"),
        review_state=a.get("state"),
        flag=a.get("flag"),
        hub_id=a.get("hub"),
        search=(a.get("q") or "").strip()[:200] or None,
        sort=a.get("sort") or "received",
        descending=a.get("dir", "desc") != "asc",
    )


def filter_args(args: Mapping[str, str]) -> dict[str, str]:
    """The filter's own query parameters (no page), as given."""
    return {k: args[k] for k in FILTER_KEYS if args.get(k)}


def query_string(args: dict[str, str], **changes: object) -> str:
    merged = {**args, **{k: str(v) for k, v in changes.items() if v is not None}}
    return urlencode({k: v for k, v in merged.items() if v != ""})
