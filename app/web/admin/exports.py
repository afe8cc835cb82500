"""Submission and indicator exports in the admin, on the admin's own login session.

Why admin routes rather than letting ``/v1`` accept the admin's cookie: the JSON API stays bearer-token
only, so no cross-site page can ever make a logged-in person's browser call it (no CSRF surface is
added to the API), and a download here gets the admin's login redirect, error pages and headers. The
routes call the very services the API calls (``exports.prepare`` + ``export_render`` for a direct
download, ``export_runs`` for a job with progress, ``indicator_download`` for indicators), so the
options, permissions, sensitive-field rules and audit events are the API's. Downloads are GETs (safe
methods: they only read, and record that they read); starting a job is a POST with the CSRF token.

Before anything is made, the page shows what the filters select and what they leave out
(``export_preview``): an approved-only export of a project nobody has reviewed yet says "0 of 12,
12 left out as received", not an empty file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from app.blobs import get_blob_store
from app.db import get_session
from app.errors import InvalidValueError, RutaError
from app.exports.options import SENSITIVE_CHOICES, parse_options
from app.models import ExportRun, Form, FormVersion, Project
from app.models.submission import REVIEW_STATES
from app.replica import get_read_session
from app.services.exports import preview as export_preview
from app.services.exports import render as export_render
from app.services.exports import runs as export_runs
from app.services.exports import tables as exports
from app.services.protection import disclosure, sensitive
from app.services.publishing import versions as form_service
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu
from app.web.api import exports as api_exports
from app.web.api import indicators as api_indicators
from forms.schema import FormSchema

PAGE = "/projects/<int:project_id>/forms/<xml_form_id>/export"
FORMAT_NAMES = {
    "csv.zip": _l("CSV (zip, with repeat tables and media)"),
    "csv": _l("CSV (main table)"),
    "xlsx": _l("Excel (XLSX)"),
    "geojson": _l("GeoJSON (map)"),
}
# The page's fields that are export options as the API spells them (format is separate).
TEXT_OPTIONS = ("start", "end", "language", "header", "sensitive", "geoField", "formVersion")
FLAG_OPTIONS = ("labels", "groupPaths", "splitSelectMultiples", "media", "hxl")
FLAG_DEFAULTS = {"groupPaths": True}
RECENT_RUNS = 10


def options_from(args: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The format and the API's export options from the page's form: review states are checkboxes
    (one value each), flags are checkboxes (absent = off once the form was sent)."""
    fmt = str(args.get("format") or "csv.zip")
    if fmt not in export_render.FORMATS:
        raise InvalidValueError(gettext("Choose one of the offered formats."), details={"field": "format"})
    sent = "format" in args
    getlist = getattr(args, "getlist", None)
    states = list(getlist("reviewState")) if getlist else [str(args.get("reviewState") or "")]
    options: dict[str, str] = {"reviewState": ",".join(s for s in states if s) or "approved"}
    for name in TEXT_OPTIONS:
        value = str(args.get(name) or "").strip()
        if value:
            options[name] = value
    for name in FLAG_OPTIONS:
        on = bool(args.get(name)) if sent else FLAG_DEFAULTS.get(name, False)
        options[name] = "true" if on else "false"
    return fmt, options


def _form(project_id: int, xml_form_id: str) -> tuple[Any, Project, Form]:
    actor = current_actor()
    project = project_for(actor, project_id, "submission.export")
    return actor, project, form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)


def _versions(form: Form) -> list[str]:
    rows = get_session().scalars(
        sa.select(FormVersion.version)
        .where(FormVersion.form_id == form.id, FormVersion.published_at.is_not(None))
        .order_by(FormVersion.published_at.desc())
    )
    return [v for v in rows if v]


@bp.get(PAGE)
def export_page(project_id: int, xml_form_id: str) -> Response:
    actor, project, form = _form(project_id, xml_form_id)
    db = get_session()
    version = form.current_version
    schema = FormSchema.from_dict(version.schema) if version is not None else None
    problem, selection = None, None
    fmt, options = "csv.zip", dict[str, str]()
    try:
        fmt, options = options_from(request.args)
        parsed = parse_options(options)
        version_ids = exports.published_version_ids(db, form, parsed.form_versions)
        selection = export_preview.selection(db, form=form, options=parsed, version_ids=version_ids)
    except RutaError as exc:
        db.rollback()
        problem = exc.message
    runs = db.scalars(
        sa.select(ExportRun)
        .where(ExportRun.form_id == form.id, ExportRun.created_by_id == actor.user_id)
        .order_by(ExportRun.id.desc())
        .limit(RECENT_RUNS)
    ).all()
    may_see = sensitive.may_see_sensitive(db, actor, project)
    html = render_template(
        "admin/export.html",
        project=project,
        form=form,
        fmt=fmt,
        options=options,
        states=REVIEW_STATES,
        chosen_states=set(options.get("reviewState", "approved").split(",")),
        formats=[(code, str(name)) for code, name in FORMAT_NAMES.items()],
        languages=schema.languages if schema else [],
        versions=_versions(form),
        sensitive_choices=[c for c in SENSITIVE_CHOICES if c != "include" or may_see],
        selection=selection,
        problem=problem,
        runs=runs,
        refresh=any(r.status in ("queued", "running") for r in runs),
        download_query=_query(fmt, options),
        project_menu=project_menu(project, "admin.project"),
    )
    return Response(html, status=400 if problem else 200)


def _query(fmt: str, options: Mapping[str, str]) -> str:
    """The page's choices as its own query string (flags that are off are left out, as a browser
    leaves out an unticked box), so "Download now" exports exactly what the form shows."""
    pairs = [("format", fmt)]
    pairs += [("reviewState", s) for s in options.get("reviewState", "approved").split(",")]
    pairs += [(k, v) for k, v in options.items() if k != "reviewState" and v != "false"]
    return urlencode(pairs)


@bp.get(PAGE + "/download")
def export_download(project_id: int, xml_form_id: str) -> Response:
    """The file at once, streamed as the API streams it (small and medium forms)."""
    actor, project, form = _form(project_id, xml_form_id)
    fmt, options = options_from(request.args)
    db = get_session()
    export = exports.prepare(
        db,
        actor=actor,
        project=project,
        form=form,
        options=parse_options(options),
        fmt=fmt,
        secret_key=str(current_app.config["SECRET_KEY"]),
        check=export_render.check_for(fmt),
    )
    risk = disclosure.guard(db, actor=actor, export=export, asked=False, share_class=None, fmt=fmt)
    # Deliberate, before the pages are read: the audit events (the export's, the risk check's) are
    # durable even when the export is refused, and SQLite's write lock, taken by those inserts, is
    # released so the long read holds no lock.
    db.commit()
    if risk is not None:
        disclosure.enforce(risk)
    export.between_pages = get_read_session().commit
    rendered = export_render.render(get_read_session(), export, fmt, get_blob_store())
    return api_exports.stream_download(rendered.chunks, rendered.mimetype, rendered.filename)


@bp.post(PAGE)
def export_start(project_id: int, xml_form_id: str) -> Response:
    """A background export (a job with progress) for forms too large to wait for."""
    actor, project, form = _form(project_id, xml_form_id)
    fmt, options = options_from(request.form)
    run = export_runs.request_export(
        get_session(), actor=actor, project=project, form=form, fmt=fmt, options=options
    )
    flash(gettext("Export %(id)s queued; this page shows its progress.", id=run.id), "ok")
    back = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    url = url_for("admin.export_page", project_id=project.id, xml_form_id=form.xml_form_id)
    return redirect(f"{url}?{back}" if back else url, code=303)  # type: ignore[return-value]


@bp.get(PAGE + "/<int:export_id>/file")
def export_file(project_id: int, xml_form_id: str, export_id: int) -> Response:
    actor, project, form = _form(project_id, xml_form_id)
    db = get_session()
    run = export_runs.get_run(db, actor=actor, project=project, form=form, run_id=export_id)
    export_runs.download(db, actor=actor, project=project, run=run)
    return api_exports.stored_download(run)


@bp.get("/projects/<int:project_id>/indicators.<any(csv, xlsx):kind>")
def indicators_download(project_id: int, kind: str) -> Response:
    """The dashboard's downloads, indicator names in the admin's language."""
    current_actor()
    return api_indicators.indicator_download(project_id, kind, language=str(get_locale() or "en")[:2])
