"""The import's bulk write path: rows as plain tuples, written in one driver call per table and batch.

Why not the ORM: an import of labelled data writes tens of thousands of rows per batch, and the
unit of work (an object per row, its identity map, cyclic ranking <-> item references) cost more
than everything else together and grew memory with the file. Here a batch is a list of tuples with
JSON already encoded; SQLite gets one executemany, PostgreSQL one COPY, both on the session's own
connection, so the edge's transaction still holds the whole import (all-or-nothing).
Rows that others must point at (candidates, rankings) get their ids reserved up front, so no
round trip is needed to learn them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from db.base import UTCDateTime, utcnow

# The tables the bulk path writes: their names (and the callers' column tuples) are the only text
# that goes into the SQL built here; every value goes as a parameter or a COPY row.
BULK_TABLES = frozenset({"prompts", "candidates", "rankings", "ranking_items", "demonstrations"})
ANALYZE_BULK_TABLES = "ANALYZE " + ", ".join(sorted(BULK_TABLES))  # fixed names, built once at import


def _checked(table: str) -> str:
    if table not in BULK_TABLES:
        raise ValueError(f"not a bulk table: {table!r}")
    return table


def write_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert `rows` (tuples in `columns` order, JSON pre-encoded) into `table` in one driver call."""
    table = _checked(table)
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def reserve_ids(conn: Connection, table: str, n: int) -> list[int]:
    """`n` fresh primary keys for `table`, to write rows that other rows of the batch refer to.

    PostgreSQL: from the table's own sequence (safe beside concurrent writers). SQLite: after the
    largest id, which is what SQLite itself would pick; the import holds SQLite's write lock
    (BEGIN IMMEDIATE), so no other writer can take them meanwhile.
    """
    table = _checked(table)
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        query = f"SELECT array_agg(nextval(pg_get_serial_sequence('{table}', 'id'))) FROM generate_series(1, %(n)s)"
        return conn.exec_driver_sql(query, {"n": n}).scalar_one()  # one row: no per-id fetch
    top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    return list(range(top + 1, top + n + 1))


def bound_now(conn: Connection) -> Any:
    """Now, as the driver expects a timestamp column's value (bind processing done once per batch)."""
    return bound_time(conn, utcnow())


def bound_time(conn: Connection, when: datetime) -> Any:
    """`when` (aware) as the driver expects a timestamp column's value."""
    column_type = UTCDateTime()
    value = column_type.process_bind_param(when, conn.dialect)
    processor = column_type.impl.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


@dataclass
class PlannerStats:
    """Keeps PostgreSQL's planner statistics in step with a long import's own (uncommitted) rows.

    Why: autovacuum cannot see rows a transaction has not committed, so during one big import the
    planner believes the tables are as small as before it began, and picks plans that scan every
    row the import has written so far for each batch's lookups (an import of 1,000,000 ranked prompts
    slowed down batch by batch). ANALYZE inside the transaction counts its own rows; running it each
    time the prompts grew fourfold costs a few tenths of a second in all. SQLite plans by its indexes.
    """

    next_at: int = 10_000

    def grown(self, session: Session, prompts_added: int) -> None:
        """Analyze the bulk tables once `prompts_added` passed the next threshold (PostgreSQL only)."""
        if prompts_added < self.next_at:
            return
        self.next_at = prompts_added * 4
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(ANALYZE_BULK_TABLES)
