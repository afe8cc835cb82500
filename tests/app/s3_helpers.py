"""A real S3 endpoint for tests: moto's server mode, over HTTP on 127.0.0.1 (a free port).

Buckets live in this test process's memory (moto's backends), so a server stopped and started again on
the same port still has them: that is how tests make the store unreachable for a while."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ruta-test",
    "AWS_SECRET_ACCESS_KEY": "ruta-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    # One attempt: an unreachable store must answer 503 at once, not after botocore's retries.
    "AWS_MAX_ATTEMPTS": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@dataclass
class S3:
    server: MotoServer
    bucket: str
    prefix: str = "blobs"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.server.endpoint}

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def keys(self) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {o["Key"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


def make_s3(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A fresh bucket on ``server``, and the AWS_* variables the app reads pointing at it."""
    s3 = S3(server, f"ruta-{uuid.uuid4().hex[:16]}")
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    s3.client().create_bucket(Bucket=s3.bucket)
    return s3


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3:
    return make_s3(moto_server, monkeypatch)


PHOTOS_FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head><h:title>Two photos</h:title>
    <model><instance><data id="photos" version="1">
      <place/><front/><back/><meta><instanceID/></meta>
    </data></instance>
    <bind nodeset="/data/place" type="string"/>
    <bind nodeset="/data/front" type="binary"/>
    <bind nodeset="/data/back" type="binary"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body><input ref="/data/place"><label>Place</label></input>
    <upload ref="/data/front" mediatype="image/*"><label>Front</label></upload>
    <upload ref="/data/back" mediatype="image/*"><label>Back</label></upload></h:body></h:html>"""


def photos_instance(instance_id: str) -> bytes:
    return (
        f'<data id="photos" version="1"><place>Ipiales</place><front>front.jpg</front><back>back.jpg</back>'
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def photo(seed: str, size: int = 150_000) -> bytes:
    """Incompressible bytes standing in for a JPEG, different per seed."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return b"\xff\xd8\xff\xe0" + bytes(out[:size])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
