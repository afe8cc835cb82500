"""Reach and gap tables in long format with the HXL hashtag row: ``#reached``, ``#inneed`` and
``#targeted``, the age/gender cells as ``+f``/``+m`` and ``+children``/``+adults`` attributes, and the
de-duplication model each row was computed with (``#meta+dedup``). CSV or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter

from app.response.columns import AGE_GENDER

PLACE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("year", "#date+year"),
    ("month", "#date+month"),
    ("country", "#country+code"),
    ("admin1", "#adm1+code"),
    ("admin2", "#adm2+code"),
    ("site", "#loc+code"),
    ("sector", "#sector+code"),
    ("indicator", "#indicator+code"),
    ("organisation", "#org+name"),
    ("breakdown", "#x_breakdown+name"),
    ("category", "#x_category+code"),
)
AGE_GENDER_TAGS = {
    "girls": "+f+children",
    "boys": "+m+children",
    "women": "+f+adults",
    "men": "+m+adults",
    "other_under_18": "+x_other+children",
    "other_over_18": "+x_other+adults",
}
REACH_MEASURES: tuple[tuple[str, str], ...] = (
    ("reached", "#reached"),
    ("total_monthly", "#reached+monthly"),
    *((f"reached_{c}", f"#reached{AGE_GENDER_TAGS[c]}") for c in AGE_GENDER),
    ("model", "#meta+dedup"),
    ("suppressed", "#meta+suppressed"),
)
GAP_MEASURES: tuple[tuple[str, str], ...] = (
    ("people_in_need", "#inneed"),
    ("target", "#targeted"),
    ("reached", "#reached"),
    ("gap", "#inneed+x_gap"),
    ("coverage", "#reached+pct+x_coverage"),
    ("model", "#meta+dedup"),
    ("suppressed", "#meta+suppressed"),
)


def table(rows: Sequence[Any], *, year: int, kind: str) -> tuple[list[str], list[str], list[list[Any]]]:
    """Headers, hashtags and cells of a reach (``kind="reach"``) or gap table of ``reach.Row``s."""
    measures = REACH_MEASURES if kind == "reach" else GAP_MEASURES
    columns = [*PLACE_COLUMNS, *measures]
    out = []
    for row in rows:
        cells: dict[str, Any] = {"year": year, **row.key}
        cells["breakdown"] = (
            "" if row.split is None else ("age_gender" if row.split in AGE_GENDER else "population_type")
        )
        cells["category"] = row.split or ""
        cells |= {
            "reached": row.reached,
            "total_monthly": row.total_monthly,
            "model": row.model,
            "people_in_need": row.people_in_need,
            "target": row.target,
            "gap": row.gap,
            "coverage": row.coverage,
            "suppressed": "true" if row.suppressed else "false",
        }
        for cell in AGE_GENDER:
            cells[f"reached_{cell}"] = row.by_age_gender.get(cell) if row.by_age_gender else None
        out.append(["" if cells.get(name) is None else cells.get(name) for name, _ in columns])
    return [c for c, _ in columns], [t for _, t in columns], out


def to_csv(headers: list[str], tags: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerow(tags)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(headers: list[str], tags: list[str], rows: list[list[Any]], *, sheet: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    ws = book.add_worksheet(sheet)
    ws.write_row(0, 0, headers, book.add_format({"bold": True}))
    ws.write_row(1, 0, tags)
    for index, row in enumerate(rows, start=2):
        ws.write_row(index, 0, row)
    ws.freeze_panes(2, 0)
    book.close()
    return buffer.getvalue()
