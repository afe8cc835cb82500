"""The files a form expects beside it (form attachments), read from its XForm.

Sources, as ODK Central and Collect read them: itext media (``jr://images/x.png`` and friends), external
secondary instances (``src="jr://file/x.xml"``, ``jr://file-csv/x.csv``, GeoJSON), ``pulldata('x', ...)``
and ``search('x')`` (both read ``x.csv``), and ``itemsets.csv`` for legacy external selects (a control
with a ``query`` attribute). Only the base file name is kept: Central flattens attachments to a name.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from forms.itext import MEDIA_FORMS, Translations
from forms.safe_xml import local_name
from forms.schema import MediaRef

_PULLDATA = re.compile(r"""pulldata\s*\(\s*['"]([^'"]+)['"]""")
_SEARCH = re.compile(r"""search\s*\(\s*['"]([^'"]+)['"]""")
# jr://file/ and jr://file-csv/ are attachments; jr://instance/last-saved, jr://files/ (a typo Central
# rejects) and bare names are not.
_ATTACHMENT_SCHEMES = ("jr://file/", "jr://file-csv/")


def file_name(reference: str) -> str:
    """``jr://images/dir/a.png`` -> ``a.png``: the last path segment, whichever separator was used."""
    return reference.strip().replace("\\", "/").rsplit("/", 1)[-1].strip()


def collect_media(document: Element, model: Element, translations: Translations) -> list[MediaRef]:
    """Every expected attachment once, in a stable order (instances, expressions, itext media)."""
    found: dict[str, MediaRef] = {}

    def add(name: str, kind: str, source: str) -> None:
        if name and name not in found:
            found[name] = MediaRef(name=name, kind=kind, source=source)

    for instance in (c for c in model if local_name(c.tag) == "instance"):
        src = (instance.get("src") or "").strip()
        if src.lower().startswith(_ATTACHMENT_SCHEMES):
            add(file_name(src), "file", "instance")

    for element in document.iter():
        for attribute, value in element.attrib.items():
            if "pulldata" in value:
                for name in _PULLDATA.findall(value):
                    add(file_name(name) + ".csv", "file", "pulldata")
            if local_name(attribute) == "appearance" and "search" in value:
                for name in _SEARCH.findall(value):
                    add(file_name(name) + ".csv", "file", "search")
            if local_name(attribute) == "query" and value.strip():
                # Collect serves legacy external selects (select_one_external) from itemsets.csv.
                add("itemsets.csv", "file", "itemsets")

    for form, value in translations.media_values():
        add(file_name(value), MEDIA_FORMS[form], "itext")
    return list(found.values())
