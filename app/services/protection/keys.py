"""Project encryption keys and decrypting submissions for a holder of the passphrase.

The private key is stored only encrypted with the passphrase; Ruta never keeps the passphrase, so
encrypted submissions stay unreadable to the server (and to anyone with a copy of the database) until
someone who holds it asks, and every such request is audited.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.errors import AlreadyExistsError, ForbiddenError, InvalidValueError, NotFoundError, RutaError
from app.models import Form, FormVersion, Project, ProjectKey, SubmissionAttachment, SubmissionVersion
from app.services.audit import events as audit
from app.services.protection import record_scope
from sync import crypto
from sync.submission import parse_submission

MIN_PASSPHRASE = 10


class DecryptionFailedError(RutaError):
    code, status = "400.12", 400
    default_message = "The submission could not be decrypted."


def create_project_key(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    passphrase: str,
    hint: str = "",
    private_key_pem: bytes | None = None,
) -> ProjectKey:
    """Generate a key pair (or import an existing private key) for ``project``."""
    if session.scalar(select(ProjectKey.id).where(ProjectKey.project_id == project.id)) is not None:
        raise AlreadyExistsError("This project is already encrypted; its key cannot be replaced.")
    if len(passphrase or "") < MIN_PASSPHRASE:
        raise InvalidValueError(f"The passphrase must have at least {MIN_PASSPHRASE} characters.")
    if private_key_pem is not None:
        try:
            key = crypto.load_private_key(private_key_pem, None)
        except crypto.CryptoError as err:
            raise InvalidValueError(f"The private key could not be read: {err}") from err
        from cryptography.hazmat.primitives import serialization

        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        pair = crypto.KeyPair(crypto.public_key_b64(key), encrypted)
    else:
        pair = crypto.generate_key_pair(passphrase)
    row = ProjectKey(
        project_id=project.id,
        public_key=pair.public_key_b64,
        private_key_pem=pair.private_key_pem_encrypted,
        hint=hint[:255],
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.key.create",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"imported": private_key_pem is not None},
    )
    return row


@dataclass(frozen=True)
class Decrypted:
    files: dict[str, bytes]  # "submission.xml" and media, decrypted
    missing: list[str]
    signature: str  # crypto.SIGNATURE_*: valid, invalid, unsigned or incomplete


def _denied(
    err: crypto.WrongPassphraseError, *, actor: Actor, project: Project, subject: tuple[str, str], key: str
) -> ForbiddenError:
    denied = audit.event_row(
        actor=actor,
        action="submission.decrypt.denied",
        project_id=project.id,
        subject_type=subject[0],
        subject_id=subject[1],
        details={"key": key},
    )
    # Kept although the request is refused and rolled back (see RutaError.audit_rows).
    message = "The passphrase is not correct." if key == "project" else f"{err}".capitalize() + "."
    return ForbiddenError(message, audit_rows=[denied])


def unlock_private_key(
    session: Session, *, actor: Actor, project: Project, passphrase: str, subject: tuple[str, str]
) -> Any:
    """The project's private key, unlocked with ``passphrase``; a wrong one is audited against
    ``subject`` (type, id) and refused."""
    key_row = session.scalar(select(ProjectKey).where(ProjectKey.project_id == project.id))
    if key_row is None:
        raise NotFoundError("This project has no encryption key.")
    try:
        return crypto.load_private_key(key_row.private_key_pem, passphrase)
    except crypto.WrongPassphraseError as err:
        raise _denied(err, actor=actor, project=project, subject=subject, key="project") from err


def _der(public_key_b64: str) -> bytes | None:
    try:
        return base64.b64decode("".join(public_key_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def form_public_keys(session: Session, form: Form) -> set[bytes]:
    """The public keys (DER) the published versions of ``form`` carry."""
    schemas = session.scalars(
        select(FormVersion.schema).where(
            FormVersion.form_id == form.id, FormVersion.published_at.is_not(None)
        )
    )
    found = {_der(str(s.get("public_key"))) for s in schemas if s and s.get("public_key")}
    return {d for d in found if d is not None}


def held_key_matches(session: Session, project: Project, form: Form) -> bool:
    """Whether the project's own key is one a version of ``form`` was encrypted with."""
    public = session.scalar(select(ProjectKey.public_key).where(ProjectKey.project_id == project.id))
    return public is not None and _der(public) in form_public_keys(session, form)


def supplied_private_key(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    pem: bytes,
    passphrase: str | None,
) -> Any:
    """A private key the person brought for ``form`` (one Ruta does not hold). It lives only in this
    request's memory: never written, never logged. A wrong passphrase is audited and refused; a key
    no version of the form was encrypted for is refused before any row is read."""
    try:
        key = crypto.load_private_key(pem, passphrase)
    except crypto.WrongPassphraseError as err:
        raise _denied(
            err, actor=actor, project=project, subject=("form", form.xml_form_id), key="supplied"
        ) from err
    except crypto.PrivateKeyError as err:
        raise InvalidValueError(
            f"The private key could not be read: {err}. Send the PEM file the key pair was saved in.",
            details={"option": "privateKey"},
        ) from err
    if _der(crypto.public_key_b64(key)) not in form_public_keys(session, form):
        raise InvalidValueError(
            "This private key does not belong to the public key of any version of this form, so it "
            "cannot decrypt its submissions. Check that it is the key pair the form was published with.",
            details={"option": "privateKey"},
        )
    return key


def decrypt_version(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    version: SubmissionVersion,
    passphrase: str | None,
    store: BlobStore,
    private_key_pem: bytes | None = None,
) -> Decrypted:
    """One submission decrypted with the project's key (``passphrase``) or a key the person supplies
    (``private_key_pem``, with ``passphrase`` when it is protected). The files come back even when
    the signature does not match, flagged: this is how someone salvages a submission an export
    withheld."""
    parsed = parse_submission(version.xml)
    if parsed.envelope is None:
        raise InvalidValueError("This submission is not encrypted.")
    if private_key_pem is not None:
        private_key = supplied_private_key(
            session, actor=actor, project=project, form=form, pem=private_key_pem, passphrase=passphrase
        )
    else:
        if session.scalar(select(ProjectKey.id).where(ProjectKey.project_id == project.id)) is None:
            raise NotFoundError(
                "This project has no encryption key. If the form was encrypted with a key of your own, "
                "send its private key as privateKey."
            )
        if not passphrase:
            raise InvalidValueError("Give the project key's passphrase to decrypt this submission.")
        private_key = unlock_private_key(
            session,
            actor=actor,
            project=project,
            passphrase=passphrase,
            subject=("submission", version.instance_id),
        )
    attachments = session.scalars(
        select(SubmissionAttachment).where(
            SubmissionAttachment.submission_version_id == version.id, record_scope.live_file()
        )
    )
    files = {a.name: store.read(a.blob_sha256) for a in attachments if a.blob_sha256}
    try:
        opened = crypto.open_parsed(private_key, parsed, files)
    except crypto.CryptoError as err:
        failed = audit.event_row(
            actor=actor,
            action="submission.decrypt.failed",
            project_id=project.id,
            subject_type="submission",
            subject_id=version.instance_id,
            details={"form": form.xml_form_id, "reason": str(err)},
        )
        raise DecryptionFailedError(
            f"The submission could not be decrypted: {err}", audit_rows=[failed]
        ) from err
    audit.record(
        session,
        actor=actor,
        action="submission.decrypt",
        project_id=project.id,
        subject_type="submission",
        subject_id=version.instance_id,
        details={
            "form": form.xml_form_id,
            "key": "project" if private_key_pem is None else "supplied",
            "signature": opened.signature,
        },
    )
    return Decrypted(opened.files, list(opened.missing), opened.signature)
