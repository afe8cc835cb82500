"""Plan figures: people in need and targets per sector × place × population type × age/gender × year,
uploaded as CSV or XLSX (the HNO/RMRP planning figures). An upload replaces the project's figures for the
years it contains, all or nothing: one bad row refuses the file with every row's problem listed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError
from app.models import PlanFigure, Project
from app.response import columns, qa
from app.services.audit import events as audit
from app.services.response.workbooks import read_sheet

FIELDS = (
    "year",
    "sector",
    "country",
    "admin1",
    "admin2",
    "population_type",
    "age_gender",
    "people_in_need",
    "target",
)
ALIASES = {
    "year": ("year", "ano", "año"),
    "sector": ("sector", "setor"),
    "country": ("country", "pais", "país"),
    "admin1": ("admin1", "adm1", "admin 1"),
    "admin2": ("admin2", "adm2", "admin 2"),
    "population_type": ("population type", "tipo de poblacion", "tipo de população", "poptype"),
    "age_gender": ("age gender", "edad genero", "idade genero", "age and gender", "sex age"),
    "people_in_need": (
        "people in need",
        "pin",
        "personas con necesidades",
        "pessoas com necessidades",
        "inneed",
    ),
    "target": ("target", "meta", "targeted", "poblacion meta"),
}
KEYS = {columns.header_key(h): name for name, hs in ALIASES.items() for h in (name, *hs)}
MAX_ROWS = 100_000


def _column_for(header: object) -> str | None:
    return KEYS.get(columns.header_key(header))


def rows_from_upload(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    required = ("year", "sector", "country", "population_type", "age_gender", "people_in_need")
    if data.startswith(b"PK"):
        return list(read_sheet(data, what="plan workbook", column_for=_column_for, required=required))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidValueError("The plan file is neither an .xlsx workbook nor UTF-8 CSV text.") from err
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [_column_for(h) for h in next(reader, [])]
    missing = [r for r in required if r not in header]
    if missing:
        raise InvalidValueError(
            f"The plan CSV lacks the columns {', '.join(missing)}.", details={"missing": missing}
        )
    out = []
    for number, cells in enumerate(reader, start=2):
        if number > MAX_ROWS:
            raise InvalidValueError(f"The plan file has more than {MAX_ROWS} rows.")
        if any(c.strip() for c in cells):
            out.append(
                (
                    number,
                    {name: cells[i] if i < len(cells) else None for i, name in enumerate(header) if name},
                )
            )
    return out


def _row(raw: dict[str, Any], reference: qa.Reference) -> tuple[dict[str, Any], list[str]]:
    problems = []
    row: dict[str, Any] = {}
    for name in ("year", "people_in_need", "target"):
        value = raw.get(name)
        try:
            number = (
                float(str(value).strip()) if value not in (None, "") else (0.0 if name == "target" else None)
            )
        except ValueError:
            number = None
        if number is None or number != int(number) or number < 0:
            problems.append(f"{name} must be a whole number ≥ 0 (got {value!r})")
            number = 0
        row[name] = int(number)
    if row["year"] and not 2000 <= row["year"] <= 2100:
        problems.append(f"year {row['year']} is not a plan year")
    row["country"] = str(raw.get("country") or "").strip().upper()
    row["admin1"] = str(raw.get("admin1") or "").strip().upper() or None
    row["admin2"] = str(raw.get("admin2") or "").strip().upper() or None
    row["sector"] = "_".join(str(raw.get("sector") or "").lower().split())
    row["population_type"] = "_".join(str(raw.get("population_type") or "").lower().split())
    row["age_gender"] = "_".join(str(raw.get("age_gender") or "").lower().split())
    if row["country"] not in reference.lists["countries"]:
        problems.append(f"country {row['country']!r} is not a response country")
    if row["sector"] not in reference.sectors and row["sector"] != "intersector":
        problems.append(f"sector {row['sector']!r} is not in the reference list")
    if row["population_type"] not in columns.POPULATION_TYPES:
        problems.append(
            f"population type {row['population_type']!r} is not one of {', '.join(columns.POPULATION_TYPES)}"
        )
    if row["age_gender"] not in columns.AGE_GENDER:
        problems.append(f"age/gender {row['age_gender']!r} is not one of {', '.join(columns.AGE_GENDER)}")
    if row["target"] > row["people_in_need"] and row["people_in_need"]:
        problems.append("the target is larger than the people in need")
    return row, problems


def replace_figures(
    session: Session, *, actor: Actor, project: Project, rows: Iterable[tuple[int, dict[str, Any]]]
) -> dict[str, Any]:
    _, reference = qa.default_rules()
    parsed, errors = [], []
    for number, raw in rows:
        row, problems = _row(raw, reference)
        if problems:
            errors.append({"row": number, "problems": problems})
        parsed.append(row)
    if not parsed:
        raise InvalidValueError("The plan file has no rows.")
    if errors:
        raise InvalidValueError(
            f"{len(errors)} row(s) of the plan file are not right; nothing was imported.",
            details={"rows": errors[:200], "errors": len(errors)},
        )
    years = sorted({r["year"] for r in parsed})
    session.execute(delete(PlanFigure).where(PlanFigure.project_id == project.id, PlanFigure.year.in_(years)))
    session.add_all(PlanFigure(project_id=project.id, **row) for row in parsed)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="plan.replace",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"years": years, "rows": len(parsed)},
    )
    return {"years": years, "rows": len(parsed)}
