"""Reading the review table's filter from the query string, and writing it back into links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from app.errors import InvalidValueError
from app.services.submission_query import SubmissionFilter

FILTER_KEYS = ("version", "from", "to", "submitter", "device", "state", "flag", "hub", "q", "sort", "dir")


def _date(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as err:
        raise InvalidValueError(f"The {name} date must look like 2026-11-23.") from err


def _int(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidValueError(f"The {name} filter must be a number.")
    return int(raw)


def parse_filter(args: Mapping[str, str], form_id: int) -> SubmissionFilter:
    return SubmissionFilter(
        form_id=form_id,
        form_version_id=_int(args.get("version"), "version"),
        received_from=_date(args.get("from"), "from"),
        received_to=_date(args.get("to"), "to"),
        submitter=args.get("submitter") or None,
        device_id=args.get("device") or None,
        review_state=args.get("state") or None,
        flag=args.get("flag") or None,
        hub_id=_int(args.get("hub"), "hub"),
        search=(args.get("q") or "").strip()[:200] or None,
        sort=args.get("sort") or "received",
        descending=args.get("dir", "desc") != "asc",
    )


def filter_args(args: Mapping[str, str]) -> dict[str, str]:
    """The filter's own query parameters (no page), as given."""
    return {k: args[k] for k in FILTER_KEYS if args.get(k)}


def query_string(args: dict[str, str], **changes: object) -> str:
    merged = {**args, **{k: str(v) for k, v in changes.items() if v is not None}}
    return urlencode({k: v for k, v in merged.items() if v != ""})
