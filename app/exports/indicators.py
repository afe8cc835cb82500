"""Indicator values in long format (one row per value) with the HXL hashtag row of INDICATORS.md §4,
as CSV or XLSX. Suppressed cells keep their row with blank value, numerator, denominator and n and
``#meta+suppressed`` = true. A dimension the output is not broken down by is blank; a margin (the total
over a dimension it is broken down by) reads ``total``.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from typing import TYPE_CHECKING, Any

import xlsxwriter

from app.indicators.catalog import load_catalog
from app.indicators.suppression import TOTAL
from app.indicators.values import IndicatorResult, IndicatorValue

if TYPE_CHECKING:
    from app.services.indicator_sadd import SaddResult

MARGIN = "total"
# (header, HXL tag)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("indicator_code", "#indicator+code"),
    ("indicator_name", "#indicator+name"),
    ("unit", "#indicator+type"),
    ("breakdown", "#x_breakdown+name"),
    ("category", "#x_category+code"),
    ("value", "#indicator+num"),
    ("numerator", "#indicator+num+numerator"),
    ("denominator", "#indicator+num+denominator"),
    ("n", "#meta+count"),
    ("dk_refused", "#meta+dk_refused"),
    ("suppressed", "#meta+suppressed"),
    ("period_start", "#date+start"),
    ("period_end", "#date+end"),
    ("country", "#country+code"),
    ("adm1", "#adm1+code"),
    ("adm2", "#adm2+code"),
    ("site", "#loc+code"),
    ("population_type", "#x_poptype+code"),
    ("route_stage", "#x_routestage+code"),
    ("nationality", "#country+nationality+code"),
    ("sex_gender", "#x_sex+code"),
    ("age_band", "#x_ageband+code"),
    ("disability", "#x_disability+code"),
    ("source", "#meta+source"),
    ("method", "#meta+method"),
)


# HXL for the indicators' own disaggregations (core attributes where HXL has them, else extensions).
OWN_HASHTAGS = {
    "direction": "#x_direction+code",
    "transport_modes": "#x_transport+code",
    "legal_status": "#x_legalstatus+code",
    "group_composition": "#x_groupcomp+code",
    "country_residence_prev_iso3": "#country+residence+code",
}


@cache
def columns() -> tuple[tuple[str, str], ...]:
    """:data:`COLUMNS` with one column per own disaggregation an indicator of the catalogue declares
    (direction, transport modes, legal status...), before the source and method."""
    catalog = load_catalog()
    own = sorted({name for i in catalog.indicators.values() for name in catalog.own_dimensions(i)})
    extra = tuple((name, OWN_HASHTAGS.get(name, f"#x_{name.replace('_', '')}+code")) for name in own)
    return (*COLUMNS[:-2], *extra, *COLUMNS[-2:])


def headers() -> list[str]:
    return [name for name, _ in columns()]


def hashtags() -> list[str]:
    return [tag for _, tag in columns()]


def _name(value: IndicatorValue, language: str | None) -> str:
    """The indicator's catalogue name in ``language`` (its English name when it has none in it)."""
    if language is None:
        return value.name
    found = load_catalog().indicators.get(value.indicator)
    return found.name(language) if found is not None else value.name


def value_row(value: IndicatorValue, language: str | None = None) -> list[Any]:
    cells: dict[str, Any] = {
        "indicator_code": value.indicator,
        "indicator_name": _name(value, language),
        "unit": value.statistic,
        "breakdown": value.breakdown or "",
        "category": value.category or "",
        "value": "" if value.value is None else value.value,
        "numerator": _number(value.numerator),
        "denominator": _number(value.denominator),
        "n": "" if value.n is None else value.n,
        "dk_refused": "" if value.dk_refused is None else value.dk_refused,
        "suppressed": "true" if value.suppressed else "false",
        "period_start": value.period_start,
        "period_end": value.period_end,
        "source": " ".join(value.mapping_versions),
        "method": value.method,
    }
    for name, _ in columns():
        cells.setdefault(name, _dimension(value.key.get(name)))
    return [cells[name] for name, _ in columns()]


def rows(result: IndicatorResult, language: str | None = None) -> list[list[Any]]:
    return [value_row(v, language) for v in result.values]


def to_csv(result: IndicatorResult, language: str | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers())
    writer.writerow(hashtags())
    writer.writerows(rows(result, language))
    return out.getvalue().encode("utf-8")


def to_xlsx(result: IndicatorResult, language: str | None = None, sensitivity: str | None = None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("indicators")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, headers(), bold)
    sheet.write_row(1, 0, hashtags())
    for index, row in enumerate(rows(result, language), start=2):
        sheet.write_row(index, 0, row)
    sheet.freeze_panes(2, 0)
    if sensitivity is not None:
        about = book.add_worksheet("metadata")
        about.write_string(0, 0, "Sensitivity class", bold)
        about.write_string(0, 1, sensitivity)
    book.close()
    return out.getvalue()


def _number(value: float | None) -> Any:
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else value


def _dimension(value: str | None) -> str:
    if value is None:
        return ""
    return MARGIN if value == TOTAL else value


# ------------------------------------------------------------------ persons by sex and age band
SADD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("instrument", "#x_instrument+code"),
    ("period_start", "#date+start"),
    ("period_end", "#date+end"),
    *((name, tag) for name, tag in COLUMNS if name in ("country", "adm1", "adm2", "site")),
    *((name, tag) for name, tag in COLUMNS if name in ("population_type", "route_stage", "nationality")),
    ("disability", "#x_disability+code"),
    ("sex_gender", "#x_sex+code"),
    ("age_band", "#x_ageband+code"),
    ("persons", "#population+num"),
    ("suppressed", "#meta+suppressed"),
    ("method", "#meta+method"),
)


def sadd_rows(result: SaddResult) -> list[list[Any]]:
    out = []
    for row in result.rows:
        cells: dict[str, Any] = {
            "instrument": row.instrument,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "persons": "" if row.persons is None else row.persons,
            "suppressed": "true" if row.suppressed else "false",
            "method": "unweighted",
        }
        for name, _ in SADD_COLUMNS:
            cells.setdefault(name, _dimension(row.key.get(name)))
        out.append([cells[name] for name, _ in SADD_COLUMNS])
    return out


def sadd_to_csv(result: SaddResult) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _ in SADD_COLUMNS])
    writer.writerow([tag for _, tag in SADD_COLUMNS])
    writer.writerows(sadd_rows(result))
    return out.getvalue().encode("utf-8")


def sadd_to_xlsx(result: SaddResult, sensitivity: str | None = None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("persons")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, [name for name, _ in SADD_COLUMNS], bold)
    sheet.write_row(1, 0, [tag for _, tag in SADD_COLUMNS])
    for index, row in enumerate(sadd_rows(result), start=2):
        sheet.write_row(index, 0, row)
    sheet.freeze_panes(2, 0)
    if sensitivity is not None:
        about = book.add_worksheet("metadata")
        about.write_string(0, 0, "Sensitivity class", bold)
        about.write_string(0, 1, sensitivity)
    book.close()
    return out.getvalue()
