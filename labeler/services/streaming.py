"""Rows of one big query, streamed with flat memory: what an export reads.

Why not `yield_per` everywhere: on PostgreSQL it reads through a server-side cursor, one FETCH round
trip per chunk, and the exporter sits idle while the server produces each chunk (about a third of a
large export's time). psycopg's chunked streaming (libpq 17 and later) lets the server send rows
while the exporter works on the ones before. A stream left early (a failed export, a preview)
cancels its query, which aborts the transaction: the stream runs inside a savepoint that is rolled
back then, so the session stays usable. Values come back as the driver reads them, without
SQLAlchemy's result processing: callers select plain columns (cast JSON to text) for that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

CHUNK = 2000


def stream_rows(session: Session, query: Select) -> Iterator[tuple[Any, ...]]:
    """The rows of `query` (tuples, or SQLAlchemy rows where it cannot stream), in its order, about
    `CHUNK` rows in memory at a time."""
    conn = session.connection()
    if conn.dialect.name != "postgresql" or not _can_stream(conn):
        for part in conn.execute(query, execution_options={"yield_per": CHUNK}).partitions():
            yield from part
        return
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    savepoint = session.begin_nested()
    cursor = session.connection().connection.dbapi_connection.cursor()
    rows = cursor.stream(str(compiled), compiled.params, size=CHUNK)
    finished = False
    try:
        yield from rows
        finished = True
    finally:
        rows.close()  # cancels the query if it was left early
        cursor.close()
        if savepoint.is_active:
            if finished:
                savepoint.commit()
            else:
                savepoint.rollback()


def _can_stream(conn: Any) -> bool:
    """psycopg 3 over libpq 17+ (chunked rows); an older libpq streams one row per message, slower
    than the server-side cursor."""
    try:
        import psycopg
    except ImportError:
        return False
    return conn.dialect.driver == "psycopg" and psycopg.pq.version() >= 170000
