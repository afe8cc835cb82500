"""Submissions that create and update entities (ODK entities spec, offline version 2024.1).

A submission's ``<entity>`` blocks are applied when it is stored, or when it is approved if the list
requires approval (Central's rule). Nothing a device sent is dropped:

- an offline update whose earlier step on the same branch (``branchId``) has not arrived is held in
  ``entity_backlog`` and applied the moment that step is, in branch order;
- an update from an older base version is applied as a new version and flags a conflict
  (``lists.conflict_between``) for a person to resolve;
- an operation that cannot be applied (an update of an unknown entity without a branch, a create of
  an id that exists) is recorded as an ``entity.error`` audit event naming the submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from xml.etree.ElementTree import Element

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import utcnow
from app.errors import AlreadyExistsError, InvalidValueError, NotFoundError, RutaError
from app.models import (
    AppUser,
    AuditEvent,
    Dataset,
    Entity,
    EntityBacklog,
    EntityVersion,
    FormVersion,
    Submission,
    SubmissionVersion,
    User,
)
from app.services import version_cache
from app.services.audit import events as audit
from app.services.entities import lists
from app.services.entities.lists import Source
from app.services.submissions import bulk_insert
from app.sites import registry
from forms import safe_xml
from forms.entities import FormEntities, read_form_entities
from forms.errors import XFormError
from sync.entities import EntityBlockError, EntityOp, entity_ops


def form_entities(session: Session, version_id: int, sha256: str) -> FormEntities | None:
    """The entity declarations of a form version (from the one per-version cache)."""

    def build() -> FormEntities | None:
        xml = session.scalar(sa.select(FormVersion.xml).where(FormVersion.id == version_id))
        try:
            return read_form_entities(xml) if xml else None
        except XFormError:
            return None

    return version_cache.cached("entities", version_id, sha256, build)


def _error(
    session: Session, actor: Actor | None, project_id: int, op: EntityOp | None, source: Source, message: str
) -> None:
    audit.record(
        session,
        actor=actor,
        action="entity.error",
        project_id=project_id,
        subject_type="entity",
        subject_id=op.uuid if op else None,
        details={
            "dataset": op.dataset if op else None,
            "submission_id": source.submission_id,
            "submission_version_id": source.submission_version_id,
            "message": message,
        },
    )


def apply_submission(
    session: Session,
    *,
    actor: Actor | None,
    project_id: int,
    form_version_id: int,
    form_version_sha256: str,
    root: Element,
    submission_id: int,
    submission_version_id: int,
    approved: bool = False,
) -> int:
    """Apply the entity blocks of one stored submission version; returns how many were applied or held.

    On ingest (``approved`` False) lists that require approval are left alone; on approval only
    those lists are written.
    """
    declared = form_entities(session, form_version_id, form_version_sha256)
    if declared is None:
        return 0
    source = Source("submission", submission_id, submission_version_id)
    try:
        ops = entity_ops(declared, root)
    except EntityBlockError as err:
        _error(session, actor, project_id, None, source, str(err))
        return 0
    done = 0
    for op in ops:
        dataset = lists.ensure_dataset(
            session, project_id=project_id, name=op.dataset, properties=list(op.data), actor=actor
        )
        if dataset.approval_required != approved:
            continue  # on ingest: lists waiting for approval; on approval: only those lists
        if approved and already_applied(session, submission_id, dataset.id):
            continue  # approved a second time (after a change of mind): written once
        try:
            apply_op(session, dataset=dataset, op=op, actor=actor, source=source)
            done += 1
        except RutaError as err:
            _error(session, actor, project_id, op, source, err.message)
    return done


def apply_on_approval(
    session: Session, *, actor: Actor | None, project_id: int, submission: Submission
) -> int:
    """A submission was approved: write the entities of lists that waited for approval (once)."""
    version = (
        session.get(SubmissionVersion, submission.current_version_id)
        if submission.current_version_id
        else None
    )
    if version is None or version.encrypted_key is not None:
        return 0
    form_version = session.get(FormVersion, version.form_version_id)
    if form_version is None or form_entities(session, form_version.id, form_version.sha256) is None:
        return 0
    try:
        root = safe_xml.parse(version.xml)
    except ValueError:
        return 0
    return apply_submission(
        session,
        actor=actor,
        project_id=project_id,
        form_version_id=form_version.id,
        form_version_sha256=form_version.sha256,
        root=root,
        submission_id=submission.id,
        submission_version_id=version.id,
        approved=True,
    )


def already_applied(session: Session, submission_id: int, dataset_id: int) -> bool:
    """Whether a submission already wrote (or parked) changes to this list."""
    wrote = session.scalar(
        sa.select(EntityVersion.id)
        .join(Entity, Entity.id == EntityVersion.entity_id)
        .where(EntityVersion.submission_id == submission_id, Entity.dataset_id == dataset_id)
        .limit(1)
    )
    held = session.scalar(
        sa.select(EntityBacklog.id)
        .where(EntityBacklog.submission_id == submission_id, EntityBacklog.dataset_id == dataset_id)
        .limit(1)
    )
    return wrote is not None or held is not None


def _existing(session: Session, dataset: Dataset, uuid: str) -> Entity | None:
    return session.scalar(
        sa.select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == uuid).with_for_update()
    )


def _hold(
    session: Session, dataset: Dataset, op: EntityOp, uuid: str, actor: Actor | None, source: Source
) -> None:
    session.add(
        EntityBacklog(
            dataset_id=dataset.id,
            entity_uuid=uuid,
            branch_id=op.branch_id,
            base_version=op.base_version,
            op=op.as_dict(),
            submission_id=source.submission_id,
            submission_version_id=source.submission_version_id,
            created_by_user_id=actor.user_id if actor else None,
            created_by_app_user_id=actor.app_user_id if actor else None,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="entity.update.held",
        project_id=dataset.project_id,
        subject_type="entity",
        subject_id=uuid,
        details={
            "dataset": dataset.name,
            "submission_id": source.submission_id,
            "branch_id": op.branch_id,
            "base_version": op.base_version,
        },
    )


def _base_for(session: Session, entity: Entity, op: EntityOp) -> EntityVersion | None:
    """The version the device started from (Central's ``_computeBaseVersion``); None: not arrived yet."""
    if op.base_version is None:
        return None
    if op.branch_id is None or op.base_version == 1 or op.base_version == op.trunk_version:
        condition = EntityVersion.version == op.base_version
    else:
        condition = sa.and_(
            EntityVersion.branch_id == op.branch_id, EntityVersion.branch_base_version == op.base_version - 1
        )
    return session.scalar(sa.select(EntityVersion).where(EntityVersion.entity_id == entity.id, condition))


def apply_op(
    session: Session,
    *,
    dataset: Dataset,
    op: EntityOp,
    actor: Actor | None,
    source: Source,
    force: bool = False,
) -> Entity | None:
    """Apply one operation; None when it was held for an earlier branch step. Raises RutaError when it
    cannot be applied at all (the caller records it)."""
    uuid = lists.normalise_uuid(op.uuid)
    _check_registry(dataset, op)
    entity = _existing(session, dataset, uuid)
    if entity is None and op.create:
        entity = lists.create_entity(
            session,
            dataset=dataset,
            uuid=uuid,
            label=op.label or "",
            data=op.data,
            actor=actor,
            source=source,
            branch_id=op.branch_id,
            trunk_version=op.trunk_version,
        )
        _release(session, dataset, entity, branch_id=None, next_base=1, actor=actor)
        return entity
    if entity is not None and op.create and not op.update:
        raise AlreadyExistsError(
            f"The submission creates entity {uuid!r} in list {dataset.name!r}, which already exists."
        )
    if entity is None:
        if op.branch_id is not None and not force:
            _hold(session, dataset, op, uuid, actor, source)
            return None
        raise NotFoundError(
            f"The submission updates entity {uuid!r} of list {dataset.name!r}, which does not exist."
        )
    if op.trunk_version is not None and op.trunk_version > entity.current_version:
        raise InvalidValueError(
            f"The submission's trunkVersion {op.trunk_version} is past entity {uuid!r}'s current version "
            f"{entity.current_version}."
        )
    base = _base_for(session, entity, op)
    forced_soft = False
    if base is None:
        if op.branch_id is not None and not force:
            _hold(session, dataset, op, uuid, actor, source)
            return None
        if op.base_version is not None and op.branch_id is None:
            raise NotFoundError(
                f"The submission updates entity {uuid!r} from version {op.base_version}, which it never had."
            )
        base = None  # forced, or an update that names no base: start from the current version
        forced_soft = force
    entity = lists.update_entity(
        session,
        dataset=dataset,
        uuid=uuid,
        data=op.data,
        label=op.label,
        actor=actor,
        source=source,
        base=base,
        branch_id=op.branch_id,
        trunk_version=op.trunk_version,
        branch_base_version=op.base_version if op.branch_id is not None else None,
    )
    if forced_soft:
        _flag_forced(entity)
    if op.branch_id is not None and op.base_version is not None:
        _release(session, dataset, entity, branch_id=op.branch_id, next_base=op.base_version + 1, actor=actor)
    return entity


def _check_registry(dataset: Dataset, op: EntityOp) -> None:
    """The site registry's rules for changes from the field (app.sites.registry.field_update_problems)."""
    if dataset.name != registry.LIST_NAME:
        return
    problems = registry.field_update_problems(op.data)
    if problems or (op.create and not op.update):
        raise InvalidValueError(
            " ".join(problems) or "Sites are added to the site registry by an import or in the admin."
        )


def apply_edit(
    session: Session,
    *,
    actor: Actor | None,
    project_id: int,
    form_version_id: int,
    form_version_sha256: str,
    root: Element,
    submission_id: int,
    submission_version_id: int,
) -> int:
    """An edit of a stored record re-applies its entity blocks, as Central does.

    An entity the record created or updated gets the edited values as a new version whose base is the
    version the record last wrote, so a change someone else made since is flagged as a conflict rather
    than overwritten silently. A block the record never applied (its earlier version had none, or a
    ``create_if`` was false) is applied as new. Lists waiting for approval are written on approval.
    """
    declared = form_entities(session, form_version_id, form_version_sha256)
    if declared is None:
        return 0
    source = Source("submission", submission_id, submission_version_id)
    try:
        ops = entity_ops(declared, root)
    except EntityBlockError as err:
        _error(session, actor, project_id, None, source, str(err))
        return 0
    submission = session.get(Submission, submission_id)
    approved = submission is not None and submission.review_state == "approved"
    done = 0
    for op in ops:
        dataset = lists.ensure_dataset(
            session, project_id=project_id, name=op.dataset, properties=list(op.data), actor=actor
        )
        if dataset.approval_required and not approved:
            continue  # written once approved, with the record's version at that time
        try:
            uuid = lists.normalise_uuid(op.uuid)
            written = session.scalar(
                sa.select(EntityVersion)
                .join(Entity, Entity.id == EntityVersion.entity_id)
                .where(
                    Entity.dataset_id == dataset.id,
                    Entity.uuid == uuid,
                    EntityVersion.submission_id == submission_id,
                )
                .order_by(EntityVersion.version.desc())
                .limit(1)
            )
            if written is None:
                if already_applied(session, submission_id, dataset.id):
                    continue  # held for an earlier offline step: the held update stays as sent
                apply_op(session, dataset=dataset, op=op, actor=actor, source=source)
            else:
                _check_registry(dataset, EntityOp(**{**op.__dict__, "create": False, "update": True}))
                lists.update_entity(
                    session,
                    dataset=dataset,
                    uuid=uuid,
                    data=op.data,
                    label=op.label,
                    actor=actor,
                    source=source,
                    base=written,
                )
            done += 1
        except RutaError as err:
            _error(session, actor, project_id, op, source, err.message)
    return done


def _flag_forced(entity: Entity) -> None:
    # Applied without the step before it: a person should look, though nothing clashed for certain.
    latest = entity.versions[-1]
    if latest.conflict is None:
        latest.conflict = "soft"
    if entity.conflict is None:
        entity.conflict = "soft"


def _release(
    session: Session,
    dataset: Dataset,
    entity: Entity,
    *,
    branch_id: str | None,
    next_base: int,
    actor: Actor | None,
) -> None:
    """Apply the held update that follows the one just applied (and so on along the branch)."""
    query = sa.select(EntityBacklog).where(
        EntityBacklog.dataset_id == dataset.id,
        EntityBacklog.entity_uuid == entity.uuid,
        EntityBacklog.base_version == next_base,
    )
    if branch_id is not None:
        held = session.scalars(
            query.where(EntityBacklog.branch_id == branch_id).order_by(EntityBacklog.id)
        ).first()
        if held is not None:
            apply_held(session, held=held, dataset=dataset)
        return
    # After a create: every device's first offline update of the new entity, in arrival order.
    for held in list(session.scalars(query.order_by(EntityBacklog.id))):
        apply_held(session, held=held, dataset=dataset)


def apply_held(
    session: Session, *, held: EntityBacklog, dataset: Dataset, force: bool = False
) -> Entity | None:
    op = EntityOp.from_dict(held.op)
    source = Source("submission", held.submission_id, held.submission_version_id)
    session.delete(held)
    session.flush()
    held_actor = _actor_of(session, held)
    try:
        return apply_op(session, dataset=dataset, op=op, actor=held_actor, source=source, force=force)
    except RutaError as err:
        _error(session, held_actor, dataset.project_id, op, source, err.message)
        return None


def _actor_of(session: Session, held: EntityBacklog) -> Actor:
    return Actor(
        user=session.get(User, held.created_by_user_id) if held.created_by_user_id else None,
        app_user=session.get(AppUser, held.created_by_app_user_id) if held.created_by_app_user_id else None,
    )


def held_in(session: Session, *, dataset: Dataset) -> list[EntityBacklog]:
    return list(session.scalars(sa.select(EntityBacklog).where(EntityBacklog.dataset_id == dataset.id)))


_BRANCH_ORDER = (EntityBacklog.entity_uuid, EntityBacklog.branch_id, EntityBacklog.base_version)


def _force_rows(session: Session, dataset: Dataset, held: list[EntityBacklog]) -> int:
    applied = 0
    for row in held:
        if sa.inspect(row).deleted or sa.inspect(row).detached:
            continue  # released by an earlier row's application
        if apply_held(session, held=row, dataset=dataset, force=True) is not None:
            applied += 1
    return applied


def force_backlog(session: Session, *, dataset: Dataset, actor: Actor) -> int:
    """Apply every held update of the list now (a person decided the missing steps are not coming),
    in branch order, each from the entity's current version and flagged for review."""
    held = list(
        session.scalars(
            sa.select(EntityBacklog).where(EntityBacklog.dataset_id == dataset.id).order_by(*_BRANCH_ORDER)
        )
    )
    applied = _force_rows(session, dataset, held)
    audit.record(
        session,
        actor=actor,
        action="entity.backlog.force",
        project_id=dataset.project_id,
        subject_type="dataset",
        subject_id=dataset.name,
        details={"applied": applied, "held": len(held)},
    )
    return applied


def force_stale_backlog(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Central's timeout for held offline updates: an update still waiting for its earlier step after
    ``older_than`` is applied anyway, in branch order, from the entity's current version and flagged
    for review (the step it waited for may never come: a lost phone). One audit event per list."""
    cutoff = (now or utcnow()) - older_than
    stale = list(
        session.scalars(
            sa.select(EntityBacklog)
            .where(EntityBacklog.created_at <= cutoff)
            .order_by(EntityBacklog.dataset_id, *_BRANCH_ORDER)
        )
    )
    by_list: dict[int, list[EntityBacklog]] = {}
    for row in stale:
        by_list.setdefault(row.dataset_id, []).append(row)
    applied = 0
    for dataset_id, held in by_list.items():
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            continue
        done = _force_rows(session, dataset, held)
        applied += done
        audit.record(
            session,
            actor=None,
            action="entity.backlog.force",
            project_id=dataset.project_id,
            subject_type="dataset",
            subject_id=dataset.name,
            details={
                "applied": done,
                "held": len(held),
                "automatic": True,
                "olderThanHours": older_than / timedelta(hours=1),
            },
        )
    return applied


@dataclass(frozen=True)
class StoredVersion:
    """A submission version just stored by a batch, with what its entity blocks need."""

    form_version_id: int
    form_version_sha256: str
    root: Element
    submission_id: int
    submission_version_id: int


def apply_many(session: Session, *, actor: Actor | None, project_id: int, stored: list[StoredVersion]) -> int:
    """``apply_submission`` for a batch: plain creates of new entities go in as multi-row INSERTs (one
    revision bump per list); anything else (updates, an id seen twice, lists waiting for approval)
    takes the one-by-one path, after the creates, in batch order."""
    datasets: dict[str, Dataset] = {}
    pending: list[tuple[EntityOp, Source]] = []
    for item in stored:
        declared = form_entities(session, item.form_version_id, item.form_version_sha256)
        if declared is None:
            continue
        source = Source("submission", item.submission_id, item.submission_version_id)
        try:
            ops = entity_ops(declared, item.root)
        except EntityBlockError as err:
            _error(session, actor, project_id, None, source, str(err))
            continue
        for op in ops:
            if op.dataset not in datasets:
                datasets[op.dataset] = lists.ensure_dataset(
                    session, project_id=project_id, name=op.dataset, properties=list(op.data), actor=actor
                )
            elif any(p not in datasets[op.dataset].properties for p in op.data):
                lists.ensure_dataset(
                    session, project_id=project_id, name=op.dataset, properties=list(op.data)
                )
            pending.append((op, source))
    creates, rest = _plain_creates(session, datasets, pending)
    done = _insert_creates(session, actor, creates)
    for op, source in rest:
        dataset = datasets[op.dataset]
        if dataset.approval_required:
            continue
        try:
            apply_op(session, dataset=dataset, op=op, actor=actor, source=source)
            done += 1
        except RutaError as err:
            _error(session, actor, project_id, op, source, err.message)
    return done


def _plain_creates(
    session: Session, datasets: dict[str, Dataset], pending: list[tuple[EntityOp, Source]]
) -> tuple[list[tuple[Dataset, str, EntityOp, Source]], list[tuple[EntityOp, Source]]]:
    """Split ops into new entities created once in this batch, and everything else."""
    seen: dict[tuple[int, str], int] = {}
    keyed: list[tuple[Dataset, str | None, EntityOp, Source]] = []
    for op, source in pending:
        dataset = datasets[op.dataset]
        try:
            uuid: str | None = lists.normalise_uuid(op.uuid)
        except RutaError:
            uuid = None  # the one-by-one path reports it
        # The site registry's checks run on the one-by-one path (apply_op).
        plain = dataset.name != registry.LIST_NAME and not dataset.approval_required
        if uuid is not None and op.create and plain and op.label:
            seen[(dataset.id, uuid)] = seen.get((dataset.id, uuid), 0) + 1
        keyed.append((dataset, uuid, op, source))
    existing: set[tuple[int, str]] = set()
    by_dataset: dict[int, list[str]] = {}
    for dataset_id, uuid in seen:
        by_dataset.setdefault(dataset_id, []).append(uuid)
    for dataset_id, uuids in by_dataset.items():
        for start in range(0, len(uuids), 1000):
            rows = session.scalars(
                sa.select(Entity.uuid).where(
                    Entity.dataset_id == dataset_id, Entity.uuid.in_(uuids[start : start + 1000])
                )
            )
            existing.update((dataset_id, u) for u in rows)
    creates, rest = [], []
    for dataset, uuid, op, source in keyed:
        key = (dataset.id, uuid or "")
        if uuid is not None and seen.get(key) == 1 and key not in existing:
            try:
                clean = lists.clean_data(dataset, op.data)
            except RutaError:
                rest.append((op, source))
                continue
            creates.append((dataset, uuid, EntityOp(**{**op.__dict__, "data": clean}), source))
        else:
            rest.append((op, source))
    return creates, rest


_ENTITIES = cast(sa.Table, Entity.__table__)
_VERSIONS = cast(sa.Table, EntityVersion.__table__)


def _insert_creates(
    session: Session, actor: Actor | None, creates: list[tuple[Dataset, str, EntityOp, Source]]
) -> int:
    if not creates:
        return 0
    session.flush()
    now = utcnow()
    user_id, app_user_id = (actor.user_id, actor.app_user_id) if actor else (None, None)
    submission_ids = sorted({s.submission_id for _d, _u, _o, s in creates if s.submission_id is not None})
    orgs: dict[int, int] = {}
    for start in range(0, len(submission_ids), 1000):
        chunk = submission_ids[start : start + 1000]
        rows = session.execute(
            sa.select(Submission.id, Submission.organisation_id).where(Submission.id.in_(chunk))
        )
        orgs.update((sid, org) for sid, org in rows)
    entity_rows = [
        {
            "dataset_id": dataset.id,
            "uuid": uuid,
            "label": op.label or "",
            "current_version": 1,
            "data": dict(op.data),
            "deleted": False,
            "conflict": None,
            "creator_user_id": user_id,
            "creator_app_user_id": app_user_id,
            # The submission's organisation: a partner's entities are its own (row_access).
            "organisation_id": orgs.get(source.submission_id or 0),
            "created_at": now,
        }
        for dataset, uuid, op, source in creates
    ]
    ids = bulk_insert.insert_returning_ids(session, _ENTITIES, entity_rows)
    version_rows = [
        {
            "entity_id": entity_id,
            "version": 1,
            "trunk_version": op.trunk_version,
            "branch_id": op.branch_id,
            "label": op.label or "",
            "data": dict(op.data),
            "changed": list(op.data),
            "source": "submission",
            "submission_id": source.submission_id,
            "submission_version_id": source.submission_version_id,
            "created_by_user_id": user_id,
            "created_by_app_user_id": app_user_id,
            "created_at": now,
        }
        for entity_id, (_dataset, _uuid, op, source) in zip(ids, creates, strict=True)
    ]
    bulk_insert.insert_rows(session, _VERSIONS, version_rows)
    bulk_insert.insert_rows(
        session,
        cast(sa.Table, AuditEvent.__table__),
        [
            audit.event_row(
                actor=actor,
                action="entity.create",
                project_id=dataset.project_id,
                subject_type="entity",
                subject_id=uuid,
                details={"dataset": dataset.name, "submission_id": source.submission_id, "version": 1},
                created_at=now,
            )
            for dataset, uuid, _op, source in creates
        ],
    )
    for dataset in {d.id: d for d, _u, _o, _s in creates}.values():
        lists.bump(session, dataset)
        created = [u for d, u, _o, _s in creates if d.id == dataset.id]
        _release_created(session, actor, dataset, created)
    return len(creates)


def _release_created(session: Session, actor: Actor | None, dataset: Dataset, uuids: list[str]) -> None:
    """Offline updates that arrived before the entity they update: apply them now, in branch order."""
    for start in range(0, len(uuids), 1000):
        waiting = session.scalars(
            sa.select(EntityBacklog.entity_uuid)
            .where(
                EntityBacklog.dataset_id == dataset.id,
                EntityBacklog.entity_uuid.in_(uuids[start : start + 1000]),
            )
            .distinct()
        ).all()
        for uuid in waiting:
            entity = _existing(session, dataset, uuid)
            if entity is not None:
                _release(session, dataset, entity, branch_id=None, next_base=1, actor=actor)
