"""Reading exports back in tests: a CSV zip as {file name: rows as dicts}, an XLSX as {sheet: rows}."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import openpyxl
from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent
from tests.app.conftest import World


def url(world: World, form_id: str, ext: str) -> str:
    return f"/v1/projects/{world.project_id}/forms/{form_id}/submissions.{ext}"


def get(world: World, form_id: str, ext: str, who: str = "manager", **params: str) -> Any:
    res = world.client.get(url(world, form_id, ext), query_string=params, headers=world.headers(who))
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    return res


def csv_rows(data: bytes, *, hxl: bool = False) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    header, body = lines[0], lines[2:] if hxl else lines[1:]
    return [dict(zip(header, row, strict=True)) for row in body]


def read_zip(data: bytes, *, hxl: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name == "README.txt":  # the sensitivity class note (tests/app/test_classification.py)
                continue
            raw = archive.read(name)
            out[name] = csv_rows(raw, hxl=hxl) if name.endswith(".csv") else raw
    return out


def read_xlsx(data: bytes) -> dict[str, list[dict[str, Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for sheet in book.worksheets:
        if sheet.title == "metadata":  # the sensitivity class sheet (tests/app/test_classification.py)
            continue
        rows = list(sheet.iter_rows(values_only=True))
        header = [str(h) for h in rows[0]]
        out[sheet.title] = [dict(zip(header, r, strict=False)) for r in rows[1:]]
    return out


def export_audits(world: World) -> list[AuditEvent]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "submission.export").order_by(AuditEvent.id)
            )
        )
