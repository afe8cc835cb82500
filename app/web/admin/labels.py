"""Translatable names for the codes the admin shows: form states, review states, quality flags."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
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
    "edit_conflict": _l("conflicting edit"),
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


def _num(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if value == int(value) else f"{value:.1f}"
    return str(value)


def _reason(code: str, d: dict[str, Any]) -> str | None:
    """The flag's reason in the reviewer's language, from the numbers kept in its details."""
    if code == "short_interview":
        if float(d["minutes"]) < 0:
            return gettext("The interview's end time is before its start time.")
        return gettext(
            "Interview took %(minutes)s min; the form's minimum is %(minimum)s min.",
            minutes=_num(d["minutes"]),
            minimum=_num(d["minimum"]),
        )
    if code == "likely_duplicate":
        return gettext(
            "Same %(fields)s as submission %(instance)s (received %(received)s).",
            fields=", ".join(d["fields"]),
            instance=d["instanceId"],
            received=d["received"],
        )
    if code == "geopoint_missing":
        return gettext("The form asks for a location (%(field)s) but none was recorded.", field=d["field"])
    if code == "geopoint_outside":
        return gettext(
            "Location %(lat)s, %(lon)s (%(field)s) is outside the project's countries (%(countries)s).",
            lat=f"{float(d['lat']):.4f}",
            lon=f"{float(d['lon']):.4f}",
            field=d["field"],
            countries=", ".join(d["countries"]),
        )
    if code == "attachments_missing":
        return gettext(
            "%(missing)s of %(expected)s expected files have not arrived yet.",
            missing=d["missing"],
            expected=d["expected"],
        )
    if code == "edit_conflict":
        return " ".join(
            gettext(
                "Edit %(edit)s replaces %(replaced)s, which edit %(earlier)s had already replaced: "
                "both are kept, check which one is right.",
                edit=e["instanceId"],
                replaced=e["deprecatedId"],
                earlier=e["earlierId"],
            )
            for e in d["edits"]
        )
    if code == "revoked_device":
        if "deviceId" in d:
            return gettext(
                "Sent from device %(device)s, whose credential %(name)s was revoked on %(date)s.",
                device=d["deviceId"],
                name=d["appUser"],
                date=str(d["revokedAt"])[:10],
            )
        if "hub" in d:
            return gettext("Sent through the revoked hub %(name)s.", name=d["hub"])
        return gettext("Sent with the revoked device credential %(name)s.", name=d["appUser"])
    return None


def flag_reason(flag: dict[str, Any]) -> str:
    """Why a stored flag fired; its stored English message when the details do not say."""
    try:
        found = _reason(str(flag.get("code")), flag.get("details") or {})
    except (KeyError, TypeError, ValueError):
        found = None
    return found or str(flag.get("message") or "")
