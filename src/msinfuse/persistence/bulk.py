"""Bulk writes for generated data (the demo clinic, benchmarks): many rows per statement,
explicit primary keys, no ORM unit of work.

Rows carry their own ids (allocated from :func:`next_ids`), so related rows can be written
in one pass; :func:`reset_sequences` then moves PostgreSQL's id sequences past them. The
caller owns the transaction, as everywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from msinfuse.persistence import models  # noqa: F401  (registers every table)
from msinfuse.persistence.base import Base

#: Rows per INSERT ... VALUES statement batch.
CHUNK = 5000

#: The roots of the clinic's data: every table that refers to one of them (directly or
#: through another) holds clinic data too. Staff accounts, their tokens and the
#: append-only audit log are not clinic data.
ROOTS = ("patients", "sites")


def table(name: str) -> Table:
    """The mapped table called ``name``."""
    return Base.metadata.tables[name]


def clinic_tables() -> list[Table]:
    """Every table holding clinic data (the roots and every table that refers to them),
    parents before children."""
    names = set(ROOTS)
    grew = True
    while grew:
        grew = False
        for t in Base.metadata.sorted_tables:
            if t.name not in names and any(fk.column.table.name in names for fk in t.foreign_keys):
                names.add(t.name)
                grew = True
    return [t for t in Base.metadata.sorted_tables if t.name in names]


def next_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """The first free ``id`` of each table (1 for an empty table)."""
    out = {}
    for name in names:
        t = table(name)
        out[name] = (session.scalar(select(func.max(t.c.id))) or 0) + 1
    return out


def insert_rows(
    session: Session, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples of values for ``columns``) into table ``name``: PostgreSQL
    through COPY, SQLite through one prepared statement run for every row, with the value
    conversions SQLAlchemy applies (dates, times, booleans, JSON)."""
    if not rows:
        return
    t = table(name)
    cols = [t.c[key] for key in columns]
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        _copy(connection, t.name, cols, rows)
        return
    converters = [
        (index, proc)
        for index, proc in enumerate(
            c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols
        )
        if proc is not None
    ]
    if dialect.name != "sqlite":  # pragma: no cover - the two supported databases are above
        statement = insert(t)
        keys = list(columns)
        for start in range(0, len(rows), CHUNK):
            batch = rows[start : start + CHUNK]
            session.execute(statement, [dict(zip(keys, row, strict=True)) for row in batch])
        return
    sql = f"INSERT INTO {t.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), CHUNK):
        batch = rows[start : start + CHUNK]
        if converters:
            converted = []
            for row in batch:
                values = list(row)
                for index, proc in converters:
                    if values[index] is not None:
                        values[index] = proc(values[index])
                converted.append(tuple(values))
            batch = converted
        connection.exec_driver_sql(sql, list(batch))


def _copy(connection: Any, name: str, cols: list[Any], rows: Sequence[Sequence[Any]]) -> None:
    driver = connection.connection.driver_connection
    json_indexes = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {name} ({', '.join(c.key for c in cols)}) FROM STDIN") as copy,
    ):
        for row in rows:
            if json_indexes:
                values = list(row)
                for index in json_indexes:
                    values[index] = json.dumps(values[index])
                row = values
            copy.write_row(row)


def reset_sequences(session: Session, names: Iterable[str]) -> None:
    """Move each table's id sequence past its largest id (PostgreSQL; SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in names:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )


def clear_tables(session: Session) -> None:
    """Empty every clinic table (:func:`clinic_tables`); the audit log, staff accounts and
    their tokens stay. PostgreSQL truncates (and restarts the id sequences); SQLite deletes, children
    first."""
    tables = clinic_tables()
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        return
    for t in reversed(tables):
        session.execute(t.delete())
