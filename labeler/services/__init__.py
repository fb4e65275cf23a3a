"""The service layer: every rule lives here, as plain functions `verb_noun(session, actor, ...)`.

Services never commit: the edge (a CLI command, a page, a test) owns the transaction through
`session_scope()`. The app and the CLI get their sessions here, so neither imports `db`.

Importing this package imports no SQLAlchemy (the functions below do, when first called): a CLI
command that answers without the ORM (`labeler stats` on SQLite, services/quick_stats.py) starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from db.migrate import current_revision, head_revision
from labeler.config import get_settings
from labeler.errors import Conflict, Unavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session


def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL per process (the URL defaults to `LABELER_DATABASE_URL`, read now)."""
    return _engine_for(url or get_settings().database_url)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    from db.engine import create_store_engine

    return create_store_engine(url)


get_engine.cache_clear = _engine_for.cache_clear  # type: ignore[attr-defined]  # tests reset engines


def database_url() -> str:
    """The configured database URL."""
    return get_settings().database_url


@contextmanager
def session_scope(url: str | None = None, *, write: bool = True) -> Iterator[Session]:
    """A session committed on success and rolled back on any error.

    `write=True` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE), which avoids "database is
    locked" when two writers read-then-write; pure reads pass `write=False` and never wait.
    A lost PostgreSQL server becomes `Unavailable`, whether it shows at connect, on a query or at commit.
    """
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session

    from db.engine import writer

    engine = get_engine(url or database_url())
    session = Session(bind=writer(engine) if write else engine, expire_on_commit=False)
    committing = False
    try:
        yield session
        committing = True
        session.commit()
    except DBAPIError as e:
        session.rollback()
        if "database is locked" in str(e.orig) or "database is busy" in str(e.orig):
            where = engine.url.database or engine.url.render_as_string(hide_password=True)
            raise Conflict(f"the database `{where}` is locked by another process (it stayed busy longer than the "
                           "wait for it): try again, or stop the process that holds it") from None
        if error := unavailable(engine, e, committing=committing):
            raise error from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Lower-cased fragments of driver messages that mean "the server is gone or not accepting connections",
# each with the short reason shown to the user (never the raw message: it may name more than host and port).
_UNREACHABLE = (
    ("connection refused", "connection refused"),
    ("terminating connection", "the server is restarting or was stopped"),
    ("the database system is shutting down", "the server is shutting down"),
    ("the database system is starting up", "the server is starting up"),
    ("the database system is in recovery mode", "the server is recovering from a crash"),
    ("the database system is not yet accepting connections", "the server is starting up"),
    ("server closed the connection unexpectedly", "the server closed the connection"),
    ("consuming input failed", "the server closed the connection"),
    ("the connection is closed", "the connection was lost"),
    ("timeout expired", "the connection timed out"),
    ("could not connect", "cannot connect"),
    ("no route to host", "no route to host"),
    ("could not translate host name", "unknown host name"),
    ("connection reset", "the connection was reset"),
    ("broken pipe", "the connection was lost"),
    ("connection failed", "cannot connect"),
)


def unavailable(engine: Engine, error: DBAPIError, *, committing: bool = False) -> Unavailable | None:
    """The clear error for a database server that cannot be reached; None when `error` is something else."""
    from db.engine import is_sqlite

    if is_sqlite(engine):
        return None
    message = str(error.orig).lower()
    reason = next((why for fragment, why in _UNREACHABLE if fragment in message), None)
    if reason is None and error.connection_invalidated:
        reason = "the connection was lost"
    if reason is None:
        return None
    where = f"{engine.url.host or 'localhost'}:{engine.url.port or 5432}"
    outcome = ("your last change may not have been saved: check it, then try again" if committing
               else "your work was not saved; try again")
    return Unavailable(f"the database server at {where} is not reachable ({reason}): {outcome} in a moment")


@contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Turn a lost database server into `Unavailable` for work done outside `session_scope` (migrations)."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as e:
        if error := unavailable(engine, e):
            raise error from None
        raise


def ensure_migrated(url: str | None = None) -> None:
    """Raise a clear error when the database is not at the newest schema."""
    engine = get_engine(url or database_url())
    with reachable(engine):
        current, head = current_revision(engine), head_revision()
    if current != head:
        raise Conflict(
            f"the database is at schema revision `{current or 'none'}`, this version needs `{head}`: "
            "run `labeler db upgrade` (or `labeler init`)"
        )
