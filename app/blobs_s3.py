"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...): ``RUTA_BLOB_STORE=s3://bucket/prefix``.

Credentials, region and endpoint come from the standard variables boto3 reads (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_MAX_ATTEMPTS``...). Objects
are named ``<prefix>/<sha256>``: content-addressed, so writing the same bytes again is harmless and
several app servers share one bucket without coordination.

A PUT is sent with the sha256 of the bytes (``x-amz-checksum-sha256``): S3 refuses the object if what
arrived differs. Its 200 means the object is durably stored; before the caller may commit, the answer is
also checked against what was sent (the checksum S3 echoes, else the ETag, which for a plain single PUT
is the MD5 of the bytes), so a store that silently mangled the body is caught before a device hears 201.
Any failure to reach the store becomes ``BlobStoreUnavailableError`` (503 with Retry-After): nothing is
acknowledged, and the device sends the submission again later.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.blobs import CHUNK, BlobStore, StoredBlob, check_sha256, describe
from app.errors import BlobStoreUnavailableError

log = logging.getLogger(__name__)

# How many PUTs of one submission's files run at once.
PARALLEL_PUTS = 8
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, prefix: str = "", *, url_seconds: int = 300) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.url_seconds = url_seconds
        self._client: Any = None
        self._client_pid = 0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, url_seconds: int = 300) -> S3BlobStore:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"RUTA_BLOB_STORE {url!r} names no bucket: use s3://bucket/prefix")
        return cls(bucket, prefix, url_seconds=url_seconds)

    @property
    def client(self) -> Any:
        # One client per process: gunicorn forks after the app is built, and a connection pool must
        # not be shared across processes. botocore clients are thread-safe.
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
                        "AWS_ENDPOINT_URL"
                    )
                    config = Config(
                        signature_version="s3v4",  # presigned URLs too: every region accepts SigV4
                        connect_timeout=5,
                        read_timeout=60,
                        max_pool_connections=PARALLEL_PUTS * 2,
                        # MinIO, Ceph and most S3-compatible servers expect bucket names in the path.
                        s3={"addressing_style": "path"} if custom_endpoint else None,
                    )
                    self._client = boto3.session.Session().client("s3", config=config)
                    self._client_pid = os.getpid()
        return self._client

    def key(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}/{sha256}" if self.prefix else sha256

    def exists(self, sha256: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=self.key(sha256))
        except FileNotFoundError:
            return False
        return True

    def put(self, data: bytes) -> StoredBlob:
        stored = describe(data)
        self._put(stored, data)
        return stored

    def put_many(self, datas: list[bytes]) -> list[StoredBlob]:
        stored = [describe(d) for d in datas]
        unique = {b.sha256: (b, d) for b, d in zip(stored, datas, strict=True)}
        if len(unique) <= 1:
            for blob, data in unique.values():
                self._put(blob, data)
            return stored
        with ThreadPoolExecutor(max_workers=min(PARALLEL_PUTS, len(unique))) as pool:
            # list(): every PUT must have succeeded (or raised here) before the caller commits.
            list(pool.map(lambda item: self._put(*item), unique.values()))
        return stored

    def put_stream(self, stream: BinaryIO) -> StoredBlob:
        # The key is the sha256, known only once the stream is read: spool it, then send it whole.
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            while chunk := stream.read(CHUNK):
                sha.update(chunk)
                md5.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            spool.seek(0)
            stored = StoredBlob(sha.hexdigest(), md5.hexdigest(), size)
            self._put(stored, cast(BinaryIO, spool))
        return stored

    def read(self, sha256: str) -> bytes:
        body = self._call("get_object", Bucket=self.bucket, Key=self.key(sha256))["Body"]
        try:
            return cast(bytes, body.read())
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def open(self, sha256: str) -> BinaryIO:
        return cast(BinaryIO, self._call("get_object", Bucket=self.bucket, Key=self.key(sha256))["Body"])

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        body = self.open(sha256)
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        finally:
            body.close()

    def delete(self, sha256: str) -> None:
        # DeleteObject of a missing key succeeds on S3; with versioning on, a delete marker is added and
        # the bytes stay recoverable until the bucket's lifecycle rule expires them.
        self._call("delete_object", Bucket=self.bucket, Key=self.key(sha256))

    def download_url(self, sha256: str, *, content_type: str, disposition: str | None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key(sha256), "ResponseContentType": content_type}
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        # Signed locally (no request to the store); anyone holding the URL may fetch it until it expires.
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.url_seconds)
        return url

    def verified(self, sha256: str) -> bool:
        try:
            head = self._call("head_object", Bucket=self.bucket, Key=self.key(sha256), ChecksumMode="ENABLED")
        except FileNotFoundError:
            return False
        if head.get("ChecksumSHA256"):  # the store computed and kept it when the object arrived
            return bool(head["ChecksumSHA256"] == _b64_sha256(sha256))
        return super().verified(sha256)  # a store that keeps no checksums: read the bytes back

    def _put(self, stored: StoredBlob, body: bytes | BinaryIO) -> None:
        answer = self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self.key(stored.sha256),
            Body=body,
            ContentLength=stored.size,
            ChecksumSHA256=_b64_sha256(stored.sha256),
            Metadata={"sha256": stored.sha256},
        )
        if not _confirms(answer, stored):
            raise BlobStoreUnavailableError(
                "The file storage did not confirm the file it was sent. Nothing was stored; try again."
            )

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code")) in _NOT_FOUND:
                raise FileNotFoundError(f"{self.url}: no object {params.get('Key')}") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc


def _b64_sha256(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def _confirms(answer: dict[str, Any], stored: StoredBlob) -> bool:
    """Whether a PUT's answer vouches for the bytes sent: the sha256 checksum S3 echoes, or else the
    ETag, which is the MD5 of the body for a single PUT unless the object is encrypted with KMS/SSE-C."""
    if answer.get("ChecksumSHA256"):
        return bool(answer["ChecksumSHA256"] == _b64_sha256(stored.sha256))
    if answer.get("ServerSideEncryption") == "aws:kms" or answer.get("SSECustomerAlgorithm"):
        return True  # the ETag is no digest here; the 200 and the checksum S3 verified must do
    etag = str(answer.get("ETag", "")).strip('"')
    return etag == stored.md5


def _unavailable(exc: Exception) -> BlobStoreUnavailableError:
    log.warning("blob store unavailable: %s", exc)
    return BlobStoreUnavailableError()
