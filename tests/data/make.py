"""Writes the binary fixtures of tests/data/ that are not written by hand: XLSForms, an encrypted submission.

Run ``python -m tests.data.make`` from the project root to write them again (the XLSForms come out the same;
the encrypted submission gets a fresh random key each time, and the tests only rely on what it decrypts to).
Everything here is Ruta's own: no file is copied from another project.
"""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync import crypto

HERE = Path(__file__).resolve().parent
INSTANCE_ID = "uuid:7f3c2a10-5d4e-4b8f-9a61-2c0d9e8b7a54"
FORM_VERSION = "working3"
# The envelope names this photo; only its .enc file is kept beside the XML, so tests choose whether a
# submission arrives with it (a whole submission) or without it (media still to come).
PHOTO_NAME = "1701950000000.jpg"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSFORMS: dict[str, dict[str, list[list[object]]]] = {
    # The smallest XLSForm: no settings sheet, so the form id comes from the file name.
    "simple.xlsx": {
        "survey": [
            ["type", "name", "label"],
            ["text", "name", "¿Cómo se llama?"],
            ["integer", "age", "¿Edad?"],
        ],
    },
    # pyxform refuses a survey sheet with the same column twice (its row-numbered message reaches the user).
    "duplicate_columns.xlsx": {
        "survey": [
            ["type", "name", "label", "label"],
            ["text", "name", "Nombre", "Nombre otra vez"],
        ],
    },
    # pyxform converts it, ODK Validate refuses it: a calculation calls a function javarosa does not have.
    "validate_fails.xlsx": {
        "survey": [
            ["type", "name", "label", "calculation"],
            ["text", "a", "A", None],
            ["calculate", "c", None, "no_such_function(${a})"],
        ],
        "settings": [["form_id", "form_title"], ["validate_fails", "Falla en ODK Validate"]],
    },
}


def _private_key() -> rsa.RSAPrivateKey:
    path = HERE / "encrypted" / "test-private-key.pem"
    if path.exists():
        return crypto.load_private_key(path.read_bytes(), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return key


def _encrypted() -> None:
    # Imported here: the encryptor lives with the crypto tests (it is test-only code written from Collect's
    # EncryptionUtils), and importing the tests package is only needed when writing these files.
    from tests.collect_encryption import encrypt_like_collect

    folder = HERE / "encrypted"
    key = _private_key()
    public = crypto.public_key_b64(key)
    form = (HERE / "forms" / "encrypted.xml.in").read_text().replace("@PUBLIC_KEY@", public)
    (HERE / "forms" / "encrypted.xml").write_text(form)
    plain = (
        '<?xml version=\'1.0\' ?><data id="encrypted" version="working3" '
        'xmlns:jr="http://openrosa.org/javarosa"><meta><instanceID>'
        f"{INSTANCE_ID}</instanceID></meta><name>Ana</name><age>30</age><file>{PHOTO_NAME}</file></data>"
    ).encode()
    envelope, files = encrypt_like_collect(
        public,
        form_id="encrypted",
        version=FORM_VERSION,
        instance_id=INSTANCE_ID,
        submission_xml=plain,
        media={PHOTO_NAME: PHOTO},
    )
    (folder / "submission.xml").write_bytes(envelope)
    (folder / "expected-plaintext.xml").write_bytes(plain)
    (folder / "photo.jpg").write_bytes(PHOTO)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def main() -> None:
    for name, sheets in XLSFORMS.items():
        (HERE / "xlsforms" / name).write_bytes(_workbook(sheets))
    _encrypted()


if __name__ == "__main__":
    main()
