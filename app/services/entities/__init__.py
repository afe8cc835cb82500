"""Entity lists (ODK "datasets") and their entities: the one way code, the API and submissions write them.

From code (a CLI command, a job, another service), inside the caller's session, then commit once::

    from app.services import entities

    sites = entities.ensure_dataset(session, project_id=project.id, name="sites",
                                    properties=["code", "name_es", "capacity"])
    ent = entities.create_entity(session, dataset=sites, label="Rumichaca",
                                 data={"code": "EC-RUM", "capacity": "120"})        # uuid generated
    entities.update_entity(session, dataset=sites, uuid=ent.uuid,
                           data={"capacity": "150"}, base_version=ent.current_version)
    entities.upsert_entity(session, dataset=sites, uuid=known_uuid, label=..., data=...)

``actor`` (an ``app.auth.actor.Actor``) is optional for code (None records "the system"). Each write
keeps a new ``EntityVersion``, bumps ``Dataset.revision`` (the manifest hash and ETag follow it) and
writes an audit event. Services flush; the caller commits.
"""

from app.services.entities.lists import (
    bump,
    create_entity,
    delete_entity,
    ensure_dataset,
    find_dataset,
    find_entity,
    list_hash,
    resolve_conflict,
    restore_entity,
    set_match_attributes,
    update_entity,
    upsert_entity,
)

__all__ = [
    "bump",
    "create_entity",
    "delete_entity",
    "ensure_dataset",
    "find_dataset",
    "find_entity",
    "list_hash",
    "resolve_conflict",
    "restore_entity",
    "set_match_attributes",
    "update_entity",
    "upsert_entity",
]
