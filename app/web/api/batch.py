"""``POST /v1/projects/{pid}/submissions/batch``: many submissions in one request, one answer per item.

Accepts a zip in Collect's instances layout (``application/zip``, optionally ``Content-Encoding: bzip2``
or ``gzip`` for the whole body), a multipart whose parts are named ``<folder>/<file>``, or Kobo's JSON
body. Callers: a logged-in user allowed to submit, or a field hub with ``Authorization: Hub <credential>``
issued for this project.

Resumable uploads (what a hub on a 2G link uses): ``PUT .../submissions/batch/uploads/<sha256>`` with
``Content-Range: bytes a-b/total`` appends a chunk, ``GET`` says how many bytes are held (and the answer
if it was already ingested), ``POST .../uploads/<sha256>/ingest`` ingests the complete body like a batch.
"""

from __future__ import annotations

import bz2
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from app.auth.actor import Actor
from app.auth.hub_actor import HubActor
from app.blobs import get_blob_store
from app.db import get_session
from app.errors import (
    BadRequestError,
    BatchFormatError,
    BatchTooLargeError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ZipBombError,
)
from app.models import Project
from app.services.hubs import central as hub_service
from app.services.submissions import batch as batch_service
from app.services.submissions import batch_uploads
from app.services.submissions import intake as submission_service
from app.web.api import bp
from app.web.api.hubs import hub_or_user_actor
from app.web.api.projects import project_for
from app.web.unit_of_work import single_attempt
from sync import batch as batch_reader

CHUNK = 1024 * 1024
MAX_CHUNK = 8 * 1024 * 1024
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


def _inflate(inflater: Any, data: bytes) -> Iterator[bytes]:
    """Inflate ``data`` in blocks of at most CHUNK (zlib keeps the rest as ``unconsumed_tail``, bz2 in
    its own buffer), so the caller can stop at its limit before the output is all in memory."""
    if isinstance(inflater, bz2.BZ2Decompressor):
        yield inflater.decompress(data, CHUNK)
        while not inflater.eof and not inflater.needs_input:
            yield inflater.decompress(b"", CHUNK)
        return
    while data:
        yield inflater.decompress(data, CHUNK)
        data = inflater.unconsumed_tail


def _decoded(stack: ExitStack, body: IO[bytes], encoding: str, limits: batch_reader.BatchLimits) -> IO[bytes]:
    """A body sent compressed as one stream, inflated into a spool and never past the inflated limit
    (a stream that inflates further is refused before it fills the disk)."""
    if encoding in {"", "identity"}:
        return body
    if encoding in {"bzip2", "x-bzip2"}:
        inflater: Any = bz2.BZ2Decompressor()
    elif encoding in {"gzip", "x-gzip"}:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    else:
        raise UnsupportedMediaTypeError(
            f"Content-Encoding {encoding!r} is not accepted for a batch; send bzip2, gzip or identity."
        )
    spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=8 * CHUNK))  # noqa: SIM115
    size = 0
    try:
        while block := body.read(CHUNK):
            for out in _inflate(inflater, block):
                size += len(out)
                if size > limits.max_total_bytes:
                    raise ZipBombError(
                        f"The batch inflates past {limits.max_total_bytes} bytes; send smaller batches."
                    )
                spool.write(out)
    except (OSError, EOFError, zlib.error) as err:
        raise BatchFormatError(f"The body is not a valid {encoding} stream ({err}).") from err
    spool.seek(0)
    return spool


def _read_items(stack: ExitStack, body: IO[bytes] | None = None) -> list[batch_reader.BatchItem]:
    ctype = (request.mimetype or "").lower()
    limits = _limits()
    request.max_content_length = _max_body()
    if ctype in ZIP_TYPES:
        encoding = (request.headers.get("Content-Encoding") or "").strip().lower()
        raw = body if body is not None else _spool_body(stack)
        return batch_reader.read_zip(_decoded(stack, raw, encoding, limits), limits)
    if body is not None:
        raise UnsupportedMediaTypeError("An uploaded batch is ingested as application/zip.")
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


def _submitter(project_id: int) -> tuple[Actor, Project]:
    actor = hub_or_user_actor()
    return actor, project_for(actor, project_id, "submission.create")


@bp.post("/projects/<int:project_id>/submissions/batch")
@single_attempt  # the body is read from the stream; items race in their own savepoints
def submission_batch(project_id: int) -> Response:
    """Many submissions in one request (zip, multipart or Kobo JSON), one result per item."""
    actor, project = _submitter(project_id)
    return jsonify(_ingest(actor, project))


def _ingest(actor: Actor, project: Project, body: IO[bytes] | None = None) -> dict[str, Any]:
    session = get_session()
    with ExitStack() as stack:  # the spooled body lives until every item has been read
        try:
            items = _read_items(stack, body)
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
    return {"results": [r.to_dict() for r in results], "counts": counts}


def _upload_folder(actor: Actor) -> Path:
    sender = f"hub-{actor.hub.id}" if isinstance(actor, HubActor) and actor.hub else f"user-{actor.user_id}"
    return batch_uploads.sender_dir(Path(current_app.instance_path), sender)


@bp.get("/projects/<int:project_id>/submissions/batch/uploads/<upload_id>")
def batch_upload_state(project_id: int, upload_id: str) -> Response:
    """How many bytes of this upload are held, and its answer when it was already ingested."""
    actor, _ = _submitter(project_id)
    state = batch_uploads.state(_upload_folder(actor), upload_id)
    return jsonify({"received": state.received, "answer": state.answer})


@bp.put("/projects/<int:project_id>/submissions/batch/uploads/<upload_id>")
@single_attempt  # the chunk is read from the stream
def batch_upload_chunk(project_id: int, upload_id: str) -> Response:
    """Append one chunk (``Content-Range: bytes a-b/total``), kept as it arrives: a sender cut off
    mid-chunk asks how much is held (GET) and sends only the rest."""
    actor, _ = _submitter(project_id)
    start, end, total = batch_uploads.parse_range(request.headers.get("Content-Range"), _max_body())
    if request.content_length is not None and request.content_length != end - start:
        raise BadRequestError("Content-Length and Content-Range disagree on the chunk's size.")
    if end - start > MAX_CHUNK:
        raise BatchTooLargeError(f"A chunk is at most {MAX_CHUNK} bytes; send smaller chunks.")
    try:
        received = batch_uploads.append(
            _upload_folder(actor),
            upload_id,
            start=start,
            total=total,
            read=request.stream.read,
            size=end - start,
        )
    except ClientDisconnected:  # cut off mid-chunk: what arrived is kept; nobody is left to answer
        raise BadRequestError("The chunk was cut off; ask how much is held and resume.") from None
    return jsonify({"received": received, "total": total})


@bp.post("/projects/<int:project_id>/submissions/batch/uploads/<upload_id>/ingest")
@single_attempt  # its answer is kept on disk; items race in their own savepoints
def batch_upload_ingest(project_id: int, upload_id: str) -> Response:
    """Ingest a complete upload as a batch (same answer as a direct POST); a second call answers the
    first call's answer without ingesting again."""
    actor, project = _submitter(project_id)
    folder = _upload_folder(actor)
    state = batch_uploads.state(folder, upload_id)
    if state.answer is not None:
        return jsonify(state.answer)
    part = batch_uploads.complete(folder, upload_id)
    with open(part, "rb") as body:
        answer = _ingest(actor, project, body)
    # Deliberate: the kept answer is what a repeated call gets back, so the items must be durable
    # before it is written (the unit of work would commit only after this view returns).
    get_session().commit()
    batch_uploads.keep_answer(folder, upload_id, answer)
    return jsonify(answer)
