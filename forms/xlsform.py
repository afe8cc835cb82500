"""XLSForm -> XForm with pyxform 4.5: the only module in Ruta that imports pyxform's converter.

Conversion reads the workbook into pyxform's own sheet dict (one reader per kind: xlsx/xlsm via openpyxl,
xls via xlrd, csv, md), carries Kobo's columns that pyxform would silently drop (``hxl`` ->
``instance::hxl``, ``sensitive`` -> ``instance::ruta_sensitive``), then builds the XForm from that dict.
XForm XML is refused here on purpose: callers route ``xml`` uploads to ``forms.xform``, so an XForm is
never silently round-tripped through a converter that would not accept it anyway.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, fields
from typing import Any

from pyxform import xls2xform
from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import Definition, DefinitionData, SupportedFileTypes

from forms import safe_xml
from forms.detect import detect_kind
from forms.errors import XFormError, XLSFormError
from forms.xform import read_identity

__all__ = ["Conversion", "XLSFormError", "convert"]

_TRUTHY = frozenset({"yes", "true", "1", "y", "true()"})
# Kobo's plain columns -> the instance attribute that carries them into the XForm.
_CARRIED_COLUMNS = {"hxl": "instance::hxl", "sensitive": "instance::ruta_sensitive"}


@dataclass(frozen=True)
class Conversion:
    """The result of converting one XLSForm.

    ``warnings`` are pyxform's own, verbatim (often row-numbered). ``itemsets_csv`` is present when the
    form has an ``external_choices`` sheet: Collect reads it as the ``itemsets.csv`` form attachment,
    which the caller must attach itself.
    """

    xform: bytes
    form_id: str
    version: str | None
    title: str
    warnings: list[str]
    itemsets_csv: bytes | None
    source_kind: str


def convert(data: bytes, *, filename: str | None = None, fallback_form_id: str | None = None) -> Conversion:
    """Convert XLSForm bytes to an XForm; raise FormFileError (unreadable file) or XLSFormError.

    ``fallback_form_id`` is the form id when the settings sheet sets none (Central's
    ``X-XlsForm-FormId-Fallback``); without it pyxform's default (``data``) applies, because pyxform
    only derives an id from a file path and Ruta converts bytes. ``filename`` only words messages.
    """
    kind = detect_kind(data, filename)
    if kind == "xml":
        raise XLSFormError(
            "This file is an XForm (XML), not an XLSForm. Publish it as an XForm: Ruta reads it as it is "
            "and does not convert it."
        )
    pyxform_warnings: list[str] = []
    try:
        workbook = _read_workbook(data, kind, fallback_form_id)
        carry_kobo_columns(workbook)
        result = xls2xform.convert(
            xlsform=_as_dict(workbook), warnings=pyxform_warnings, validate=False, pretty_print=False
        )
    except XLSFormError:
        raise
    except PyXFormError as err:
        # pyxform's message is the useful part (row numbers, setting names): pass it through untouched.
        raise XLSFormError(str(err)) from err
    except Exception as err:
        # pyxform is not hardened against every odd workbook (KeyError, TypeError, IndexError deep in
        # its builder); the uploader still deserves an answer rather than a server error.
        raise XLSFormError(
            f"pyxform could not convert this XLSForm ({type(err).__name__}: {err}). Check that every sheet "
            "follows the XLSForm rules (https://xlsform.org): survey and choices headers, list names, "
            "and begin/end group and repeat rows that match."
        ) from err
    xform = result.xform.encode("utf-8")
    try:
        form_id, version, title = read_identity(safe_xml.parse(xform))
    except ValueError as err:  # MalformedXMLError, UnsafeXMLError, XFormError
        message = err.message if isinstance(err, XFormError) else str(err)
        raise XLSFormError(f"The XForm generated from this XLSForm is not usable: {message}") from err
    return Conversion(
        xform=xform,
        form_id=form_id,
        version=version,
        title=title,
        warnings=list(pyxform_warnings),
        itemsets_csv=result.itemsets.encode("utf-8") if result.itemsets is not None else None,
        source_kind=kind,
    )


def _read_workbook(data: bytes, kind: str, fallback_form_id: str | None) -> DefinitionData:
    """Read with the one pyxform reader for ``kind``, keeping that reader's own error message.

    pyxform's ``definition_to_dict`` replaces a read error with a generic "not recognized" message;
    calling the reader directly keeps "Error reading .xls file: ..." for the uploader.
    """
    file_type = SupportedFileTypes(f".{kind}")
    reader = SupportedFileTypes.get_processors()[file_type]
    definition = Definition(data=io.BytesIO(data), file_type=file_type, file_path_stem=None)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it drops (data validation, unknown extensions);
            # they do not affect the form, and pytest's filterwarnings=error would make them failures.
            # catch_warnings swaps process-global filters: harmless here, as it only adds an ignore.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
            sheets = reader(definition)
    except PyXFormError:
        raise
    except Exception as err:
        # The readers only translate some library errors (xlrd's CompDocError, for one, escapes).
        raise XLSFormError(
            f"The file could not be read as an XLSForm in {kind} format ({type(err).__name__}: {err}). "
            "Open it in a spreadsheet program, save it again as .xlsx and upload that."
        ) from err
    return DefinitionData(fallback_form_name=fallback_form_id, **sheets)


def carry_kobo_columns(workbook: DefinitionData) -> None:
    """Rename Kobo's plain ``hxl`` / ``sensitive`` survey columns to instance attributes, in place.

    pyxform ignores columns it does not know, so the HXL hashtags and sensitivity marks partners put in
    their Kobo forms would vanish from the XForm. An existing ``instance::hxl`` column wins.
    """
    headers = workbook.survey_header[0] if workbook.survey_header else {}
    rows = workbook.survey or []
    present = {str(key).strip().lower() for key in headers}
    renames: dict[str, str] = {}
    for key in headers:
        target = _CARRIED_COLUMNS.get(str(key).strip().lower())
        if target is not None and target not in present:
            renames[key] = target
    if not renames:
        return
    workbook.survey_header = [{renames.get(key, key): value for key, value in headers.items()}]
    for row in rows:
        for old, new in renames.items():
            if old not in row:
                continue
            value = row.pop(old)
            if new == "instance::ruta_sensitive":
                # Only a positive mark becomes an attribute; "no" must not read as sensitive.
                if str(value).strip().lower() in _TRUTHY:
                    row[new] = "true"
            else:
                row[new] = value


def _as_dict(workbook: DefinitionData) -> dict[str, Any]:
    # pyxform's convert() takes a sheet dict and rebuilds DefinitionData(**dict) from it.
    return {f.name: getattr(workbook, f.name) for f in fields(workbook)}
