"""What Ruta knows about a form version after reading its XForm: the data types every other part uses.

These are plain frozen dataclasses so they can be stored as JSON on a form version (``to_dict`` /
``from_dict``) and handed to pure code (normalisation, exports, review) without touching the XML again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Kinds of node in the instance tree.
QUESTION = "question"
GROUP = "group"
REPEAT = "repeat"


@dataclass(frozen=True)
class Choice:
    """One choice of a list: its stored value and its label per language ("" for the default language)."""

    value: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """One node of the form's primary instance, in document order.

    ``path`` is the absolute XPath in the instance (``/data/group/q``); ``name`` its last step.
    ``type`` is the bind type with the ``xsd:`` prefix dropped (``string``, ``int``, ``decimal``,
    ``date``, ``dateTime``, ``time``, ``geopoint``, ``geotrace``, ``geoshape``, ``binary``,
    ``barcode``, ``boolean``), plus ``select1`` / ``select`` for choice questions and ``group`` /
    ``repeat`` for containers. ``appearance`` / ``control`` describe the body control when there is one
    (``control`` is e.g. ``input``, ``select1``, ``upload``, ``trigger``; empty for calculates/metadata).
    ``repeat`` is the path of the nearest enclosing repeat, or None at the root level.
    ``choice_list`` names the list in ``FormSchema.choices`` for select questions.
    ``hxl`` is the HXL hashtag carried as ``instance::hxl`` (Kobo's ``hxl`` column), if any.
    ``sensitive`` is true when the form marks the field sensitive (``instance::ruta_sensitive``).
    """

    path: str
    name: str
    kind: str
    type: str
    labels: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    repeat: str | None = None
    control: str = ""
    appearance: str = ""
    choice_list: str | None = None
    hxl: str | None = None
    sensitive: bool = False
    required: bool = False
    readonly: bool = False
    calculate: bool = False
    mediatype: str = ""


@dataclass(frozen=True)
class MediaRef:
    """A file the form expects beside it: ``name`` is the attachment file name (``itemsets.csv``),
    ``kind`` one of ``image``, ``audio``, ``video``, ``file`` (CSV/XML/GeoJSON external data)."""

    name: str
    kind: str
    source: str = ""  # how we know: itext, instance, pulldata, itemsets


@dataclass(frozen=True)
class FormSchema:
    """Everything introspection extracts from one XForm."""

    form_id: str
    version: str | None
    title: str
    root: str  # local name of the primary instance's root element
    languages: list[str]
    default_language: str | None
    fields: list[Field]
    choices: dict[str, list[Choice]]
    media: list[MediaRef]
    public_key: str | None = None
    submission_url: str | None = None
    instance_name: str | None = None
    namespace: str = ""

    @property
    def is_encrypted(self) -> bool:
        return bool(self.public_key)

    def field_by_path(self) -> dict[str, Field]:
        return {f.path: f for f in self.fields}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormSchema:
        return cls(
            form_id=data["form_id"],
            version=data.get("version"),
            title=data.get("title", ""),
            root=data.get("root", "data"),
            languages=list(data.get("languages", [])),
            default_language=data.get("default_language"),
            fields=[Field(**f) for f in data.get("fields", [])],
            choices={k: [Choice(**c) for c in v] for k, v in data.get("choices", {}).items()},
            media=[MediaRef(**m) for m in data.get("media", [])],
            public_key=data.get("public_key"),
            submission_url=data.get("submission_url"),
            instance_name=data.get("instance_name"),
            namespace=data.get("namespace", ""),
        )


@dataclass(frozen=True)
class TypeChange:
    """A field present in two versions whose type changed (reported when a new version is published)."""

    path: str
    old_type: str
    new_type: str
