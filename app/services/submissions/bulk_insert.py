"""Many rows at once, fast on PostgreSQL. Two ways, same result:

- ``copy_rows``: ``COPY ... FROM STDIN (FORMAT BINARY)`` on the request's own connection and transaction
  (so it commits or rolls back with everything else). The fastest load PostgreSQL offers: no SQL to
  parse per row and no text escaping on the client. The batch endpoint uses it.
- ``insert_rows``: one plain INSERT per table whose parameters are one array per column
  (``INSERT ... SELECT * FROM unnest(...)``). A multi-row VALUES with thousands of placeholders spends
  most of its time being rewritten by the driver, and an executemany pays the server's per-statement
  cost for every row. The batch benchmark uses it as its floor ("a plain bulk INSERT").

SQLite takes a plain executemany for both.

Rows are dicts of Python values as the ORM would bind them (datetimes aware, JSON as objects).
"""

from __future__ import annotations

import json
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.models import Submission, SubmissionVersion

_PG = postgresql.dialect()


def _pg_type(column: sa.Column[Any]) -> str:
    ctype = column.type
    if isinstance(ctype, sa.types.TypeDecorator):
        ctype = ctype.load_dialect_impl(_PG)
    elif hasattr(ctype, "_variant_mapping") and "postgresql" in ctype._variant_mapping:
        ctype = ctype._variant_mapping["postgresql"]
    name = ctype.compile(dialect=_PG)
    return name.split("(")[0]  # VARCHAR(255)[] -> VARCHAR[]: lengths are checked by the column


def _value(column_type: str, value: Any) -> Any:
    if column_type in {"JSON", "JSONB"}:
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def insert_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), rows)
        return
    names = list(rows[0])
    types = {n: _pg_type(table.c[n]) for n in names}
    arrays = {f"a{i}": [_value(types[n], r.get(n)) for r in rows] for i, n in enumerate(names)}
    casts = ", ".join(
        f"CAST(:a{i} AS {'TEXT' if types[n] in {'JSON', 'JSONB'} else types[n]}[])"
        for i, n in enumerate(names)
    )
    selects = ", ".join(
        f"c{i}::{types[n]}" if types[n] in {"JSON", "JSONB"} else f"c{i}" for i, n in enumerate(names)
    )
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    columns = ", ".join(f'"{n}"' for n in names)
    session.execute(
        sa.text(
            # Names come from the model's table, never from input; values are bound parameters.
            f'INSERT INTO "{table.name}" ({columns}) SELECT {selects} FROM unnest({casts}) AS t({aliases})'  # noqa: S608
        ),
        arrays,
    )


def copy_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), rows)
        return
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    # Names come from the model's table, never from input; values travel as binary COPY data.
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            # JSON columns take the Python objects: psycopg's jsonb dumper encodes them.
            copy.set_types([_pg_type(table.c[n]).lower() for n in names])
            for row in rows:
                copy.write_row([row.get(n) for n in names])
    except psycopg.IntegrityError as err:
        # The driver's own error, raised past SQLAlchemy: give callers the exception they handle for
        # a lost race (a racing request stored the same instanceID first).
        raise sa.exc.IntegrityError(statement, None, err) from err


def insert_returning_ids(
    session: Session, table: sa.Table, rows: list[dict[str, Any]], *, copy: bool = False
) -> list[int]:
    """Insert (``copy``: by COPY) and give back the new ids in row order."""
    if session.get_bind().dialect.name != "postgresql":
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(stmt, rows).scalars())
    ids = _next_ids(session, table, len(rows))
    with_ids = [{"id": i} | r for r, i in zip(rows, ids, strict=True)]
    (copy_rows if copy else insert_rows)(session, table, with_ids)
    return ids


def _next_ids(session: Session, table: sa.Table, n: int) -> list[int]:
    return list(
        session.scalars(
            sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n},
        )
    )


def refresh_planner_statistics(session: Session, tables: list[sa.Table]) -> None:
    """ANALYZE tables that grew far past what the planner last measured (PostgreSQL's advice after a
    bulk load). A table that went from empty to thousands of rows between two autovacuum runs is
    planned as if it were tiny: the batch classification then scans every row instead of probing the
    (form_id, instance_id) index, and each batch gets slower than the last. Cheap: ANALYZE samples."""
    if session.get_bind().dialect.name != "postgresql":
        return
    rows = session.execute(
        sa.text(
            "SELECT c.relname, c.reltuples, coalesce(s.n_live_tup, 0) FROM pg_class c "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relname = ANY(:names) AND c.relkind = 'r' AND pg_table_is_visible(c.oid)"
        ),
        {"names": [t.name for t in tables]},
    ).all()
    for name, measured, live in rows:
        if live > 2 * max(measured, 0) + 1000:
            session.execute(sa.text(f'ANALYZE "{name}"'))


def insert_submissions_with_versions(
    session: Session, submissions: list[dict[str, Any]], versions: list[dict[str, Any]]
) -> list[int]:
    """Insert new submissions and their one version each (rows in the same order); returns the
    version ids. PostgreSQL: ids drawn from the sequences first, each submission inserted already
    pointing at its version (the key is checked at the commit, migration 0008), both tables by COPY.
    SQLite: insert, then point each submission at its version with one UPDATE."""
    S, SV = cast(sa.Table, Submission.__table__), cast(sa.Table, SubmissionVersion.__table__)
    if session.get_bind().dialect.name != "postgresql":
        sub_ids = insert_returning_ids(session, S, submissions)
        ver_ids = insert_returning_ids(
            session, SV, [v | {"submission_id": i} for v, i in zip(versions, sub_ids, strict=True)]
        )
        set_current_versions(session, sub_ids, ver_ids)
        return ver_ids
    sub_ids, ver_ids = _next_ids(session, S, len(submissions)), _next_ids(session, SV, len(versions))
    copy_rows(
        session,
        S,
        [
            {"id": i, "current_version_id": v} | r
            for r, i, v in zip(submissions, sub_ids, ver_ids, strict=True)
        ],
    )
    copy_rows(
        session,
        SV,
        [{"id": v, "submission_id": i} | r for r, i, v in zip(versions, sub_ids, ver_ids, strict=True)],
    )
    return ver_ids


def set_current_versions(session: Session, submission_ids: list[int], version_ids: list[int]) -> None:
    """Point each new submission at its one version (the two tables reference each other, so this
    is the one UPDATE after both INSERTs): one statement on either database."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text(
                "UPDATE submissions AS s SET current_version_id = v.vid "
                "FROM unnest(CAST(:s AS INTEGER[]), CAST(:v AS INTEGER[])) AS v(sid, vid) WHERE s.id = v.sid"
            ),
            {"s": submission_ids, "v": version_ids},
        )
        return
    S, SV = cast(sa.Table, Submission.__table__), cast(sa.Table, SubmissionVersion.__table__)
    session.execute(
        sa.update(S)
        .where(S.c.id.in_(submission_ids))
        .values(current_version_id=sa.select(SV.c.id).where(SV.c.submission_id == S.c.id).scalar_subquery())
    )
