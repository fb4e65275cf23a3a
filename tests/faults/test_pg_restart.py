"""PostgreSQL stopped and started while labelers submit: no acknowledged submission lost, no restart of the app.

A dedicated durable server (fsync on, so that what was acknowledged must survive even an immediate stop)
that the tests stop and start; the shared session server is never touched. Labeler threads lease and
submit through the services with the same cached engine the whole time: pre-ping reconnects them once
the server is back, and while it is down they get `Unavailable`, a clean error, and keep trying.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from db.models import Assignment, Demonstration, Ranking
from labeler.app import deps
from labeler.cli import app as cli_app
from labeler.errors import Conflict, LabelerError, Unavailable
from labeler.services import get_engine, session_scope
from labeler.services.admin import upgrade_database
from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.queue import next_task
from tests.app.conftest import app_as, errors, new_app
from tests.app.data import make_task_project
from tests.conftest import postgres_or_skip
from tests.factories import make_project, make_user
from tests.pgserver import PostgresServer
from tests.services.queue_data import add_prompts, audit_counters, cheap_passwords  # noqa: F401 - autouse fixture

PASSWORD = "not-a-real-secret-7f3a"  # in the URL: it must never appear in an error (trust auth ignores it)
REPLY = [{"role": "assistant", "content": "Here you go."}]
PER_ITEM = 2
_DATABASES = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own, so stopping it disturbs no other test."""
    server = postgres_or_skip(durable=True)
    yield server
    ensure_running(server)
    server.stop()


@pytest.fixture
def pg_url(server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh migrated database on the dedicated server; LABELER_DATABASE_URL points at it (with a password)."""
    name = f"restart_{next(_DATABASES)}"
    admin = get_engine(server.url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://labeler:{PASSWORD}@127.0.0.1:{server.port}/{name}"
    monkeypatch.setenv("LABELER_DATABASE_URL", url)
    upgrade_database(url)
    yield url
    ensure_running(server)
    get_engine(url).dispose()
    get_engine(server.url).dispose()


def ensure_running(server: PostgresServer) -> None:
    """Start the server if a test left it stopped."""
    if not server.running():
        server.pg_ctl("start")


def lease(actor, kind):  # noqa: ANN001, ANN201 - test helper
    with session_scope() as s:
        return next_task(s, actor, "p", kind)


def submit(actor, task) -> int:  # noqa: ANN001 - test helper
    with session_scope() as s:
        if task.kind == "demonstration":
            return submit_demonstration(s, actor, task.assignment_id, REPLY)
        items = [{"candidate_id": c.candidate_id, "rank": i + 1} for i, c in enumerate(task.candidates)]
        return submit_ranking(s, actor, task.assignment_id, RankingSubmission.model_validate({"items": items}))


@dataclass
class Crowd:
    """Labeler threads looping lease → submit; what was acknowledged, and every error they saw."""

    actors: list
    acked: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, result id, when)
    errors: list[BaseException] = field(default_factory=list)
    unexpected: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def work(self, i: int) -> None:
        actor, kinds = self.actors[i], ("demonstration", "ranking")
        turn = i
        while not self.stop.is_set():
            kind = kinds[turn % 2]
            turn += 1
            try:
                task = lease(actor, kind)
                if task is None:
                    time.sleep(0.01)
                    continue
                result_id = submit(actor, task)  # session_scope exited cleanly: acknowledged
                with self.lock:
                    self.acked.append((kind, result_id, time.monotonic()))
            except LabelerError as e:  # Unavailable while down; Conflict if a commit's answer was lost
                with self.lock:
                    self.errors.append(e)
                time.sleep(0.05)
            except BaseException as e:  # noqa: BLE001 - a raw driver error is a failure, asserted below
                with self.lock:
                    self.unexpected.append(e)
                return

    def acked_since(self, t: float) -> int:
        with self.lock:
            return sum(1 for *_, when in self.acked if when > t)

    def wait_for(self, n: int, since: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_since(since) < n and time.monotonic() < deadline and not self.unexpected:
            time.sleep(0.02)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restart_under_load_loses_no_acknowledged_submission(pg_url, server, mode):
    n_threads = 8
    names = [f"w{i}" for i in range(n_threads)]
    actors = [make_user(n) for n in names]
    make_project("p", members=tuple(names), labels_per_item=PER_ITEM, k_max=4)
    add_prompts("p", 400, candidates=4)
    engine = get_engine(pg_url)
    crowd = Crowd(actors)
    threads = [threading.Thread(target=crowd.work, args=(i,), daemon=True) for i in range(n_threads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        crowd.wait_for(30, t0, timeout=10)
        down = time.monotonic()
        server.pg_ctl("stop", mode=mode)
        time.sleep(1.5)
        down_errors = len(crowd.errors)
        server.pg_ctl("start")
        up = time.monotonic()
        crowd.wait_for(30, up, timeout=15)
    finally:
        crowd.stop.set()
        for t in threads:
            t.join(timeout=30)
        ensure_running(server)
    assert not any(t.is_alive() for t in threads)
    assert crowd.unexpected == [], [repr(e) for e in crowd.unexpected]
    assert len([w for *_, w in crowd.acked if w < down]) >= 10, "too little work before the stop"
    assert crowd.acked_since(up) >= 10, "work did not resume after the restart (same process, same engine)"
    assert get_engine(pg_url) is engine  # recovered without a new engine
    unavailable = [e for e in crowd.errors if isinstance(e, Unavailable)]
    assert down_errors > 0 and unavailable, "the labelers never noticed the server was down"
    assert all(isinstance(e, Unavailable | Conflict) for e in crowd.errors), crowd.errors
    for e in unavailable:
        assert f"127.0.0.1:{server.port} is not reachable" in str(e) and "try again" in str(e)
        assert PASSWORD not in str(e) and "Traceback" not in str(e)
    _assert_consistent(crowd)


def _assert_consistent(crowd: Crowd) -> None:
    """Every acknowledged submission stored; no over-collection, no double lease, counters right."""
    with session_scope(write=False) as s:
        for kind, model in (("demonstration", Demonstration), ("ranking", Ranking)):
            acked = {rid for k, rid, _ in crowd.acked if k == kind}
            stored = set(s.scalars(select(model.id).where(model.status == "submitted")))
            assert acked <= stored, f"{len(acked - stored)} acknowledged {kind}s lost"
            per_prompt = s.execute(select(func.count()).where(model.status.in_(("submitted", "accepted")))
                                   .group_by(model.prompt_id)).scalars().all()
            assert max(per_prompt) <= PER_ITEM
            leases = s.execute(select(Assignment.prompt_id, Assignment.user_id).where(Assignment.kind == kind)).all()
            assert len(leases) == len(set(leases))
    assert audit_counters() == []


def test_a_stopped_server_is_a_clean_error_at_commit_on_connect_and_in_the_cli(pg_url, server):
    make_user("alice")
    runner = CliRunner()
    try:
        with pytest.raises(Unavailable, match=r"not reachable \(.+\): your last change may not have been saved"):
            with session_scope() as held:
                held.execute(text("SELECT 1"))
                server.pg_ctl("stop")  # the session's connection dies with the server: its commit fails
        with pytest.raises(Unavailable, match=r"not reachable \(connection refused\): your work was not saved"):
            with session_scope() as s:
                s.execute(text("SELECT 1"))  # the connection opens here, inside the with body
        result = runner.invoke(cli_app, ["user", "list"])
        assert result.exit_code == 1, result.output
        assert f"error: the database server at 127.0.0.1:{server.port} is not reachable" in result.output
        assert PASSWORD not in result.output and "Traceback" not in result.output
    finally:
        server.pg_ctl("start")
    result = runner.invoke(cli_app, ["user", "list", "--json"])
    assert result.exit_code == 0 and "alice" in result.output  # the same engine reconnects


def test_the_app_shows_a_clean_message_while_the_server_is_down_and_recovers(pg_url, server, tmp_path: Path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=3, k=2)
    at = app_as(alice)
    assert at.title[0].value == "Demonstrate"
    aid = at.session_state["demo.assignment"]
    server.pg_ctl("stop")
    try:
        at.run()
        deps._migrated.clear()  # a process that starts while the server is down: its migration check fails too
        fresh = new_app()
        fresh.run()
        for app in (at, fresh):
            assert not app.exception, app.exception
            shown = errors(app)
            assert any("is not reachable" in e and "try again" in e for e in shown), shown
            assert not any(PASSWORD in e for e in shown)
    finally:
        server.pg_ctl("start")
    at.run()
    assert not at.exception, at.exception
    assert errors(at) == []
    assert at.title[0].value == "Demonstrate"
    assert at.session_state["demo.assignment"] == aid  # the same lease, kept through the outage
    fresh.run()
    assert not fresh.exception and errors(fresh) == [] and fresh.text_input  # the login form
