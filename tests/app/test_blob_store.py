"""One contract for every blob store: the filesystem (the default) and S3 (a moto server over HTTP)
answer the same calls the same way."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import requests

from app.blobs import BlobStore, FileBlobStore, open_store
from app.blobs_s3 import S3BlobStore
from tests.app.s3_helpers import S3, moto_server, s3  # noqa: F401 (fixtures)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return open_store(None, tmp_path / "blobs")
    s3_fixture: S3 = request.getfixturevalue("s3")
    return open_store(s3_fixture.url, tmp_path / "unused")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_then_read_back_every_way(store: BlobStore) -> None:
    data = b"\x89PNG photo bytes" * 1000
    stored = store.put(data)
    assert (stored.sha256, stored.md5, stored.size) == (sha(data), hashlib.md5(data).hexdigest(), len(data))
    assert store.exists(stored.sha256)
    assert store.read(stored.sha256) == data
    assert b"".join(store.iter_chunks(stored.sha256)) == data
    fh = store.open(stored.sha256)
    try:
        assert fh.read() == data
    finally:
        fh.close()
    assert store.verified(stored.sha256)


def test_same_bytes_twice_is_one_blob(store: BlobStore) -> None:
    assert store.put(b"resend") == store.put(b"resend")
    assert store.read(sha(b"resend")) == b"resend"


def test_put_many_returns_one_result_per_input_in_order(store: BlobStore) -> None:
    datas = [b"one", b"two", b"one", b"three" * 5000]
    stored = store.put_many(datas)
    assert [s.sha256 for s in stored] == [sha(d) for d in datas]
    for d in datas:
        assert store.read(sha(d)) == d


def test_put_stream_larger_than_a_chunk(store: BlobStore) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, several chunks
    stored = store.put_stream(io.BytesIO(data))
    assert stored.sha256 == sha(data) and stored.size == len(data)
    assert store.read(stored.sha256) == data


def test_missing_blob(store: BlobStore) -> None:
    absent = sha(b"never stored")
    assert not store.exists(absent)
    assert not store.verified(absent)
    with pytest.raises(FileNotFoundError):
        store.read(absent)


def test_names_must_be_sha256(store: BlobStore) -> None:
    for bad in ("../../etc/passwd", "A" * 64, sha(b"x")[:63]):
        with pytest.raises(ValueError):
            store.exists(bad)


def test_verified_notices_bytes_that_do_not_match_their_name(
    store: BlobStore, request: pytest.FixtureRequest
) -> None:
    good = store.put(b"original").sha256
    if isinstance(store, FileBlobStore):
        store.path(good).write_bytes(b"tampered")
    else:
        assert isinstance(store, S3BlobStore)
        s3_fixture: S3 = request.getfixturevalue("s3")
        s3_fixture.client().put_object(Bucket=store.bucket, Key=store.key(good), Body=b"tampered")
    assert store.exists(good)
    assert not store.verified(good)


def test_download_url_only_where_the_store_serves_directly(store: BlobStore) -> None:
    stored = store.put(b"a photo")
    url = store.download_url(
        stored.sha256, content_type="image/jpeg", disposition='attachment; filename="a.jpg"'
    )
    if isinstance(store, FileBlobStore):
        assert url is None
        return
    assert url is not None and "X-Amz-Expires=300" in url  # short-lived, signed with SigV4
    res = requests.get(url, timeout=10)
    assert res.status_code == 200
    assert res.content == b"a photo"
    assert res.headers["Content-Type"] == "image/jpeg"
    assert res.headers["Content-Disposition"] == 'attachment; filename="a.jpg"'


def test_store_urls(tmp_path: Path) -> None:
    assert open_store(None, tmp_path / "b").url == (tmp_path / "b").resolve().as_uri()
    assert open_store(f"file://{tmp_path}/c", tmp_path / "b").url == (tmp_path / "c").resolve().as_uri()
    assert open_store("s3://bucket/some/prefix/", tmp_path).url == "s3://bucket/some/prefix"
    with pytest.raises(ValueError, match="s3:// or file://"):
        open_store("ftp://x", tmp_path)
    with pytest.raises(ValueError, match="no bucket"):
        open_store("s3:///prefix", tmp_path)
