"""What the ``<h:body>`` of an XForm says about each instance node: its control and its containers.

The body is where an XForm tells a plain node from a select, an upload or a repeat, and where labels,
hints and appearances live. Refs may be absolute, relative to the enclosing group, or name a bind by
id; all are reduced to canonical paths (``forms.paths``) so the instance walk can look them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from forms import paths
from forms.itext import Translations, element_texts
from forms.safe_xml import local_name

# Body elements that bind one instance node to a widget (odk:rank's local name is "rank").
CONTROLS = frozenset(
    {"input", "select1", "select", "upload", "trigger", "range", "rank", "textarea", "secret"}
)
SELECTS = frozenset({"select1", "select", "rank"})


@dataclass
class Control:
    """One body element bound to an instance node (a control, a group or a repeat)."""

    control: str
    labels: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    appearance: str = ""
    mediatype: str = ""
    items: list[Element] = field(default_factory=list)  # inline <item>s of a select
    itemset: Element | None = None  # <itemset nodeset="instance('LIST')/root/item">


@dataclass
class Body:
    """Controls by canonical path, the paths that repeat, and the paths a body group wraps."""

    controls: dict[str, Control] = field(default_factory=dict)
    containers: dict[str, Control] = field(default_factory=dict)
    repeats: set[str] = field(default_factory=set)


def read_body(body: Element | None, root_path: str, bind_ids: dict[str, str], tr: Translations) -> Body:
    """Walk the body once; the first control bound to a path wins (javarosa allows several)."""
    result = Body()
    if body is not None:
        _walk(body, root_path, result, bind_ids, tr)
    return result


def _walk(parent: Element, context: str, out: Body, bind_ids: dict[str, str], tr: Translations) -> None:
    for element in parent:
        name = local_name(element.tag)
        if name in ("group", "repeat"):
            ref_attr = element.get("nodeset") if name == "repeat" else element.get("ref")
            path = _ref_path(ref_attr or element.get("ref"), element.get("bind"), context, bind_ids)
            if path is not None:
                if name == "repeat":
                    out.repeats.add(path)
                container = out.containers.get(path)
                labels = element_texts(_child(element, "label"), tr)
                if container is None:
                    out.containers[path] = Control(
                        control=name, labels=labels, appearance=element.get("appearance", "")
                    )
                elif not container.labels and labels:
                    # pyxform labels a repeat on the group wrapping it; a label on <repeat> is a fallback.
                    container.labels = labels
            _walk(element, path or context, out, bind_ids, tr)
        elif name in CONTROLS:
            path = _ref_path(element.get("ref"), element.get("bind"), context, bind_ids)
            if path is not None and path not in out.controls:
                out.controls[path] = _control(element, name, tr)
        elif name not in ("label", "hint", "help"):
            # Unknown wrappers (e.g. HTML-ish markup some builders emit) may still contain controls.
            _walk(element, context, out, bind_ids, tr)


def _control(element: Element, name: str, tr: Translations) -> Control:
    items = [c for c in element if local_name(c.tag) == "item"] if name in SELECTS else []
    itemset = _child(element, "itemset") if name in SELECTS else None
    return Control(
        control=name,
        labels=element_texts(_child(element, "label"), tr),
        hints=element_texts(_child(element, "hint"), tr),
        appearance=element.get("appearance", ""),
        mediatype=element.get("mediatype", ""),
        items=items,
        itemset=itemset,
    )


def _ref_path(ref: str | None, bind: str | None, context: str, bind_ids: dict[str, str]) -> str | None:
    if ref:
        return paths.canonical(ref, context)
    if bind:
        return bind_ids.get(bind)
    return None


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if local_name(c.tag) == name), None)
