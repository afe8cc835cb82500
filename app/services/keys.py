"""Project encryption keys and decrypting submissions for a holder of the passphrase.

The private key is stored only encrypted with the passphrase; Ruta never keeps the passphrase, so
encrypted submissions stay unreadable to the server (and to anyone with a copy of the database) until
someone who holds it asks, and every such request is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.errors import AlreadyExistsError, ForbiddenError, InvalidValueError, NotFoundError, RutaError
from app.models import Form, Project, ProjectKey, SubmissionAttachment, SubmissionVersion
from app.services import audit
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
        denied = audit.event_row(
            actor=actor,
            action="submission.decrypt.denied",
            project_id=project.id,
            subject_type=subject[0],
            subject_id=subject[1],
        )
        # Kept although the request is refused and rolled back (see RutaError.audit_rows).
        raise ForbiddenError("The passphrase is not correct.", audit_rows=[denied]) from err


def decrypt_version(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    version: SubmissionVersion,
    passphrase: str,
    store: BlobStore,
) -> Decrypted:
    if session.scalar(select(ProjectKey.id).where(ProjectKey.project_id == project.id)) is None:
        raise NotFoundError("This project has no encryption key.")
    parsed = parse_submission(version.xml)
    if parsed.envelope is None:
        raise InvalidValueError("This submission is not encrypted.")
    private_key = unlock_private_key(
        session,
        actor=actor,
        project=project,
        passphrase=passphrase,
        subject=("submission", version.instance_id),
    )
    attachments = session.scalars(
        select(SubmissionAttachment).where(SubmissionAttachment.submission_version_id == version.id)
    )
    files = {a.name: store.read(a.blob_sha256) for a in attachments if a.blob_sha256}
    missing = [n for n in parsed.envelope.media_file_names if n not in files]
    try:
        plain = crypto.decrypt_submission(
            private_key,
            parsed.envelope,
            parsed.instance_id,
            files,
            allow_missing_media=True,
        )
    except crypto.CryptoError as err:
        raise DecryptionFailedError(f"The submission could not be decrypted: {err}") from err
    audit.record(
        session,
        actor=actor,
        action="submission.decrypt",
        project_id=project.id,
        subject_type="submission",
        subject_id=version.instance_id,
        details={"form": form.xml_form_id},
    )
    return Decrypted(plain, missing)
