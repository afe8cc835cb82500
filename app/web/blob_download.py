"""Serving a blob: a redirect to a short-lived presigned URL when the store has them (S3) and the
admin has not asked for streaming (``RUTA_BLOB_DOWNLOADS=stream``), else the bytes through Ruta.
The caller has already checked who asks; the URL is minted only after that check."""

from __future__ import annotations

from flask import Response, current_app, request

from app.blobs import get_blob_store


def blob_response(
    sha256: str,
    *,
    mimetype: str,
    disposition: str | None = None,
    size: int | None = None,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> Response:
    """``stream``: always through Ruta (a file a page embeds, which its CSP allows from 'self' only)."""
    store = get_blob_store()
    url = None
    if not stream and current_app.config["BLOB_DOWNLOADS"] != "stream":
        url = store.download_url(sha256, content_type=mimetype, disposition=disposition)
    if url is not None:
        # 307 keeps the method (a HEAD stays a HEAD); no-store: the URL expires, the redirect must not linger.
        response = Response(status=307, headers={"Location": url, "Cache-Control": "no-store"})
        response.headers.update({k: v for k, v in (headers or {}).items() if k != "Cache-Control"})
    else:
        response = Response(store.iter_chunks(sha256), mimetype=mimetype)
        if size is not None:
            response.headers["Content-Length"] = str(size)
        if disposition is not None:
            response.headers["Content-Disposition"] = disposition
        response.headers.update(headers or {})
    if etag is not None:
        # A device that has the file already gets 304 before any redirect.
        response.set_etag(etag)
        response.make_conditional(request)
    return response
