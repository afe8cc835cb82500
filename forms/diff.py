"""What changed in the data shape between two versions of a form, as reported when a version is published.

For the publish report, only changes that affect stored data matter: a field kept under the same
path whose type changed (a text that became an integer, a question that became a repeat) means older
and newer submissions hold different kinds of values in one column. Added and removed fields are normal
form evolution.

For people comparing two versions (the admin's version diff), :func:`compare` reports every field
added, removed or changed (type, label, choices, required...), in words a form author recognises.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from forms.schema import Field, FormSchema, TypeChange

__all__ = ["Change", "FieldChange", "VersionDiff", "compare", "type_changes"]


def type_changes(old: FormSchema, new: FormSchema) -> list[TypeChange]:
    """Fields present in both versions whose type changed, in the new version's field order."""
    before = old.field_by_path()
    changes = []
    for field in new.fields:
        previous = before.get(field.path)
        if previous is None:
            continue
        # Comparing kinds as well catches a group that became a question even if a type string matched.
        if previous.type != field.type or previous.kind != field.kind:
            changes.append(TypeChange(path=field.path, old_type=previous.type, new_type=field.type))
    return changes


@dataclass(frozen=True)
class Change:
    """One aspect of a field that differs: ``aspect`` is a stable code the admin translates
    (type, label, hint, required, readonly, calculate, appearance, choices_added, choices_removed,
    choice_labels, repeat, sensitive), ``before``/``after`` short texts ("" when not set)."""

    aspect: str
    before: str
    after: str


@dataclass(frozen=True)
class FieldChange:
    path: str
    name: str
    changes: list[Change]


@dataclass(frozen=True)
class VersionDiff:
    """Everything a reviewer reads when comparing two versions: fields added, removed and changed
    (in each version's field order), and the form-level title and media list changes."""

    added: list[Field]
    removed: list[Field]
    changed: list[FieldChange]
    form_changes: list[Change] = dc_field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.form_changes)


def _text(labels: dict[str, str], language: str | None) -> str:
    if not labels:
        return ""
    if language is not None and labels.get(language):
        return labels[language]
    return labels.get("") or next(iter(labels.values()))


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def _choice_changes(
    old: FormSchema, new: FormSchema, a: Field, b: Field, language: str | None
) -> list[Change]:
    before = {c.value: c for c in old.choices.get(a.choice_list or "", [])}
    after = {c.value: c for c in new.choices.get(b.choice_list or "", [])}
    out = []
    added = [v for v in after if v not in before]
    removed = [v for v in before if v not in after]
    relabelled = [
        f"{v}: {_text(before[v].labels, language)} → {_text(after[v].labels, language)}"
        for v in after
        if v in before and before[v].labels != after[v].labels
    ]
    if added:
        out.append(Change("choices_added", "", ", ".join(added)))
    if removed:
        out.append(Change("choices_removed", ", ".join(removed), ""))
    if relabelled:
        out.append(Change("choice_labels", "", "; ".join(relabelled)))
    return out


def _field_changes(
    old: FormSchema, new: FormSchema, a: Field, b: Field, language: str | None
) -> list[Change]:
    out = []
    if a.type != b.type or a.kind != b.kind:
        out.append(Change("type", a.type, b.type))
    for aspect, x, y in (
        ("label", _text(a.labels, language), _text(b.labels, language)),
        ("hint", _text(a.hints, language), _text(b.hints, language)),
        ("appearance", a.appearance, b.appearance),
        ("repeat", a.repeat or "", b.repeat or ""),
    ):
        if x != y:
            out.append(Change(aspect, x, y))
    # Labels in other languages changed while the shown one did not: still a change worth seeing.
    if a.labels != b.labels and not any(c.aspect == "label" for c in out):
        langs = sorted(k for k in set(a.labels) | set(b.labels) if a.labels.get(k) != b.labels.get(k))
        out.append(Change("label", "", ", ".join(k or "default" for k in langs)))
    for aspect, p, q in (
        ("required", a.required, b.required),
        ("readonly", a.readonly, b.readonly),
        ("calculate", a.calculate, b.calculate),
        ("sensitive", a.sensitive, b.sensitive),
    ):
        if p != q:
            out.append(Change(aspect, _flag(p), _flag(q)))
    if a.choice_list or b.choice_list:
        out += _choice_changes(old, new, a, b, language)
    return out


def compare(old: FormSchema, new: FormSchema, *, language: str | None = None) -> VersionDiff:
    """What changed from ``old`` to ``new``, labels shown in ``language`` (the default when absent)."""
    before = old.field_by_path()
    after = new.field_by_path()
    added = [f for f in new.fields if f.path not in before]
    removed = [f for f in old.fields if f.path not in after]
    changed = []
    for b in new.fields:
        a = before.get(b.path)
        if a is None:
            continue
        found = _field_changes(old, new, a, b, language)
        if found:
            changed.append(FieldChange(b.path, b.name, found))
    form_changes = []
    if old.title != new.title:
        form_changes.append(Change("title", old.title, new.title))
    old_media = {m.name for m in old.media}
    new_media = {m.name for m in new.media}
    if new_media - old_media:
        form_changes.append(Change("media_added", "", ", ".join(sorted(new_media - old_media))))
    if old_media - new_media:
        form_changes.append(Change("media_removed", ", ".join(sorted(old_media - new_media)), ""))
    return VersionDiff(added, removed, changed, form_changes)
