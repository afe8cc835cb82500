"""The entity operations a submission carries: its ``<entity>`` blocks read against the form's
declarations. Pure: an element tree in, dataclasses out; the service decides what to do with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from forms.entities import EntityDeclaration, FormEntities
from forms.safe_xml import local_name
from sync import limits

_TRUE = ("1", "true", "true()")


@dataclass(frozen=True)
class EntityOp:
    """What one ``<entity>`` block asks for. ``create``/``update`` may both be set (an upsert)."""

    dataset: str
    uuid: str
    create: bool
    update: bool
    label: str | None
    data: dict[str, str] = field(default_factory=dict)
    base_version: int | None = None
    trunk_version: int | None = None
    branch_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "uuid": self.uuid,
            "create": self.create,
            "update": self.update,
            "label": self.label,
            "data": dict(self.data),
            "base_version": self.base_version,
            "trunk_version": self.trunk_version,
            "branch_id": self.branch_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> EntityOp:
        def _int(value: object) -> int | None:
            return value if isinstance(value, int) else None

        data = raw.get("data")
        label = raw.get("label")
        branch = raw.get("branch_id")
        return cls(
            dataset=str(raw.get("dataset", "")),
            uuid=str(raw.get("uuid", "")),
            create=bool(raw.get("create")),
            update=bool(raw.get("update")),
            label=label if isinstance(label, str) else None,
            data={str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {},
            base_version=_int(raw.get("base_version")),
            trunk_version=_int(raw.get("trunk_version")),
            branch_id=branch if isinstance(branch, str) else None,
        )


class EntityBlockError(ValueError):
    """An ``<entity>`` block that asks for something but cannot be read (a sentence for a person)."""


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if local_name(c.tag) == name]


def _find_all(root: Element, path: tuple[str, ...]) -> list[Element]:
    current = [root]
    for name in path:
        current = [c for e in current for c in _children(e, name)]
    return current


def _int_attr(element: Element, name: str) -> int | None:
    raw = (element.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise EntityBlockError(f"The entity's {name} {raw[:40]!r} is not a whole number.") from None
    if value < 1 or value > 2_000_000_000:
        raise EntityBlockError(f"The entity's {name} {value} is out of range.")
    return value


def _op(declaration: EntityDeclaration, scope: Element, entity: Element) -> EntityOp | None:
    create = (entity.get("create") or "").strip().lower() in _TRUE
    update = (entity.get("update") or "").strip().lower() in _TRUE
    if not create and not update:
        return None
    label_el = next(iter(_children(entity, "label")), None)
    label = (label_el.text or "") if label_el is not None else None
    data: dict[str, str] = {}
    for prop, rel in declaration.properties:
        found = _find_all(scope, rel)
        if found:
            data[prop] = "".join(found[0].itertext())
    uuid = (entity.get("id") or "").strip()
    if not uuid:
        raise EntityBlockError(
            f"The entity for list {declaration.dataset!r} has no id; the form must set one "
            "(pyxform sets a uuid() for new entities)."
        )
    dataset = entity.get("dataset") or declaration.dataset
    branch = (entity.get("branchId") or "").strip() or None
    for field_name, value in (
        ("entityList", dataset),
        ("entityId", uuid),
        ("branchId", branch),
        ("entityLabel", label),
    ):
        problem = limits.problem(field_name, value)
        if problem is not None:
            raise EntityBlockError(problem)
    return EntityOp(
        dataset=dataset,
        uuid=uuid,
        create=create,
        update=update,
        label=label if label and label.strip() else None,
        data=data,
        base_version=_int_attr(entity, "baseVersion"),
        trunk_version=_int_attr(entity, "trunkVersion"),
        branch_id=branch,
    )


def entity_ops(form: FormEntities, root: Element) -> list[EntityOp]:
    """Every entity operation in the submission whose primary instance root is ``root``."""
    ops: list[EntityOp] = []
    for declaration in form.declarations:
        for scope in _find_all(root, declaration.scope):
            for meta in _children(scope, "meta"):
                for entity in _children(meta, "entity"):
                    op = _op(declaration, scope, entity)
                    if op is not None:
                        ops.append(op)
    return ops
