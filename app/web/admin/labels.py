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

# Exports: the sensitive-field choices and a background export's status.
EXPORT_LABELS = {
    "sensitive-omit": _l("leave out"),
    "sensitive-pseudonym": _l("replace with a pseudonym"),
    "sensitive-include": _l("include (your role allows it)"),
    "export-queued": _l("queued"),
    "export-running": _l("running"),
    "export-done": _l("done"),
    "export-failed": _l("failed"),
    "export-expired": _l("expired"),
}

ACTION_LABELS = {
    "approved": _l("Approve"),
    "hasIssues": _l("Has issues"),
    "rejected": _l("Reject"),
}


def label(code: str | None) -> str:
    if not code:
        return ""
    found = STATE_LABELS.get(code) or FLAG_LABELS.get(code) or EXPORT_LABELS.get(code)
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


# What each audit action means, for the audit log page and its CSV (the code is kept beside it).
AUDIT_ACTION_LABELS = {
    "activities.accept": _l("5W activities accepted"),
    "activities.fix": _l("5W activity corrected"),
    "activities.import": _l("5W activities imported"),
    "activities.read": _l("5W activities read"),
    "activities.report": _l("5W activities reported"),
    "app_user.create": _l("device credential created"),
    "app_user.forms": _l("device forms changed"),
    "app_user.reissue": _l("device credential reissued"),
    "app_user.revoke": _l("device credential revoked"),
    "audit.export": _l("audit log exported"),
    "blobs.migrate": _l("stored files migrated"),
    "export.download": _l("background export downloaded"),
    "export.request": _l("background export requested"),
    "form.attachment": _l("form media uploaded"),
    "form.create": _l("form created"),
    "form.draft": _l("form draft uploaded"),
    "form.publish": _l("form published"),
    "form.quality.update": _l("quality checks changed"),
    "form.state": _l("form state changed"),
    "hub.batch": _l("hub batch received"),
    "hub.create": _l("hub created"),
    "hub.link": _l("hub linked"),
    "hub.revoke": _l("hub revoked"),
    "indicators.export": _l("indicators exported"),
    "indicators.mapping.confirm": _l("indicator mapping confirmed"),
    "job.retry": _l("job retried"),
    "organisation.create": _l("organisation created"),
    "plan.replace": _l("plan figures replaced"),
    "project.create": _l("project created"),
    "project.key.create": _l("encryption key created"),
    "project.role": _l("role changed"),
    "project.role.sensitive": _l("sensitive-data grant changed"),
    "project.update": _l("project changed"),
    "submission.attachments": _l("submission files received"),
    "submission.comment": _l("comment added"),
    "submission.create": _l("submission received"),
    "submission.decrypt": _l("submissions decrypted"),
    "submission.decrypt.denied": _l("decryption refused"),
    "submission.decrypt.failed": _l("decryption failed"),
    "submission.export": _l("submissions exported"),
    "submission.review": _l("submission reviewed"),
    "submission.review.bulk": _l("submissions reviewed in bulk"),
    "submission.view": _l("submission viewed"),
    "user.create": _l("user created"),
    "user.locale": _l("language changed"),
    "user.login.web": _l("logged in"),
    "user.logout.web": _l("logged out"),
    "user.password": _l("password changed"),
    "user.session.end": _l("API session ended"),
    "user.session.start": _l("API session started"),
    "webhook.create": _l("webhook created"),
    "webhook.delete": _l("webhook deleted"),
    "webhook.redeliver": _l("webhook redelivered"),
}


def audit_action_label(action: str) -> str:
    found = AUDIT_ACTION_LABELS.get(action)
    return str(found) if found is not None else action
