"""Fixtures: real databases on both backends, and the environment every edge reads.

`db_url` is parametrized over SQLite (a migrated template file copied per test: fast) and a real
PostgreSQL server that the test run starts itself (one database per xdist worker, migrated once,
truncated after each test). Without PostgreSQL binaries the postgres cases skip with the reason,
except under CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import create_store_engine
from db.migrate import upgrade
from db.models import Base
from labeler.services import get_engine
from tests.fake_openai import FakeOpenAI
from tests.pgserver import PostgresServer, PostgresUnavailable, start_postgres

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# CLI output is checked as text: one console width everywhere, so long paths never wrap a phrase apart.
os.environ["COLUMNS"] = "200"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_store_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def postgres_or_skip(durable: bool = False) -> PostgresServer:
    """Start a server; without PostgreSQL, skip with the reason (a laptop) or fail (CI=true)."""
    try:
        return start_postgres(durable=durable)
    except PostgresUnavailable as e:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unavailable: {e}")
        pytest.skip(f"PostgreSQL tests skipped: {e}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this test process (or the one named by the environment)."""
    server = postgres_or_skip()
    yield server
    get_engine.cache_clear()
    server.stop()


@pytest.fixture(scope="session")
def pg_database(pg_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A migrated database for this test process (one per xdist worker; also runs without xdist)."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    name = f"labeler_test_{worker}"
    admin = create_store_engine(pg_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = pg_server.url_for(name)
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _truncate_all(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated, empty database on each backend; LABELER_DATABASE_URL points at it."""
    if request.param == "sqlite":
        path = tmp_path / "labeler.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
    monkeypatch.setenv("LABELER_DATABASE_URL", url)
    yield url
    if request.param == "sqlite":
        get_engine(url).dispose()
    else:
        _truncate_all(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Only SQLite: for tests of SQLite-specific behaviour."""
    path = tmp_path / "labeler.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LABELER_DATABASE_URL", url)
    yield url
    get_engine(url).dispose()


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A local OpenAI-compatible server; OPENAI_BASE_URL and OPENAI_API_KEY point at it."""
    with FakeOpenAI() as api:
        monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", api.api_key)
        yield api
