"""Rendering the error catalogue per audience: OpenRosaResponse XML for devices, JSON for the API."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.db import get_session
from app.errors import (
    BadRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RutaError,
    UnsupportedMediaTypeError,
)
from app.services import audit

log = logging.getLogger("ruta.errors")


def _is_device_request() -> bool:
    return request.blueprint == "openrosa"


def render(error: RutaError) -> Response:
    if _is_device_request():
        from app.web.openrosa.responses import openrosa_error

        response = openrosa_error(error)
    else:
        response = jsonify(error.to_dict())
        response.status_code = error.status
    response.headers.update(error.response_headers())
    return response


def _from_http(exc: HTTPException) -> RutaError:
    if isinstance(exc, RequestEntityTooLarge):
        return PayloadTooLargeError()
    mapping: dict[int, type[RutaError]] = {
        400: BadRequestError,
        404: NotFoundError,
        405: MethodNotAllowedError,
        413: PayloadTooLargeError,
        415: UnsupportedMediaTypeError,
    }
    cls = mapping.get(exc.code or 500)
    if cls is None:
        err = RutaError(exc.description)
        err.status = exc.code or 500
        err.code = f"{err.status}.1"
        return err
    return cls()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RutaError)
    def _ruta_error(error: RutaError) -> Response:
        # Whatever the request wrote is undone: an error never leaves a partial write.
        session = get_session()
        session.rollback()
        if error.audit_rows:
            for row in error.audit_rows:
                audit.record_row(session, row)
            session.commit()
        response = render(error)
        if error.status == 401 and _is_device_request():
            from app.web.openrosa.auth import add_challenge

            add_challenge(response)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return render(_from_http(exc))

    @app.errorhandler(OperationalError)
    def _db_unavailable(exc: OperationalError) -> Response:
        log.exception("database error")
        get_session().rollback()
        err = RutaError("The database is busy or unavailable. Nothing was stored; try again shortly.")
        err.status, err.code = 503, "503.1"
        response = render(err)
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        get_session().rollback()
        return render(RutaError())
