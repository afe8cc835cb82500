"""The submission hot path (issue 3's benchmark work), on both databases: the number of SQL statements a
new submission costs is pinned, the HEAD probe's short memory never outlives a revoke, and the lean
multipart reader reads exactly what Werkzeug's parser reads (or hands the body over to it)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy import event, func, select, text
from urllib3 import encode_multipart_formdata
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from app.auth import probe_cache
from app.db import get_database
from app.models import AuditEvent, Submission, SubmissionAttachment, SubmissionVersion
from app.web.openrosa import multipart
from app.web.openrosa.views import BODY_FIRST_MAX_BYTES
from tests.app.conftest import DB_KIND, PG_URL, World
from tests.app.openrosa_helpers import (
    OR_HEADERS,
    SIMPLE_FORM,
    device_token,
    instance,
    post_submission,
    publish_xml,
    root,
)

UUID = "uuid:99999999-2222-3333-4444-555555555555"


@contextmanager
def counted_statements(world: World) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: transaction control
            statements.append(statement)

    engine = get_database(world.app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def device(world: World) -> str:
    publish_xml(world, SIMPLE_FORM)
    probe_cache.forget_all()
    return root(world, device_token(world)["token"])


# --- statements per submission ------------------------------------------------------------------------


def test_new_submission_costs_a_fixed_number_of_statements(world: World, device: str) -> None:
    """A regression guard: token, project, form, version, permission and what is stored (1), whether a
    purge of the form deleted this instanceID for good (1, an index lookup: tombstones), then
    INSERT record, INSERT version, UPDATE its current version, INSERT audit event (4; PostgreSQL writes
    the four in one statement), INSERT the jobs it causes (1). A photo adds its blob row and the
    attachment rows (2). The HEAD probe right before is answered from memory (0)."""
    assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
    # The first submission of a form version in a process also reads the version's schema once.
    assert post_submission(world, device, instance("uuid:warm-up", photo="")).status_code == 201
    with counted_statements(world) as plain:
        assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
        res = post_submission(world, device, instance(UUID, photo=""))
    assert res.status_code == 201, res.data
    assert len(plain) == (4 if DB_KIND == "postgresql" else 7), plain
    with counted_statements(world) as with_photo:
        res = post_submission(world, device, instance(UUID[:-1] + "6"), {"a.jpg": b"jpeg bytes"})
    assert res.status_code == 201, res.data
    assert len(with_photo) == (6 if DB_KIND == "postgresql" else 9), with_photo
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        record = s.scalars(select(Submission).where(Submission.instance_id == UUID[:-1] + "6")).one()
        version = s.get(SubmissionVersion, record.current_version_id)
        assert version is not None and version.submission_id == record.id
        assert (record.attachments_expected, record.attachments_present) == (1, 1)
        assert record.instance_name is None and record.review_state == "received"
        assert version.values["age"] == 30 and version.device_id == "collect:ABCDEFGH12345678"
        assert s.scalar(select(func.count()).select_from(SubmissionAttachment)) == 1
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "submission.create")).all()
        assert [e.details["files"] for e in events] == [[], [], ["a.jpg"]]
        assert all(e.actor_app_user_id is not None and e.project_id == world.project_id for e in events)
    # A body over BODY_FIRST_MAX_BYTES is read only after its token is checked: one query more.
    body, ctype = encode_multipart_formdata(
        [
            ("xml_submission_file", ("x.xml", instance(UUID[:-1] + "4"), "text/xml")),
            ("a.jpg", ("a.jpg", b"j" * BODY_FIRST_MAX_BYTES, "image/jpeg")),
        ]
    )
    with counted_statements(world) as with_big_photo:
        res = world.client.post(
            f"{device}/submission", data=body, headers={**OR_HEADERS, "Content-Type": ctype}
        )
    assert res.status_code == 201, res.data
    assert len(with_big_photo) == len(with_photo) + 1, with_big_photo


def test_resend_and_edit_keep_their_rules(world: World, device: str) -> None:
    """The fast path is only for a first version in no chain: resends, conflicts and edits still go
    through the full rules."""
    xml = instance(UUID, photo="a.jpg")
    assert post_submission(world, device, xml).status_code == 201
    assert post_submission(world, device, xml).status_code == 202
    assert post_submission(world, device, xml, {"a.jpg": b"late photo"}).status_code == 201
    assert post_submission(world, device, instance(UUID, name="Other")).status_code == 409
    edit = instance(UUID[:-1] + "7", name="Ana Edited", deprecated=UUID)
    assert post_submission(world, device, edit).status_code == 201
    # An edit that arrived first, then the version it replaces: one record, the edit current.
    first_edit = instance("uuid:e2", name="B2", deprecated="uuid:e1")
    assert post_submission(world, device, first_edit).status_code == 201
    assert post_submission(world, device, instance("uuid:e1", name="B1", photo="")).status_code == 201
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        records = {r.instance_id: r for r in s.scalars(select(Submission))}
        assert set(records) == {UUID, "uuid:e1"}
        current = s.get(SubmissionVersion, records["uuid:e1"].current_version_id)
        assert current is not None and current.instance_id == "uuid:e2"
        assert records[UUID].review_state == "edited"
        # The edit did not send a.jpg again: the replaced version's file is carried forward (issue 15).
        assert (records[UUID].attachments_expected, records[UUID].attachments_present) == (1, 1)


# --- the HEAD probe's memory ------------------------------------------------------------------------


def test_revoked_token_is_refused_at_once_even_after_a_remembered_probe(world: World, device: str) -> None:
    assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
    with counted_statements(world) as statements:
        assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
    assert statements == []  # answered from memory
    app_user_id = world.client.get(
        f"/v1/projects/{world.project_id}/app-users", headers=world.headers("admin")
    ).json[0]["id"]
    res = world.client.delete(
        f"/v1/projects/{world.project_id}/app-users/{app_user_id}", headers=world.headers("admin")
    )
    assert res.status_code == 200, res.json
    assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 401
    assert post_submission(world, device, instance(UUID)).status_code == 401


def test_the_post_checks_the_token_even_when_the_probe_is_remembered(world: World, device: str) -> None:
    """Another process may still remember a probe for up to its TTL; the POST never relies on it."""
    assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        from app.db import utcnow
        from app.models import AppUser

        for app_user in s.scalars(select(AppUser)):
            app_user.revoked_at = utcnow()  # behind this process's back, as another worker would
        s.commit()
    assert probe_cache.recently_allowed(device.split("/")[3], world.project_id)
    assert post_submission(world, device, instance(UUID)).status_code == 401
    probe_cache.forget_all()
    assert world.client.head(f"{device}/submission", headers=OR_HEADERS).status_code == 401


def test_probe_memory_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(probe_cache.time, "monotonic", lambda: now[0])
    probe_cache.forget_all()
    probe_cache.remember_allowed("tok", 1)
    assert probe_cache.recently_allowed("tok", 1)
    assert not probe_cache.recently_allowed("tok", 2)
    now[0] += probe_cache.TTL_SECONDS + 0.01
    assert not probe_cache.recently_allowed("tok", 1)


# --- the multipart reader ---------------------------------------------------------------------------


def _werkzeug(body: bytes, content_type: str) -> list[tuple[str, str | None, str | None, bytes]]:
    environ = EnvironBuilder(
        method="POST", input_stream=io.BytesIO(body), content_type=content_type, content_length=len(body)
    ).get_environ()
    _stream, form, files = parse_form_data(environ)
    fields = [(name, None, None, value.encode()) for name, value in form.items(multi=True)]
    stored = [(name, f.filename, f.mimetype or None, f.read()) for name, f in files.items(multi=True)]
    for f in files.values():
        f.close()
    return sorted(fields + stored, key=repr)


def _lean(body: bytes, content_type: str) -> list[tuple[str, str | None, str | None, bytes]] | None:
    parts = multipart.parse(body, content_type)
    if parts is None:
        return None
    return sorted(((p.name, p.filename, p.content_type, p.data) for p in parts), key=repr)


def _bodies() -> Iterator[tuple[str, bytes, str]]:
    xml = instance(UUID, name="Ñandú \u00e9t\u00e9")
    photo = os.urandom(4096) + b"\r\n--not-the-boundary\r\n" + os.urandom(100)
    body, ctype = encode_multipart_formdata(
        [
            ("xml_submission_file", ("xml_submission_file.xml", xml, "text/xml")),
            ("a.jpg", ("a.jpg", photo, "image/jpeg")),
            ("*isIncomplete*", "yes"),
        ]
    )
    yield "urllib3 (Collect-like)", body, ctype
    prepared = requests.Request(
        "POST",
        "http://x/",
        files={"xml_submission_file": ("x.xml", xml, "text/xml; charset=utf-8"), "b": ("b.png", b"")},
        data={"deviceID": "collect:1"},
    ).prepare()
    assert isinstance(prepared.body, bytes)
    yield "requests", prepared.body, prepared.headers["Content-Type"]
    builder = EnvironBuilder(
        method="POST",
        data={
            "xml_submission_file": (io.BytesIO(xml), "xml_submission_file.xml", "text/xml"),
            "f\u00f6to.jpg": (io.BytesIO(b"\x00\x01"), "f\u00f6to.jpg", "application/octet-stream"),
        },
    )
    environ = builder.get_environ()
    yield "werkzeug test client", environ["wsgi.input"].read(), environ["CONTENT_TYPE"]
    yield "a field, no files", *encode_multipart_formdata([("xml_submission_file", xml.decode())])
    yield "empty filename", *encode_multipart_formdata([("photo", ("", b"bytes", "image/jpeg"))])


@pytest.mark.parametrize("label", [b[0] for b in _bodies()])
def test_lean_multipart_reads_what_werkzeug_reads(label: str) -> None:
    _label, body, ctype = next(b for b in _bodies() if b[0] == label)
    lean = _lean(body, ctype)
    assert lean is not None, "a plain body must be read by the lean reader"
    assert lean == _werkzeug(body, ctype)


def test_unusual_bodies_are_left_to_werkzeug() -> None:
    body, ctype = encode_multipart_formdata([("xml_submission_file", ("x.xml", b"<data/>", "text/xml"))])
    assert multipart.parse(body.replace(b"\r\n", b"\n"), ctype) is None  # bare LF lines
    assert multipart.parse(b"preamble\r\n" + body, ctype) is None
    assert multipart.parse(body[: body.rindex(b"--")], ctype) is None  # no close delimiter
    assert multipart.parse(body, "multipart/form-data; boundary=other") is None
    assert multipart.parse(body, "multipart/form-data") is None
    assert multipart.parse(body, "multipart/mixed; boundary=x") is None
    no_disposition = body.replace(b"Content-Disposition", b"X-Other")
    assert multipart.parse(no_disposition, ctype) is None


def test_a_body_with_bare_lf_lines_is_still_stored(world: World, device: str) -> None:
    """The fallback path through HTTP: the general parser reads what the lean one leaves."""
    xml = instance(UUID, photo="a.jpg")
    body, ctype = encode_multipart_formdata(
        [
            ("xml_submission_file", ("xml_submission_file.xml", xml, "text/xml")),
            ("a.jpg", ("a.jpg", b"jpeg", "image/jpeg")),
        ]
    )
    res = world.client.post(
        f"{device}/submission",
        data=body.replace(b"\r\n", b"\n"),
        headers={**OR_HEADERS, "Content-Type": ctype},
    )
    assert res.status_code == 201, res.data
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        record = s.scalars(select(Submission)).one()
        assert record.attachments_present == 1


# --- pooled connections: checked at checkout by the transaction's own BEGIN ---------------------------


def test_transactions_on_a_pooled_connection_keep_their_boundaries(world: World) -> None:
    """The BEGIN sent at checkout opens the first transaction; commits, rollbacks and the transactions
    after it behave as they always do, and no second BEGIN is sent (PostgreSQL would warn)."""
    engine = get_database(world.app).engine
    notices: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if DB_KIND == "postgresql":
            raw.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        conn.execute(text("CREATE TEMP TABLE probe (x integer)"))
        conn.commit()
        for value, keep in ((1, False), (2, True), (3, False), (4, True)):
            conn.execute(text("INSERT INTO probe VALUES (:x)"), {"x": value})
            conn.commit() if keep else conn.rollback()
        assert conn.scalars(text("SELECT x FROM probe ORDER BY x")).all() == [2, 4]
        conn.rollback()
    with engine.connect() as conn:  # the next checkout starts clean: nothing left open
        assert conn.scalar(text("SELECT 1")) == 1
    assert notices == []


def test_isolation_levels_apply_to_pooled_connections(world: World) -> None:
    """Changing the isolation level (AUTOCOMMIT for a VACUUM, SERIALIZABLE, read-only) on a connection or
    on the engine ends the unused BEGIN of the checkout first, so it works as on any engine."""
    engine = get_database(world.app).engine
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    for conn in (engine.connect().execution_options(isolation_level="AUTOCOMMIT"), autocommit.connect()):
        with conn:
            if DB_KIND == "postgresql":
                conn.exec_driver_sql("VACUUM ANALYZE audit_events")  # refused inside a transaction
            else:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    if DB_KIND == "postgresql":
        with engine.connect().execution_options(isolation_level="SERIALIZABLE") as conn:
            assert conn.scalar(text("SHOW transaction_isolation")) == "serializable"
        with engine.execution_options(postgresql_readonly=True).connect() as conn:
            assert conn.scalar(text("SHOW transaction_read_only")) == "on"
    with engine.connect() as conn:  # and the pool hands back plain read-committed, writable connections
        if DB_KIND == "postgresql":
            assert conn.scalar(text("SHOW transaction_isolation")) == "read committed"
            assert conn.scalar(text("SHOW transaction_read_only")) == "off"
        assert conn.scalar(text("SELECT count(*) FROM audit_events")) is not None


def test_a_submission_after_the_database_ended_the_pooled_connections(world: World, device: str) -> None:
    """A pooled connection the server ended is noticed at checkout (its BEGIN fails; on SQLite there is
    no server to end it) and replaced, so the device still gets its 201, not a 5xx."""
    assert post_submission(world, device, instance("uuid:before")).status_code == 201
    if DB_KIND == "postgresql":
        outside = sa.create_engine(str(PG_URL).replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with outside.connect() as conn:
                ended = conn.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
        finally:
            outside.dispose()
        assert ended, "the app's pooled connection should have been ended"
    assert post_submission(world, device, instance(UUID)).status_code == 201
