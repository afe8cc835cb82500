"""The error catalogue's default messages in the admin's language.

A service raises an error with its catalogue message (``app/errors.py``, English: the API and devices
get it as it is). The admin shows the same message translated when it is the catalogue's default; a
message a service wrote for the case at hand stays as written, under a translated heading. The
English texts here are the catalogue's, letter for letter (tests/app/test_admin_translations.py checks
both ways), so a changed default message is caught rather than shown in English.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.errors import RutaError

DEFAULTS = {
    "400.1": _l("The request could not be understood."),
    "400.2": _l("The request body is not valid JSON."),
    "400.3": _l("A required field is missing."),
    "400.4": _l("A value is not valid."),
    "400.5": _l("The uploaded file is not a form Ruta can read."),
    "400.8": _l(
        "XML with a DOCTYPE, entity declarations or external references is not accepted. "
        "Send the document without them."
    ),
    "400.10": _l(
        "The submission has no 'xml_submission_file' part. Send the instance XML in a multipart field "
        "named xml_submission_file."
    ),
    "400.11": _l("A file name contains a path separator or '..', or is too long; send the plain file name."),
    "400.13": _l("An identifier is too long or contains a NUL character."),
    "400.20": _l("The batch could not be read. Send a zip of instance folders, a multipart, or JSON."),
    "400.21": _l("The zip inflates far beyond its size, which no real submission does; refused."),
    "400.22": _l("The upload is not valid."),
    "400.40": _l("The mapping document has errors; fix them and send it again."),
    "400.41": _l("An OData query option is not valid."),
    "400.42": _l("The indicator query is not valid."),
    "401.1": _l("Log in first: this requires a valid session token or credentials."),
    "401.2": _l("The email address or password is not correct."),
    "401.3": _l(
        "This device's access token is not valid or has been revoked. Ask your supervisor for a new QR code."
    ),
    "401.10": _l(
        "This hub credential is not valid or has been revoked. Ask the central project's manager for a "
        "new one and run `ruta hub link` again."
    ),
    "403.1": _l("You are not allowed to do this. Ask a project manager for the role it needs."),
    "403.10": _l("This hub credential belongs to another project; a hub may only sync its own."),
    "404.1": _l("Not found, or you do not have access to it."),
    "404.2": _l("This form is not on the server, or not for this project. Update the blank forms."),
    "404.3": _l(
        "This submission was filled in with a version of the form the server does not know. Update the "
        "blank form and fill it in again."
    ),
    "405.1": _l("This method is not allowed here."),
    "409.1": _l("This conflicts with what is already stored."),
    "409.2": _l("This form is closed and does not accept submissions any more."),
    "409.3": _l("Something with this identifier already exists."),
    "409.4": _l(
        "A different submission with the same instanceID is already stored. Nothing was changed. If "
        "this is an edit, it must carry a deprecatedID."
    ),
    "409.5": _l("A published version of this form with that version string already exists."),
    "409.15": _l(
        "This edit replaces a version that is not the submission's current version. Nothing was "
        "changed. Fetch the current version, apply your change to it and send it with its instanceID "
        "as deprecatedID."
    ),
    "409.20": _l("This Ruta is not linked to a central Ruta yet. Run `ruta hub link` first."),
    "409.21": _l("This chunk does not start where the upload stands; resume from details.received."),
    "409.22": _l("The upload is not complete yet; send the remaining bytes before ingesting it."),
    "410.1": _l("This export file has expired and was deleted; ask for a new export."),
    "413.1": _l("The upload is larger than the server accepts."),
    "413.2": _l("The batch has too many entries or too large a file. Send smaller batches."),
    "415.1": _l("This content type is not accepted here."),
    "429.1": _l("Too many attempts. Wait a minute and try again."),
    "500.1": _l("Something went wrong on the server. The error has been logged."),
    "501.41": _l("This OData feature is not supported."),
    "502.1": _l("The central Ruta could not be reached. Run `ruta hub sync` again when online."),
    "503.1": _l("The database is busy or unavailable. Nothing was stored; try again shortly."),
    "503.2": _l(
        "The server cannot write to its storage right now. Nothing was stored; try again later. "
        "(Operators: the file system is read-only.)"
    ),
    "503.3": _l(
        "The file storage is unavailable. Nothing was stored; the device keeps the submission and can "
        "send it again shortly."
    ),
    "507.1": _l(
        "The server's storage is full. Nothing was stored; try again later. (Operators: free disk "
        "space for the database and the blob store.)"
    ),
}

# A heading per kind of error, for the page's title line (the message below may be a service's own).
HEADINGS = {
    400: _l("The request was not accepted"),
    401: _l("Log in first"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not possible here"),
    409: _l("Conflict with what is stored"),
    410: _l("No longer available"),
    413: _l("Too large"),
    415: _l("Not accepted"),
    429: _l("Too many attempts"),
    500: _l("Server error"),
    502: _l("Could not reach the other server"),
    503: _l("Temporarily unavailable"),
    507: _l("Storage full"),
}


def message(error: RutaError) -> str:
    """The error's message in the admin's language when it is the catalogue's default."""
    found = DEFAULTS.get(error.code)
    if found is not None and error.message == type(error).default_message:
        return str(found)
    return error.message


def heading(status: int) -> str:
    found = HEADINGS.get(status) or HEADINGS.get(500 if status >= 500 else 400)
    return str(found)
