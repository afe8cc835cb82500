"""5W activity reports: rows from a workbook, the JSON API or a form, checked by the QA rules, stored.

An upload is all-or-nothing: when any row breaks a rule with severity error, nothing is imported and the
upload keeps its row-by-row report (the error workbook). Asked to import the good rows, the good rows are
stored as valid and the rows with errors are stored held (status ``error``): out of every output until a
person fixes them (the QA runs again) or accepts them with a reason."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError, NotFoundError
from app.models import ActivityReport, ActivityUpload, Project
from app.response import columns, qa
from app.services.audit import events as audit
from app.services.response.workbooks import read_sheet

REQUIRED_HEADERS = ("organisation", "month", "sector", "indicator", "new_beneficiaries")
MAX_JSON_ROWS = 10_000
# The bundled 5W form (forms/library): its question names are the 5W column names.
ACTIVITY_FORM_ID = "ruta_activity_report"


@dataclass(frozen=True)
class UploadResult:
    upload: ActivityUpload
    imported: int
    held: int
    refused: bool  # errors found and good rows were not asked for: nothing imported


def rows_from_workbook(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    return list(
        read_sheet(data, what="5W workbook", column_for=columns.column_for, required=REQUIRED_HEADERS)
    )


def rows_from_json(items: object) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(items, list) or not items:
        raise InvalidValueError('Send a JSON array of activity rows (objects), or {"rows": [...]}.')
    if len(items) > MAX_JSON_ROWS:
        raise InvalidValueError(f"Send at most {MAX_JSON_ROWS} rows at a time.")
    out = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidValueError(f"Row {number} is not a JSON object.", details={"row": number})
        unknown = sorted(set(item) - set(columns.BY_NAME))
        if unknown:
            raise InvalidValueError(
                f"Row {number} has fields Ruta does not know: {', '.join(unknown)}.",
                details={"row": number, "unknown": unknown, "known": sorted(columns.BY_NAME)},
            )
        out.append((number, item))
    return out


def row_from_submission(values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw 5W row of a submission of the 5W form: its answers by question name (groups flattened),
    only the 5W columns. The row then takes the same path as a workbook's (``import_rows``)."""
    found: dict[str, Any] = {}

    def walk(node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            if isinstance(value, Mapping):
                walk(value)
            elif name in columns.BY_NAME and not isinstance(value, list):
                found[name] = value

    walk(values)
    return found


def import_submission(
    session: Session, *, actor: Actor, project: Project, values: Mapping[str, Any], instance_id: str
) -> UploadResult:
    """A 5W form submission as one activity row. A phone cannot be asked to fix and resend, so the row
    is kept held (status error) when it breaks a QA rule, to be fixed or accepted like an imported one."""
    return import_rows(
        session,
        actor=actor,
        project=project,
        rows=[(1, row_from_submission(values))],
        source="form",
        filename=instance_id[:255],
        good_rows=True,
    )


def replace_submission(
    session: Session, *, actor: Actor, project: Project, values: Mapping[str, Any], instance_id: str
) -> UploadResult:
    """An edit of a 5W form submission (``instance_id``: the record's first instanceID): its activity row
    is replaced by the edited one, so the outputs count the record once, as it now reads."""
    for upload in session.scalars(
        sa.select(ActivityUpload).where(
            ActivityUpload.project_id == project.id,
            ActivityUpload.source == "form",
            ActivityUpload.filename == instance_id[:255],
        )
    ):
        session.execute(sa.delete(ActivityReport).where(ActivityReport.upload_id == upload.id))
        session.delete(upload)
    session.flush()
    return import_submission(session, actor=actor, project=project, values=values, instance_id=instance_id)


def _checked(raw: dict[str, Any], language: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row, findings = columns.read_row(raw)
    return row, findings + qa.check(row, language=language)


def _report(
    project_id: int,
    upload: ActivityUpload,
    number: int,
    row: dict[str, Any],
    status: str,
    findings: list[dict[str, Any]],
    actor: Actor,
) -> ActivityReport:
    return ActivityReport(
        project_id=project_id,
        upload_id=upload.id,
        row_number=number,
        status=status,
        findings=findings,
        source=upload.source,
        created_by_id=actor.user_id,
        **{k: v for k, v in row.items()},
    )


def import_rows(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    rows: Iterable[tuple[int, dict[str, Any]]],
    source: str,
    filename: str | None = None,
    good_rows: bool = False,
    language: str = "en",
) -> UploadResult:
    upload = ActivityUpload(
        project_id=project.id, source=source, filename=filename, created_by_id=actor.user_id
    )
    session.add(upload)
    session.flush()  # its id goes on every row
    checked = []
    report = []
    for number, raw in rows:
        row, findings = _checked(raw, language)
        checked.append((number, row, findings))
        report.append({"row": number, "values": _jsonable(raw), "findings": findings})
    errors = sum(1 for *_, f in checked if qa.has_error(f))
    upload.rows_total, upload.rows_with_errors, upload.report = len(checked), errors, report
    refused = errors > 0 and not good_rows
    imported = held = 0
    if not refused:
        for number, row, findings in checked:
            bad = qa.has_error(findings)
            if bad and any(f["rule"] == "cell_type" or f["rule"] == "required_fields" for f in findings):
                # A row whose month, country, sector or indicator cannot be read has no place in the
                # fact table at all: it stays in the upload's report only.
                continue
            session.add(
                _report(project.id, upload, number, row, "error" if bad else "valid", findings, actor)
            )
            held += bad
            imported += not bad
    upload.rows_imported = imported
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="activities.import",
        project_id=project.id,
        subject_type="activity_upload",
        subject_id=upload.id,
        details={
            "source": source,
            "rows": len(checked),
            "errors": errors,
            "imported": imported,
            "held": held,
            "goodRows": good_rows,
            "refused": refused,
        },
    )
    return UploadResult(upload=upload, imported=imported, held=held, refused=refused)


def _jsonable(raw: dict[str, Any]) -> dict[str, Any]:
    """A row as sent, storable as JSON; a workbook's dates keep only their day (what the 5W means)."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if isinstance(v, datetime):
            v = v.date()
        if isinstance(v, date):
            out[k] = v.isoformat()
        elif v is None or isinstance(v, int | float | str | bool):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def report_for(session: Session, *, project: Project, report_id: int) -> ActivityReport:
    row = session.get(ActivityReport, report_id)
    if row is None or row.project_id != project.id:
        raise NotFoundError("No such activity report in this project.")
    return row


def fix(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    report_id: int,
    changes: dict[str, Any],
    language: str = "en",
) -> ActivityReport:
    """Change some fields of a stored row and check it again; a row that now passes leaves the held state."""
    report = report_for(session, project=project, report_id=report_id)
    unknown = sorted(set(changes) - set(columns.BY_NAME))
    if unknown:
        raise InvalidValueError(f"Unknown fields: {', '.join(unknown)}.", details={"unknown": unknown})
    raw = {name: getattr(report, name) for name in columns.BY_NAME} | changes
    row, findings = _checked(raw, language)
    if any(f["rule"] in ("cell_type", "required_fields") for f in findings):
        raise InvalidValueError("The corrected row still cannot be read.", details={"findings": findings})
    for name, value in row.items():
        setattr(report, name, value)
    report.findings = findings
    report.status = "error" if qa.has_error(findings) else "valid"
    report.accepted_reason = None
    audit.record(
        session,
        actor=actor,
        action="activities.fix",
        project_id=project.id,
        subject_type="activity_report",
        subject_id=report.id,
        details={"fields": sorted(changes)},
    )
    return report


def accept(
    session: Session, *, actor: Actor, project: Project, report_id: int, reason: str
) -> ActivityReport:
    """Count a held row as it is, with the reason a person gives (kept and audited)."""
    report = report_for(session, project=project, report_id=report_id)
    if report.status != "error":
        raise InvalidValueError("Only a row held for QA errors can be accepted.")
    if len(reason.strip()) < 5:
        raise InvalidValueError("Say why the row is right as it is (at least a few words).")
    report.status, report.accepted_reason = "accepted", reason.strip()[:1000]
    audit.record(
        session,
        actor=actor,
        action="activities.accept",
        project_id=project.id,
        subject_type="activity_report",
        subject_id=report.id,
        details={"reason": report.accepted_reason},
    )
    return report


def latest_upload(session: Session, *, project: Project, upload_id: int | None) -> ActivityUpload:
    query = select(ActivityUpload).where(ActivityUpload.project_id == project.id)
    query = (
        query.where(ActivityUpload.id == upload_id) if upload_id else query.order_by(ActivityUpload.id.desc())
    )
    upload = session.scalars(query.limit(1)).first()
    if upload is None:
        raise NotFoundError("No 5W upload in this project yet.")
    return upload


REPORT_HEADERS = {
    "en": ("row", "status", "rule", "field", "finding"),
    "es": ("fila", "estado", "regla", "campo", "hallazgo"),
    "pt": ("linha", "estado", "regra", "campo", "achado"),
}
STATUS_WORDS = {
    "en": {"ok": "ok", "error": "error", "warning": "warning"},
    "es": {"ok": "correcta", "error": "error", "warning": "advertencia"},
    "pt": {"ok": "correta", "error": "erro", "warning": "aviso"},
}


def error_workbook(upload: ActivityUpload, *, language: str = "en") -> bytes:
    """The upload's report as a workbook: a findings sheet (one line per finding, rows without any marked
    ok) and the rows as they were sent with a status column, errors in red, for the partner to fix."""
    language = language if language in REPORT_HEADERS else "en"
    words = STATUS_WORDS[language]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    bold, red = book.add_format({"bold": True}), book.add_format({"bg_color": "#F8D7DA"})
    findings = book.add_worksheet("findings")
    findings.write_row(0, 0, REPORT_HEADERS[language], bold)
    line = 1
    # Findings are checked again in the language asked for: the stored ones are in the uploader's.
    entries = [(e["row"], e["values"], _checked(e["values"], language)[1]) for e in upload.report]
    for number, _, found in entries:
        if not found:
            findings.write_row(line, 0, (number, words["ok"], "", "", ""))
            line += 1
        for f in found:
            findings.write_row(
                line, 0, (number, words[f["severity"]], f["rule"], f["field"], f["message"]), red
            )
            line += 1
    rows = book.add_worksheet("rows")
    names = list(columns.BY_NAME)
    rows.write_row(0, 0, [REPORT_HEADERS[language][0], REPORT_HEADERS[language][1], *names], bold)
    for index, (number, raw, found) in enumerate(entries, start=1):
        bad = qa.has_error(found)
        status = words["error"] if bad else words["ok"]
        values = [raw.get(n) for n in names]
        rows.write_row(
            index, 0, [number, status, *["" if v is None else v for v in values]], red if bad else None
        )
    book.close()
    return buffer.getvalue()
