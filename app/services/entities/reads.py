"""Reading entity lists for the API and the admin: summaries, entities, versions, conflicts, the CSV.

Every read takes the actor and goes through ``serve.visibility`` (fail closed), so an app user of an
``owner_only`` list, or an enumerator, never reads another's entities on any path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import NotFoundError
from app.models import Dataset, Entity, EntityBacklog, EntityVersion, Submission
from app.services.entities.lists import find_entity, normalise_uuid
from app.services.entities.serve import visibility


@dataclass(frozen=True)
class ListSummary:
    dataset: Dataset
    entities: int
    conflicts: int
    held: int
    last_entity: datetime | None


def summaries(session: Session, *, actor: Actor, project_id: int) -> list[ListSummary]:
    datasets = list(
        session.scalars(sa.select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.name))
    )
    out = []
    for d in datasets:
        where = sa.and_(Entity.dataset_id == d.id, Entity.deleted.is_(False), visibility(session, actor, d))
        count, conflicts, last = session.execute(
            sa.select(
                sa.func.count(Entity.id),
                sa.func.count(Entity.conflict),
                sa.func.max(sa.func.coalesce(Entity.updated_at, Entity.created_at)),
            ).where(where)
        ).one()
        held = session.scalar(
            sa.select(sa.func.count(EntityBacklog.id)).where(EntityBacklog.dataset_id == d.id)
        )
        out.append(ListSummary(d, count or 0, conflicts or 0, held or 0, last))
    return out


def entities(
    session: Session,
    *,
    actor: Actor,
    dataset: Dataset,
    deleted: bool = False,
    conflicts_only: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Entity]:
    query = (
        sa.select(Entity)
        .where(
            Entity.dataset_id == dataset.id, Entity.deleted.is_(deleted), visibility(session, actor, dataset)
        )
        .order_by(Entity.id)
        .offset(offset)
    )
    if conflicts_only:
        query = query.where(Entity.conflict.is_not(None))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count(session: Session, *, actor: Actor, dataset: Dataset) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count(Entity.id)).where(
                Entity.dataset_id == dataset.id,
                Entity.deleted.is_(False),
                visibility(session, actor, dataset),
            )
        )
        or 0
    )


def entity(session: Session, *, actor: Actor, dataset: Dataset, uuid: str) -> Entity:
    """One entity the actor may see (404 otherwise: another's entity does not exist for them)."""
    found = find_entity(session, dataset=dataset, uuid=normalise_uuid(uuid))
    visible = session.scalar(
        sa.select(Entity.id).where(Entity.id == found.id, visibility(session, actor, dataset))
    )
    if visible is None:
        raise NotFoundError(f"The entity list {dataset.name!r} has no entity {found.uuid!r}.")
    return found


@dataclass(frozen=True)
class VersionRow:
    version: EntityVersion
    instance_id: str | None


def versions(session: Session, *, entity: Entity) -> list[VersionRow]:
    """Every version, oldest first, with the instanceID of the submission that wrote it."""
    rows = session.execute(
        sa.select(EntityVersion, Submission.instance_id)
        .outerjoin(Submission, Submission.id == EntityVersion.submission_id)
        .where(EntityVersion.entity_id == entity.id)
        .order_by(EntityVersion.version)
    ).all()
    return [VersionRow(v, iid) for v, iid in rows]


def held_for(session: Session, *, dataset: Dataset, uuid: str) -> list[EntityBacklog]:
    return list(
        session.scalars(
            sa.select(EntityBacklog)
            .where(EntityBacklog.dataset_id == dataset.id, EntityBacklog.entity_uuid == uuid)
            .order_by(EntityBacklog.branch_id, EntityBacklog.base_version)
        )
    )


def export_csv(session: Session, *, actor: Actor, dataset: Dataset) -> Iterator[bytes]:
    """Central's ``entities.csv``: ``__id,label``, the properties, then the system columns."""
    props = list(dataset.properties or [])
    header = ["__id", "label", *props, "__createdAt", "__creatorId", "__updates", "__updatedAt", "__version"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    yield buffer.getvalue().encode("utf-8")
    last = 0
    columns = (
        Entity.id,
        Entity.uuid,
        Entity.label,
        Entity.data,
        Entity.created_at,
        Entity.creator_user_id,
        Entity.creator_app_user_id,
        Entity.current_version,
        Entity.updated_at,
    )
    while True:
        chunk = session.execute(
            sa.select(*columns)
            .where(
                Entity.dataset_id == dataset.id,
                Entity.deleted.is_(False),
                Entity.id > last,
                visibility(session, actor, dataset),
            )
            .order_by(Entity.id)
            .limit(5000)
        ).all()
        if not chunk:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for e in chunk:
            writer.writerow(
                [
                    e.uuid,
                    e.label,
                    *((e.data or {}).get(p, "") for p in props),
                    _iso(e.created_at),
                    e.creator_user_id or e.creator_app_user_id or "",
                    e.current_version - 1,
                    _iso(e.updated_at),
                    e.current_version,
                ]
            )
        yield buffer.getvalue().encode("utf-8")
        last = chunk[-1].id


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""
