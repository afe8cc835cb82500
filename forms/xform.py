"""XForm introspection: the XML of one form version in, a :class:`FormSchema` out.

Tolerant of what real clients and builders write (namespace prefixes that differ, ``orx:meta``, relative
refs, itext or inline labels, hand-written inline choices) and strict about what Ruta relies on: safe,
well-formed XML with a model, a primary instance and a usable form id. The walk over the primary
instance decides the field list; the body and the binds only describe those nodes.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from forms import choices as choice_lists
from forms import paths, safe_xml
from forms.body import SELECTS, Body, Control, read_body
from forms.errors import XFormError
from forms.itext import Translations, read_translations
from forms.media import collect_media
from forms.safe_xml import local_name
from forms.schema import GROUP, QUESTION, REPEAT, Choice, Field, FormSchema

__all__ = ["XFormError", "parse_document", "parse_xform", "read_identity"]

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FALSE = frozenset({"", "false()", "false", "0", "no"})
_TRUE_ATTR = frozenset({"true", "true()", "yes", "1"})
# Bind types that other tools spell differently; Ruta stores the javarosa spelling.
_TYPE_ALIASES = {"integer": "int", "datetime": "dateTime"}


def parse_xform(xml: bytes) -> FormSchema:
    """Read everything Ruta needs from an XForm; raise XFormError with a human message if it cannot."""
    document = parse_document(xml)
    model = _model(document)
    root = _primary_root(model)
    form_id, version, title = read_identity(document)
    root_path = "/" + local_name(root.tag)
    tr = read_translations(model)
    binds, bind_ids = _read_binds(model, root_path)
    body = read_body(_child(document, "body"), root_path, bind_ids, tr)
    fields, choices = _Walker(binds, body, tr).walk(root, root_path)
    _add_secondary_choices(model, body, choices, tr)
    submission = _child(model, "submission")
    instance_name_bind = binds.get(root_path + "/meta/instanceName", {})
    return FormSchema(
        form_id=form_id,
        version=version,
        title=title,
        root=local_name(root.tag),
        languages=tr.languages,
        default_language=tr.default_language,
        fields=fields,
        choices=choices,
        media=collect_media(document, model, tr),
        public_key=_attr(submission, "base64RsaPublicKey"),
        submission_url=_attr(submission, "action"),
        instance_name=instance_name_bind.get("calculate") or None,
        namespace=safe_xml.namespace(root.tag),
    )


def parse_document(xml: bytes) -> Element:
    """Parse untrusted XForm bytes through ``safe_xml``, turning its errors into XFormError."""
    try:
        return safe_xml.parse(xml)
    except safe_xml.UnsafeXMLError as err:
        raise XFormError(
            f"The XForm was refused: {err}. XForms never need a DOCTYPE or entity declarations; "
            "remove them, or export the form again from its XLSForm."
        ) from err
    except safe_xml.MalformedXMLError as err:
        detail = str(err).removeprefix("not well-formed XML: ")
        raise XFormError(
            f"The XForm is not well-formed XML ({detail}). Fix the XML (an undeclared namespace prefix "
            "such as orx: or jr: is a common cause) or export the form again from its XLSForm."
        ) from err


def read_identity(document: Element) -> tuple[str, str | None, str]:
    """``(form_id, version, title)`` of a parsed XForm; the title falls back to the form id."""
    root = _primary_root(_model(document))
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise XFormError(
            f"The XForm's primary instance <{local_name(root.tag)}> has no id attribute. Add "
            'id="your_form_id" to it, or set form_id in the settings sheet of the XLSForm.'
        )
    if "/" in form_id or "\\" in form_id or ".." in form_id or _CONTROL_CHARS.search(form_id):
        raise XFormError(
            f"The form id {form_id!r} cannot be used: it contains a slash, a backslash, '..' or a control "
            "character. Choose an id of letters, digits, '_', '-' and '.' (form_id in the settings sheet)."
        )
    version = _attr(root, "version")
    head = _child(document, "head")
    title_element = _child(head, "title") if head is not None else None
    title = (title_element.text or "").strip() if title_element is not None else ""
    return form_id, version, title or form_id


def _model(document: Element) -> Element:
    head = _child(document, "head")
    model = _child(head, "model") if head is not None else None
    if model is None:
        # Some builders omit <h:head>; search the whole tree, as javarosa does.
        model = next((e for e in document.iter() if local_name(e.tag) == "model"), None)
    if model is None:
        raise XFormError(
            "This XML is not an XForm: it has no <model>. Upload the form definition (an XForm or the "
            "XLSForm), not a submission or another XML file."
        )
    return model


def _primary_root(model: Element) -> Element:
    instance = _child(model, "instance")
    root = next(iter(instance), None) if instance is not None else None
    if root is None:
        raise XFormError(
            "The XForm has no primary <instance> with a root element inside its <model>, so Ruta cannot "
            "tell which data it collects. Export the form again from its XLSForm."
        )
    return root


def _read_binds(model: Element, root_path: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Bind attributes by canonical path (first value of each attribute wins), and bind id -> path."""
    binds: dict[str, dict[str, str]] = {}
    bind_ids: dict[str, str] = {}
    for bind in model.iter():
        if local_name(bind.tag) != "bind":
            continue
        # A top-level bind's context is the instance root, so nodeset="notice" means /root/notice.
        path = paths.canonical(bind.get("nodeset") or bind.get("ref"), root_path)
        if path is None:
            continue
        attrs = binds.setdefault(path, {})
        for key, value in bind.attrib.items():
            attrs.setdefault(local_name(key), value)
        if bind.get("id"):
            bind_ids.setdefault(bind.get("id", ""), path)
    return binds, bind_ids


class _Walker:
    """One pass over the primary instance in document order, building fields and inline choice lists."""

    def __init__(self, binds: dict[str, dict[str, str]], body: Body, tr: Translations) -> None:
        self.binds = binds
        self.body = body
        self.tr = tr
        self.fields: dict[str, Field] = {}
        self.choices: dict[str, list[Choice]] = {}

    def walk(self, root: Element, root_path: str) -> tuple[list[Field], dict[str, list[Choice]]]:
        self._walk(root, root_path, None)
        return list(self.fields.values()), self.choices

    def _walk(self, node: Element, parent_path: str, repeat: str | None) -> None:
        for child in node:
            path = f"{parent_path}/{local_name(child.tag)}"
            # pyxform writes a repeat twice (jr:template plus a first instance): same path, one field.
            is_repeat = path in self.body.repeats or any(local_name(k) == "template" for k in child.attrib)
            if path not in self.fields:
                self.fields[path] = self._field(child, path, repeat, is_repeat)
            self._walk(child, path, path if is_repeat else repeat)

    def _field(self, node: Element, path: str, repeat: str | None, is_repeat: bool) -> Field:
        bind = self.binds.get(path, {})
        is_container = is_repeat or len(node) > 0 or path in self.body.containers
        control = (self.body.containers if is_container else self.body.controls).get(path)
        kind = REPEAT if is_repeat else GROUP if is_container else QUESTION
        return Field(
            path=path,
            name=paths.last_step(path),
            kind=kind,
            type=kind if is_container else _question_type(bind.get("type", ""), control),
            labels=control.labels if control else {},
            hints=control.hints if control else {},
            repeat=repeat,
            # Groups and repeats have no widget; their body element is described by kind alone.
            control=control.control if control and not is_container else "",
            appearance=control.appearance if control else "",
            choice_list=None if is_container else self._choice_list(path, control),
            hxl=_attr(node, "hxl"),
            sensitive=(_attr(node, "ruta_sensitive") or "").lower() in _TRUE_ATTR,
            required=bind.get("required", "").strip() not in _FALSE,
            readonly=bind.get("readonly", "").strip() not in _FALSE,
            calculate=bool(bind.get("calculate", "").strip()),
            mediatype=control.mediatype if control else "",
        )

    def _choice_list(self, path: str, control: Control | None) -> str | None:
        if control is None or control.control not in SELECTS:
            return None
        if control.itemset is not None:
            list_id = choice_lists.itemset_spec(control.itemset)[0]
            if list_id:
                self.choices.setdefault(list_id, [])
                return list_id
        listed = choice_lists.inline_choices(control.items, self.tr)
        name = paths.last_step(path)
        if name in self.choices and self.choices[name] != listed:
            # Two selects of the same name in different groups with different items: keep both.
            name = path.split("/", 2)[-1]
        self.choices[name] = listed
        return name


def _question_type(bind_type: str, control: Control | None) -> str:
    raw = bind_type.strip().rsplit(":", 1)[-1] or "string"
    kind = _TYPE_ALIASES.get(raw.lower(), raw)
    if control is not None:
        if control.control in ("select1", "select"):
            return control.control
        if control.control == "upload" and kind == "string":
            return "binary"
    return kind


def _add_secondary_choices(
    model: Element, body: Body, choices: dict[str, list[Choice]], tr: Translations
) -> None:
    """Fill lists from inline secondary instances, read with the refs of the itemset that uses them."""
    specs: dict[str, tuple[str, str]] = {}
    for control in body.controls.values():
        if control.itemset is not None:
            list_id, value_ref, label_ref = choice_lists.itemset_spec(control.itemset)
            if list_id:
                specs.setdefault(list_id, (value_ref, label_ref))
    for instance in list(c for c in model if local_name(c.tag) == "instance")[1:]:
        list_id = instance.get("id")
        root = next(iter(instance), None)
        if not list_id or instance.get("src") or root is None:
            continue
        if not any(local_name(item.tag) == "item" for item in root):
            continue
        value_ref, label_ref = specs.get(
            list_id, (choice_lists.DEFAULT_VALUE_REF, choice_lists.DEFAULT_LABEL_REF)
        )
        choices[list_id] = choice_lists.instance_choices(root, value_ref, label_ref, tr)


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((c for c in element if local_name(c.tag) == name), None)


def _attr(element: Element | None, name: str) -> str | None:
    """An attribute by local name (``version`` or ``orx:version``), stripped; None when absent or empty."""
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value.strip() or None
    return None
