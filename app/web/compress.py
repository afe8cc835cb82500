"""gzip for compressible responses (formList, XForms, manifests, JSON, HTML), for every client that
sends ``Accept-Encoding: gzip`` — ODK Collect (OkHttp), Enketo, pyodk and requests all do, and decode
it transparently. A 238 KB XForm goes down a 2G link as ~41 KB.

Left alone: streamed bodies (exports, media: already compressed or too big to hold), bodies under
``MIN_BYTES``, responses already encoded, and anything but 2xx. ``Vary: Accept-Encoding`` tells caches.

ETags stay correct: a strong ETag names exact bytes, so the gzip representation gets its own tag
(``"<tag>-gzip"``, as Apache does). A request's ``If-None-Match`` has the suffix stripped before the
view's conditional check, so a client holding the gzip copy still gets 304, with the gzip tag back.
"""

from __future__ import annotations

import gzip

from flask import Flask, Request, Response, request

MIN_BYTES = 1024
SUFFIX = "-gzip"
TYPES = ("text/", "application/xml", "application/json", "application/javascript")


def init_app(app: Flask) -> None:
    app.before_request(_strip_suffix)
    app.after_request(_compress)


def _accepts_gzip(req: Request) -> bool:
    return req.accept_encodings["gzip"] > 0


def _compressible(mimetype: str) -> bool:
    return mimetype.startswith(TYPES) or mimetype.endswith("+xml") or mimetype.endswith("+json")


def _strip_suffix() -> None:
    tags = request.environ.get("HTTP_IF_NONE_MATCH")
    if tags and SUFFIX in tags:
        request.environ["ruta.gzip_etag"] = True
        request.environ["HTTP_IF_NONE_MATCH"] = tags.replace(f'{SUFFIX}"', '"')


def _gzip_etag(response: Response) -> None:
    tag, weak = response.get_etag()
    if tag and not weak:
        response.set_etag(tag + SUFFIX)


def _compress(response: Response) -> Response:
    if response.status_code == 304:
        if request.environ.get("ruta.gzip_etag") and _accepts_gzip(request):
            _gzip_etag(response)
        return response
    if not _compressible(response.mimetype or ""):
        return response
    response.vary.add("Accept-Encoding")
    if (
        not 200 <= response.status_code < 300
        or response.status_code in (204, 206)
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or not _accepts_gzip(request)
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, 6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    _gzip_etag(response)
    return response
