"""The one error catalogue: each error has a stable code whose integer part is the HTTP status
(ODK Central's convention, which pyodk and ruODK understand), and a message a person can act on.

Services raise these; the web layer renders them per audience: JSON on the API, OpenRosaResponse XML
on device endpoints (Collect shows the first message to the enumerator), HTML in the admin.
"""

from __future__ import annotations

from typing import Any


class RutaError(Exception):
    code = "500.1"
    status = 500
    default_message = "Something went wrong on the server. The error has been logged."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        audit_rows: list[dict[str, Any]] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        # Audit events that must outlive the rollback of the refused request (a wrong passphrase is
        # worth knowing about precisely because nothing else was written): ``audit.event_row`` dicts,
        # written by the error handler in their own transaction after the rollback.
        self.audit_rows = audit_rows or []
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def response_headers(self) -> dict[str, str]:
        """Headers the response carries besides the body (Retry-After, say)."""
        return {}


class BadRequestError(RutaError):
    code, status = "400.1", 400
    default_message = "The request could not be understood."


class InvalidJSONError(RutaError):
    code, status = "400.2", 400
    default_message = "The request body is not valid JSON."


class MissingFieldError(RutaError):
    code, status = "400.3", 400
    default_message = "A required field is missing."


class InvalidValueError(RutaError):
    code, status = "400.4", 400
    default_message = "A value is not valid."


class FormFileError(RutaError):
    code, status = "400.5", 400
    default_message = "The uploaded file is not a form Ruta can read."


class XLSFormError(RutaError):
    """pyxform refused the XLSForm; the message is pyxform's own, with its row numbers."""

    code, status = "400.6", 400


class XFormError(RutaError):
    code, status = "400.7", 400


class UnsafeXMLError(RutaError):
    code, status = "400.8", 400
    default_message = (
        "XML with a DOCTYPE, entity declarations or external references is not accepted. "
        "Send the document without them."
    )


class SubmissionXMLError(RutaError):
    code, status = "400.9", 400


class MissingSubmissionPartError(RutaError):
    code, status = "400.10", 400
    default_message = (
        "The submission has no 'xml_submission_file' part. Send the instance XML in a multipart "
        "field named xml_submission_file."
    )


class UnsafeFileNameError(RutaError):
    code, status = "400.11", 400
    default_message = (
        "A file name contains a path separator or '..', or is too long; send the plain file name."
    )


class IdentifierError(RutaError):
    """An identifier (instanceID, deviceID, form id, ...) longer than Ruta stores, or with a NUL in it:
    refused on every database alike (``sync/limits.py``)."""

    code, status = "400.13", 400
    default_message = "An identifier is too long or contains a NUL character."


class AuthenticationRequiredError(RutaError):
    code, status = "401.1", 401
    default_message = "Log in first: this requires a valid session token or credentials."


class AuthenticationFailedError(RutaError):
    code, status = "401.2", 401
    default_message = "The email address or password is not correct."


class InvalidTokenError(RutaError):
    code, status = "401.3", 401
    default_message = (
        "This device's access token is not valid or has been revoked. Ask your supervisor for a new QR code."
    )


class ForbiddenError(RutaError):
    code, status = "403.1", 403
    default_message = "You are not allowed to do this. Ask a project manager for the role it needs."


class NotFoundError(RutaError):
    code, status = "404.1", 404
    default_message = "Not found, or you do not have access to it."


class FormNotFoundError(NotFoundError):
    code = "404.2"
    default_message = "This form is not on the server, or not for this project. Update the blank forms."


class FormVersionNotFoundError(NotFoundError):
    code = "404.3"
    default_message = (
        "This submission was filled in with a version of the form the server does not know. "
        "Update the blank form and fill it in again."
    )


class MethodNotAllowedError(RutaError):
    code, status = "405.1", 405
    default_message = "This method is not allowed here."


class ConflictError(RutaError):
    code, status = "409.1", 409
    default_message = "This conflicts with what is already stored."


class FormClosedError(ConflictError):
    code = "409.2"
    default_message = "This form is closed and does not accept submissions any more."


class AlreadyExistsError(ConflictError):
    code = "409.3"
    default_message = "Something with this identifier already exists."


class SubmissionConflictError(ConflictError):
    code = "409.4"
    default_message = (
        "A different submission with the same instanceID is already stored. Nothing was changed. "
        "If this is an edit, it must carry a deprecatedID."
    )


class StaleEditError(ConflictError):
    code = "409.15"
    default_message = (
        "This edit replaces a version that is not the submission's current version. Nothing was changed. "
        "Fetch the current version, apply your change to it and send it with its instanceID as deprecatedID."
    )


class FormVersionExistsError(ConflictError):
    code = "409.5"
    default_message = "A published version of this form with that version string already exists."


class PublishBlockedError(ConflictError):
    """A draft that failed ODK Validate or lacks expected media; a manager may publish it anyway with a
    stated reason (``overrideReason``), which the audit log keeps."""

    code = "409.30"
    default_message = (
        "This draft cannot be published yet: fix the form or upload its media files, or publish anyway "
        "with a reason."
    )


class PayloadTooLargeError(RutaError):
    code, status = "413.1", 413
    default_message = "The upload is larger than the server accepts."


class UnsupportedMediaTypeError(RutaError):
    code, status = "415.1", 415
    default_message = "This content type is not accepted here."


class TooManyRequestsError(RutaError):
    code, status = "429.1", 429
    default_message = "Too many attempts. Wait a minute and try again."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# OData feed (issue 7: Excel / Power BI / pyodk / ruODK read a form's data as OData v4) ------------


class ODataQueryError(RutaError):
    """A query option ($top, $skip, $select, $filter, $skiptoken, ...) Ruta cannot read."""

    code, status = "400.41", 400
    default_message = "An OData query option is not valid."


class ODataNotImplementedError(RutaError):
    """Valid OData that Ruta (like ODK Central) does not offer, such as $orderby or filtering on form
    fields."""

    code, status = "501.41", 501
    default_message = "This OData feature is not supported."


# --- Batched sync and field hubs (issue 4) ---


class BatchFormatError(RutaError):
    """The batch as a whole could not be read: not a zip, a path that climbs out, bad JSON."""

    code, status = "400.20", 400
    default_message = "The batch could not be read. Send a zip of instance folders, a multipart, or JSON."


class ZipBombError(RutaError):
    code, status = "400.21", 400
    default_message = "The zip inflates far beyond its size, which no real submission does; refused."


class BatchTooLargeError(PayloadTooLargeError):
    code = "413.2"
    default_message = "The batch has too many entries or too large a file. Send smaller batches."


class HubTokenError(RutaError):
    code, status = "401.10", 401
    default_message = (
        "This hub credential is not valid or has been revoked. Ask the central project's manager for a "
        "new one and run `ruta hub link` again."
    )


class HubProjectError(RutaError):
    code, status = "403.10", 403
    default_message = "This hub credential belongs to another project; a hub may only sync its own."


class HubNotLinkedError(RutaError):
    code, status = "409.20", 409
    default_message = "This Ruta is not linked to a central Ruta yet. Run `ruta hub link` first."


class HubSyncError(RutaError):
    """The hub could not finish a sync (the link dropped, the central side refused); safe to rerun."""

    code, status = "502.1", 502
    default_message = "The central Ruta could not be reached. Run `ruta hub sync` again when online."


class BlobStoreUnavailableError(RutaError):
    # Answered with Retry-After: the device keeps the submission and sends it again later.
    code, status = "503.3", 503
    default_message = (
        "The file storage is unavailable. Nothing was stored; the device keeps the submission "
        "and can send it again shortly."
    )


class UploadOffsetError(RutaError):
    """A resumable upload's chunk does not start where the stored part ends; ``details.received`` says
    where to resume (the client asks, then sends from there)."""

    code, status = "409.21", 409
    default_message = "This chunk does not start where the upload stands; resume from details.received."


class UploadIncompleteError(RutaError):
    code, status = "409.22", 409
    default_message = "The upload is not complete yet; send the remaining bytes before ingesting it."


class UploadInvalidError(RutaError):
    """A resumable upload that cannot be taken: a bad id or Content-Range, or bytes that do not hash to
    the id (damaged on the way; the part is discarded so the next attempt starts clean)."""

    code, status = "400.22", 400
    default_message = "The upload is not valid."


class MappingInvalidError(RutaError):
    """A mapping document that cannot be confirmed; ``details.problems`` lists each with where it is."""

    code, status = "400.40", 400
    default_message = "The mapping document has errors; fix them and send it again."


class IndicatorQueryError(RutaError):
    code, status = "400.42", 400
    default_message = "The indicator query is not valid."


# --- Storage and database faults (issue 15): nothing was stored; the client may retry ---


class DatabaseUnavailableError(RutaError):
    code, status = "503.1", 503
    default_message = "The database is busy or unavailable. Nothing was stored; try again shortly."


class StorageUnavailableError(RutaError):
    """The blob store or database refuses writes (a read-only file system)."""

    code, status = "503.2", 503
    default_message = (
        "The server cannot write to its storage right now. Nothing was stored; try again later. "
        "(Operators: the file system is read-only.)"
    )


class InsufficientStorageError(RutaError):
    code, status = "507.1", 507
    default_message = (
        "The server's storage is full. Nothing was stored; try again later. "
        "(Operators: free disk space for the database and the blob store.)"
    )


class ExportGoneError(RutaError):
    code, status = "410.1", 410
    default_message = "This export file has expired and was deleted; ask for a new export."


# --- Entity lists (issue 19) ---


class EntityVersionMismatchError(ConflictError):
    """An update through the API named a base version that is not the entity's current version."""

    code = "409.41"
    default_message = (
        "The entity has changed since the version you started from. Nothing was changed. Fetch the "
        "entity, apply your change to its current version and send it with that baseVersion, or add "
        "force=true to overwrite."
    )


# --- Site registry (issue 19 item 4) ---


class SiteImportError(RutaError):
    """A registry import with rows in error; ``details`` is the row-by-row report. Nothing was stored."""

    code, status = "422.19", 422
    default_message = (
        "Some rows of the site file have errors, so no site was imported. Fix the rows listed in "
        "details.issues and send the file again, or add goodRows=true to import only the rows without errors."
    )
