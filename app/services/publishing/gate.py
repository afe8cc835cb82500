"""The one rule that decides whether a draft may be published: the API, the admin and ``ruta publish``
all go through :func:`check`, called by ``forms.publish_draft``.

A draft is held back when ODK Validate failed on it (Collect would refuse or misbehave on the form) or
when a media file it expects has not been uploaded (Collect would download a form whose images,
choice lists or pulldata CSVs are missing). A project manager may publish anyway by stating a reason;
the reason and the problems it overrode are kept in the audit trail with the publication.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from app.errors import InvalidValueError, PublishBlockedError
from app.models import FormVersion

# A reason is a sentence or two for the audit trail, not a document.
MAX_REASON = 1000


@dataclass(frozen=True)
class Problem:
    code: str  # "validate_failed" or "media_missing"
    detail: str  # ODK Validate's message, or the missing file's name

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


def problems(version: FormVersion, served: Collection[str] = ()) -> list[Problem]:
    """What stands in the way of publishing ``version``, in a stable order (validation first).
    ``served``: attachment names the server fills itself (an entity list's ``<list>.csv``), never
    missing."""
    found: list[Problem] = []
    if version.validation_status == "failed":
        messages = list(version.validation_messages or []) or ["ODK Validate failed."]
        found += [Problem("validate_failed", m) for m in messages]
    found += [
        Problem("media_missing", a.name)
        for a in version.attachments
        if a.blob_sha256 is None and a.name not in served
    ]
    return found


def clean_reason(reason: str | None) -> str | None:
    """The stated reason, trimmed; None when nothing was said. Refuses an over-long one."""
    text = (reason or "").strip()
    if not text:
        return None
    if len(text) > MAX_REASON or "\x00" in text:
        raise InvalidValueError(
            f"The reason to publish anyway is at most {MAX_REASON} characters, without NUL characters.",
            details={"field": "overrideReason"},
        )
    return text


def check(
    version: FormVersion, *, override_reason: str | None, served: Collection[str] = ()
) -> list[Problem]:
    """The problems a publication overrides (empty when there are none); raises when there are some
    and no reason was given."""
    found = problems(version, served)
    if found and clean_reason(override_reason) is None:
        missing = [p.detail for p in found if p.code == "media_missing"]
        failed = any(p.code == "validate_failed" for p in found)
        parts = []
        if failed:
            parts.append("ODK Validate failed on this draft")
        if missing:
            parts.append(f"media files not uploaded yet: {', '.join(missing)}")
        raise PublishBlockedError(
            f"Not published: {'; '.join(parts)}. Fix the form or upload the files, or publish anyway "
            "with a reason (overrideReason) that is kept in the audit log.",
            details={"problems": [p.to_dict() for p in found]},
        )
    return found
