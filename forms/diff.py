"""What changed in the data shape between two versions of a form, as reported when a version is published.

Only changes that affect stored data matter here: a field kept under the same path whose type changed
(a text that became an integer, a question that became a repeat) means older and newer submissions
hold different kinds of values in one column. Added and removed fields are normal form evolution.
"""

from __future__ import annotations

from forms.schema import FormSchema, TypeChange

__all__ = ["type_changes"]


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
