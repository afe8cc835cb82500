"""An XForm's translations (``<itext>``) and the label text of any element, per language.

Labels and hints are either written inline (``<label>Name?</label>``, language ``""``: the same in
every language) or point into itext with ``jr:itext('id')``, which gives one text per translation.
Media forms of a text (``<value form="image">jr://images/x.png</value>``) are kept so ``forms.media``
can list the files a form expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from forms import paths
from forms.safe_xml import local_name

_ITEXT_CALL = re.compile(r"""itext\(\s*['"]([^'"]+)['"]\s*\)""")
# The text shown for a label: the value without a form, else the long then the short form.
_TEXT_FORMS = ("", "long", "short")
MEDIA_FORMS = {"image": "image", "big-image": "image", "audio": "audio", "video": "video"}


@dataclass(frozen=True)
class Translations:
    """Itext of one form: ``texts[text_id][language][form]`` (form ``""`` is the plain text)."""

    languages: list[str] = field(default_factory=list)
    default_language: str | None = None
    texts: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def text(self, text_id: str) -> dict[str, str]:
        """The display text of ``text_id`` per language; languages without any text are left out."""
        result: dict[str, str] = {}
        for lang, forms in self.texts.get(text_id, {}).items():
            for form in _TEXT_FORMS:
                value = forms.get(form)
                if value:
                    result[lang] = value
                    break
        return result

    def media_values(self) -> Iterator[tuple[str, str]]:
        """Every (media form, value) pair in every translation, e.g. ``("image", "jr://images/a.png")``."""
        for by_lang in self.texts.values():
            for forms in by_lang.values():
                for form, value in forms.items():
                    if form in MEDIA_FORMS and value:
                        yield form, value


def read_translations(model: Element) -> Translations:
    """Read every ``<itext>`` of the model (there is normally one) in document order."""
    languages: list[str] = []
    default: str | None = None
    texts: dict[str, dict[str, dict[str, str]]] = {}
    for itext in (c for c in model if local_name(c.tag) == "itext"):
        for translation in (c for c in itext if local_name(c.tag) == "translation"):
            lang = translation.get("lang", "")
            if lang not in languages:
                languages.append(lang)
            if default is None and translation.get("default", "false()").strip() in ("true()", "true", ""):
                default = lang
            for text in (c for c in translation if local_name(c.tag) == "text"):
                text_id = text.get("id")
                if not text_id:
                    continue
                forms = texts.setdefault(text_id, {}).setdefault(lang, {})
                for value in (c for c in text if local_name(c.tag) == "value"):
                    form = value.get("form", "")
                    # A text may repeat a form (rare, hand-written forms): the first one wins, as in javarosa.
                    forms.setdefault(form, render(value))
    if default is None and languages:
        default = languages[0]
    return Translations(languages=languages, default_language=default, texts=texts)


def itext_id(ref: str | None) -> str | None:
    """``jr:itext('/data/q:label')`` -> ``/data/q:label``; None when ``ref`` is not an itext call."""
    if not ref:
        return None
    match = _ITEXT_CALL.search(ref)
    return match.group(1) if match else None


def element_texts(element: Element | None, translations: Translations) -> dict[str, str]:
    """Text of a ``<label>`` / ``<hint>`` per language: itext when it points there, else inline (``""``)."""
    if element is None:
        return {}
    text_id = itext_id(element.get("ref"))
    if text_id is not None:
        return translations.text(text_id)
    text = render(element)
    return {"": text} if text else {}


def render(element: Element) -> str:
    """Inline text of an element with ``<output value="/data/x"/>`` shown as ``${x}``, outer space trimmed."""
    return _render(element).strip()


def _render(element: Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if local_name(child.tag) == "output":
            parts.append(_output_placeholder(child))
        else:
            parts.append(_render(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _output_placeholder(output: Element) -> str:
    expression = (output.get("value") or output.get("ref") or "").strip()
    path = paths.canonical(expression, "/")
    return "${" + (paths.last_step(path) if path else expression) + "}"
