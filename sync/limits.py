"""The one length policy for identifiers that clients send and Ruta stores.

SQLite does not enforce ``VARCHAR(n)``; PostgreSQL does, and answers a too-long value with an error that
aborts the whole transaction (a hub's batch included). So every identifier is checked here, when the
request is parsed, against the length of the column it will be stored in, and the same values are refused
on both databases. ``tests/app/test_input_limits.py`` checks that each limit equals its column's length.

A value is refused, not cut: an instanceID or a file name cut short would be a different identifier.
NUL is refused too: PostgreSQL cannot store it in text, so SQLite must not accept it either.
"""

from __future__ import annotations

# field -> the most characters it may have (the column length it is stored in).
MAX_LENGTHS: dict[str, int] = {
    "formId": 255,  # forms.xml_form_id
    "version": 255,  # form_versions.version
    "formTitle": 512,  # forms.name
    "instanceID": 255,  # submissions.instance_id, submission_versions.instance_id
    "deprecatedID": 255,  # submission_versions.deprecated_id
    "instanceName": 512,  # submissions.instance_name, submission_versions.instance_name
    "deviceID": 255,  # submissions.device_id, submission_versions.device_id
    "userAgent": 512,  # submissions.user_agent, submission_versions.user_agent
    "fileName": 255,  # submission_attachments.name, form_attachments.name
    # Entity lists (issue 19): what a form's <entity> block or the entities API names.
    "entityList": 255,  # datasets.name
    "entityId": 64,  # entities.uuid, entity_backlog.entity_uuid
    "branchId": 64,  # entity_versions.branch_id, entity_backlog.branch_id
    "entityLabel": 1024,  # entities.label, entity_versions.label
}

# Which stored columns each limit guards: the test above reads this to compare with the models.
COLUMNS: dict[str, tuple[str, ...]] = {
    "formId": ("forms.xml_form_id",),
    "version": ("form_versions.version",),
    "formTitle": ("forms.name",),
    "instanceID": ("submissions.instance_id", "submission_versions.instance_id"),
    "deprecatedID": ("submission_versions.deprecated_id",),
    "instanceName": ("submissions.instance_name", "submission_versions.instance_name"),
    "deviceID": ("submissions.device_id", "submission_versions.device_id"),
    "userAgent": ("submissions.user_agent", "submission_versions.user_agent"),
    "fileName": ("submission_attachments.name", "form_attachments.name", "form_versions.xlsform_name"),
    "entityList": ("datasets.name",),
    "entityId": ("entities.uuid", "entity_backlog.entity_uuid"),
    "branchId": ("entity_versions.branch_id", "entity_backlog.branch_id"),
    "entityLabel": ("entities.label", "entity_versions.label"),
}


def problem(field: str, value: str | None) -> str | None:
    """Why ``value`` cannot be stored as ``field`` (a sentence for the sender), or None when it can."""
    if value is None:
        return None
    limit = MAX_LENGTHS[field]
    if len(value) > limit:
        return (
            f"The {field} is {len(value)} characters long; at most {limit} are accepted. "
            f"Shorten it (it starts {value[:40]!r}) and send it again."
        )
    if "\x00" in value:
        return f"The {field} {value[:80]!r} contains a NUL character; send it without."
    return None


def fits(field: str, value: str | None) -> bool:
    return problem(field, value) is None


def clip(field: str, value: str | None) -> str | None:
    """For values the sender cannot change and nothing looks up (the User-Agent header): cut to the
    limit and drop NULs instead of refusing the submission that carries them."""
    if not value:
        return None
    return value.replace("\x00", "")[: MAX_LENGTHS[field]] or None
