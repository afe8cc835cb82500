"""The errors the ``forms`` package raises for bad form files, in one family.

Every one is a ``ValueError`` whose ``str()`` is a message a person can act on, so the app layer can
catch ``FormError`` once and show the message as is (pyxform's row-numbered messages included).
"""

from __future__ import annotations


class FormError(ValueError):
    """A form file Ruta cannot use; ``message`` is meant for the person who uploaded it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FormFileError(FormError):
    """The bytes are not a form file Ruta can read at all (empty, a stray zip, a PDF, ...)."""


class XLSFormError(FormError):
    """pyxform rejected the XLSForm, or the conversion could not finish; ``message`` is pyxform's own."""


class XFormError(FormError):
    """The XForm XML is malformed, unsafe, or lacks what every XForm must have (model, instance, id)."""
