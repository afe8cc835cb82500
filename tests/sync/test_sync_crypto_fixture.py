"""The project's own encrypted submission (tests/data/encrypted, written by tests/data/make.py as Collect
encrypts): it decrypts byte for byte with its photo, its signature verifies, and a missing photo is either
an error or left out, as asked. The real Collect submission is the conformance suite's."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sync import crypto
from sync.crypto import DecryptionError
from sync.submission import parse_submission
from tests.data import data_bytes
from tests.data.make import PHOTO_NAME


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return crypto.load_private_key(data_bytes("encrypted/test-private-key.pem"), None)


def _files(*, with_photo: bool) -> dict[str, bytes]:
    files = {"submission.xml.enc": data_bytes("encrypted/submission.xml.enc")}
    if with_photo:
        files[f"{PHOTO_NAME}.enc"] = data_bytes(f"encrypted/{PHOTO_NAME}.enc")
    return files


def test_whole_submission_decrypts_and_its_signature_verifies(key: rsa.RSAPrivateKey) -> None:
    parsed = parse_submission(data_bytes("encrypted/submission.xml"))
    assert parsed.envelope is not None
    clear = crypto.decrypt_submission(
        key,
        parsed.envelope,
        parsed.instance_id,
        _files(with_photo=True),
        form_id="encrypted",
        version="working3",
    )
    assert clear == {
        "submission.xml": data_bytes("encrypted/expected-plaintext.xml"),
        PHOTO_NAME: data_bytes("encrypted/photo.jpg"),
    }


def test_a_photo_still_to_come_is_an_error_unless_allowed(key: rsa.RSAPrivateKey) -> None:
    parsed = parse_submission(data_bytes("encrypted/submission.xml"))
    assert parsed.envelope is not None
    with pytest.raises(DecryptionError, match="has not been received"):
        crypto.decrypt_submission(key, parsed.envelope, parsed.instance_id, _files(with_photo=False))
    clear = crypto.decrypt_submission(
        key, parsed.envelope, parsed.instance_id, _files(with_photo=False), allow_missing_media=True
    )
    assert clear == {"submission.xml": data_bytes("encrypted/expected-plaintext.xml")}


def test_a_damaged_photo_fails_the_signature(key: rsa.RSAPrivateKey) -> None:
    parsed = parse_submission(data_bytes("encrypted/submission.xml"))
    assert parsed.envelope is not None
    files = _files(with_photo=True)
    photo = bytearray(files[f"{PHOTO_NAME}.enc"])
    photo[len(photo) // 2] ^= 0x01  # CFB garbles a block or two; only the signature notices
    files[f"{PHOTO_NAME}.enc"] = bytes(photo)
    with pytest.raises(DecryptionError, match="signature"):
        crypto.decrypt_submission(
            key, parsed.envelope, parsed.instance_id, files, form_id="encrypted", version="working3"
        )
