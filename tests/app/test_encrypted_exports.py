"""Exports of encrypted forms: media decrypted, the signature checked on every row, a damaged row
reported on its own line without spoiling the others, a private key supplied for a form Ruta holds
no key for, and every decryption audited. Submissions are encrypted in the test as Collect does
(tests/collect_encryption.py) with keys generated here."""

from __future__ import annotations

import io
import json
import os
from typing import Any

from sqlalchemy import func, select

from app.blobs import get_blob_store
from app.db import get_database
from app.models import AuditEvent, ProjectKey, SubmissionAttachment, SubmissionVersion
from forms.rewrite import add_public_key
from sync import crypto
from tests.app.conftest import World
from tests.app.export_helpers import read_xlsx, read_zip, url
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root
from tests.collect_encryption import damage_signature, encrypt_like_collect, flip_middle_byte

PASSPHRASE = "correct horse battery staple"
CLEAN_ROW = {"Status": "", "StatusReason": ""}


def _submit_encrypted(
    world: World,
    device: str,
    public_key: str,
    instance_id: str,
    *,
    name: str,
    photo: bytes | None,
    damage: str | None = None,
    send_photo: bool = True,
) -> None:
    """One submission encrypted as Collect does; ``damage`` flips a byte of the XML, the photo or
    the signature after encryption, as a bad disk or a bad copy would."""
    media = {"photo.jpg": photo} if photo is not None else {}
    xml = instance(instance_id, name=name, age="41", photo="photo.jpg" if photo is not None else "")
    envelope, files = encrypt_like_collect(
        public_key, form_id="photo", version="2", instance_id=instance_id, submission_xml=xml, media=media
    )
    if damage == "xml":
        files["submission.xml.enc"] = flip_middle_byte(files["submission.xml.enc"])
    elif damage == "photo":
        files["photo.jpg.enc"] = flip_middle_byte(files["photo.jpg.enc"])
    elif damage == "signature":
        envelope = damage_signature(envelope)
    if not send_photo:
        files.pop("photo.jpg.enc")
    res = post_submission(world, device, envelope, files)
    assert res.status_code == 201, res.get_data(as_text=True)


def _audits(world: World, action: str) -> list[AuditEvent]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )
        session.expunge_all()
        return events


def _encrypted_project(world: World) -> tuple[str, str]:
    """The project's key (Ruta holds it, under PASSPHRASE), the photo form published with it, and a
    phone: (device base URL, public key)."""
    res = world.client.post(
        f"/v1/projects/{world.project_id}/key",
        json={"passphrase": PASSPHRASE},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    assert publish_xml(world, SIMPLE_FORM)["encrypted"] is True
    return root(world, device_token(world)["token"]), str(res.json["public"])


def test_media_are_decrypted_and_each_damaged_row_is_reported_on_its_own(world: World) -> None:
    device, public = _encrypted_project(world)
    photos = {f"uuid:{n}": os.urandom(20_000 + n) for n in range(6)}  # incompressible, distinct
    _submit_encrypted(world, device, public, "uuid:0", name="Ana", photo=photos["uuid:0"])
    _submit_encrypted(world, device, public, "uuid:1", name="Bea", photo=photos["uuid:1"], damage="xml")
    _submit_encrypted(world, device, public, "uuid:2", name="Caro", photo=photos["uuid:2"], damage="photo")
    _submit_encrypted(
        world, device, public, "uuid:3", name="Dani", photo=photos["uuid:3"], damage="signature"
    )
    _submit_encrypted(world, device, public, "uuid:4", name="Eva", photo=photos["uuid:4"], send_photo=False)
    _submit_encrypted(world, device, public, "uuid:5", name="Flor", photo=photos["uuid:5"])
    _submit_encrypted(world, device, public, "uuid:6", name="Gil", photo=None)
    # Encrypted for another key (say the form's key was changed on a phone): does not decrypt.
    stranger = crypto.generate_key_pair(PASSPHRASE).public_key_b64
    _submit_encrypted(world, device, stranger, "uuid:7", name="Hugo", photo=None)
    # The envelope arrived, its submission.xml.enc not yet (files may come in later POSTs).
    envelope, _ = encrypt_like_collect(
        public, form_id="photo", version="2", instance_id="uuid:8", submission_xml=b"<data/>", media={}
    )
    assert post_submission(world, device, envelope, {}).status_code == 201
    # A stored photo lost from the disk.
    _submit_encrypted(world, device, public, "uuid:9", name="Ivo", photo=os.urandom(3000))
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        sha = session.scalar(
            select(SubmissionAttachment.blob_sha256)
            .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
            .where(SubmissionVersion.instance_id == "uuid:9", SubmissionAttachment.name == "photo.jpg.enc")
        )
        get_blob_store(world.app).path(str(sha)).unlink()

    res = world.client.post(
        url(world, "photo", "csv.zip"),
        json={"passphrase": PASSPHRASE, "reviewState": "all", "attachments": True},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    files = read_zip(res.data)
    rows = {r["KEY"]: r for r in files["photo.csv"]}
    assert list(rows) == [f"uuid:{n}" for n in range(10)]  # every row, in order, none aborted

    def clean(key: str, name: str, photo: str) -> None:
        row = rows[key]
        assert (row["name"], row["age"], row["photo"]) == (name, "41", photo)
        assert {k: row[k] for k in CLEAN_ROW} == CLEAN_ROW

    clean("uuid:0", "Ana", "photo.jpg")
    clean("uuid:5", "Flor", "photo.jpg")
    clean("uuid:6", "Gil", "")
    for key in ("uuid:1", "uuid:2", "uuid:3"):
        row = rows[key]
        assert row["Status"] == "signatureInvalid", row
        assert "do not match the submission's signature" in row["StatusReason"]
        assert (row["name"], row["age"], row["photo"]) == ("", "", "")  # withheld, never garbled
    # The photo never arrived: the XML decrypts, the signature cannot be checked, and it says so.
    late = rows["uuid:4"]
    assert (late["name"], late["Status"]) == ("Eva", "unverified")
    assert "photo.jpg not received yet" in late["StatusReason"]
    assert (rows["uuid:7"]["Status"], rows["uuid:7"]["name"]) == ("notDecrypted", "")
    assert "cannot be unlocked with this private key" in rows["uuid:7"]["StatusReason"]
    assert rows["uuid:8"]["Status"] == "missingEncryptedFormData"
    assert "submission.xml.enc has not been received" in rows["uuid:8"]["StatusReason"]
    assert (rows["uuid:9"]["Status"], rows["uuid:9"]["name"]) == ("notDecrypted", "")
    assert rows["uuid:9"]["StatusReason"] == "one of its stored files cannot be read"
    # Media: exactly the clear bytes, and only of the rows that verified.
    media = {k: v for k, v in files.items() if k.startswith("media/")}
    assert media == {"media/uuid_0/photo.jpg": photos["uuid:0"], "media/uuid_5/photo.jpg": photos["uuid:5"]}

    decrypts = _audits(world, "submission.decrypt")
    assert [(e.subject_id, e.details["key"], e.details["encryptedSubmissions"]) for e in decrypts] == [
        ("photo", "project", 10)
    ]
    (failed,) = _audits(world, "submission.decrypt.failed")
    assert failed.details["count"] == 7
    assert [(r["instanceId"], r["status"]) for r in failed.details["rows"]] == [
        ("uuid:1", "signatureInvalid"),
        ("uuid:2", "signatureInvalid"),
        ("uuid:3", "signatureInvalid"),
        ("uuid:4", "unverified"),
        ("uuid:7", "notDecrypted"),
        ("uuid:8", "missingEncryptedFormData"),
        ("uuid:9", "notDecrypted"),
    ]

    # The same rows through the CSV and XLSX writers: the same statuses (each export audits its own).
    csv_res = world.client.post(
        url(world, "photo", "csv"),
        json={"passphrase": PASSPHRASE, "reviewState": "all"},
        headers=world.headers("manager"),
    )
    assert csv_res.status_code == 200
    text = csv_res.get_data(as_text=True)
    assert text.count("signatureInvalid") == 3 and text.count("unverified") == 1
    assert text.count("notDecrypted") == 2 and text.count("missingEncryptedFormData") == 1
    xlsx = world.client.post(
        url(world, "photo", "xlsx"),
        json={"passphrase": PASSPHRASE, "reviewState": "all"},
        headers=world.headers("manager"),
    )
    assert xlsx.status_code == 200
    sheet = {r["KEY"]: r for r in read_xlsx(xlsx.data)["photo"]}
    assert (sheet["uuid:0"]["name"], sheet["uuid:0"]["Status"]) == ("Ana", None)
    assert (sheet["uuid:2"]["name"], sheet["uuid:2"]["Status"]) == (None, "signatureInvalid")
    assert len(_audits(world, "submission.decrypt.failed")) == 3


def test_one_submission_decrypt_reports_the_signature_and_hands_back_the_files(world: World) -> None:
    device, public = _encrypted_project(world)
    photo = os.urandom(9000)
    _submit_encrypted(world, device, public, "uuid:ok", name="Ana", photo=photo)
    _submit_encrypted(world, device, public, "uuid:bad", name="Bea", photo=photo, damage="photo")
    base = f"/v1/projects/{world.project_id}/forms/photo/submissions"
    manager = world.headers("manager")
    ok = world.client.post(f"{base}/uuid:ok/decrypt", json={"passphrase": PASSPHRASE}, headers=manager)
    assert ok.status_code == 200, ok.json
    assert ok.json["signature"] == "valid" and ok.json["missingMedia"] == []
    assert b"<name>Ana</name>" in ok.json["submission"].encode()
    bad = world.client.post(f"{base}/uuid:bad/decrypt", json={"passphrase": PASSPHRASE}, headers=manager)
    # Flagged, not refused: this is how someone looks at what an export withheld.
    assert bad.status_code == 200 and bad.json["signature"] == "invalid"
    details = [e.details for e in _audits(world, "submission.decrypt")]
    assert [(d["key"], d["signature"]) for d in details] == [("project", "valid"), ("project", "invalid")]


def _outside_key_form(world: World) -> tuple[str, crypto.KeyPair, str]:
    """A form carrying the public key of a pair generated outside Ruta (the project has no key)."""
    pair = crypto.generate_key_pair(PASSPHRASE, key_size=2048)
    form = publish_xml(world, add_public_key(SIMPLE_FORM, pair.public_key_b64))
    assert form["encrypted"] is True
    return root(world, device_token(world)["token"]), pair, pair.private_key_pem_encrypted.decode()


def test_a_form_encrypted_with_an_outside_key_exports_with_the_supplied_private_key(world: World) -> None:
    device, pair, pem = _outside_key_form(world)
    photo = os.urandom(12_345)
    _submit_encrypted(world, device, pair.public_key_b64, "uuid:out", name="Ana", photo=photo)
    manager = world.headers("manager")
    path = url(world, "photo", "csv.zip")

    # Without the key: a 400 that says what to send.
    res = world.client.post(path, json={"passphrase": PASSPHRASE, "reviewState": "all"}, headers=manager)
    assert res.status_code == 400, res.json
    assert res.json["details"]["option"] == "privateKey" and "never stored" in res.json["message"]
    # Never in the URL.
    res = world.client.get(path, query_string={"privateKey": "x"}, headers=manager)
    assert res.status_code == 400 and res.json["details"]["option"] == "privateKey"

    # A wrong passphrase: refused (4xx) and audited although the request is rolled back.
    res = world.client.post(
        path,
        json={"privateKey": pem, "passphrase": "not the passphrase", "reviewState": "all"},
        headers=manager,
    )
    assert res.status_code == 403, res.json
    assert "passphrase does not unlock" in res.json["message"]
    (denied,) = _audits(world, "submission.decrypt.denied")
    assert (denied.subject_id, denied.details["key"]) == ("photo", "supplied")
    assert denied.actor_user_id == world.user_ids["manager"]

    # A key of another pair: refused before any row is read.
    other = crypto.generate_key_pair(PASSPHRASE).private_key_pem_encrypted.decode()
    res = world.client.post(
        path, json={"privateKey": other, "passphrase": PASSPHRASE, "reviewState": "all"}, headers=manager
    )
    assert res.status_code == 400 and "does not belong" in res.json["message"]
    # Not a key at all.
    res = world.client.post(
        path, json={"privateKey": "hello", "passphrase": PASSPHRASE, "reviewState": "all"}, headers=manager
    )
    assert res.status_code == 400 and res.json["details"]["option"] == "privateKey"

    # The right key and passphrase, as JSON: values and the photo decrypted.
    res = world.client.post(
        path,
        json={"privateKey": pem, "passphrase": PASSPHRASE, "reviewState": "all", "attachments": "true"},
        headers=manager,
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    files = read_zip(res.data)
    (row,) = files["photo.csv"]
    assert (row["name"], row["photo"], row["Status"], row["StatusReason"]) == ("Ana", "photo.jpg", "", "")
    assert files["media/uuid_out/photo.jpg"] == photo

    # The same as a file upload (multipart), the key file as saved.
    res = world.client.post(
        path,
        data={
            "privateKey": (io.BytesIO(pem.encode()), "key.pem"),
            "passphrase": PASSPHRASE,
            "reviewState": "all",
        },
        content_type="multipart/form-data",
        headers=manager,
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert read_zip(res.data)["photo.csv"][0]["name"] == "Ana"

    # One submission, with the supplied key.
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms/photo/submissions/uuid:out/decrypt",
        json={"privateKey": pem, "passphrase": PASSPHRASE},
        headers=manager,
    )
    assert res.status_code == 200 and res.json["signature"] == "valid"

    # Audited each time, and the key is stored nowhere: no project key, nothing of it in the audit log.
    assert [e.details["key"] for e in _audits(world, "submission.decrypt")] == ["supplied"] * 3
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ProjectKey)) == 0
        logged: list[Any] = [e.details for e in session.scalars(select(AuditEvent))]
    dumped = json.dumps(logged)
    assert "PRIVATE KEY" not in dumped and PASSPHRASE not in dumped

    # Analysts may export but not decrypt, whatever key they bring.
    res = world.client.post(
        path,
        json={"privateKey": pem, "passphrase": PASSPHRASE, "reviewState": "all"},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 403
