"""OpenRosa responses: the headers every device response carries, and errors as OpenRosaResponse XML."""

from __future__ import annotations

from email.utils import formatdate

from flask import Response

from app.errors import RutaError
from sync import openrosa


def with_openrosa_headers(response: Response) -> Response:
    response.headers[openrosa.OPENROSA_VERSION_HEADER] = openrosa.OPENROSA_VERSION
    response.headers["Date"] = formatdate(usegmt=True)
    return response


def xml_response(body: bytes, status: int = 200) -> Response:
    response = Response(body, status=status)
    response.headers["Content-Type"] = openrosa.XML_CONTENT_TYPE
    return with_openrosa_headers(response)


def message_response(message: str, status: int, nature: str = openrosa.SUBMIT_SUCCESS) -> Response:
    return xml_response(openrosa.openrosa_response(message, nature=nature), status)


def openrosa_error(error: RutaError) -> Response:
    # Collect shows the first <message> to the enumerator; the code lets a supervisor look it up.
    return message_response(f"{error.message} [{error.code}]", error.status, nature=openrosa.ERROR)
