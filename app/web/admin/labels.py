"""Translatable names for the codes the admin shows: form states, review states, quality flags."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "open": _l("open"),
    "closing": _l("closing"),
    "closed": _l("closed"),
    "received": _l("received"),
    "hasIssues": _l("has issues"),
    "edited": _l("edited"),
    "approved": _l("approved"),
    "rejected": _l("rejected"),
    "awaiting": _l("awaiting review"),
}

FLAG_LABELS = {
    "short_interview": _l("short interview"),
    "likely_duplicate": _l("likely duplicate"),
    "geopoint_missing": _l("location missing"),
    "geopoint_outside": _l("location outside the project's countries"),
    "revoked_device": _l("revoked device"),
    "attachments_missing": _l("files missing"),
    "unmapped_values": _l("unmapped values"),
}

ACTION_LABELS = {
    "approved": _l("Approve"),
    "hasIssues": _l("Has issues"),
    "rejected": _l("Reject"),
}


def label(code: str | None) -> str:
    if not code:
        return ""
    found = STATE_LABELS.get(code) or FLAG_LABELS.get(code)
    return str(found) if found is not None else code
