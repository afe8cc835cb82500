"""The access policy: which project roles may perform which actions.

One table, read by every endpoint through ``Actor.require``. Enumerators collect: they see forms and
submit, and see nothing of other people's data. Analysts (IM officers) read data and indicators and
edit mappings, but do not review and do not see sensitive fields. Supervisors review. Managers run
the project. Coordinators (of a project shared with partner organisations) read the project and its
indicators, suppressed, and no raw row unless granted them. The system administrator may do everything.
"""

from __future__ import annotations

MANAGER, SUPERVISOR, ANALYST, ENUMERATOR = "manager", "supervisor", "analyst", "enumerator"
COORDINATOR = "coordinator"

PERMISSIONS: dict[str, frozenset[str]] = {
    "project.read": frozenset({MANAGER, SUPERVISOR, ANALYST, ENUMERATOR, COORDINATOR}),
    "project.update": frozenset({MANAGER}),
    "project.roles": frozenset({MANAGER}),
    "project.keys": frozenset({MANAGER}),
    "app_user.list": frozenset({MANAGER, SUPERVISOR}),
    "app_user.manage": frozenset({MANAGER, SUPERVISOR}),
    "form.list": frozenset({MANAGER, SUPERVISOR, ANALYST, ENUMERATOR, COORDINATOR}),
    "form.read": frozenset({MANAGER, SUPERVISOR, ANALYST, ENUMERATOR, COORDINATOR}),
    "form.manage": frozenset({MANAGER}),
    "submission.create": frozenset({MANAGER, SUPERVISOR, ENUMERATOR}),
    "submission.list": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    "submission.read": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    "submission.update": frozenset({MANAGER, SUPERVISOR}),
    "submission.review": frozenset({MANAGER, SUPERVISOR}),
    "submission.comment": frozenset({MANAGER, SUPERVISOR}),
    "submission.sensitive": frozenset({MANAGER, SUPERVISOR}),
    "submission.decrypt": frozenset({MANAGER, SUPERVISOR}),
    "submission.export": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    # Trash, restore, the trash list and subject requests (issue 21): records of people, so managers.
    "submission.delete": frozenset({MANAGER}),
    # The audit trail of one submission, shown to those who review it (admin issue).
    "submission.audit": frozenset({MANAGER, SUPERVISOR}),
    "mapping.read": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    "mapping.update": frozenset({MANAGER, ANALYST}),
    "indicator.read": frozenset({MANAGER, SUPERVISOR, ANALYST, COORDINATOR}),
    "audit.read": frozenset({MANAGER}),
    "project.partners": frozenset({MANAGER}),
    "hub.manage": frozenset({MANAGER}),
    # Response monitoring: IM officers report and fix 5W rows and load plan figures; reviewers read them.
    "activity.report": frozenset({MANAGER, ANALYST}),
    "plan.manage": frozenset({MANAGER, ANALYST}),
    "response.read": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    "webhook.manage": frozenset({MANAGER}),
    # The site registry (issue 19): everyone in the project reads it (forms pick their site from it);
    # managers and IM officers import and edit it.
    "site.read": frozenset({MANAGER, SUPERVISOR, ANALYST, ENUMERATOR}),
    "site.manage": frozenset({MANAGER, ANALYST}),
    # Entity lists (issue 19): read like submissions, written by reviewers, set up by managers.
    "entity.list": frozenset({MANAGER, SUPERVISOR, ANALYST}),
    "entity.write": frozenset({MANAGER, SUPERVISOR}),
    "entity.resolve": frozenset({MANAGER, SUPERVISOR}),
    "dataset.manage": frozenset({MANAGER}),
}


# What a coordinator may do once a project's owner grants them its raw rows (every partner's): read,
# list and export them like an analyst. Nothing else changes (no review, no sensitive field).
ROW_GRANT_ACTIONS = frozenset({"submission.list", "submission.read", "submission.export"})


def role_allows(role: str | None, action: str) -> bool:
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    return role is not None and role in PERMISSIONS[action]
