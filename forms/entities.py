"""What an XForm declares about entities (the ODK entities spec, as pyxform's ``entities`` sheet writes it).

A form that creates or updates entities has an ``<entity dataset=… id=… create=… update=…
baseVersion=… trunkVersion=… branchId=…><label/></entity>`` element in a ``<meta>`` block of its
primary instance, and ``entities:saveto="property"`` on the binds of the questions whose answers
become the entity's properties. Pure: bytes in, dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from forms.safe_xml import local_name
from forms.xform import _model, _primary_root, _read_binds, parse_document

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"


@dataclass(frozen=True)
class EntityDeclaration:
    """One entity block: the list it writes, where it sits, and which answers become which property.

    ``scope`` is the path (from the instance root, root name excluded) of the group holding the
    ``meta`` block, ``()`` for the form itself; ``properties`` maps each property to the answer's path
    relative to that scope.
    """

    dataset: str
    scope: tuple[str, ...]
    properties: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class FormEntities:
    spec_version: str | None
    declarations: tuple[EntityDeclaration, ...]

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.dataset for d in self.declarations))


def _walk(element: Element, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Element]]:
    found: list[tuple[tuple[str, ...], Element]] = []
    for child in element:
        name = local_name(child.tag)
        path = (*prefix, name)
        if name == "entity" and len(prefix) >= 1 and prefix[-1] == "meta":
            found.append((path, child))
        else:
            found.extend(_walk(child, path))
    return found


def read_form_entities(xml: bytes) -> FormEntities | None:
    """The form's entity declarations, or None when it declares none."""
    document = parse_document(xml)
    model = _model(document)
    root = _primary_root(model)
    root_name = local_name(root.tag)
    blocks = _walk(root, ())
    if not blocks:
        return None
    binds, _ids = _read_binds(model, f"/{root_name}")
    saveto: list[tuple[str, tuple[str, ...]]] = []
    for bind_path, attrs in binds.items():
        prop = attrs.get("saveto")
        if prop:
            parts = tuple(p for p in bind_path.split("/") if p)[1:]
            saveto.append((prop, parts))
    declarations = []
    for path, element in blocks:
        scope = path[:-2]
        props = tuple(
            (prop, parts[len(scope) :])
            for prop, parts in saveto
            if parts[: len(scope)] == scope and "meta" not in parts[len(scope) : len(scope) + 1]
        )
        declarations.append(EntityDeclaration(element.get("dataset") or "", scope, props))
    version = next((v for k, v in model.attrib.items() if local_name(k) == "entities-version"), None)
    return FormEntities(version, tuple(declarations))
