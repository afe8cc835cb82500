"""The hub's side of the wire: a small requests client for the central Ruta, and the body a batch
travels in (Collect's instances layout in a zip, plus ``batch.json`` with each instance's device
metadata, the whole zip compressed as one bzip2 stream).

Every call carries ``Authorization: Hub <credential>``. Built for a 2G link that drops:

- a batch goes up as a *resumable upload* (``PUT .../uploads/<sha256>`` with ``Content-Range``, in
  chunks sized to ~30 s of the measured link rate), then ``POST .../uploads/<sha256>/ingest``; a cut
  costs only the bytes in flight, and the next attempt asks the central side where it stands;
- timeouts measure progress, not whole-body time: bodies are sent from a file object, 8 KB per socket
  write, and the timeout applies to each write and read (a stalled link fails, a slow one does not);
- network failures, 5xx and 429 are retried with exponential backoff (capped) until ``give_up_after``
  seconds have passed without success (``None``: never give up), or ``retries`` attempts when set.

Ingesting a batch twice is safe: the central side answers an instance it already has as a duplicate
(adding only the files it lacked), and keeps the answer of an ingested upload for a retry that lost it.

Codec: bzip2 (stdlib). Measured on household instances (tests/app/household.py, 200 a batch): per
instance 6.9 KB raw, 1.99 KB deflated one by one (as zip entries were), 1.13 KB as one zlib-9 stream,
0.89 KB as one xz (preset 6) stream, 0.61 KB as one bzip2-9 stream; bzip2 also took under a third of
xz's CPU (0.8 s against 2.6 s for 1.4 MB on a loaded machine). zstd would be a new dependency and does
not beat xz's ratio on text at its usual levels. Photos are stored in the zip (already compressed) and
travel in their own batches after the XML, so the data arrives first; those batches name each
instance's XML by instanceID and sha256 instead of sending it again (``sync.batch.HELD_XML``), and go
as a plain zip when bzip2 would not shrink them (``encode_smallest``).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
BODY_ENCODING = "bzip2"
MIN_CHUNK = 16 * 1024
MAX_CHUNK = 4 * 1024 * 1024
# A chunk lasts about this long at the measured rate. A cut does not lose the chunk (the central side
# keeps what arrived of it), so longer chunks cost nothing on a cut and save a request's ~600 bytes of
# headers each: at 10 s they were 0.8% of the bytes on a 64 kbit/s link, at 30 s 0.25%.
CHUNK_SECONDS = 30.0
ASSUMED_RATE = 6_000.0  # bytes/s before anything was measured: a 2G link


class HubClientError(Exception):
    """The central side could not be reached, or refused; ``status`` is its HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class OutgoingInstance:
    key: str  # the folder name: unique in the batch, a plain file name
    xml: bytes
    files: list[tuple[str, bytes]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def build_zip(instances: list[OutgoingInstance], *, stored: bool = False) -> bytes:
    """XML is deflated and media stored as they are; with ``stored`` nothing is compressed entry by
    entry (the whole body is then compressed as one stream by ``encode_body``)."""
    xml_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        meta = {i.key: i.meta for i in instances if i.meta}
        if meta:
            zf.writestr("batch.json", json.dumps(meta), compress_type=xml_type)
        # Every XML before any file: in one compressed stream the XMLs then sit side by side, where the
        # compressor finds what they share, instead of each alone between 50 KB photos it cannot shrink.
        for inst in instances:
            if inst.xml:  # none: files of an XML the central side holds (named in batch.json)
                zf.writestr(f"instances/{inst.key}/{inst.key}.xml", inst.xml, compress_type=xml_type)
        for inst in instances:
            for name, data in inst.files:
                zf.writestr(f"instances/{inst.key}/{name}", data, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def encode_body(instances: list[OutgoingInstance]) -> bytes:
    """The batch as the hub sends it: a stored zip compressed as one bzip2 stream."""
    return bz2.compress(build_zip(instances, stored=True), 9)


def encode_smallest(instances: list[OutgoingInstance]) -> tuple[bytes, str]:
    """The body and its Content-Encoding: ``encode_body``, or, when that is no smaller (a batch of
    photos, which bzip2 grows by ~0.2%), the zip as it is with only its small entries deflated."""
    body = encode_body(instances)
    plain = build_zip(instances)
    return (plain, "identity") if len(plain) < len(body) else (body, BODY_ENCODING)


class RateMeter:
    """The link's measured rate in bytes/s: a moving average of what each chunk achieved end to end
    (latency included), so batch and chunk sizes follow the link as it changes."""

    def __init__(self, initial: float | None = None) -> None:
        self.rate = initial if initial and initial > 0 else None

    def add(self, nbytes: int, seconds: float) -> None:
        if nbytes <= 0 or seconds <= 0:
            return
        sample = nbytes / seconds
        self.rate = sample if self.rate is None else 0.6 * self.rate + 0.4 * sample

    @property
    def estimate(self) -> float:
        return self.rate or ASSUMED_RATE

    def chunk_size(self) -> int:
        return int(min(MAX_CHUNK, max(MIN_CHUNK, self.estimate * CHUNK_SECONDS)))


@dataclass
class UploadProgress:
    sent: int  # bytes of this upload the central side holds
    total: int


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HubClient:
    def __init__(
        self,
        base_url: str,
        project_id: int,
        token: str,
        *,
        retries: int | None = None,
        give_up_after: float | None = 3600.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        connect_timeout: float = 20.0,
        stall_timeout: float = 60.0,
        meter: RateMeter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/v1/projects/{project_id}"
        self.retries = retries
        self.give_up_after = give_up_after
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = (connect_timeout, stall_timeout)
        self.meter = meter or RateMeter()
        self.sleep = sleep
        self.on_wait = on_wait
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Hub {token}", "User-Agent": "ruta-hub/2"})

    def _give_up(self, attempt: int, started: float, what: str, last: str) -> None:
        elapsed = time.monotonic() - started
        if self.retries is not None:
            out = attempt > self.retries
        else:
            out = self.give_up_after is not None and elapsed >= self.give_up_after
        if out:
            raise HubClientError(
                f"{what}: {last} after {attempt} attempts over {elapsed:.0f} s; nothing acknowledged is "
                "lost: run `ruta hub sync` again (or with --until-done to wait for the link)."
            )

    def _wait(self, attempt: int, last: str) -> None:
        wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        if self.on_wait is not None:
            self.on_wait(last, wait)
        self.sleep(wait)

    def _once(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
        """One attempt; a failure worth retrying raises ``_Retry``, a refusal ``HubClientError``."""
        try:
            res = self.http.request(method, self.root + path, timeout=self.timeout, **kwargs)
        except RETRYABLE as err:
            raise _Retry(f"the connection failed ({_reason(err)})") from err
        if res.status_code >= 500 or res.status_code == 429:
            raise _Retry(f"the central Ruta answered {res.status_code}")
        if res.status_code >= 400 and res.status_code not in ok:
            raise HubClientError(_message(res), res.status_code)
        return res

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """One request, retried with backoff while the link is down. ``ok``: 4xx the caller handles."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self._once(method, path, ok, **kwargs)
            except _Retry as err:
                attempt += 1
                self._give_up(attempt, started, f"{method} {path}", err.reason)
                self._wait(attempt, err.reason)

    def whoami(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/hub").json()
        return data

    def push_batch(self, zip_bytes: bytes) -> dict[str, Any]:
        """One request with the whole zip (the pre-upload way; kept for small pushes and old centrals)."""
        res = self._call(
            "POST", "/submissions/batch", data=zip_bytes, headers={"Content-Type": "application/zip"}
        )
        data: dict[str, Any] = res.json()
        return data

    def upload(
        self,
        body: bytes,
        *,
        on_progress: Callable[[UploadProgress], None] | None = None,
        encoding: str = BODY_ENCODING,
    ) -> dict[str, Any]:
        """Send ``body`` (an ``encode_body`` batch, or a zip sent as it is with ``encoding`` identity)
        resumably and have the central side ingest it."""
        try:
            return self._upload(body, on_progress, encoding)
        except HubClientError as err:
            if err.status != 400:
                raise
            # The held bytes did not hash to the body (the central side discarded them): once more.
            return self._upload(body, on_progress, encoding)

    def _upload(
        self, body: bytes, on_progress: Callable[[UploadProgress], None] | None, encoding: str
    ) -> dict[str, Any]:
        upload_id = hashlib.sha256(body).hexdigest()
        path = f"/submissions/batch/uploads/{upload_id}"
        total = len(body)
        state = self._call("GET", path).json()
        if state.get("answer") is not None:  # ingested by an attempt whose answer was lost
            done: dict[str, Any] = state["answer"]
            return done
        offset = int(state.get("received", 0))
        failures, since = 0, time.monotonic()
        while offset < total:
            end = min(total, offset + self.meter.chunk_size())
            chunk = io.BytesIO(body[offset:end])  # a file object: http.client writes it 8 KB at a time
            started = time.monotonic()
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {offset}-{end - 1}/{total}",
            }
            try:
                # Not retried as is: after a cut the central side keeps what arrived, so ask first.
                res = self._once("PUT", path, (409,), data=chunk, headers=headers)
            except _Retry as err:
                failures += 1
                self._give_up(failures, since, f"PUT {path}", err.reason)
                self._wait(failures, err.reason)
                offset = int(self._call("GET", path).json().get("received", 0))
                continue
            got = res.json()
            if res.status_code == 409:  # the central side holds another amount, or is still writing
                held = int((got.get("details") or {}).get("received", 0))
                if held == offset:
                    failures += 1
                    self._give_up(failures, since, f"PUT {path}", "the upload is busy")
                    self._wait(failures, "the previous chunk is still being written")
                offset = held
                continue
            failures, since = 0, time.monotonic()
            if end - offset >= MIN_CHUNK // 2:  # a small tail measures the latency, not the rate
                self.meter.add(int(got["received"]) - offset, time.monotonic() - started)
            offset = int(got["received"])
            if on_progress is not None:
                on_progress(UploadProgress(offset, total))
        res = self._call(
            "POST",
            f"{path}/ingest",
            headers={"Content-Type": "application/zip", "Content-Encoding": encoding},
        )
        answer: dict[str, Any] = res.json()
        return answer

    def forms(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/hub/forms").json()
        return data

    def form_xml(self, xml_form_id: str, sha256: str) -> bytes:
        return self._call("GET", f"/hub/forms/{xml_form_id}/versions/{sha256}.xml").content

    def media(self, sha256: str) -> bytes:
        return self._call("GET", f"/hub/media/{sha256}").content


def _reason(err: Exception) -> str:
    """The innermost cause (``Connection refused``, ``timed out``), not urllib3's nesting around it."""
    while err.__context__ is not None and isinstance(err.__context__, Exception):
        err = err.__context__
    return f"{type(err).__name__}: {err}"[:160]


def _message(res: requests.Response) -> str:
    try:
        body = res.json()
        return f"{res.status_code}: {body.get('message') or body}"
    except ValueError:
        return f"{res.status_code}: {res.text[:200]}"
