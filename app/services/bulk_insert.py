"""Many rows in one INSERT, fast on PostgreSQL: one statement per table whose parameters are one
array per column (``INSERT ... SELECT * FROM unnest(...)``). A multi-row VALUES with thousands of
placeholders spends most of its time being rewritten by the driver, and an executemany pays the
server's per-statement cost for every row. SQLite takes a plain executemany.

Rows are dicts of Python values as the ORM would bind them (datetimes aware, JSON as objects).
"""

from __future__ import annotations

import json
from typing import Any, cast

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


def insert_returning_ids(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert and give back the new ids in row order."""
    if session.get_bind().dialect.name != "postgresql":
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(stmt, rows).scalars())
    ids = list(
        session.scalars(
            sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": len(rows)},
        )
    )
    insert_rows(session, table, [r | {"id": i} for r, i in zip(rows, ids, strict=True)])
    return ids


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
