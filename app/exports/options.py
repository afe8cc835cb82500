"""Export options read from a request's query string (or POST form), checked up front so a bad option is
a 400 naming it before a single byte of the file is streamed.

Names follow ODK Central where Central has the option (``groupPaths``, ``splitSelectMultiples``,
``attachments``); the rest are Ruta's. Unknown names are refused rather than ignored: a silently
ignored ``reviewState`` would hand back the wrong rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from app.errors import InvalidValueError
from app.models.submission import REVIEW_STATES

SENSITIVE_CHOICES = ("omit", "pseudonym", "include")
HEADER_CHOICES = ("name", "label")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
KNOWN = frozenset(
    {
        "groupPaths",
        "splitSelectMultiples",
        "labels",
        "header",
        "language",
        "hxl",
        "reviewState",
        "start",
        "end",
        "formVersion",
        "attachments",
        "media",
        "sensitive",
        "geoField",
        "columns",
        "escapeFormulas",
    }
)


@dataclass(frozen=True)
class ExportOptions:
    group_paths: bool = True
    split_select_multiples: bool = False
    labels: bool = False  # choice labels instead of codes in the values
    header: str = "name"  # column headers: field names (stable for scripts) or question labels
    language: str | None = None  # a form language; None = the form's default
    hxl: bool = False
    review_states: tuple[str, ...] = ("approved",)
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    form_versions: tuple[str, ...] = ()
    media: bool = False
    sensitive: str = "omit"
    geo_field: str | None = None
    columns: tuple[str, ...] = ()
    # CSV and CSV zip: text that a spreadsheet would run as a formula gets a leading ' (OWASP); false
    # keeps every value exactly as sent. XLSX writes text as text cells, which Excel never runs.
    escape_formulas: bool = True
    passphrase: str | None = field(default=None, repr=False)

    def audit_details(self) -> dict[str, object]:
        """What the audit log records of these options (never the passphrase)."""
        return {
            "groupPaths": self.group_paths,
            "splitSelectMultiples": self.split_select_multiples,
            "labels": self.labels,
            "header": self.header,
            "language": self.language,
            "hxl": self.hxl,
            "reviewState": list(self.review_states),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "formVersion": list(self.form_versions),
            "media": self.media,
            "geoField": self.geo_field,
            "columns": list(self.columns),
            "escapeFormulas": self.escape_formulas,
            "decrypted": self.passphrase is not None,
        }


def _bad(option: str, message: str) -> InvalidValueError:
    return InvalidValueError(message, details={"option": option})


def _bool(args: Mapping[str, str], name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _bad(name, f"{name} must be true or false, not {raw!r}.")


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


def _when(name: str, raw: str | None, *, end: bool) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            # A bare end date includes that whole day.
            when = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    except ValueError as err:
        raise _bad(
            name, f"{name} must be a date such as 2024-01-31 or 2024-01-31T10:00:00Z, not {raw!r}."
        ) from err
    return when


def _choice(args: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise _bad(name, f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
    return raw


def parse_options(args: Mapping[str, str], *, passphrase: str | None = None) -> ExportOptions:
    """Options from query arguments; raises a 400 naming the first bad one."""
    if "passphrase" in args:
        raise _bad(
            "passphrase",
            "Never put the passphrase in the URL (URLs are logged): send it in the X-Ruta-Passphrase "
            "header or as passphrase in a POST body.",
        )
    unknown = sorted(k for k in args if k not in KNOWN)
    if unknown:
        raise _bad(
            unknown[0],
            f"Unknown export option {unknown[0]!r}. Known options: {', '.join(sorted(KNOWN))}.",
        )
    states = _list(args.get("reviewState"))
    if states == ("all",):
        states = REVIEW_STATES
    for state in states:
        if state not in REVIEW_STATES:
            raise _bad(
                "reviewState",
                f"{state!r} is not a review state; use all or a comma-separated list of "
                f"{', '.join(REVIEW_STATES)}.",
            )
    start = _when("start", args.get("start"), end=False)
    end = _when("end", args.get("end"), end=True)
    if start and end and end <= start:
        raise _bad("end", "end must be after start.")
    media_arg = "media" if args.get("media") not in (None, "") else "attachments"
    return ExportOptions(
        group_paths=_bool(args, "groupPaths", True),
        split_select_multiples=_bool(args, "splitSelectMultiples", False),
        labels=_bool(args, "labels", False),
        header=_choice(args, "header", HEADER_CHOICES, "name"),
        language=(args.get("language") or "").strip() or None,
        hxl=_bool(args, "hxl", False),
        review_states=states or ("approved",),
        start=start,
        end=end,
        form_versions=_list(args.get("formVersion")),
        media=_bool(args, media_arg, False),
        sensitive=_choice(args, "sensitive", SENSITIVE_CHOICES, "omit"),
        geo_field=(args.get("geoField") or "").strip() or None,
        columns=_list(args.get("columns")),
        escape_formulas=_bool(args, "escapeFormulas", True),
        passphrase=passphrase or None,
    )


def resolve_language(languages: list[str], default: str | None, wanted: str | None) -> str | None:
    """The form language ``wanted`` names: its full name (``Español (es)``) or its code (``es``),
    case-insensitive. None asks for the form's default."""
    if wanted is None:
        return default or (languages[0] if languages else None)
    low = wanted.lower()
    for lang in languages:
        code = lang.rsplit("(", 1)[-1].rstrip(")").strip().lower() if "(" in lang else ""
        if lang.lower() == low or code == low:
            return lang
    offered = ", ".join(languages) or "none (the form has a single, unnamed language)"
    raise _bad("language", f"The form has no language {wanted!r}. Its languages: {offered}.")
