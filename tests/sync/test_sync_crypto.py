"""Decrypting Collect's encrypted submissions: the real corpus submission byte for byte, round trips
through a test-only encryptor written from Collect's EncryptionUtils, and every failure mode."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync import crypto
from sync.crypto import DecryptionError, PrivateKeyError, WrongPassphraseError
from sync.submission import Envelope, parse_submission
from tests.collect_encryption import damage_signature, encrypt_like_collect, flip_middle_byte

ENCRYPTED = "central-backend/encrypted"


@pytest.fixture(scope="module")
def key_pair() -> crypto.KeyPair:
    return crypto.generate_key_pair("correct horse battery staple")


@pytest.fixture(scope="module")
def corpus_key(corpus: Path) -> rsa.RSAPrivateKey:
    return crypto.load_private_key((corpus / ENCRYPTED / "priv.pem").read_bytes(), None)


def test_corpus_submission_decrypts_byte_for_byte(corpus: Path, corpus_key: rsa.RSAPrivateKey) -> None:
    parsed = parse_submission((corpus / ENCRYPTED / "submission.xml").read_bytes())
    assert parsed.envelope is not None
    # The envelope names a photo the corpus does not include; the XML still decrypts (IV index 1).
    files = {"submission.xml.enc": (corpus / ENCRYPTED / "submission.xml.enc").read_bytes()}
    clear = crypto.decrypt_submission(
        corpus_key, parsed.envelope, parsed.instance_id, files, allow_missing_media=True
    )
    assert clear == {"submission.xml": (corpus / ENCRYPTED / "expected-plaintext.xml").read_bytes()}


def test_corpus_missing_media_is_an_error_by_default(corpus: Path, corpus_key: rsa.RSAPrivateKey) -> None:
    parsed = parse_submission((corpus / ENCRYPTED / "submission.xml").read_bytes())
    assert parsed.envelope is not None
    files = {"submission.xml.enc": (corpus / ENCRYPTED / "submission.xml.enc").read_bytes()}
    with pytest.raises(DecryptionError, match=r"1561432532482\.jpg\.enc has not been received"):
        crypto.decrypt_submission(corpus_key, parsed.envelope, parsed.instance_id, files)


def test_corpus_signature_decrypts_to_an_md5_digest(corpus: Path, corpus_key: rsa.RSAPrivateKey) -> None:
    # The photo is missing, so the signature cannot be checked in full; unwrapping it still proves the
    # signature uses the same OAEP parameters as the key.
    parsed = parse_submission((corpus / ENCRYPTED / "submission.xml").read_bytes())
    assert parsed.envelope is not None and parsed.envelope.signature_b64 is not None
    digest = corpus_key.decrypt(base64.b64decode(parsed.envelope.signature_b64), crypto.oaep())
    assert len(digest) == 16
    with pytest.raises(DecryptionError, match=r"1561432532482\.jpg is needed"):
        crypto.verify_signature(
            corpus_key,
            parsed.envelope,
            form_id=parsed.form_id,
            version=parsed.version,
            instance_id=parsed.instance_id,
            decrypted={"submission.xml": b""},
        )


def test_generated_key_pair_round_trip_with_media(key_pair: crypto.KeyPair) -> None:
    assert b"ENCRYPTED PRIVATE KEY" in key_pair.private_key_pem_encrypted
    xml = b'<?xml version="1.0"?><data id="needs" version="7"><meta><instanceID>uuid:a</instanceID></meta>'
    xml += b"<q>1</q></data>"
    media = {"photo.jpg": os.urandom(5000), "note.m4a": b"", "exact16bytes....": b"0123456789abcdef"}
    envelope_xml, files = encrypt_like_collect(
        key_pair.public_key_b64,
        form_id="needs",
        version="7",
        instance_id="uuid:a",
        submission_xml=xml,
        media=media,
    )
    parsed = parse_submission(envelope_xml)
    assert parsed.envelope is not None
    private_key = crypto.load_private_key(key_pair.private_key_pem_encrypted, "correct horse battery staple")
    clear = crypto.decrypt_submission(private_key, parsed.envelope, parsed.instance_id, files)
    assert clear == {**media, "submission.xml": xml}
    assert crypto.verify_signature(
        private_key,
        parsed.envelope,
        form_id=parsed.form_id,
        version=parsed.version,
        instance_id=parsed.instance_id,
        decrypted=clear,
    )
    # A swapped file fails the signature even though it decrypts.
    tampered = {**clear, "photo.jpg": b"another photo"}
    assert not crypto.verify_signature(
        private_key, parsed.envelope, form_id="needs", version="7", instance_id="uuid:a", decrypted=tampered
    )
    # The version line is part of the signature: absent when the form has no version.
    assert not crypto.verify_signature(
        private_key, parsed.envelope, form_id="needs", version=None, instance_id="uuid:a", decrypted=clear
    )


def test_round_trip_without_version_or_media(key_pair: crypto.KeyPair) -> None:
    xml = '<data id="f"><meta><instanceID>uuid:ñ</instanceID></meta><q>sí</q></data>'.encode()
    envelope_xml, files = encrypt_like_collect(
        key_pair.public_key_b64, form_id="f", version=None, instance_id="uuid:ñ", submission_xml=xml, media={}
    )
    parsed = parse_submission(envelope_xml)
    assert parsed.envelope is not None and parsed.version is None
    private_key = crypto.load_private_key(key_pair.private_key_pem_encrypted, "correct horse battery staple")
    clear = crypto.decrypt_submission(private_key, parsed.envelope, parsed.instance_id, files)
    assert clear == {"submission.xml": xml}
    assert crypto.verify_signature(
        private_key, parsed.envelope, form_id="f", version=None, instance_id="uuid:ñ", decrypted=clear
    )


def test_public_key_is_base64_der_subject_public_key_info(key_pair: crypto.KeyPair) -> None:
    public_key = serialization.load_der_public_key(base64.b64decode(key_pair.public_key_b64))
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == crypto.RSA_KEY_SIZE
    assert "\n" not in key_pair.public_key_b64


def test_wrong_or_missing_passphrase(key_pair: crypto.KeyPair) -> None:
    with pytest.raises(WrongPassphraseError):
        crypto.load_private_key(key_pair.private_key_pem_encrypted, "wrong horse")
    with pytest.raises(WrongPassphraseError):
        crypto.load_private_key(key_pair.private_key_pem_encrypted, None)


def test_unencrypted_key_loads_with_or_without_a_passphrase(corpus: Path) -> None:
    pem = (corpus / ENCRYPTED / "priv.pem").read_bytes()
    assert crypto.load_private_key(pem, "ignored").key_size == 2048


def test_damaged_key_file() -> None:
    with pytest.raises(PrivateKeyError):
        crypto.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", None)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        crypto.generate_key_pair("")


Sample = tuple[rsa.RSAPrivateKey, Envelope, dict[str, bytes]]


@pytest.fixture(scope="module")
def sample(key_pair: crypto.KeyPair) -> Sample:
    xml = b'<data id="f"><meta><instanceID>uuid:s</instanceID></meta><q>' + b"x" * 100 + b"</q></data>"
    envelope_xml, files = encrypt_like_collect(
        key_pair.public_key_b64,
        form_id="f",
        version="1",
        instance_id="uuid:s",
        submission_xml=xml,
        media={"a.jpg": b"jpeg" * 50},
    )
    envelope = parse_submission(envelope_xml).envelope
    assert envelope is not None
    return (
        crypto.load_private_key(key_pair.private_key_pem_encrypted, "correct horse battery staple"),
        envelope,
        files,
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-16],  # truncated at a block boundary
        lambda b: b[:-5],  # truncated mid-block
        lambda b: b[:-1] + bytes([b[-1] ^ 0x55]),  # last byte flipped: padding breaks
        lambda b: b"",
    ],
    ids=["truncated-block", "truncated-partial", "corrupt-tail", "empty"],
)
def test_damaged_enc_file_is_a_decryption_error(sample: Sample, damage: Callable[[bytes], bytes]) -> None:
    private_key, envelope, files = sample
    files = {**files, "submission.xml.enc": damage(files["submission.xml.enc"])}
    with pytest.raises(DecryptionError, match=r"submission\.xml\.enc"):
        crypto.decrypt_submission(private_key, envelope, "uuid:s", files)


def test_missing_submission_xml_is_an_error_even_when_media_may_be_missing(sample: Sample) -> None:
    private_key, envelope, files = sample
    with pytest.raises(DecryptionError, match=r"submission\.xml\.enc has not been received"):
        crypto.decrypt_submission(
            private_key, envelope, "uuid:s", {"a.jpg.enc": files["a.jpg.enc"]}, allow_missing_media=True
        )


def test_wrong_instance_id_fails_the_signature_check(sample: Sample) -> None:
    private_key, envelope, files = sample
    # CFB only garbles the first block under a wrong IV, so padding alone cannot notice...
    clear = crypto.decrypt_submission(private_key, envelope, "uuid:other", files)
    assert clear["submission.xml"][:16] != b'<data id="f"><me'
    assert (
        clear["submission.xml"][16:]
        == b"ta><instanceID>uuid:s</instanceID></meta><q>" + b"x" * 100 + b"</q></data>"
    )
    # ...the signature does.
    with pytest.raises(DecryptionError, match="signature"):
        crypto.decrypt_submission(private_key, envelope, "uuid:other", files, form_id="f", version="1")


def test_corrupt_middle_block_fails_the_signature_check(sample: Sample) -> None:
    private_key, envelope, files = sample
    enc = bytearray(files["submission.xml.enc"])
    enc[40] ^= 0x01
    damaged = {**files, "submission.xml.enc": bytes(enc)}
    assert crypto.decrypt_submission(private_key, envelope, "uuid:s", files, form_id="f", version="1")
    with pytest.raises(DecryptionError, match="signature"):
        crypto.decrypt_submission(private_key, envelope, "uuid:s", damaged, form_id="f", version="1")


def test_another_projects_key_cannot_unwrap(sample: Sample, corpus_key: rsa.RSAPrivateKey) -> None:
    _, envelope, files = sample
    with pytest.raises(DecryptionError, match="another key"):
        crypto.decrypt_submission(corpus_key, envelope, "uuid:s", files)


def test_garbled_base64_key(sample: Sample) -> None:
    private_key, envelope, files = sample
    with pytest.raises(DecryptionError, match="base64"):
        crypto.decrypt_submission(
            private_key, replace(envelope, encrypted_key_b64="not base64!"), "uuid:s", files
        )


def test_file_iv_bumps_one_byte_per_file() -> None:
    key = bytes(32)
    seed = hashlib.md5(b"uuid:x" + key).digest()
    iv0, iv1, iv16 = (crypto.file_iv(key, "uuid:x", n) for n in (0, 1, 16))
    assert iv0[0] == (seed[0] + 1) & 0xFF and iv0[1:] == seed[1:]
    assert iv1[:2] == bytes([(seed[0] + 1) & 0xFF, (seed[1] + 1) & 0xFF]) and iv1[2:] == seed[2:]
    assert iv16[0] == (seed[0] + 2) & 0xFF  # the counter wraps around the 16 bytes


def _open(private_key: rsa.RSAPrivateKey, envelope_xml: bytes, files: dict[str, bytes]) -> crypto.Opened:
    return crypto.open_parsed(private_key, parse_submission(envelope_xml), files)


@pytest.fixture(scope="module")
def signed(key_pair: crypto.KeyPair) -> tuple[rsa.RSAPrivateKey, bytes, dict[str, bytes], bytes, bytes]:
    xml = b'<data id="f" version="7"><meta><instanceID>uuid:o</instanceID></meta><q>' + b"y" * 300
    xml += b"</q></data>"
    photo = os.urandom(5000)
    envelope_xml, files = encrypt_like_collect(
        key_pair.public_key_b64,
        form_id="f",
        version="7",
        instance_id="uuid:o",
        submission_xml=xml,
        media={"p.jpg": photo, "q.wav": b"RIFF" * 40},
    )
    private_key = crypto.load_private_key(key_pair.private_key_pem_encrypted, "correct horse battery staple")
    return private_key, envelope_xml, files, xml, photo


def test_open_submission_checks_the_signature_of_every_decrypt(
    signed: tuple[rsa.RSAPrivateKey, bytes, dict[str, bytes], bytes, bytes],
) -> None:
    private_key, envelope_xml, files, xml, photo = signed
    opened = _open(private_key, envelope_xml, files)
    assert opened.signature == crypto.SIGNATURE_VALID and opened.missing == ()
    assert opened.files == {"submission.xml": xml, "p.jpg": photo, "q.wav": b"RIFF" * 40}
    # One flipped bit anywhere (the XML, a photo, the signature itself) decrypts without a padding
    # error but no longer matches the signature.
    for damaged_envelope, damaged_files in (
        (envelope_xml, {**files, "submission.xml.enc": flip_middle_byte(files["submission.xml.enc"])}),
        (envelope_xml, {**files, "p.jpg.enc": flip_middle_byte(files["p.jpg.enc"])}),
        (damage_signature(envelope_xml), files),
    ):
        assert _open(private_key, damaged_envelope, damaged_files).signature == crypto.SIGNATURE_INVALID
    # Media not yet received: the rest decrypts, and the signature is said to be uncheckable.
    partial = _open(private_key, envelope_xml, {k: v for k, v in files.items() if k != "q.wav.enc"})
    assert partial.signature == crypto.SIGNATURE_INCOMPLETE and partial.missing == ("q.wav.enc",)
    assert partial.files == {"submission.xml": xml, "p.jpg": photo}
    unsigned = envelope_xml[: envelope_xml.index(b"<base64EncryptedElementSignature>")] + b"</data>"
    assert _open(private_key, unsigned, files).signature == crypto.SIGNATURE_UNSIGNED


def test_the_signature_covers_the_form_version(
    signed: tuple[rsa.RSAPrivateKey, bytes, dict[str, bytes], bytes, bytes],
) -> None:
    private_key, envelope_xml, files, _, _ = signed
    other_version = envelope_xml.replace(b'version="7"', b'version="8"', 1)
    assert _open(private_key, other_version, files).signature == crypto.SIGNATURE_INVALID


def test_real_collect_submission_decrypts_and_says_its_signature_is_incomplete(corpus: Path) -> None:
    # The real Collect submission of the conformance corpus (its photo was never included).
    data = corpus / ENCRYPTED
    key = crypto.load_private_key((data / "priv.pem").read_bytes(), None)
    parsed = parse_submission((data / "submission.xml").read_bytes())
    assert parsed.envelope is not None and parsed.version == "working3"
    opened = crypto.open_parsed(
        key, parsed, {"submission.xml.enc": (data / "submission.xml.enc").read_bytes()}
    )
    assert opened.files == {"submission.xml": (data / "expected-plaintext.xml").read_bytes()}
    assert opened.missing == ("1561432532482.jpg.enc",)
    assert opened.signature == crypto.SIGNATURE_INCOMPLETE
