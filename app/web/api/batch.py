"""``POST /v1/projects/{pid}/submissions/batch``: many submissions in one request, one answer per item.

Accepts a zip in Collect's instances layout (``application/zip``), a multipart whose parts are named
``<folder>/<file>``, or Kobo's JSON body. Callers: a logged-in user allowed to submit, or a field hub
with ``Authorization: Hub <credential>`` issued for this project.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from contextlib import ExitStack
from typing import IO

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth.hub_actor import HubActor
from app.blobs import get_blob_store
from app.db import commit, get_session
from app.errors import (
    BatchFormatError,
    BatchTooLargeError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ZipBombError,
)
from app.models import Project
from app.services import batch as batch_service
from app.services import hubs as hub_service
from app.services import submissions as submission_service
from app.web.api import bp
from app.web.api.hubs import hub_or_user_actor
from sync import batch as batch_reader

CHUNK = 1024 * 1024
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}


def _limits() -> batch_reader.BatchLimits:
    cfg = current_app.config
    return batch_reader.BatchLimits(
        max_entries=int(cfg.get("MAX_BATCH_ENTRIES", 5000)),
        max_entry_bytes=int(cfg["MAX_SUBMISSION_BYTES"]),
        max_total_bytes=int(cfg.get("MAX_BATCH_INFLATED_BYTES", 2 * 1024**3)),
    )


def _max_body() -> int:
    return int(current_app.config.get("MAX_BATCH_BYTES", 512 * 1024 * 1024))


def _spool_body(stack: ExitStack) -> IO[bytes]:
    """The body in a temporary file (zip needs to seek), read in chunks and never past the limit."""
    limit = _max_body()
    if request.content_length is not None and request.content_length > limit:
        raise BatchTooLargeError(f"The batch is {request.content_length} bytes; at most {limit} per request.")
    spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=8 * CHUNK))  # noqa: SIM115
    size = 0
    while chunk := request.stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BatchTooLargeError(f"The batch is larger than the {limit} bytes accepted per request.")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _read_items(stack: ExitStack) -> list[batch_reader.BatchItem]:
    ctype = (request.mimetype or "").lower()
    limits = _limits()
    request.max_content_length = _max_body()
    if ctype in ZIP_TYPES:
        return batch_reader.read_zip(_spool_body(stack), limits)
    if ctype == "multipart/form-data":
        request.max_form_parts = limits.max_entries + 10
        try:
            files = list(request.files.items(multi=True))
            fields = list(request.form.items(multi=True))
        except RequestEntityTooLarge as err:
            raise BatchTooLargeError(
                f"The multipart has more than {limits.max_entries} parts or is too large; "
                "send smaller batches."
            ) from err
        parts = [(name, s.read, s.content_length or 0, s.mimetype or None) for name, s in files]
        parts += [(name, (lambda v=value: v.encode()), len(value), None) for name, value in fields]
        return batch_reader.read_multipart(parts, limits)
    if ctype == "application/json":
        return batch_reader.read_json(_spool_body(stack).read())
    raise UnsupportedMediaTypeError(
        "Send the batch as application/zip (instance folders), multipart/form-data (parts named "
        '<folder>/<file>) or application/json (Kobo\'s {"id", "submission"}).'
    )


@bp.post("/projects/<int:project_id>/submissions/batch")
def submission_batch(project_id: int) -> Response:
    """Many submissions in one request (zip, multipart or Kobo JSON), one result per item."""
    actor = hub_or_user_actor()
    session = get_session()
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError()
    actor.require(session, "submission.create", project)
    with ExitStack() as stack:  # the spooled body lives until every item has been read
        try:
            items = _read_items(stack)
        except batch_reader.BatchError as err:
            if err.code in batch_reader.TOO_LARGE_CODES:
                raise BatchTooLargeError(err.message, details={"reason": err.code}) from err
            if err.code == batch_reader.ZIP_BOMB:
                raise ZipBombError(err.message) from err
            raise BatchFormatError(err.message, details={"reason": err.code}) from err
        except RequestEntityTooLarge as err:
            raise PayloadTooLargeError(f"The batch is larger than the {_max_body()} bytes accepted.") from err
        hub = actor.hub if isinstance(actor, HubActor) else None
        origin = submission_service.origin(
            None, request.headers.get("User-Agent"), hub.id if hub is not None else None
        )
        try:
            results = batch_service.ingest_batch(
                session, actor=actor, project=project, items=items, store=get_blob_store(), origin=origin
            )
        except batch_reader.BatchError as err:  # an entry that lied about its size while inflating
            raise ZipBombError(err.message) from err
    counts = dict(Counter(r.status for r in results))
    if isinstance(actor, HubActor):
        hub_service.record_batch(session, actor=actor, counts=counts)
    commit()  # the single commit: files are already fsynced, so the 200 below means durable
    return jsonify({"results": [r.to_dict() for r in results], "counts": counts})
