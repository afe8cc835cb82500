"""Reading a submission's identity from its instance XML: form id, version, instanceID, deprecatedID,
instance name, and the envelope of an encrypted submission.

The XML is untrusted and clients disagree on namespaces (``orx:meta``, a default ``xmlns`` on the root,
Collect's encrypted-envelope namespace), so everything is matched on local names. The parsed root is
kept on the result so values can be extracted without parsing the document a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from forms import safe_xml
from forms.safe_xml import local_name
from sync import limits

MALFORMED_XML = "malformed_xml"
UNSAFE_XML = "unsafe_xml"
NO_FORM_ID = "no_form_id"
NO_INSTANCE_ID = "no_instance_id"
BAD_ENVELOPE = "bad_envelope"
BAD_IDENTIFIER = "bad_identifier"


class SubmissionError(ValueError):
    """A submission Ruta cannot accept. ``code`` is stable (for the error catalogue); ``message`` is
    written for the enumerator or supervisor who will read it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Envelope:
    """The clear-text part of a submission Collect encrypted with the form's public key.

    File names are as the envelope gives them (with ``.enc``); media come in envelope order, which is
    also the order Collect encrypted them in (it matters for the IVs).
    """

    encrypted_key_b64: str
    xml_file_name: str
    media_file_names: tuple[str, ...]
    signature_b64: str | None


@dataclass(frozen=True)
class ParsedSubmission:
    form_id: str
    version: str | None
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None
    root_name: str
    namespace: str
    envelope: Envelope | None
    root: Element = field(compare=False, repr=False)

    @property
    def is_encrypted(self) -> bool:
        return self.envelope is not None


def _child(parent: Element, name: str) -> Element | None:
    for child in parent:
        if local_name(child.tag) == name:
            return child
    return None


def _child_text(parent: Element | None, name: str) -> str | None:
    if parent is None:
        return None
    child = _child(parent, name)
    if child is None:
        return None
    # Identifiers are compared byte for byte later; surrounding whitespace from a pretty-printing
    # client is not part of them.
    text = "".join(child.itertext()).strip()
    return text or None


def is_plain_file_name(name: str) -> bool:
    """A name without a path or control characters (whatever its length)."""
    # These names become attachment names on disk and in URLs; a path in them is an attack, not data.
    return bool(name) and name not in {".", ".."} and not any(c in "/\\" or ord(c) < 32 for c in name)


def is_safe_file_name(name: str) -> bool:
    """A plain file name Ruta can store (``sync/limits.py``). Devices name attachments; Ruta stores and
    serves them under those names."""
    return is_plain_file_name(name) and limits.fits("fileName", name)


def _envelope(root: Element) -> Envelope:
    key = _child_text(root, "base64EncryptedKey")
    xml_file = _child_text(root, "encryptedXmlFile")
    if key is None or xml_file is None:
        raise SubmissionError(
            BAD_ENVELOPE,
            "this encrypted submission is incomplete: its envelope lacks the encrypted key or the name "
            "of the encrypted data file. Send it again from the device.",
        )
    media = tuple(
        "".join(file.itertext()).strip()
        for media_el in root
        if local_name(media_el.tag) == "media"
        for file in media_el
        if local_name(file.tag) == "file"
    )
    for name in (xml_file, *media):
        if not is_safe_file_name(name):
            raise SubmissionError(
                BAD_ENVELOPE, f"the encrypted submission names a file Ruta will not store: {name!r}"
            )
    return Envelope(
        encrypted_key_b64=key,
        xml_file_name=xml_file,
        media_file_names=media,
        signature_b64=_child_text(root, "base64EncryptedElementSignature"),
    )


def parse_submission(xml: bytes) -> ParsedSubmission:
    """Parse instance XML (plain or an encrypted envelope) and read its identity.

    Raises :class:`SubmissionError` with code ``malformed_xml``, ``unsafe_xml``, ``no_form_id``,
    ``no_instance_id`` or ``bad_envelope``.
    """
    try:
        root = safe_xml.parse(xml)
    except safe_xml.UnsafeXMLError as err:
        raise SubmissionError(
            UNSAFE_XML,
            "the submission contains a DOCTYPE or entity declarations, which ODK clients never send; "
            "it was refused for safety.",
        ) from err
    except safe_xml.MalformedXMLError as err:
        raise SubmissionError(
            MALFORMED_XML,
            f"the submission is not valid XML, so it cannot be read ({err}). "
            "It may be damaged; send it again from the device.",
        ) from err

    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise SubmissionError(
            NO_FORM_ID,
            "the submission's root element has no id attribute, so Ruta cannot tell which form it "
            "belongs to. Fill the form with an ODK-compatible app and send it again.",
        )

    meta = _child(root, "meta")
    # Old Collect versions carried the instanceID as an attribute of the root instead of in meta.
    instance_id = _child_text(meta, "instanceID") or (root.get("instanceID") or "").strip() or None
    if instance_id is None:
        # ODK Central refuses these too: without an instanceID a resent record cannot be told from a
        # new one, so accepting it would create duplicates every time a device retries.
        raise SubmissionError(
            NO_INSTANCE_ID,
            "the submission has no meta/instanceID, so Ruta cannot recognise it when it is sent again "
            "or edited. The form must include the instanceID metadata field (XLSForm adds it by default).",
        )

    envelope = _envelope(root) if (root.get("encrypted") or "").strip().lower() == "yes" else None
    # An empty version attribute means the same as none: a form published without a version.
    version = root.get("version") or None
    deprecated_id = _child_text(meta, "deprecatedID")
    instance_name = _child_text(meta, "instanceName")
    identity = {
        "formId": form_id,
        "version": version,
        "instanceID": instance_id,
        "deprecatedID": deprecated_id,
        "instanceName": instance_name,
    }
    for name, value in identity.items():
        why = limits.problem(name, value)
        if why is not None:
            # Refused here, at parse time, on every path (OpenRosa, API, batch, hub): PostgreSQL would
            # refuse it later with an error that sinks the whole transaction, SQLite would keep it.
            raise SubmissionError(BAD_IDENTIFIER, why)
    return ParsedSubmission(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        instance_name=instance_name,
        root_name=local_name(root.tag),
        namespace=safe_xml.namespace(root.tag),
        envelope=envelope,
        root=root,
    )
