"""Flags computed when a submission (or a batch of them) is stored, and the small API others call.

Costs on the ingest hot path: no query at all unless the form has duplicate key fields, then one index
probe (``ix_submissions_form_duplicate_key``); the batch path makes one query per form. Everything else
comes from rows the ingest already holds (form, project, the sending credential).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import AppUser, Form, FormVersion, Project, Submission, SubmissionVersion
from app.services import version_cache
from app.services.quality import rules
from app.services.quality.rules import Flag, FormFields, FormQuality


def fields_for(version: FormVersion) -> FormFields:
    """What the rules read of a version (from the one per-version cache)."""
    return fields_for_id(None, version.id, version.sha256, version.schema)


def fields_for_id(
    session: Session | None, version_id: int, sha256: str, stored: dict[str, Any] | None = None
) -> FormFields:
    """:func:`fields_for` for the ingest hot path, which holds a version's id and sha256 but not the
    row: the schema is read only on a cache miss."""

    def build() -> FormFields:
        return FormFields.from_schema(version_cache.form_schema(session, version_id, sha256, stored))

    return version_cache.cached("quality.fields", version_id, sha256, build)


# --- the flag list on a submission -----------------------------------------------------------------


def _store(submission: Submission, flags: list[dict[str, Any]]) -> None:
    flags = sorted(flags, key=lambda f: str(f["code"]))
    submission.quality_flags = flags
    submission.flag_codes = codes_column(flags)


def codes_column(flags: Iterable[dict[str, Any]]) -> str:
    """ " a b " — what ``flag_codes LIKE '% a %'`` filters on."""
    codes = sorted({str(f["code"]) for f in flags})
    return f" {' '.join(codes)} " if codes else ""


def set_flag(submission: Submission, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    """Add or replace one flag (the indicators mapping sets ``unmapped_values``). Flushes nothing."""
    kept = [f for f in submission.quality_flags or [] if f.get("code") != code]
    _store(submission, [*kept, Flag(code, message, details or {}).to_dict()])


def clear_flag(submission: Submission, code: str) -> None:
    flags = submission.quality_flags or []
    if any(f.get("code") == code for f in flags):
        _store(submission, [f for f in flags if f.get("code") != code])


def refresh_attachments(submission: Submission, form: Form) -> None:
    """After files arrived: clear (or update) ``attachments_missing`` from the counts, no query."""
    settings = FormQuality.from_settings(form.settings)
    flag = rules.attachments_missing(submission.attachments_expected, submission.attachments_present)
    if flag is None or rules.ATTACHMENTS_MISSING not in settings.enabled:
        clear_flag(submission, rules.ATTACHMENTS_MISSING)
    else:
        set_flag(submission, flag.code, flag.message, flag.details)


# --- computing them -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """The sending side, as the revoked-device rule needs it."""

    revoked_credential: str | None = None
    revoked_hub: str | None = None
    trusts_device: bool = False  # a live app-user token: the phone was (re)onboarded on purpose

    @classmethod
    def of(cls, actor: Actor) -> Sender:
        app_user: AppUser | None = actor.app_user
        hub = getattr(actor, "hub", None)
        return cls(
            revoked_credential=app_user.display_name if app_user and app_user.revoked_at else None,
            revoked_hub=hub.name if hub is not None and hub.revoked_at is not None else None,
            trusts_device=app_user is not None and app_user.revoked_at is None,
        )


def _value_flags(
    *,
    project: Project,
    settings: FormQuality,
    fields: FormFields,
    values: dict[str, Any] | None,
    expected: int,
    present: int,
    device_id: str | None,
    sender: Sender,
) -> list[Flag]:
    """Every computed flag except likely_duplicate (which needs the database); disabled ones are skipped."""
    on = settings.enabled
    found: list[Flag | None] = []
    if rules.ATTACHMENTS_MISSING in on:
        found.append(rules.attachments_missing(expected, present))
    if values is not None:  # None: encrypted, nothing to read
        if rules.SHORT_INTERVIEW in on:
            found.append(rules.short_interview(values, fields, settings))
        if rules.GEOPOINT_MISSING in on or rules.GEOPOINT_OUTSIDE in on:
            found.append(rules.geopoint(values, fields, list(project.countries or [])))
    if rules.REVOKED_DEVICE in on:
        revoked_devices = (project.settings or {}).get("revoked_devices") or {}
        found.append(
            rules.revoked_device(
                credential=sender.revoked_credential,
                hub=sender.revoked_hub,
                device_id=device_id,
                device=None if sender.trusts_device else revoked_devices.get(device_id or ""),
            )
        )
    return [f for f in found if f is not None and f.code in on]


def assess(
    session: Session,
    *,
    project: Project,
    form: Form,
    submission: Submission,
    version: SubmissionVersion,
    form_version: FormVersion,
    actor: Actor,
) -> None:
    """Recompute the submission's flags from its current version after ``version`` was stored.
    Flushes nothing; the ingest's own flush writes them."""
    if submission.current_version_id not in (None, version.id):
        # An edit that is not (or no longer) current: flag the current version's content.
        current = session.get(SubmissionVersion, submission.current_version_id)
        if current is not None:
            version = current
            form_version = session.get(FormVersion, current.form_version_id) or form_version
    settings = FormQuality.from_settings(form.settings)
    fields = fields_for(form_version)
    values = None if submission.is_encrypted else version.values
    flags = _value_flags(
        project=project,
        settings=settings,
        fields=fields,
        values=values,
        expected=submission.attachments_expected,
        present=submission.attachments_present,
        device_id=version.device_id,
        sender=Sender.of(actor),
    )
    key = rules.duplicate_key(values, settings) if values is not None else None
    submission.duplicate_key = key
    if key is not None and rules.LIKELY_DUPLICATE in settings.enabled:
        # Only the same organisation's rows: a flag must never name another partner's record.
        query = select(Submission.instance_id, Submission.created_at).where(
            Submission.form_id == form.id,
            Submission.duplicate_key == key,
            Submission.organisation_id == submission.organisation_id,
        )
        if submission.id is not None:
            query = query.where(Submission.id != submission.id)
        other = session.execute(query.order_by(Submission.id).limit(1)).first()
        if other is not None:
            flags.append(rules.likely_duplicate(settings, other[0], f"{other[1]:%Y-%m-%d %H:%M} UTC"))
    kept = [f for f in submission.quality_flags or [] if f.get("code") not in rules.COMPUTED_FLAGS]
    _store(submission, kept + [f.to_dict() for f in flags])


@dataclass
class NewRow:
    """A plain new submission (batch path, or the OpenRosa hot path) before its INSERT; ``row`` gets
    the flags. ``values`` is None for an encrypted submission (nothing to read)."""

    form: Form
    fields: FormFields
    values: dict[str, Any] | None
    row: dict[str, Any]  # has instance_id, device_id, attachments_expected, attachments_present


def assess_rows(session: Session, *, project: Project, actor: Actor, rows: list[NewRow]) -> None:
    """The batch path's :func:`assess`: one duplicate query per form, and duplicates inside the batch
    itself (the later one is flagged, as at ingest one by one)."""
    sender = Sender.of(actor)
    # Per form and organisation: a flag never names another partner's record (row_access).
    keys: dict[tuple[int, int], list[tuple[int, str]]] = {}
    flags_of: list[list[Flag]] = []
    settings_of: dict[int, FormQuality] = {}  # read once per form, not per row
    for n, r in enumerate(rows):
        settings = settings_of.get(r.form.id) or settings_of.setdefault(
            r.form.id, FormQuality.from_settings(r.form.settings)
        )
        flags_of.append(
            _value_flags(
                project=project,
                settings=settings,
                fields=r.fields,
                values=r.values,
                expected=r.row["attachments_expected"],
                present=r.row["attachments_present"],
                device_id=r.row.get("device_id"),
                sender=sender,
            )
        )
        key = rules.duplicate_key(r.values, settings) if r.values is not None else None
        r.row["duplicate_key"] = key
        if key is not None and rules.LIKELY_DUPLICATE in settings.enabled:
            keys.setdefault((r.form.id, r.row["organisation_id"]), []).append((n, key))
    for (form_id, organisation_id), pairs in keys.items():
        stored = session.execute(
            select(Submission.duplicate_key, Submission.instance_id, Submission.created_at)
            .where(
                Submission.form_id == form_id,
                Submission.organisation_id == organisation_id,
                Submission.duplicate_key.in_({k for _, k in pairs}),
            )
            .order_by(Submission.id)
        ).all()
        seen: dict[str, tuple[str, str]] = {}
        for key, iid, created in stored:
            seen.setdefault(str(key), (iid, f"{created:%Y-%m-%d %H:%M} UTC"))
        for n, key in pairs:
            r = rows[n]
            if key in seen:
                other, received = seen[key]
                flags_of[n].append(rules.likely_duplicate(settings_of[r.form.id], other, received))
            else:  # the first of its key: later items of this batch duplicate it
                seen[key] = (r.row["instance_id"], f"{r.row['created_at']:%Y-%m-%d %H:%M} UTC")
    for r, found in zip(rows, flags_of, strict=True):
        flags = sorted((f.to_dict() for f in found), key=lambda f: str(f["code"]))
        r.row["quality_flags"] = flags
        r.row["flag_codes"] = codes_column(flags)
