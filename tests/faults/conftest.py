"""Helpers for fault-injection tests: run the real CLI in a child process, kill it, inspect the store.

SQLite is inspected through a plain sqlite3 connection; PostgreSQL through a fresh SQLAlchemy engine,
on a database of the test's own (a killed client's backend lingers until the server notices).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.engine import create_store_engine
from labeler.services import get_engine
from labeler.services.admin import upgrade_database

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from labeler.cli import main; main()"]


def cli_process(url: str, *args: str, export_dir: Path | None = None, **popen) -> subprocess.Popen:
    """`labeler ARGS` in a child process against `url`."""
    env = dict(os.environ, LABELER_DATABASE_URL=url, PYTHONUNBUFFERED="1", COLUMNS="200")
    if export_dir is not None:
        env["LABELER_EXPORT_DIR"] = str(export_dir)
    return subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, **popen)


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """SIGKILL `proc` as soon as `ready()` holds; fail if it finished (or never got there) first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended (rc {proc.returncode}) before it could be killed mid-way")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: no progress signal within {timeout} s")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, f"{what}: finished before the kill landed"


@pytest.fixture(params=["sqlite", "postgres"])
def kill_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated, empty store on each backend for a kill test; LABELER_DATABASE_URL points at it.

    PostgreSQL: a database of its own on the session's server, dropped afterwards with whatever backend
    the killed child left behind (the worker's shared database is never left with a dead client's locks).
    """
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    server = request.getfixturevalue("pg_server")
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    name = f"labeler_kill_{worker}"
    admin = create_store_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.url_for(name)
    upgrade_database(url)
    monkeypatch.setenv("LABELER_DATABASE_URL", url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def pg_scalar(url: str, sql: str) -> object:
    """One value read on a fresh connection (not the app's pooled ones)."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def settle(url: str, timeout: float = 30.0) -> None:
    """PostgreSQL: wait until the killed client's backend has ended (and rolled back its transaction)."""
    if is_sqlite_url(url):
        return
    busy = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'")
    deadline = time.monotonic() + timeout
    while (n := pg_scalar(url, busy)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert n == 0, f"{n} backends of the killed client still busy after {timeout} s"


ORPHANS = {
    "candidates without a prompt":
        "SELECT count(*) FROM candidates c LEFT JOIN prompts p ON p.id = c.prompt_id WHERE p.id IS NULL",
    "rankings without a prompt":
        "SELECT count(*) FROM rankings r LEFT JOIN prompts p ON p.id = r.prompt_id WHERE p.id IS NULL",
    "ranking items without a ranking":
        "SELECT count(*) FROM ranking_items i LEFT JOIN rankings r ON r.id = i.ranking_id WHERE r.id IS NULL",
    "ranking items without a candidate":
        "SELECT count(*) FROM ranking_items i LEFT JOIN candidates c ON c.id = i.candidate_id "
        "WHERE c.id IS NULL",
    "rankings without items":
        "SELECT count(*) FROM rankings r WHERE NOT EXISTS (SELECT 1 FROM ranking_items i "
        "WHERE i.ranking_id = r.id) AND r.status != 'draft'",
    "demonstrations without a prompt":
        "SELECT count(*) FROM demonstrations d LEFT JOIN prompts p ON p.id = d.prompt_id WHERE p.id IS NULL",
}


def consistency_problems(url: str) -> list[str]:
    """Integrity, foreign keys and orphans of the store (SQLite or PostgreSQL)."""
    return _sqlite_problems(url) if is_sqlite_url(url) else _postgres_problems(url)


def _sqlite_problems(url: str) -> list[str]:
    """Read by a plain sqlite3 connection."""
    conn = sqlite3.connect(sqlite_path(url))
    try:
        problems = []
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            problems.append(f"integrity_check: {check[:5]}")
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {fk[:5]}")
        for what, sql in ORPHANS.items():
            n = conn.execute(sql).fetchone()[0]
            if n:
                problems.append(f"{n} {what}")
        return problems
    finally:
        conn.close()


# amcheck (shipped with Debian's server package): every B-tree index against its table, and every table's heap.
_AMCHECK_INDEXES = """
    SELECT count(bt_index_check(c.oid, true)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.amname = 'btree' AND n.nspname = 'public'
"""
_AMCHECK_HEAPS = """
    SELECT c.relname, v.msg FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
    LATERAL verify_heapam(c.oid) v WHERE c.relkind = 'r' AND n.nspname = 'public'
"""


def _postgres_problems(url: str) -> list[str]:
    """Read through a fresh SQLAlchemy engine: amcheck, unvalidated foreign keys, then the same orphan queries
    (PostgreSQL enforces foreign keys, but a half import could still leave rows without their children)."""
    engine = create_store_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            problems = []
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
            try:
                conn.execute(text(_AMCHECK_INDEXES))
            except DBAPIError as e:  # amcheck raises on the first corrupt index
                problems.append(f"bt_index_check: {e.orig}")
            heap = conn.execute(text(_AMCHECK_HEAPS)).all()
            if heap:
                problems.append(f"verify_heapam: {heap[:5]}")
            unchecked = conn.execute(text("SELECT conname FROM pg_constraint WHERE contype = 'f' "
                                          "AND NOT convalidated")).scalars().all()
            if unchecked:
                problems.append(f"foreign keys not validated: {unchecked[:5]}")
            for what, sql in ORPHANS.items():
                if n := conn.execute(text(sql)).scalar():
                    problems.append(f"{n} {what}")
            return problems
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    if not is_sqlite_url(url):
        return pg_scalar(url, f"SELECT count(*) FROM {table}")  # noqa: S608 - a fixed table name
    conn = sqlite3.connect(sqlite_path(url))
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - a fixed table name
    finally:
        conn.close()
