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


FLOW_KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "site": ("site", "#loc+code"),
    "country": ("country", "#country+code"),
    "period": ("period", "#date"),
    "direction": ("direction", "#x_direction+code"),
    "nationality": ("nationality", "#country+nationality+code"),
    "group_type": ("group_type", "#group+type+code"),
    "transport": ("transport", "#x_transport+code"),
    "next_destination": ("next_destination", "#country+next+code"),
    "destination": ("destination", "#country+dest+code"),
}
FLOW_CELL_TAGS = {
    "f_0_4": "+f+infants",
    "f_5_11": "+f+children+age5_11",
    "f_12_17": "+f+children+age12_17",
    "f_18_59": "+f+adults",
    "f_60_plus": "+f+elderly",
    "m_0_4": "+m+infants",
    "m_5_11": "+m+children+age5_11",
    "m_12_17": "+m+children+age12_17",
    "m_18_59": "+m+adults",
    "m_60_plus": "+m+elderly",
    "x": "+x_other",
}


def flow_table(
    rows: Sequence[Any], *, by: Sequence[str], additive: bool = True
) -> tuple[list[str], list[str], list[list[Any]]]:
    """Headers, hashtags and cells of a flow table of ``flows.FlowRow``s: movements are ``#affected``
    (people counted passing, FLW-01), groups ``#affected+groups`` (FLW-02). ``sums_to_total`` is false on
    every row of a transport split (a group counts under each of its modes)."""
    columns = [
        *(FLOW_KEY_COLUMNS[d] for d in by),
        ("movements", "#affected+x_movements"),
        ("groups", "#affected+x_groups"),
        ("observed_days", "#x_days+observed"),
        ("daily_average", "#affected+x_movements+x_daily"),
        ("children", "#affected+children"),
        ("children_share", "#affected+children+pct"),
        ("direction_share", "#affected+x_movements+pct+x_direction"),
        ("nationality_share", "#affected+x_movements+pct+x_nationality"),
        ("next_destination_share", "#affected+x_movements+pct+x_next_destination"),
        ("destination_share", "#affected+x_movements+pct+x_destination"),
        ("observed_hours", "#x_hours+observed"),
        ("movements_per_hour", "#affected+x_movements+x_hourly"),
        ("change", "#affected+x_movements+pct+x_change"),
        *((f"people_{c}", f"#affected{tag}") for c, tag in FLOW_CELL_TAGS.items()),
        ("suppressed", "#meta+suppressed"),
        ("sums_to_total", "#meta+x_additive"),
    ]
    out = []
    for row in rows:
        cells: dict[str, Any] = dict(row.key) | {
            "movements": row.movements,
            "groups": row.groups,
            "observed_days": row.observed_days,
            "daily_average": row.daily_average,
            "children": row.children,
            "children_share": row.children_share,
            "direction_share": row.shares.get("direction"),
            "nationality_share": row.shares.get("nationality"),
            "next_destination_share": row.shares.get("next_destination"),
            "destination_share": row.shares.get("destination"),
            "observed_hours": row.observed_hours,
            "movements_per_hour": row.per_hour,
            "change": row.change,
            "suppressed": "true" if row.suppressed else "false",
            "sums_to_total": "true" if additive else "false",
        }
        cells |= {f"people_{c}": v for c, v in row.cells.items()}
        out.append(["" if cells.get(name) is None else cells.get(name) for name, _ in columns])
    return [c for c, _ in columns], [t for _, t in columns], out
