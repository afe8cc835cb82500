"""Entity lists as devices and clients read them: form attachments, the CSV, integrity, and who sees what.

A form names a list by using ``<name>.csv`` (``select_one_from_file``, ``instance src="jr://file-csv/…"``);
when the project has a list of that name the attachment *is* the list. Its md5 is ``lists.list_hash``,
which follows ``Dataset.revision``: the hash and the ETag change when the list changes, and only then.

Fail closed: a partner's people and devices get only their organisation's entities (``row_access``); an
app user of a list marked ``owner_only`` gets only the entities it created, and of a list with
``match_attributes`` only the entities matching its attributes (none without them); an enumerator of an
``owner_only`` list gets only those they created; anything else that is not a project role sees nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import Dataset, Entity, Project
from app.services.protection import row_access

CSV_SUFFIX = ".csv"


def datasets_for_attachments(
    session: Session, *, project_id: int, names: Iterable[str]
) -> dict[str, Dataset]:
    """Attachment name -> the project's entity list it serves (for names ``<list>.csv``)."""
    wanted = {n[: -len(CSV_SUFFIX)]: n for n in names if n.endswith(CSV_SUFFIX)}
    if not wanted:
        return {}
    rows = session.scalars(
        sa.select(Dataset).where(Dataset.project_id == project_id, Dataset.name.in_(list(wanted)))
    )
    return {wanted[d.name]: d for d in rows}


def visibility(session: Session, actor: Actor, dataset: Dataset) -> sa.ColumnElement[bool]:
    """The SQL condition limiting ``entities`` rows to those ``actor`` may read from ``dataset``: the
    partner rule of ``row_access`` (a partner's people and devices read only the entities their
    organisation's submissions or people created) and, within it, the list's own rules."""
    if actor.is_admin:
        return sa.true()
    project = session.get(Project, dataset.project_id)
    if project is None:
        return sa.false()
    return sa.and_(row_access.visible_entities(session, actor, project), _list_rule(session, actor, dataset))


def _list_rule(session: Session, actor: Actor, dataset: Dataset) -> sa.ColumnElement[bool]:
    if actor.app_user is not None:
        if actor.app_user.project_id != dataset.project_id:
            return sa.false()
        matching = attribute_match(actor.app_user.attributes or {}, dataset)
        if dataset.owner_only:
            return sa.and_(Entity.creator_app_user_id == actor.app_user.id, matching)
        return matching
    if actor.user is not None:
        role = actor.role_in(session, dataset.project_id)
        if role is None:
            return sa.false()
        if role == "enumerator" and dataset.owner_only:
            return Entity.creator_user_id == actor.user.id
        return sa.true()
    return sa.false()


def attribute_match(attributes: dict[str, list[str]], dataset: Dataset) -> sa.ColumnElement[bool]:
    """Entities whose every ``match_attributes`` property is one of the app user's values for the
    attribute of that name; an app user without the attribute (or with no values) matches nothing."""
    conditions: list[sa.ColumnElement[bool]] = []
    for prop in dataset.match_attributes or []:
        values = [str(v) for v in attributes.get(prop) or []]
        if not values:
            return sa.false()
        conditions.append(Entity.data[prop].as_string().in_(values))
    return sa.and_(sa.true(), *conditions)


def _rows(
    session: Session, dataset: Dataset, where: sa.ColumnElement[bool], *, batch: int = 5000
) -> Iterator[tuple[str, str, int, dict[str, str]]]:
    last = 0
    while True:
        chunk = session.execute(
            sa.select(Entity.id, Entity.uuid, Entity.label, Entity.current_version, Entity.data)
            .where(Entity.dataset_id == dataset.id, Entity.deleted.is_(False), Entity.id > last, where)
            .order_by(Entity.id)
            .limit(batch)
        ).all()
        if not chunk:
            return
        for row in chunk:
            yield row.uuid, row.label, row.current_version, row.data or {}
        last = chunk[-1].id


def device_csv(session: Session, *, actor: Actor, dataset: Dataset) -> bytes:
    """The list as a form attachment: ``name,label,__version`` then the properties (Central's columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    props = list(dataset.properties or [])
    writer.writerow(["name", "label", "__version", *props])
    for uuid, label, version, data in _rows(session, dataset, visibility(session, actor, dataset)):
        writer.writerow([uuid, label, version, *(data.get(p, "") for p in props)])
    return out.getvalue().encode("utf-8")


def integrity(session: Session, *, actor: Actor, dataset: Dataset, ids: list[str]) -> list[tuple[str, bool]]:
    """For the asked entity ids the actor may see: (uuid, deleted), in the order asked."""
    if not ids:
        return []
    found: dict[str, bool] = {}
    for start in range(0, len(ids), 1000):  # bounded IN lists: SQLite caps the parameters of a statement
        rows = session.execute(
            sa.select(Entity.uuid, Entity.deleted).where(
                Entity.dataset_id == dataset.id,
                Entity.uuid.in_(ids[start : start + 1000]),
                visibility(session, actor, dataset),
            )
        )
        found.update((uuid, deleted) for uuid, deleted in rows)
    return [(u, found[u]) for u in dict.fromkeys(ids) if u in found]
