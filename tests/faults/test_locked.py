"""Another process holding the SQLite write lock: writers get a clear message, not a traceback.

The store waits for the lock (busy_timeout, 30 s in production); here the wait is shortened by an extra
connect hook on the test's engine, so the test sees what a user sees when the wait runs out.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from labeler.cli import app
from labeler.errors import Conflict
from labeler.services import get_engine, session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import create_project, list_projects
from tests.factories import make_project
from tests.faults.conftest import sqlite_path

HOLDER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test lets go
    conn.execute("ROLLBACK")
""")


@pytest.fixture
def locked(sqlite_url: str) -> Iterator[str]:
    """The database file exclusively locked by another process; the store's lock wait cut to 0.2 s."""
    make_project("p")
    engine = get_engine(sqlite_url)
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_conn, _record):  # noqa: ANN001 - runs after the store's own pragmas
        dbapi_conn.execute("PRAGMA busy_timeout=200")

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(sqlite_path(sqlite_url))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    try:
        yield sqlite_url
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        event.remove(engine, "connect", _short_wait)
        engine.dispose()


def test_a_service_write_on_a_locked_database_is_a_clear_conflict(locked: str) -> None:
    with pytest.raises(Conflict, match="locked by another process") as caught, session_scope() as s:
        create_project(s, OPERATOR, "q", "g", {})
    assert "Traceback" not in str(caught.value)
    assert str(sqlite_path(locked)) in str(caught.value)


def test_the_cli_says_the_database_is_locked_without_a_traceback(locked: str) -> None:
    result = CliRunner().invoke(app, ["project", "create", "q"], catch_exceptions=True)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "locked by another process" in result.output
    assert "Traceback" not in result.output


def test_the_lock_going_away_lets_writes_through(sqlite_url: str) -> None:
    make_project("p")
    with session_scope() as s:
        create_project(s, OPERATOR, "q", "g", {})
    with session_scope(write=False) as s:
        assert {p.name for p in list_projects(s, OPERATOR)} == {"p", "q"}
