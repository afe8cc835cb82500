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

from flask import Response, current_app, jsonify, request

from app.blobs import get_blob_store
from app.db import get_session
from app.errors import InvalidValueError
from app.exports.options import parse_options
from app.models import ExportRun
from app.replica import get_read_session
from app.services.exports import render as export_render
from app.services.exports import tables as exports
from app.services.protection import classification, disclosure
from app.services.publishing import versions as form_service
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.auth import logged_in_actor
from app.web.downloads import content_disposition
from app.web.query import accepts, load_body

BASE = "/projects/<int:project_id>/forms/<xml_form_id>/submissions"
PASSPHRASE_HEADER = "X-Ruta-Passphrase"


def option_text(value: Any) -> str:
    """A JSON body's option as its query-string spelling (true, a,b)."""
    if isinstance(value, list):
        return ",".join(option_text(v) for v in value)
    return value if isinstance(value, str) else str(value).lower()


def _arguments() -> tuple[dict[str, str], str | None, bytes | None]:
    """Options (query string, plus a POST body's fields), the passphrase and a supplied private key
    (POST only: a JSON string or a multipart file named ``privateKey``; held in memory, never stored)."""
    args = {k: v for k, v in request.args.items()}
    passphrase = request.headers.get(PASSPHRASE_HEADER) or None
    pem: bytes | None = None
    if "privateKey" in args:
        raise InvalidValueError(
            "Send the private key in a POST body (privateKey), never in the URL.",
            details={"option": "privateKey"},
        )
    if request.method == "POST":
        body: dict[str, Any]
        body = load_body() if request.is_json else request.form.to_dict()
        passphrase = str(body.pop("passphrase", "") or "") or passphrase
        supplied = body.pop("privateKey", None)
        upload = request.files.get("privateKey")
        if upload is not None:
            pem = upload.read(_MAX_PEM + 1)
        elif isinstance(supplied, str) and supplied:
            pem = supplied.encode("utf-8")
        elif supplied not in (None, ""):
            raise InvalidValueError("privateKey must be a PEM text.", details={"option": "privateKey"})
        if pem is not None and len(pem) > _MAX_PEM:
            raise InvalidValueError(
                "privateKey is too large for a PEM key file.", details={"option": "privateKey"}
            )
        args.update({k: option_text(v) for k, v in body.items()})
    return args, passphrase, pem


_MAX_PEM = 64 * 1024  # an RSA-8192 PEM is under 7 KB


def _prepare(
    project_id: int,
    xml_form_id: str,
    fmt: str,
    check: Callable[[exports.Export], object] | None = None,
    *,
    audited: bool = True,
) -> tuple[exports.Export, disclosure.Check | None]:
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.export")
    args, passphrase, pem = _arguments()
    share_class = args.pop("shareClass", None) or None
    risk_check = args.pop("riskCheck", None)
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
        private_key_pem=pem,
        share_class=share_class,
        audited=audited,
    )
    # Asked for, shared as public, or rows leaving the organisation that collected them: checked.
    asked = not audited or _true(risk_check, "riskCheck")
    risk = disclosure.guard(
        session, actor=actor, export=export, asked=asked, share_class=share_class, fmt=fmt
    )
    if risk is not None and audited:
        get_session().commit()  # deliberate: the risk check stays on record when the export is refused
        disclosure.enforce(risk)
    # Deliberate, before the pages are read: the audit event is durable and SQLite's write lock, taken
    # by that insert, is released so the long read holds no lock (on the primary).
    get_session().commit()
    # End each page's read transaction (see exports.submissions). The stream runs after the view has
    # returned, so it keeps this session itself rather than looking one up again. The rows come from
    # the read replica when there is one.
    export.between_pages = get_read_session().commit
    return export, risk


def _true(raw: str | None, name: str) -> bool:
    if raw is None or raw.lower() in {"false", "0", "no", ""}:
        return False
    if raw.lower() in {"true", "1", "yes"}:
        return True
    raise InvalidValueError(f"{name} must be true or false.", details={"option": name})


def stream_download(chunks: Iterator[bytes], mimetype: str, filename: str) -> Response:
    sessions = {get_session(), get_read_session()}

    def finished() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            for session in sessions:
                session.rollback()  # a read: end its transaction (SQLite's lock) at once
                session.close()

    response = Response(finished(), mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def _serve(project_id: int, xml_form_id: str, fmt: str) -> Response:
    export, risk = _prepare(project_id, xml_form_id, fmt, export_render.check_for(fmt))
    rendered = export_render.render(get_read_session(), export, fmt, get_blob_store())
    response = stream_download(rendered.chunks, rendered.mimetype, rendered.filename)
    response.headers[classification.HEADER] = classification.LABELS[export.sensitivity]
    if risk is not None:
        response.headers["X-Ruta-Disclosure-Risk"] = f"{risk.risk.global_risk:.6f}"
    return response


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/risk", methods=["GET", "POST"])
@accepts(bodies.ExportOptions)
def disclosure_risk(project_id: int, xml_form_id: str) -> Response:
    """The risk figures of the rows an export with these options would take (no file is made)."""
    export, risk = _prepare(project_id, xml_form_id, "csv.zip", audited=False)
    assert risk is not None
    return jsonify(risk.to_json() | {"class": export.sensitivity})


def stored_download(run: ExportRun) -> Response:
    """A finished export job's file (the caller has checked and audited the download)."""
    assert run.blob_sha256 is not None
    response = Response(get_blob_store().iter_chunks(run.blob_sha256), mimetype=run.content_type)
    response.headers["Content-Length"] = str(run.size)
    response.headers["Content-Disposition"] = content_disposition(run.filename)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(BASE + ".csv.zip", methods=["GET", "POST"])
@accepts(bodies.ExportOptions)
def export_csv_zip(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "csv.zip")


@bp.route(BASE + ".csv", methods=["GET", "POST"])
@accepts(bodies.ExportOptions)
def export_csv(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "csv")


@bp.route(BASE + ".xlsx", methods=["GET", "POST"])
@accepts(bodies.ExportOptions)
def export_xlsx(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "xlsx")


@bp.route(BASE + ".geojson", methods=["GET", "POST"])
@accepts(bodies.ExportOptions)
def export_geojson(project_id: int, xml_form_id: str) -> Response:
    return _serve(project_id, xml_form_id, "geojson")
