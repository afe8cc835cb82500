"""Project key pairs and the decryption of submissions ODK Collect encrypted with a form's public key.

Collect's scheme (``EncryptionUtils`` in Collect; the same in Enketo and ODK Central), checked byte for
byte against a real Collect submission in the shared corpus:

- a random 256-bit AES key per submission, wrapped with RSA-OAEP using SHA-256 as the digest *and* as
  the MGF1 hash (BouncyCastle's ``OAEPWithSHA256AndMGF1Padding``; a SHA-1 MGF1 does not unwrap the
  corpus key);
- every file is AES-256-CFB with 128-bit segments and PKCS#5/7 padding;
- the IV of file ``n`` is md5(instanceID UTF-8 ‖ AES key) with byte ``k mod 16`` incremented once for
  each ``k = 0..n``. Collect encrypts the media files first, in envelope order, and ``submission.xml``
  last, so the XML's index is the number of media files;
- the element signature is RSA-OAEP(md5 of the lines ``formId``, ``version`` (when the form has one),
  the base64 wrapped key, ``instanceID``, then ``name::md5hex`` of each decrypted media file and of
  ``submission.xml``), each line ending in ``\\n``.

Ruta only ever decrypts: encryption happens on the phone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from sync.submission import Envelope, ParsedSubmission

RSA_KEY_SIZE = 2048  # what ODK Central generates; every Collect version handles it
AES_KEY_BYTES = 32
_BLOCK_BYTES = 16
_ENC_SUFFIX = ".enc"


def oaep() -> asym_padding.OAEP:
    """The RSA padding Collect uses for the wrapped key and the signature."""
    return asym_padding.OAEP(mgf=asym_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class CryptoError(ValueError):
    """Base of every error this module raises; the message is meant for the person holding the key."""


class WrongPassphraseError(CryptoError):
    pass


class PrivateKeyError(CryptoError):
    """The private key file is not a readable RSA private key."""


class DecryptionError(CryptoError):
    pass


class SignatureError(DecryptionError):
    """Every file decrypted, but the element signature does not match them: something was altered."""


# What ``open_submission`` could say of the element signature.
SIGNATURE_VALID = "valid"
SIGNATURE_INVALID = "invalid"  # the files or the signature were altered since the phone encrypted them
SIGNATURE_UNSIGNED = "unsigned"  # the envelope carries none (nothing to check against)
SIGNATURE_INCOMPLETE = "incomplete"  # a media file has not arrived, so the signature cannot be checked


@dataclass(frozen=True)
class KeyPair:
    """``public_key_b64`` goes in the XForm as ``base64RsaPublicKey`` (base64 DER SubjectPublicKeyInfo);
    ``private_key_pem_encrypted`` is PKCS#8 PEM encrypted with the passphrase."""

    public_key_b64: str
    private_key_pem_encrypted: bytes


def public_key_b64(private_key: rsa.RSAPrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def generate_key_pair(passphrase: str, *, key_size: int = RSA_KEY_SIZE) -> KeyPair:
    if not passphrase:
        raise ValueError("a passphrase is required to protect the project's private key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    return KeyPair(public_key_b64=public_key_b64(key), private_key_pem_encrypted=pem)


def load_private_key(pem: bytes, passphrase: str | None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM, encrypted (PKCS#8 or legacy OpenSSL) or not.

    A passphrase given for an unencrypted key is ignored, so published test keys load the same way.
    """
    # cryptography raises ValueError both for a wrong password and for a damaged file; knowing
    # whether the PEM is encrypted tells the two apart.
    is_encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem
    if is_encrypted and not passphrase:
        raise WrongPassphraseError("this private key is protected by a passphrase; enter it to decrypt")
    password = passphrase.encode("utf-8") if is_encrypted and passphrase else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        if is_encrypted:
            raise WrongPassphraseError("the passphrase does not unlock this private key") from err
        raise PrivateKeyError("the file is not a readable PEM private key") from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError("ODK encryption needs an RSA private key")
    return key


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise DecryptionError(
            f"the submission's {what} is not valid base64; the envelope is damaged"
        ) from err


def unwrap_key(private_key: rsa.RSAPrivateKey, encrypted_key_b64: str) -> bytes:
    """The submission's AES key, unwrapped from the envelope's ``base64EncryptedKey``."""
    wrapped = _b64decode(encrypted_key_b64, "encrypted key")
    try:
        key = private_key.decrypt(wrapped, oaep())
    except ValueError as err:
        raise DecryptionError(
            "this submission's key cannot be unlocked with this private key: it was encrypted for "
            "another key, or the envelope is damaged"
        ) from err
    if len(key) != AES_KEY_BYTES:
        raise DecryptionError("the submission's key has the wrong length; the envelope is damaged")
    return key


def file_iv(symmetric_key: bytes, instance_id: str, index: int) -> bytes:
    """The IV Collect used for the ``index``-th file it encrypted (0-based)."""
    iv = bytearray(hashlib.md5(instance_id.encode("utf-8") + symmetric_key).digest())
    for k in range(index + 1):
        iv[k % _BLOCK_BYTES] = (iv[k % _BLOCK_BYTES] + 1) & 0xFF
    return bytes(iv)


def decrypt_file(symmetric_key: bytes, instance_id: str, index: int, data: bytes, *, name: str = "") -> bytes:
    """Decrypt one ``.enc`` file; ``index`` is its position in Collect's encryption order."""
    label = name or f"file {index}"
    if not data or len(data) % _BLOCK_BYTES:
        raise DecryptionError(f"{label} is empty or truncated (its length is not whole AES blocks)")
    decryptor = Cipher(
        algorithms.AES(symmetric_key), CFB(file_iv(symmetric_key, instance_id, index))
    ).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BYTES * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as err:
        # CFB has no integrity check, so bad padding is the one sign of a corrupt file, a wrong
        # instanceID or a different key.
        raise DecryptionError(
            f"{label} does not decrypt: it is damaged or belongs to another submission"
        ) from err


def _plain_name(name: str) -> str:
    return name[: -len(_ENC_SUFFIX)] if name.endswith(_ENC_SUFFIX) else name


def decrypt_submission(
    private_key: rsa.RSAPrivateKey,
    envelope: Envelope,
    instance_id: str,
    files: Mapping[str, bytes],
    *,
    allow_missing_media: bool = False,
    form_id: str | None = None,
    version: str | None = None,
) -> dict[str, bytes]:
    """Decrypt the submission XML and its media.

    ``files`` maps envelope file names (``submission.xml.enc``, ``photo.jpg.enc``) to their bytes. The
    result maps the names without ``.enc`` to the clear bytes. A missing file raises
    :class:`DecryptionError`, unless ``allow_missing_media`` is set: then media not yet received are
    left out (each file's IV depends only on its position, so the rest still decrypt).

    CFB has no integrity check of its own: padding catches truncation, a damaged end and a wrong key,
    but a damaged middle or a wrong instanceID only garbles a block or two. So pass ``form_id`` and
    ``version`` (the envelope root's, None when the form has none) to have the element signature
    checked whenever the envelope has one and every file is present; a mismatch raises
    :class:`DecryptionError`.
    """
    key = unwrap_key(private_key, envelope.encrypted_key_b64)
    out: dict[str, bytes] = {}
    order = [*envelope.media_file_names, envelope.xml_file_name]
    for index, name in enumerate(order):
        data = files.get(name)
        if data is None:
            if allow_missing_media and index < len(order) - 1:
                continue
            raise DecryptionError(
                f"the encrypted file {name} has not been received, so it cannot be decrypted"
            )
        out[_plain_name(name)] = decrypt_file(key, instance_id, index, data, name=name)
    complete = len(out) == len(order)
    if form_id is not None and envelope.signature_b64 is not None and complete:
        valid = verify_signature(
            private_key, envelope, form_id=form_id, version=version, instance_id=instance_id, decrypted=out
        )
        if not valid:
            raise SignatureError(
                "the decrypted files do not match the submission's signature: a file is damaged, was "
                "swapped, or belongs to another submission"
            )
    return out


@dataclass(frozen=True)
class Opened:
    """A decrypted submission: ``files`` by clear name, the envelope media not received (``.enc``
    names) and what became of the signature (one of the ``SIGNATURE_*`` values)."""

    files: dict[str, bytes]
    missing: tuple[str, ...]
    signature: str


def open_submission(
    private_key: rsa.RSAPrivateKey,
    envelope: Envelope,
    *,
    form_id: str,
    version: str | None,
    instance_id: str,
    files: Mapping[str, bytes],
) -> Opened:
    """Decrypt what has arrived and check the element signature whenever it can be checked: the one
    way into a submission for Ruta's services, so no decryption skips the check. A mismatch is not
    raised but reported (``SIGNATURE_INVALID``): the caller decides what to withhold. Raises
    :class:`DecryptionError` when the files do not decrypt. ``form_id`` and ``version`` are the
    envelope root's."""
    plain = decrypt_submission(private_key, envelope, instance_id, files, allow_missing_media=True)
    missing = tuple(n for n in envelope.media_file_names if n not in files)
    if envelope.signature_b64 is None:
        state = SIGNATURE_UNSIGNED
    elif missing:
        state = SIGNATURE_INCOMPLETE
    else:
        valid = verify_signature(
            private_key, envelope, form_id=form_id, version=version, instance_id=instance_id, decrypted=plain
        )
        state = SIGNATURE_VALID if valid else SIGNATURE_INVALID
    return Opened(plain, missing, state)


def open_parsed(
    private_key: rsa.RSAPrivateKey, parsed: ParsedSubmission, files: Mapping[str, bytes]
) -> Opened:
    """:func:`open_submission` of a parsed envelope, with its own form id, version and instanceID (what
    the signature covers)."""
    if parsed.envelope is None:
        raise DecryptionError("this submission is not encrypted")
    return open_submission(
        private_key,
        parsed.envelope,
        form_id=parsed.form_id,
        version=parsed.version,
        instance_id=parsed.instance_id,
        files=files,
    )


def signature_source(
    *, form_id: str, version: str | None, envelope: Envelope, instance_id: str, decrypted: Mapping[str, bytes]
) -> bytes:
    """The text Collect signs: see the module docstring. Needs every decrypted file."""
    lines = [form_id]
    if version is not None:
        lines.append(version)
    lines += [envelope.encrypted_key_b64, instance_id]
    for name in [*envelope.media_file_names, envelope.xml_file_name]:
        plain = _plain_name(name)
        if plain not in decrypted:
            raise DecryptionError(f"{plain} is needed to check the submission's signature but is missing")
        lines.append(f"{plain}::{hashlib.md5(decrypted[plain]).hexdigest()}")
    return "".join(line + "\n" for line in lines).encode("utf-8")


def verify_signature(
    private_key: rsa.RSAPrivateKey,
    envelope: Envelope,
    *,
    form_id: str,
    version: str | None,
    instance_id: str,
    decrypted: Mapping[str, bytes],
) -> bool:
    """True when the envelope's element signature matches the decrypted files and identity.

    The signature is RSA-*encrypted* with the public key, not signed with a private one, so it proves
    integrity (nothing was altered or swapped since the phone encrypted it), not who sent it.
    Raises :class:`DecryptionError` when the envelope has no signature or a file is missing.
    """
    if envelope.signature_b64 is None:
        raise DecryptionError("the envelope carries no signature to check")
    try:
        digest = private_key.decrypt(_b64decode(envelope.signature_b64, "signature"), oaep())
    except ValueError:  # DecryptionError too: a damaged signature is one that does not match
        return False
    source = signature_source(
        form_id=form_id, version=version, envelope=envelope, instance_id=instance_id, decrypted=decrypted
    )
    return hmac.compare_digest(digest, hashlib.md5(source).digest())
