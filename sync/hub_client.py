"""The hub's side of the wire: a small requests client for the central Ruta, and the zip a batch
travels in (Collect's instances layout, plus ``batch.json`` with each instance's device metadata).

Every call carries ``Authorization: Hub <credential>``. Network failures and 5xx are retried with
exponential backoff; pushing a batch again is safe because the central side answers an instance it
already has as a duplicate (and adds only the files it lacked).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


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


def build_zip(instances: list[OutgoingInstance]) -> bytes:
    """XML is deflated; media (already compressed photos, audio) are stored as they are."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        meta = {i.key: i.meta for i in instances if i.meta}
        if meta:
            zf.writestr("batch.json", json.dumps(meta), compress_type=zipfile.ZIP_DEFLATED)
        for inst in instances:
            zf.writestr(f"instances/{inst.key}/{inst.key}.xml", inst.xml, compress_type=zipfile.ZIP_DEFLATED)
            for name, data in inst.files:
                zf.writestr(f"instances/{inst.key}/{name}", data, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


class HubClient:
    def __init__(
        self,
        base_url: str,
        project_id: int,
        token: str,
        *,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 120,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/v1/projects/{project_id}"
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Hub {token}", "User-Agent": "ruta-hub/1"})

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                res = self.http.request(method, self.root + path, timeout=self.timeout, **kwargs)
            except RETRYABLE as err:
                last = f"the connection failed ({type(err).__name__})"
                continue
            if res.status_code >= 500 or res.status_code == 429:
                last = f"the central Ruta answered {res.status_code}"
                continue
            if res.status_code >= 400:
                raise HubClientError(_message(res), res.status_code)
            return res
        raise HubClientError(f"{method} {path}: {last} after {self.retries + 1} attempts.")

    def whoami(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/hub").json()
        return data

    def push_batch(self, zip_bytes: bytes) -> dict[str, Any]:
        res = self._call(
            "POST", "/submissions/batch", data=zip_bytes, headers={"Content-Type": "application/zip"}
        )
        data: dict[str, Any] = res.json()
        return data

    def forms(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/hub/forms").json()
        return data

    def form_xml(self, xml_form_id: str, sha256: str) -> bytes:
        return self._call("GET", f"/hub/forms/{xml_form_id}/versions/{sha256}.xml").content

    def media(self, sha256: str) -> bytes:
        return self._call("GET", f"/hub/media/{sha256}").content


def _message(res: requests.Response) -> str:
    try:
        body = res.json()
        return f"{res.status_code}: {body.get('message') or body}"
    except ValueError:
        return f"{res.status_code}: {res.text[:200]}"
