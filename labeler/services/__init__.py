"""The service layer: every rule lives here, as plain functions `verb_noun(session, actor, ...)`.

Services never commit: the edge (a CLI command, a page, a test) owns the transaction through
`session_scope()`. The app and the CLI get their sessions here, so neither imports `db`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db.engine import create_store_engine, writer
from db.migrate import current_revision, head_revision
from labeler.config import get_settings
from labeler.errors import Conflict


def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL per process (the URL defaults to `LABELER_DATABASE_URL`, read now)."""
    return _engine_for(url or get_settings().database_url)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
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
    """
    engine = get_engine(url or database_url())
    session = Session(bind=writer(engine) if write else engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as e:
        session.rollback()
        if "database is locked" in str(e.orig) or "database is busy" in str(e.orig):
            where = engine.url.database or engine.url.render_as_string(hide_password=True)
            raise Conflict(f"the database `{where}` is locked by another process (it stayed busy longer than the "
                           "wait for it): try again, or stop the process that holds it") from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ensure_migrated(url: str | None = None) -> None:
    """Raise a clear error when the database is not at the newest schema."""
    engine = get_engine(url or database_url())
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise Conflict(
            f"the database is at schema revision `{current or 'none'}`, this version needs `{head}`: "
            "run `labeler db upgrade` (or `labeler init`)"
        )
