"""A registry site and the checks it must pass, row by row, before any is stored.

``check_rows`` reads the rows of an import (CSV or XLSX, already turned into dicts of text) and returns a
:class:`Report`: every problem with its spreadsheet row number and column, and the sites of the rows
without errors. Warnings (a point outside its country's bounding box) are reported and do not block.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.sites.places import Gazetteer

SITE_TYPES: dict[str, dict[str, str]] = {
    "fmp": {
        "en": "Flow monitoring point",
        "es": "Punto de monitoreo de flujos",
        "pt": "Ponto de monitoramento de fluxos",
    },
    "border_crossing": {"en": "Border crossing", "es": "Paso fronterizo", "pt": "Posto de fronteira"},
    "bus_terminal": {"en": "Bus terminal", "es": "Terminal de buses", "pt": "Rodoviária"},
    "shelter": {"en": "Shelter", "es": "Albergue", "pt": "Abrigo"},
    "reception_centre": {"en": "Reception centre", "es": "Centro de recepción", "pt": "Centro de recepção"},
    "other": {"en": "Other", "es": "Otro", "pt": "Outro"},
}
STATUSES = ("active", "inactive", "closed")
COLUMNS = (
    "code",
    "name_es",
    "name_en",
    "name_pt",
    "site_type",
    "adm0_pcode",
    "adm1_pcode",
    "adm2_pcode",
    "latitude",
    "longitude",
    "capacity",
    "status",
)
REQUIRED = ("code", "site_type", "adm0_pcode", "adm1_pcode")
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_NAME = 255
MAX_CAPACITY = 1_000_000
# Site types also accepted under their English or Spanish label (what people type in a spreadsheet).
_TYPE_ALIASES = {
    alias.casefold(): code
    for code, labels in SITE_TYPES.items()
    for alias in (code, code.replace("_", " "), labels["en"], labels["es"], labels["pt"])
} | {
    "border_point": "border_crossing",
    "reception_center": "reception_centre",
    "transit_centre": "reception_centre",
}


@dataclass(frozen=True)
class Site:
    code: str
    names: Mapping[str, str]  # language -> name (es, en, pt)
    site_type: str
    adm0: str  # ISO3
    adm1: str
    adm2: str = ""
    latitude: float | None = None
    longitude: float | None = None
    capacity: int | None = None
    status: str = "active"

    @property
    def label(self) -> str:
        return self.names.get("es") or self.names.get("en") or self.names.get("pt") or self.code

    def as_row(self) -> dict[str, str]:
        """The site as text, one value per column of :data:`COLUMNS` (how it is stored and exported)."""
        return {
            "code": self.code,
            "name_es": self.names.get("es", ""),
            "name_en": self.names.get("en", ""),
            "name_pt": self.names.get("pt", ""),
            "site_type": self.site_type,
            "adm0_pcode": self.adm0,
            "adm1_pcode": self.adm1,
            "adm2_pcode": self.adm2,
            "latitude": "" if self.latitude is None else repr(self.latitude),
            "longitude": "" if self.longitude is None else repr(self.longitude),
            "capacity": "" if self.capacity is None else str(self.capacity),
            "status": self.status,
        }


@dataclass(frozen=True)
class Issue:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: str
    code: str  # machine-readable: unknown_pcode, duplicate_code, bad_coordinates, ...
    message: str
    level: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "level": self.level,
        }


@dataclass
class Report:
    rows: int = 0
    sites: list[tuple[int, Site]] = field(default_factory=list)  # rows without errors
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        return sorted({i.row for i in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "goodRows": len(self.sites),
            "badRows": self.bad_rows,
            "issues": [i.as_dict() for i in self.issues],
        }


def check_rows(rows: Iterable[Mapping[str, Any]], gazetteer: Gazetteer, *, first_row: int = 2) -> Report:
    """Check every row; a code given twice is an error on each of its rows (which one is right is unknown)."""
    report = Report()
    parsed: list[tuple[int, Site | None, list[Issue]]] = []
    rows_by_code: dict[str, list[int]] = {}
    for number, raw in enumerate(rows, start=first_row):
        row = {str(k).strip().lower(): _text(v) for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        report.rows += 1
        site, issues = check_row(number, row, gazetteer)
        parsed.append((number, site, issues))
        code = row.get("code", "")
        if code:
            rows_by_code.setdefault(code.casefold(), []).append(number)
    for number, site, issues in parsed:
        code = site.code if site else ""
        twins = rows_by_code.get(code.casefold(), []) if code else []
        if len(twins) > 1:
            others = ", ".join(str(n) for n in twins if n != number)
            issues.append(
                Issue(number, "code", "duplicate_code", f"The code {code} is also on row {others}.")
            )
        report.issues.extend(issues)
        if site is not None and not any(i.level == "error" for i in issues):
            report.sites.append((number, site))
    return report


def check_row(number: int, row: Mapping[str, str], gazetteer: Gazetteer) -> tuple[Site | None, list[Issue]]:
    """The site a row describes and the row's issues (the site is None when a required part is missing)."""
    issues: list[Issue] = []

    def bad(column: str, code: str, message: str, level: str = "error") -> None:
        issues.append(Issue(number, column, code, message, level))

    for column in REQUIRED:
        if not row.get(column):
            bad(column, "missing", f"The {column} is empty; every site needs one.")
    code = row.get("code", "")
    if code and not CODE_PATTERN.fullmatch(code):
        bad("code", "bad_code", f"The code {code[:40]!r} must be 1 to 64 letters, digits, '-', '_' or '.'.")
    names = {lang: row.get(f"name_{lang}", "") for lang in ("es", "en", "pt")}
    for lang, name in names.items():
        if len(name) > MAX_NAME or "\x00" in name:
            bad(f"name_{lang}", "bad_name", f"The name is longer than {MAX_NAME} characters or holds a NUL.")
    if code and not any(names.values()):
        bad("name_es", "missing", "Give the site a name in at least one of name_es, name_en, name_pt.")
    type_text = row.get("site_type", "")
    site_type = _TYPE_ALIASES.get(type_text.casefold()) if type_text else None
    if type_text and site_type is None:
        bad(
            "site_type",
            "bad_type",
            f"The site type {type_text[:40]!r} is not one of {', '.join(SITE_TYPES)}.",
        )
    adm0, adm1, adm2 = _check_pcodes(row, gazetteer, bad)
    lat, lon = _check_point(row, gazetteer, adm0, bad)
    capacity = _check_capacity(row.get("capacity", ""), bad)
    status = (row.get("status") or "active").lower()
    if status not in STATUSES:
        bad("status", "bad_status", f"The status {status[:40]!r} is not one of {', '.join(STATUSES)}.")
    if any(i.level == "error" for i in issues) or site_type is None or adm0 is None or adm1 is None:
        return None if not code else _partial(code), issues
    site = Site(
        code=code,
        names={k: v for k, v in names.items() if v},
        site_type=site_type,
        adm0=adm0,
        adm1=adm1,
        adm2=adm2 or "",
        latitude=lat,
        longitude=lon,
        capacity=capacity,
        status=status,
    )
    return site, issues


# What a form may change in a registry site from the field (an entity update of the ``sites`` list):
# its capacity, status and names. The code is the site's identity and the type, P-codes and point are
# checked against the gazetteer, so those change only through an import or the admin.
LIST_NAME = "sites"
FIELD_UPDATABLE = ("capacity", "status", "name_es", "name_en", "name_pt")


def field_update_problems(data: Mapping[str, str]) -> list[str]:
    """Why a field update of a registry site cannot be applied; empty when it can."""
    problems = [
        f"The site registry's {name!r} is changed only by an import or in the admin, not from a form."
        for name in data
        if name not in FIELD_UPDATABLE
    ]
    issues: list[Issue] = []

    def bad(column: str, code: str, message: str, level: str = "error") -> None:
        issues.append(Issue(0, column, code, message, level))

    if "capacity" in data:
        _check_capacity(str(data["capacity"]).strip(), bad)
    if "status" in data and str(data["status"]).strip().lower() not in STATUSES:
        bad(
            "status",
            "bad_status",
            f"The status {str(data['status'])[:40]!r} is not one of {', '.join(STATUSES)}.",
        )
    for lang in ("es", "en", "pt"):
        name = str(data.get(f"name_{lang}", ""))
        if len(name) > MAX_NAME or "\x00" in name:
            bad(f"name_{lang}", "bad_name", f"The name is longer than {MAX_NAME} characters or holds a NUL.")
    return problems + [issue.message for issue in issues]


def _partial(code: str) -> Site:
    # A row with errors still names its code, so a duplicate can be reported on it.
    return Site(code=code, names={}, site_type="other", adm0="", adm1="")


def _check_pcodes(
    row: Mapping[str, str], gazetteer: Gazetteer, bad: Any
) -> tuple[str | None, str | None, str | None]:
    adm0_text, adm1_text, adm2_text = (row.get(f"adm{n}_pcode", "").upper() for n in (0, 1, 2))
    country = gazetteer.country(adm0_text) if adm0_text else None
    if adm0_text and country is None:
        bad(
            "adm0_pcode",
            "unknown_pcode",
            f"The country {adm0_text[:40]!r} is not in the gazetteer (give its ISO3, e.g. COL).",
        )
    adm1 = gazetteer.unit(adm1_text) if adm1_text else None
    if adm1_text and (adm1 is None or adm1.level != 1):
        bad("adm1_pcode", "unknown_pcode", f"The admin-1 P-code {adm1_text[:40]!r} is not in the gazetteer.")
        adm1 = None
    elif adm1 is not None and country is not None and adm1.iso3 != country.iso3:
        bad(
            "adm1_pcode",
            "pcode_mismatch",
            f"The admin-1 {adm1.pcode} ({adm1.name}) is in {adm1.iso3}, not in {country.iso3}.",
        )
    adm2 = gazetteer.unit(adm2_text) if adm2_text else None
    if adm2_text and (adm2 is None or adm2.level != 2):
        bad("adm2_pcode", "unknown_pcode", f"The admin-2 P-code {adm2_text[:40]!r} is not in the gazetteer.")
        adm2 = None
    elif adm2 is not None and adm1 is not None and adm2.parent != adm1.pcode:
        bad(
            "adm2_pcode",
            "pcode_mismatch",
            f"The admin-2 {adm2.pcode} ({adm2.name}) is in {adm2.parent}, not in {adm1.pcode}.",
        )
    return (
        country.iso3 if country else None,
        adm1.pcode if adm1 else None,
        adm2.pcode if adm2 else None,
    )


def _check_point(
    row: Mapping[str, str], gazetteer: Gazetteer, adm0: str | None, bad: Any
) -> tuple[float | None, float | None]:
    lat_text, lon_text = row.get("latitude", ""), row.get("longitude", "")
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        bad(
            "latitude" if not lat_text else "longitude",
            "bad_coordinates",
            "Give both latitude and longitude, or neither.",
        )
        return None, None
    lat, lon = _number(lat_text), _number(lon_text)
    if lat is None or not -90 <= lat <= 90:
        bad(
            "latitude",
            "bad_coordinates",
            f"The latitude {lat_text[:40]!r} is not a number from -90 to 90 (decimal degrees).",
        )
    if lon is None or not -180 <= lon <= 180:
        bad(
            "longitude",
            "bad_coordinates",
            f"The longitude {lon_text[:40]!r} is not a number from -180 to 180 (decimal degrees).",
        )
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
        return None, None
    country = gazetteer.country(adm0) if adm0 else None
    if country is not None and not country.contains(lat, lon):
        bad(
            "latitude",
            "outside_country",
            f"The point {lat}, {lon} is outside {country.name or country.iso3}'s bounding box; check that "
            "latitude and longitude are not swapped (small islands lie outside the box and are fine).",
            "warning",
        )
    return lat, lon


def _check_capacity(text: str, bad: Any) -> int | None:
    if not text:
        return None
    value = _number(text)
    if value is None or value != int(value) or not 0 <= value <= MAX_CAPACITY:
        bad(
            "capacity",
            "bad_capacity",
            f"The capacity {text[:40]!r} is not a whole number from 0 to {MAX_CAPACITY}.",
        )
        return None
    return int(value)


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
