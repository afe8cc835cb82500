"""Writing entity lists and entities: create, update (with the offline conflict rules), delete, restore.

Conflicts follow ODK Central: an update whose base version is older than the entity's current version
is still applied (nothing is dropped) as a new version, and the entity is flagged: ``hard`` when the
update sets a property (or the label) to a value other than what a version since its base set it to,
``soft`` otherwise. A person clears the flag with ``resolve_conflict``; every version stays.
"""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import utcnow
from app.errors import (
    AlreadyExistsError,
    EntityVersionMismatchError,
    InvalidValueError,
    NotFoundError,
)
from app.models import Dataset, Entity, EntityVersion, Project, Submission
from app.services.audit import events as audit
from app.services.protection import row_access
from sync import limits

MAX_UUID = limits.MAX_LENGTHS["entityId"]
MAX_LABEL = limits.MAX_LENGTHS["entityLabel"]
MAX_NAME = limits.MAX_LENGTHS["entityList"]  # lists and property names alike


def _check_name(kind: str, value: str) -> None:
    if not value or len(value) > MAX_NAME or "\x00" in value or "/" in value:
        raise InvalidValueError(
            f"The {kind} name {value[:80]!r} is not usable: give 1 to {MAX_NAME} characters, without '/'."
        )


def ensure_dataset(
    session: Session,
    *,
    project_id: int,
    name: str,
    properties: list[str] | tuple[str, ...] = (),
    approval_required: bool | None = None,
    owner_only: bool | None = None,
    actor: Actor | None = None,
) -> Dataset:
    """The project's list ``name``, created if missing, with ``properties`` added (order kept)."""
    _check_name("entity list", name)
    for prop in properties:
        _check_name("property", prop)
    dataset = session.scalar(sa.select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name))
    created = dataset is None
    if dataset is None:
        dataset = Dataset(project_id=project_id, name=name, properties=[], revision=0)
        session.add(dataset)
    added = [p for p in properties if p not in (dataset.properties or [])]
    if added:
        dataset.properties = [*(dataset.properties or []), *added]
    if approval_required is not None:
        dataset.approval_required = approval_required
    if owner_only is not None:
        dataset.owner_only = owner_only
    if created or added:
        dataset.updated_at = utcnow()
        session.flush()
        if added and not created:
            bump(session, dataset)  # the CSV gains a column: devices must download it again
        audit.record(
            session,
            actor=actor,
            action="dataset.create" if created else "dataset.update",
            project_id=project_id,
            subject_type="dataset",
            subject_id=name,
            details={"properties": added},
        )
    return dataset


def set_match_attributes(session: Session, *, dataset: Dataset, names: object) -> None:
    """The properties app users' attributes must match (``[]``: no attribute filter)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidValueError(
            'matchAttributes must be a list of property names, e.g. ["team"].',
            details={"field": "matchAttributes"},
        )
    unknown = [n for n in names if n not in (dataset.properties or [])]
    if unknown:
        raise InvalidValueError(
            f"The list {dataset.name!r} has no property {unknown[0][:80]!r} to match app users' attributes "
            f"on (its properties: {', '.join(dataset.properties or []) or 'none'}).",
            details={"field": "matchAttributes"},
        )
    clean = list(dict.fromkeys(names))
    if clean != (dataset.match_attributes or []):
        dataset.match_attributes = clean
        session.flush()
        bump(session, dataset)  # what each device is served changes


def find_dataset(session: Session, *, project_id: int, name: str) -> Dataset:
    dataset = session.scalar(sa.select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name))
    if dataset is None:
        raise NotFoundError(f"This project has no entity list named {name!r}.")
    return dataset


def find_entity(session: Session, *, dataset: Dataset, uuid: str, for_update: bool = False) -> Entity:
    query = sa.select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == uuid)
    if for_update:
        query = query.with_for_update()
    entity = session.scalar(query)
    if entity is None:
        raise NotFoundError(f"The entity list {dataset.name!r} has no entity {uuid!r}.")
    return entity


def list_hash(dataset: Dataset) -> str:
    """The md5 a manifest announces for the list (and its ETag): it changes exactly when the list does."""
    return hashlib.md5(f"entity-list:{dataset.id}:{dataset.revision}".encode()).hexdigest()


def bump(session: Session, dataset: Dataset) -> None:
    # One UPDATE, so two app servers writing the same list never lose an increment.
    session.execute(
        sa.update(Dataset)
        .where(Dataset.id == dataset.id)
        .values(revision=Dataset.revision + 1, updated_at=utcnow())
    )
    session.expire(dataset, ["revision", "updated_at"])


def normalise_uuid(value: str) -> str:
    """The entity id a form or client sent, without Central's optional ``uuid:`` prefix, checked."""
    text = value.strip()
    if text.lower().startswith("uuid:"):
        text = text[5:]
    if not text or len(text) > MAX_UUID or "\x00" in text or "/" in text:
        raise InvalidValueError(
            f"The entity id {value[:80]!r} is not usable: give 1 to {MAX_UUID} characters, without '/'."
        )
    return text


def clean_data(dataset: Dataset, data: dict[str, Any]) -> dict[str, str]:
    unknown = [k for k in data if k not in (dataset.properties or [])]
    if unknown:
        raise InvalidValueError(
            f"The entity list {dataset.name!r} has no properties {', '.join(sorted(unknown))}; "
            f"its properties are {', '.join(dataset.properties) or '(none)'}."
        )
    cleaned: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise InvalidValueError(f"The property {key!r} must be a string (got {type(value).__name__}).")
        if "\x00" in value:
            # PostgreSQL cannot store NUL in JSON text; SQLite must refuse it too.
            raise InvalidValueError(
                f"The value of property {key!r} contains a NUL character; send it without."
            )
        cleaned[key] = value
    return cleaned


def _check_label(label: str | None) -> None:
    if label is not None and (not label.strip() or len(label) > MAX_LABEL or "\x00" in label):
        raise InvalidValueError(f"An entity label must be 1 to {MAX_LABEL} characters and not blank.")


@dataclass(frozen=True)
class Source:
    """Where a version comes from: a submission (with its ids) or the API, or code."""

    kind: str = "code"
    submission_id: int | None = None
    submission_version_id: int | None = None


CODE = Source()


def create_entity(
    session: Session,
    *,
    dataset: Dataset,
    label: str,
    data: dict[str, Any] | None = None,
    uuid: str | None = None,
    actor: Actor | None = None,
    source: Source = CODE,
    branch_id: str | None = None,
    trunk_version: int | None = None,
) -> Entity:
    """A new entity, version 1. ``uuid`` defaults to a random one; an existing uuid is refused."""
    _check_label(label)
    clean = clean_data(dataset, data or {})
    entity_uuid = normalise_uuid(uuid) if uuid else str(uuidlib.uuid4())
    exists = session.scalar(
        sa.select(Entity.id).where(Entity.dataset_id == dataset.id, Entity.uuid == entity_uuid)
    )
    if exists is not None:
        raise AlreadyExistsError(f"The entity list {dataset.name!r} already has an entity {entity_uuid!r}.")
    entity = Entity(
        dataset_id=dataset.id,
        uuid=entity_uuid,
        label=label,
        data=clean,
        current_version=1,
        deleted=False,
        creator_user_id=actor.user_id if actor else None,
        creator_app_user_id=actor.app_user_id if actor else None,
        organisation_id=creating_organisation(session, dataset=dataset, actor=actor, source=source),
    )
    entity.versions.append(
        _version(
            1, label, clean, list(clean), actor, source, branch_id=branch_id, trunk_version=trunk_version
        )
    )
    session.add(entity)
    session.flush()
    bump(session, dataset)
    _audit(session, actor, "entity.create", dataset, entity, source, version=1)
    return entity


def creating_organisation(
    session: Session, *, dataset: Dataset, actor: Actor | None, source: Source
) -> int | None:
    """The organisation a new entity belongs to: its submission's (collected for), else the creating
    person's or device's as ``row_access`` decides for a submission; the project's when code made it."""
    if source.submission_id is not None:
        return session.scalar(
            sa.select(Submission.organisation_id).where(Submission.id == source.submission_id)
        )
    project = session.get(Project, dataset.project_id)
    if project is None:
        return None
    if actor is None:
        return project.organisation_id
    return row_access.collecting_organisation(session, actor=actor, project=project)


def _version(
    number: int,
    label: str,
    data: dict[str, str],
    changed: list[str],
    actor: Actor | None,
    source: Source,
    *,
    base_version: int | None = None,
    branch_id: str | None = None,
    trunk_version: int | None = None,
    branch_base_version: int | None = None,
    conflict: str | None = None,
) -> EntityVersion:
    return EntityVersion(
        version=number,
        base_version=base_version,
        trunk_version=trunk_version,
        branch_id=branch_id,
        branch_base_version=branch_base_version,
        label=label,
        data=dict(data),
        changed=changed,
        source=source.kind,
        submission_id=source.submission_id,
        submission_version_id=source.submission_version_id,
        created_by_user_id=actor.user_id if actor else None,
        created_by_app_user_id=actor.app_user_id if actor else None,
        conflict=conflict,
    )


def _audit(
    session: Session,
    actor: Actor | None,
    action: str,
    dataset: Dataset,
    entity: Entity,
    source: Source,
    **details: Any,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        project_id=dataset.project_id,
        subject_type="entity",
        subject_id=entity.uuid,
        details={"dataset": dataset.name, "submission_id": source.submission_id, **details},
    )


def _version_row(session: Session, entity: Entity, number: int) -> EntityVersion | None:
    return session.scalar(
        sa.select(EntityVersion).where(EntityVersion.entity_id == entity.id, EntityVersion.version == number)
    )


def conflict_between(
    base: EntityVersion, current: EntityVersion, label: str | None, data: dict[str, str]
) -> tuple[str, list[str]]:
    """Central's rule: what changed on the server since ``base`` versus what this update sets.

    ``hard`` when the update sets a property (or the label) that the server changed to a different
    value; ``soft`` when the changes do not overlap. Returns the kind and the properties in conflict.
    """
    server_changed = {k: v for k, v in current.data.items() if base.data.get(k) != v}
    if current.label != base.label:
        server_changed["label"] = current.label
    received = dict(data)
    if label is not None:
        received["label"] = label
    clashing = sorted(k for k, v in received.items() if k in server_changed and server_changed[k] != v)
    return ("hard" if clashing else "soft"), clashing


def update_entity(
    session: Session,
    *,
    dataset: Dataset,
    uuid: str,
    data: dict[str, Any] | None = None,
    label: str | None = None,
    base_version: int | None = None,
    force: bool = False,
    actor: Actor | None = None,
    source: Source = CODE,
    base: EntityVersion | None = None,
    branch_id: str | None = None,
    trunk_version: int | None = None,
    branch_base_version: int | None = None,
) -> Entity:
    """A new version merging ``data`` (and ``label``) onto the current one.

    From the API or code, ``base_version`` must be the current version unless ``force``. From a
    submission (``source.kind == 'submission'``), ``base`` is the version the device started from; an
    older base is applied anyway and flagged as a conflict, as Central does.
    """
    _check_label(label)
    clean = clean_data(dataset, data or {})
    entity = find_entity(session, dataset=dataset, uuid=normalise_uuid(uuid), for_update=True)
    current = _version_row(session, entity, entity.current_version)
    assert current is not None
    conflict: str | None = None
    if source.kind != "submission":
        if not force and base_version is None:
            raise InvalidValueError("Give the baseVersion the update starts from (or force=true).")
        if not force and base_version != entity.current_version:
            raise EntityVersionMismatchError(
                f"The entity {entity.uuid!r} is at version {entity.current_version}; the update starts "
                f"from version {base_version}. Nothing was changed."
            )
        base = current
    if base is None:
        base = current
    if base.version != current.version:
        conflict, _clashing = conflict_between(base, current, label, clean)
    number = entity.current_version + 1
    new_label = label if label is not None else entity.label
    merged = {**entity.data, **clean}
    entity.versions.append(
        _version(
            number,
            new_label,
            merged,
            sorted(clean) + (["label"] if label is not None else []),
            actor,
            source,
            base_version=base.version,
            branch_id=branch_id,
            trunk_version=trunk_version,
            branch_base_version=branch_base_version,
            conflict=conflict,
        )
    )
    entity.current_version = number
    entity.label = new_label
    entity.data = merged
    entity.updated_at = utcnow()
    if conflict is not None and entity.conflict != "hard":
        entity.conflict = conflict
    session.flush()
    bump(session, dataset)
    _audit(session, actor, "entity.update", dataset, entity, source, version=number, conflict=conflict)
    return entity


def upsert_entity(
    session: Session,
    *,
    dataset: Dataset,
    uuid: str,
    label: str,
    data: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> Entity:
    """Create ``uuid`` or, when it exists and differs, update it from its current version (for imports)."""
    key = normalise_uuid(uuid)
    existing = session.scalar(sa.select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == key))
    if existing is None:
        return create_entity(session, dataset=dataset, uuid=key, label=label, data=data, actor=actor)
    clean = clean_data(dataset, data or {})
    if existing.label == label and all(existing.data.get(k) == v for k, v in clean.items()):
        if existing.deleted:
            restore_entity(session, dataset=dataset, uuid=key, actor=actor)
        return existing
    return update_entity(
        session,
        dataset=dataset,
        uuid=key,
        label=label,
        data=clean,
        base_version=existing.current_version,
        actor=actor,
    )


def delete_entity(session: Session, *, dataset: Dataset, uuid: str, actor: Actor | None = None) -> Entity:
    """Mark deleted (kept with every version); devices drop it through the integrity endpoint."""
    entity = find_entity(session, dataset=dataset, uuid=normalise_uuid(uuid), for_update=True)
    if entity.deleted:
        raise NotFoundError(f"The entity {entity.uuid!r} is already deleted.")
    entity.deleted = True
    entity.deleted_at = utcnow()
    session.flush()
    bump(session, dataset)
    _audit(session, actor, "entity.delete", dataset, entity, CODE if actor is None else Source("api"))
    return entity


def restore_entity(session: Session, *, dataset: Dataset, uuid: str, actor: Actor | None = None) -> Entity:
    entity = find_entity(session, dataset=dataset, uuid=normalise_uuid(uuid), for_update=True)
    if not entity.deleted:
        raise NotFoundError(f"The entity {entity.uuid!r} is not deleted.")
    entity.deleted = False
    entity.deleted_at = None
    session.flush()
    bump(session, dataset)
    _audit(session, actor, "entity.restore", dataset, entity, CODE if actor is None else Source("api"))
    return entity


def resolve_conflict(session: Session, *, dataset: Dataset, uuid: str, actor: Actor) -> Entity:
    """A person has looked at the conflicting versions: clear the flag, mark them resolved (kept)."""
    entity = find_entity(session, dataset=dataset, uuid=normalise_uuid(uuid), for_update=True)
    if entity.conflict is None:
        raise InvalidValueError(f"The entity {entity.uuid!r} has no conflict to resolve.")
    now = utcnow()
    resolved = []
    for version in entity.versions:
        if version.conflict is not None and version.resolved_at is None:
            version.resolved_at = now
            version.resolved_by_id = actor.user_id
            resolved.append(version.version)
    entity.conflict = None
    entity.updated_at = now
    session.flush()
    _audit(session, actor, "entity.conflict.resolve", dataset, entity, CODE, versions=resolved)
    return entity
