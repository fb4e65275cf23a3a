"""Engines for SQLite (embedded default) and PostgreSQL (teams), set up for many writers.

SQLite: WAL, `synchronous=NORMAL`, foreign keys on, and `BEGIN IMMEDIATE` for write transactions
(the only setup that gave zero "database is locked" errors and no lost updates with several
processes doing read-then-write; see shared/STREAMLIT.md). Deferred BEGIN is kept for reads, so
readers never queue behind writers.
PostgreSQL: psycopg 3, pre-ping so a restarted server is reconnected without restarting the app.

Both pools hold more connections than the app has concurrent sessions (Streamlit serves each
browser tab from a thread of one process): with fewer, threads that find the pool empty wait
behind those queued on SQLite's write lock, unfairly, and fail after the pool's 30 s timeout
(bench/e2e found this with 32 labelers and the default 5 + 10).
"""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# Connections kept open, and opened on demand beyond them (PostgreSQL allows 100 by default).
POOL_SIZE = 16
POOL_OVERFLOW = 48


def normalize_url(url: str) -> str:
    """Pick psycopg 3 for bare `postgresql://` URLs (SQLAlchemy would otherwise want psycopg2)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def create_store_engine(url: str, **kwargs) -> Engine:
    """Create the engine for `url` with the pragmas and transaction modes the services rely on."""
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", _json_dumps)  # JSON columns are hot on import and export
    kwargs.setdefault("json_deserializer", orjson.loads)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **kwargs)


def _sqlite_engine(url: str, **kwargs) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DBAPI hook
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
        # cache_size: 64 MiB of page cache (the default 2 MiB makes index inserts on hash keys
        # miss the cache and halves import speed).
        pragmas = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000",
                   "cache_size=-65536")
        for pragma in pragmas:
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001 - engine hook
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, taking SQLite's write lock at BEGIN (a no-op option on PostgreSQL)."""
    return engine.execution_options(sqlite_immediate=True)
