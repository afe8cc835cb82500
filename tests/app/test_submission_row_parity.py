"""Issue 14 item 3: the rows of a new submission version come from one builder, whichever writer stores
them. The same inputs go through every writer, and every column of every row they add, in every table
of the model's metadata, must come out the same (a column added later is covered without touching this
test). Only what the database generates differs: primary keys (and the references to them) and
timestamps, which are replaced by placeholders before the comparison.

The writers: the plain statements (SQLite's, and any database's), PostgreSQL's single statement, the
edit path (the ORM path with the edit-chain queries, here given a version in no chain) and the batch's
bulk load (binary COPY on PostgreSQL). Each runs in a transaction that is rolled back afterwards, so
they all start from the same stored state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import get_blob_store
from app.db import Base, get_database
from app.models import Form, Submission, User
from app.services.submissions import batch
from app.services.submissions import intake as submissions
from sync.batch import BatchFile, BatchItem
from tests.app.conftest import DB_KIND, World
from tests.app.openrosa_helpers import SIMPLE_FORM, instance, publish_xml

Snapshot = dict[str, list[dict[str, Any]]]

PHOTO = b"\xff\xd8\xff\xe0 a photo"
EXTRA = b"a file the XML does not name"

# (instanceID, XML, files sent): a photo sent with an extra file, a photo not sent (missing), one name
# sent twice (the first copy counts), an empty photo question; each name the duplicate key matches.
CASES = [
    (
        "uuid:parity-1",
        instance("uuid:parity-1", name="Ana", photo="a.jpg"),
        [("a.jpg", PHOTO), ("x.txt", EXTRA)],
    ),
    ("uuid:parity-2", instance("uuid:parity-2", name="Ana", photo="b.jpg"), []),
    (
        "uuid:parity-3",
        instance("uuid:parity-3", name="Luz", photo="c.jpg"),
        [("c.jpg", PHOTO), ("c.jpg", EXTRA)],
    ),
    ("uuid:parity-4", instance("uuid:parity-4", name="Sol", age="4.50", photo=""), []),
]


@pytest.fixture
def stored(world: World) -> World:
    """The photo form, checked for duplicates on ``name``, with one record already stored (so the
    likely-duplicate flag fires, and its message names that record)."""
    publish_xml(world, SIMPLE_FORM)
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        form = session.scalars(sa.select(Form).where(Form.xml_form_id == "photo")).one()
        form.settings = {"quality": {"duplicateKeyFields": ["/data/name"]}}
        session.commit()
        _ingest(session, world, instance("uuid:parity-0", name="Ana"), [])
        session.commit()
    return world


def _actor(session: Session, world: World) -> Actor:
    user = session.get(User, world.user_ids["enumerator"])
    assert user is not None
    return Actor(user=user)


def _project(session: Session, world: World) -> Any:
    from app.models import Project

    return session.get(Project, world.project_id)


ORIGIN = submissions.Origin(device_id="collect:PARITY", user_agent="org.odk.collect.android/v2026.1.0")


def _ingest(session: Session, world: World, xml: bytes, files: list[tuple[str, bytes]]) -> None:
    submissions.ingest(
        session,
        actor=_actor(session, world),
        project=_project(session, world),
        xml=xml,
        files=[submissions.IncomingFile(n, d, "image/jpeg") for n, d in files],
        store=get_blob_store(world.app),
        origin=ORIGIN,
    )


def _batch(session: Session, world: World, xml: bytes, files: list[tuple[str, bytes]]) -> None:
    item = BatchItem(
        "item",
        xml,
        [BatchFile(n, len(d), (lambda d=d: d), "image/jpeg") for n, d in files],  # type: ignore[misc]
    )
    (result,) = batch.ingest_batch(
        session,
        actor=_actor(session, world),
        project=_project(session, world),
        items=[item],
        store=get_blob_store(world.app),
        origin=ORIGIN,
    )
    assert result.status == "created", result


def _writers() -> dict[str, Callable[[pytest.MonkeyPatch], Callable[..., None]]]:
    """Each writer, forced by replacing the function that picks one (the choice itself is tested by
    the hot-path tests: it depends only on the database and on the chain)."""

    def plain(mp: pytest.MonkeyPatch) -> Callable[..., None]:
        mp.setattr(submissions, "_write_record", submissions._write_record_plain)
        return _ingest

    def postgresql(mp: pytest.MonkeyPatch) -> Callable[..., None]:
        mp.setattr(submissions, "_write_record", submissions._write_record_postgresql)
        return _ingest

    def edit_path(mp: pytest.MonkeyPatch) -> Callable[..., None]:
        mp.setattr(submissions, "_create_record", submissions._create)
        return _ingest

    def bulk(mp: pytest.MonkeyPatch) -> Callable[..., None]:
        def per_item(*_args: Any, **_kwargs: Any) -> None:
            raise AssertionError("the batch fell back to the per-item path")

        mp.setattr(batch, "_ingest_one", per_item)  # the bulk load, or nothing
        return _batch

    found = {"plain": plain, "edit_path": edit_path, "batch": bulk}
    if DB_KIND == "postgresql":
        found["postgresql"] = postgresql
    return found


def _rows(session: Session) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: [dict(r._mapping) for r in session.execute(sa.select(table))]
        for table in Base.metadata.sorted_tables
    }


def _generated(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.primary_key.columns if c.autoincrement is not False and _is_int(c)]


def _is_int(column: sa.Column[Any]) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def _key(row: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in row.items()))


def added_rows(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> Snapshot:
    """The rows ``after`` has that ``before`` had not, every column, normalised: a generated id becomes
    ``<table#n>`` (n: its rank among the new rows), and so does every reference to it; a timestamp
    becomes ``<time>`` (None stays None)."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    new: dict[str, list[dict[str, Any]]] = {}
    for name, rows in after.items():
        old = {_key(r) for r in before.get(name, [])}
        new[name] = [r for r in rows if _key(r) not in old]
    placeholders: dict[tuple[str, Any], str] = {}
    for name, rows in new.items():
        for column in _generated(tables[name]):
            for n, value in enumerate(sorted(r[column.name] for r in rows)):
                placeholders[(name, value)] = f"<{name}#{n}>"
    out: Snapshot = {}
    for name, rows in new.items():
        if not rows:
            continue
        table = tables[name]
        normalised = []
        for row in rows:
            clean: dict[str, Any] = {}
            for column in table.c:  # every column of the model: a new one is compared too
                value = row[column.name]
                targets = [fk.column.table.name for fk in column.foreign_keys]
                if column in _generated(table):
                    value = placeholders[(name, value)]
                elif targets and (targets[0], value) in placeholders:
                    value = placeholders[(targets[0], value)]
                elif isinstance(value, datetime):
                    value = "<time>"
                clean[column.name] = value
            normalised.append(clean)
        out[name] = sorted(normalised, key=_key)
    return out


def differences(expected: Snapshot, found: Snapshot) -> list[str]:
    """Every table, row and column where ``found`` differs from ``expected``."""
    out = []
    for name in sorted(set(expected) | set(found)):
        a, b = expected.get(name, []), found.get(name, [])
        if len(a) != len(b):
            out.append(f"{name}: {len(a)} rows vs {len(b)}: {a} vs {b}")
            continue
        for n, (ra, rb) in enumerate(zip(a, b, strict=True)):
            for column in ra:
                if ra[column] != rb.get(column):
                    out.append(f"{name}[{n}].{column}: {ra[column]!r} vs {rb.get(column)!r}")
    return out


def _through(app: Flask, world: World, mp: pytest.MonkeyPatch, make: Any) -> Snapshot:
    """Every case through one writer, each in a transaction rolled back afterwards."""
    found: Snapshot = {}
    with mp.context() as patch, app.app_context(), get_database(app).session_scope() as session:
        write = make(patch)
        for iid, xml, files in CASES:
            before = _rows(session)
            write(session, world, xml, files)
            session.flush()
            if DB_KIND == "postgresql":  # the deferred keys, checked now rather than at a commit
                session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
            for name, rows in added_rows(before, _rows(session)).items():
                found.setdefault(name, []).extend({"case": iid} | r for r in rows)
            session.rollback()
    return found


@pytest.fixture
def snapshots(stored: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Snapshot]]:
    yield {name: _through(stored.app, stored, monkeypatch, make) for name, make in _writers().items()}


def test_every_writer_stores_the_same_rows(snapshots: dict[str, Snapshot]) -> None:
    reference = snapshots["plain"]
    # What a new version writes, in every case: its record, version, audit event and queued jobs;
    # files where it has them. A writer that stored nothing would otherwise compare equal to nothing.
    for table in ("submissions", "submission_versions", "audit_events", "submission_attachments", "blobs"):
        assert reference.get(table), table
    assert {r["case"] for r in reference["submissions"]} == {c[0] for c in CASES}
    flags = {r["case"]: r["flag_codes"] for r in reference["submissions"]}
    assert flags["uuid:parity-1"] == " likely_duplicate "
    assert flags["uuid:parity-2"] == " attachments_missing likely_duplicate "
    assert flags["uuid:parity-3"] == ""
    for name, snapshot in snapshots.items():
        assert differences(reference, snapshot) == [], name


def test_the_comparison_sees_a_change_in_any_column(snapshots: dict[str, Snapshot]) -> None:
    """The comparison is not blind: changing any one column of any one row is reported."""
    reference = snapshots["plain"]
    for name, rows in reference.items():
        for column in rows[0]:
            changed = {k: [dict(r) for r in v] for k, v in reference.items()}
            changed[name][0][column] = "something else"
            assert differences(reference, changed), (name, column)


def test_new_columns_are_compared() -> None:
    """Columns come from the model's metadata: a column the model gains is in the comparison."""
    table = Submission.__table__
    assert isinstance(table, sa.Table)
    before = {"submissions": []}  # type: ignore[var-annotated]
    row = {c.name: None for c in table.c} | {"id": 1, "instance_id": "uuid:x"}
    after = {"submissions": [row]}
    assert set(added_rows(before, after)["submissions"][0]) == {c.name for c in table.c}


def test_one_schema_cache_serves_every_writer(world: World) -> None:
    """What the batch derived from a form version (compiled schema, quality fields, entity
    declarations) is what the device path then uses: after a batch, a device's first submission of
    that version reads nothing of the version from the database."""
    from app.auth import probe_cache
    from app.services import version_cache
    from tests.app.batch_helpers import make_zip
    from tests.app.openrosa_helpers import device_token, post_submission, root
    from tests.app.test_openrosa_hot_path import counted_statements

    publish_xml(world, SIMPLE_FORM)
    version_cache._CACHE.clear()  # as a new process would start
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=make_zip({"one": {"one.xml": instance("uuid:cache-1", photo="")}}),
        content_type="application/zip",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200 and res.json["counts"] == {"created": 1}, res.json  # type: ignore[index]
    kinds = {kind for kind, _id, _sha in version_cache._CACHE}
    assert {"compiled", "quality.fields", "entities"} <= kinds, kinds
    probe_cache.forget_all()
    device = root(world, device_token(world)["token"])
    with counted_statements(world) as statements:
        assert post_submission(world, device, instance("uuid:cache-2", photo="")).status_code == 201
    reads = [s for s in statements if "form_versions.schema" in s or "form_versions.xml" in s]
    assert not reads, reads
