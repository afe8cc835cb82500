"""The hub client's pure parts: the one-stream batch body, the link meter, and retrying with backoff
while the link is down (against a port nobody listens on)."""

from __future__ import annotations

import bz2
import io
import socket

import pytest

from sync.batch import read_zip
from sync.hub_client import (
    MAX_CHUNK,
    MIN_CHUNK,
    HubClient,
    HubClientError,
    OutgoingInstance,
    RateMeter,
    encode_body,
)


def test_body_is_one_bzip2_stream_of_a_stored_zip_read_like_any_batch() -> None:
    xml = b"<data id='f'><meta><instanceID>uuid:1</instanceID></meta></data>"
    body = encode_body([OutgoingInstance("v1", xml, [("a.jpg", b"\xff" * 100)], {"deviceId": "d"})])
    items = read_zip(io.BytesIO(bz2.decompress(body)))
    assert [(i.key, i.xml, [f.name for f in i.files], i.meta) for i in items] == [
        ("v1", xml, ["a.jpg"], {"deviceId": "d"})
    ]
    assert items[0].files[0].read() == b"\xff" * 100


def test_meter_follows_the_link_and_bounds_chunks() -> None:
    meter = RateMeter()
    assert meter.chunk_size() == 180_000  # 30 s at the assumed 2G rate (6,000 B/s)
    meter.add(80_000, 10.0)
    assert meter.rate == 8000 and meter.chunk_size() == 240_000
    meter.add(1000, 10.0)  # the link slows: the estimate follows, smoothed
    assert 4000 < meter.estimate < 8000
    meter.rate = 10.0
    assert meter.chunk_size() == MIN_CHUNK
    meter.rate = 1e9
    assert meter.chunk_size() == MAX_CHUNK


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retries_with_capped_backoff_then_says_what_to_do() -> None:
    waits: list[float] = []
    client = HubClient(
        f"http://127.0.0.1:{_dead_port()}", 1, "t", retries=5, backoff=1, max_backoff=4, sleep=waits.append
    )
    with pytest.raises(HubClientError) as err:
        client.whoami()
    assert waits == [1, 2, 4, 4, 4]
    assert "6 attempts" in err.value.message and "--until-done" in err.value.message
    assert "ConnectionRefused" in err.value.message


def test_retries_for_a_time_when_no_count_is_given() -> None:
    waits: list[float] = []
    client = HubClient(f"http://127.0.0.1:{_dead_port()}", 1, "t", give_up_after=0.0, sleep=waits.append)
    with pytest.raises(HubClientError):
        client.forms()
    assert waits == []  # the time was up at the first failure
