"""Choice lists of an XForm: inline ``<item>``s under a select and items of secondary instances.

pyxform writes each choice list as a secondary instance ``<instance id="LIST"><root><item>`` read by
``<itemset nodeset="instance('LIST')/root/item">``, with labels inline (``<label>``, optionally one
per ``lang``) or via ``<itextId>`` into itext. Hand-written forms put ``<item><label/><value/></item>``
under the control instead; such a list is named after its question, as pyxform names inline lists.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from forms import paths
from forms.itext import Translations, element_texts, render
from forms.safe_xml import local_name
from forms.schema import Choice

_ITEXT_CHILD = re.compile(r"""itext\(\s*([A-Za-z_][\w.:-]*)\s*\)""")
_NAME = re.compile(r"[A-Za-z_][\w.-]*")
DEFAULT_VALUE_REF = "name"
DEFAULT_LABEL_REF = "label"


def itemset_spec(itemset: Element) -> tuple[str | None, str, str]:
    """``(list id, value child, label ref)`` of an ``<itemset>``; the id is None for non-instance sets."""
    value_ref, label_ref = DEFAULT_VALUE_REF, DEFAULT_LABEL_REF
    for child in itemset:
        name = local_name(child.tag)
        if name == "value" and child.get("ref"):
            value_ref = _child_name(child.get("ref", "")) or DEFAULT_VALUE_REF
        elif name == "label" and child.get("ref"):
            label_ref = child.get("ref", DEFAULT_LABEL_REF)
    return paths.secondary_instance_id(itemset.get("nodeset")), value_ref, label_ref


def inline_choices(items: list[Element], tr: Translations) -> list[Choice]:
    """Choices of ``<item>`` children of a select control."""
    choices = []
    for item in items:
        value = next((c for c in item if local_name(c.tag) == "value"), None)
        label = next((c for c in item if local_name(c.tag) == "label"), None)
        choices.append(
            Choice(value=render(value) if value is not None else "", labels=element_texts(label, tr))
        )
    return choices


def instance_choices(root: Element, value_ref: str, label_ref: str, tr: Translations) -> list[Choice]:
    """Choices of the items under a secondary instance's root element."""
    itext_child = _ITEXT_CHILD.search(label_ref)
    label_child = _child_name(label_ref)
    choices = []
    for item in root:
        values: dict[str, Element] = {}
        label_elements: list[Element] = []
        for child in item:
            name = local_name(child.tag)
            values.setdefault(name, child)
            if name == label_child:
                label_elements.append(child)
        value = values.get(value_ref)
        if value is None:
            continue
        labels: dict[str, str] = {}
        if itext_child is not None:
            text_id = values.get(itext_child.group(1))
            if text_id is not None and text_id.text:
                labels = tr.text(text_id.text.strip())
        else:
            for label in label_elements:
                # Enketo's experimental <label lang="nl"> on secondary instances; no lang = every language.
                lang = next((v for k, v in label.attrib.items() if local_name(k) == "lang"), "")
                text = render(label)
                if text:
                    labels.setdefault(lang, text)
        choices.append(Choice(value=(value.text or "").strip(), labels=labels))
    return choices


def _child_name(ref: str) -> str | None:
    # "translate(label)" -> "label"; "name" -> "name": the innermost step is the item's child.
    names = _NAME.findall(ref.rsplit("/", 1)[-1])
    return names[-1] if names else None
