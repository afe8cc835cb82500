"""Rendering the error catalogue per audience: OpenRosaResponse XML for devices, JSON for the API,
HTML in the admin; and the one place where storage and database faults become 503/507."""

from __future__ import annotations

import errno
import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.db import get_session
from app.errors import (
    BadRequestError,
    DatabaseUnavailableError,
    InsufficientStorageError,
    InvalidValueError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RutaError,
    StorageUnavailableError,
    UnsupportedMediaTypeError,
)
from app.services.audit import events as audit

log = logging.getLogger("ruta.errors")

# Seconds a client should wait before retrying, per fault: a busy database clears in seconds, a full or
# read-only disk needs an operator.
RETRY_AFTER = {DatabaseUnavailableError: 5, StorageUnavailableError: 60, InsufficientStorageError: 300}

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PG_DISK_FULL, _PG_READ_ONLY = "53100", "25006"  # SQLSTATE disk_full, read_only_sql_transaction


def _is_device_request() -> bool:
    return request.blueprint == "openrosa"


def render(error: RutaError) -> Response:
    if _is_device_request():
        from app.web.openrosa.responses import openrosa_error

        response = openrosa_error(error)
    elif request.blueprint == "admin":
        from app.web.admin.context import error_page
        from app.web.admin.error_messages import message

        response = error_page(error.status, message(error))
    else:
        response = jsonify(error.to_dict())
        response.status_code = error.status
    response.headers.update(error.response_headers())
    return response


def storage_fault(exc: BaseException) -> RutaError | None:
    """The catalogue error for a storage or database fault (disk full, read-only file system, database
    unreachable), looking through the chain of causes; None when ``exc`` is not one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return InsufficientStorageError()
        if isinstance(current, OSError) and current.errno == errno.EROFS:
            return StorageUnavailableError()
        if isinstance(current, DBAPIError):
            code = getattr(current.orig, "sqlstate", None) or getattr(current.orig, "pgcode", None)
            text = str(current.orig).lower()
            if code == _PG_DISK_FULL or "disk is full" in text or "disk full" in text:
                return InsufficientStorageError()
            if code == _PG_READ_ONLY or "readonly database" in text or "read-only" in text:
                return StorageUnavailableError()
            # Busy (SQLite's lock), unreachable, out of connections, shutting down: worth a retry.
            if isinstance(current, OperationalError) or current.connection_invalidated:
                return DatabaseUnavailableError()
            if code is not None and code[:2] in {"08", "53", "57"}:  # connection, resources, operator
                return DatabaseUnavailableError()
        current = current.__cause__ or current.__context__
    return None


def render_fault(error: RutaError) -> Response:
    get_session().rollback()
    response = render(error)
    retry = RETRY_AFTER.get(type(error))
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
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
            session.commit()  # deliberate: the audit of a refused action outlives the request's rollback
        response = render(error)
        if error.status == 503:
            response.headers["Retry-After"] = "5"  # a passing outage (the blob store): the client retries
        if error.status == 401 and _is_device_request():
            from app.web.openrosa.auth import add_challenge

            add_challenge(response)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return render(_from_http(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        fault = storage_fault(exc)
        if fault is not None:
            log.error("storage fault on %s %s: %s", request.method, request.path, exc)
            return render_fault(fault)
        if isinstance(exc, DataError):
            # A value the database refused (out of range, too long, a NUL). Input is checked when it is
            # parsed; this is the net for a case the checks missed, so it is logged as a bug too.
            log.exception("database refused a value on %s %s", request.method, request.path)
            get_session().rollback()
            return render(InvalidValueError("A value is too long or not valid; nothing was stored."))
        log.exception("unhandled error on %s %s", request.method, request.path)
        get_session().rollback()
        return render(RutaError())
