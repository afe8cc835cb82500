"""OpenRosa responses: the headers every device response carries, and errors as OpenRosaResponse XML."""

from __future__ import annotations

from email.utils import formatdate

from flask import Response

from app.errors import RutaError
from sync import openrosa

XML_CONTENT_TYPE = "text/xml; charset=utf-8"


def with_openrosa_headers(response: Response) -> Response:
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["Date"] = formatdate(usegmt=True)
    return response


def xml_response(body: bytes, status: int = 200) -> Response:
    response = Response(body, status=status)
    response.headers["Content-Type"] = XML_CONTENT_TYPE
    return with_openrosa_headers(response)


def message_response(message: str, status: int, nature: str = "submit_success") -> Response:
    return xml_response(openrosa.openrosa_response(message, nature=nature), status)


def openrosa_error(error: RutaError) -> Response:
    # Collect shows the first <message> to the enumerator; the code lets a supervisor look it up.
    return message_response(f"{error.message} [{error.code}]", error.status, nature="error")
