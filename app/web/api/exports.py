"""Submission exports of a form: ``submissions.csv.zip`` and ``submissions.csv`` (ODK Central's shapes),
and Ruta's ``submissions.xlsx`` and ``submissions.geojson``. GET with options in the query string, or
POST (Central's way to send an encrypted form's passphrase) with the same options in a form or JSON
body. The passphrase travels in the ``X-Ruta-Passphrase`` header or the POST body, never the URL.

Everything is checked and audited before the response starts; the body is then streamed by a plain
generator that holds its own session and blob store (no request context: Flask has torn the request
down by then, and a client that never reads the body must not leave a context behind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request

from app.blobs import get_blob_store
from app.db import commit, get_session
from app.errors import InvalidJSONError
from app.exports.options import parse_options
from app.services import export_render, exports
from app.services import forms as form_service
from app.web.api import bp
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor

BASE = "/projects/<int:project_id>/forms/<xml_form_id>/submissions"
PASSPHRASE_HEADER = "X-Ruta-Passphrase"


def option_text(value: Any) -> str:
    """A JSON body's option as its query-string spelling (true, a,b)."""
    if isinstance(value, list):
        return ",".join(option_text(v) for v in value)
    return value if isinstance(value, str) else str(value).lower()


def _arguments() -> tuple[dict[str, str], str | None]:
    """Options (query string, plus a POST body's fields) and the passphrase."""
    args = {k: v for k, v in request.args.items()}
    passphrase = request.headers.get(PASSPHRASE_HEADER) or None
    if request.method == "POST":
        body: dict[str, Any]
        if request.is_json:
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise InvalidJSONError("The request body must be a JSON object of export options.")
            body = data
        else:
            body = request.form.to_dict()
        passphrase = str(body.pop("passphrase", "") or "") or passphrase
        args.update({k: option_text(v) for k, v in body.items()})
    return args, passphrase


def _prepare(
    project_id: int, xml_form_id: str, fmt: str, check: Callable[[exports.Export], object] | None = None
) -> exports.Export:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.export")
    args, passphrase = _arguments()
    options = parse_options(args, passphrase=passphrase)
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    export = exports.prepare(
        session,
        actor=actor,
        project=project,
        form=form,
        options=options,
        fmt=fmt,
        secret_key=str(current_app.config["SECRET_KEY"]),
        check=check,
    )
    commit()  # the audit event, before the first byte
    # End each page's read transaction (see exports.submissions). The stream runs after the view has
    # returned, so it keeps this session itself rather than looking one up again.
    export.between_pages = session.commit
    return export


def _download(chunks: Iterator[bytes], mimetype: str, filename: str) -> Response:
    session = get_session()

    def finished() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            session.rollback()  # a read: end its transaction (SQLite's lock) at once
            session.close()

    response = Response(finished(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _serve(project_id: int, xml_form_id: str, fmt: str) -> Response:
    export = _prepare(project_id, xml_form_id, fmt, export_render.check_for(fmt))
    rendered = export_render.render(get_session(), export, fmt, get_blob_store())
    return _download(rendered.chunks, rendered.mimetype, rendered.filename)


@bp.route(BASE + ".csv.zip", methods=["GET", "POST"])
def export_csv_zip(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "csv.zip")


@bp.route(BASE + ".csv", methods=["GET", "POST"])
def export_csv(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "csv")


@bp.route(BASE + ".xlsx", methods=["GET", "POST"])
def export_xlsx(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "xlsx")


@bp.route(BASE + ".geojson", methods=["GET", "POST"])
def export_geojson(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "geojson")
