"""kill -9 in the middle of an import, an export and a burst of submissions leaves a consistent store.

The child is the real CLI (or the services, for submissions) in its own process, killed with SIGKILL once
it has visibly started writing. Import and submissions run on SQLite and PostgreSQL (where the server rolls
back the dead client's transaction: `settle` waits for that before the checks); the export on SQLite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select

from db.models import Candidate, Project, Prompt, Ranking, RankingItem
from labeler.services import get_engine, session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import create_project
from tests.factories import make_project, make_user
from tests.faults.conftest import (
    ROOT,
    cli_process,
    consistency_problems,
    count,
    is_sqlite_url,
    kill_when,
    pg_scalar,
    settle,
    sqlite_path,
)
from tests.services.queue_data import add_prompts, audit_counters


def _import_writing(url: str) -> Callable[[], bool]:
    """True once the import has written a good part of its (uncommitted) rows: SQLite's WAL, PostgreSQL's table."""
    if is_sqlite_url(url):
        wal = Path(f"{sqlite_path(url)}-wal")
        return lambda: wal.exists() and wal.stat().st_size > 1_000_000
    return lambda: pg_scalar(url, "SELECT pg_relation_size('prompts')") > 1_000_000


def test_kill_during_import_leaves_no_half_import(kill_url: str, tmp_path: Path) -> None:
    make_project("p")
    get_engine(kill_url).dispose()
    n = 150_000
    src = tmp_path / "prompts.jsonl"
    with src.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"prompt": f"{i} : please explain item {i * 7919 % 100_003} in detail"}) + "\n")
    proc = cli_process(kill_url, "import", str(src), "--project", "p", "--json",
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(proc, _import_writing(kill_url), "import")
    settle(kill_url)
    assert consistency_problems(kill_url) == []
    assert count(kill_url, "prompts") in (0, n)  # all or nothing: one transaction
    assert count(kill_url, "prompts") == 0, "killed mid-way, yet the import committed"
    assert count(kill_url, "candidates") == 0
    assert count(kill_url, "events WHERE action = 'import'") == 0  # no audit row for an import that did not happen
    with session_scope() as s:  # the store is usable after the crash
        create_project(s, OPERATOR, "after", "g", {})


def _rankings(project: str, n: int) -> None:
    """`n` imported two-candidate rankings, bulk-inserted (fast) for an export big enough to kill mid-way."""
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        s.execute(insert(Prompt), [
            {"id": i + 1, "project_id": pid, "messages": [{"role": "user", "content": f"question {i}"}],
             "content_hash": f"h{i:031d}", "source": "bulk", "split": "train"} for i in range(n)])
        s.execute(insert(Candidate), [
            {"id": 2 * i + j + 1, "prompt_id": i + 1, "text": f"answer {j} to question {i}", "origin": "imported",
             "text_hash": f"c{i:015d}{j:016d}"} for i in range(n) for j in range(2)])
        s.execute(insert(Ranking), [
            {"id": i + 1, "prompt_id": i + 1, "status": "submitted", "origin": "imported", "source": "bulk"}
            for i in range(n)])
        s.execute(insert(RankingItem), [
            {"ranking_id": i + 1, "candidate_id": 2 * i + j + 1, "rank": j + 1, "position": j}
            for i in range(n) for j in range(2)])


def test_kill_during_export_leaves_no_partial_file(sqlite_url: str, tmp_path: Path) -> None:
    make_project("p")
    n = 20_000
    _rankings("p", n)
    get_engine(sqlite_url).dispose()
    out = tmp_path / "exports" / "pairs"
    proc = cli_process(sqlite_url, "export", "pairs", "--project", "p", "--out", str(out), "--json",
                       export_dir=tmp_path / "exports", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def writing() -> bool:
        return out.is_dir() and any(p.stat().st_size > 0 for p in out.glob(".*.tmp"))

    kill_when(proc, writing, "export")
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible == [], f"a killed export left files in place: {visible}"
    assert count(sqlite_url, "exports") == 0
    assert consistency_problems(sqlite_url) == []
    # the next export into the folder removes the killed one's temporary files and finishes
    done = cli_process(sqlite_url, "export", "pairs", "--project", "p", "--out", str(out), "--json",
                       export_dir=tmp_path / "exports", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = done.communicate(timeout=120)
    assert done.returncode == 0, stderr
    assert sum(json.loads(stdout)["counts"].values()) == n
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "train.jsonl"]
    assert sum(1 for _ in (out / "train.jsonl").open()) == n


BURST = textwrap.dedent("""
    import sys
    from labeler.services import session_scope
    from labeler.services.auth import actor_for, get_user_or_raise
    from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_ranking
    from labeler.services.queue import next_task
    with session_scope(write=False) as s:
        me = actor_for(get_user_or_raise(s, sys.argv[1]))
    while True:
        with session_scope() as s:
            task = next_task(s, me, "p", "ranking")
        if task is None:
            break
        with session_scope() as s:
            items = [ItemSubmission(candidate_id=c.candidate_id, rank=i + 1, likert=5)
                     for i, c in enumerate(task.candidates)]
            submit_ranking(s, me, task.assignment_id, RankingSubmission(items=items))
        print("submitted", flush=True)
""")


def test_kill_during_a_burst_of_submissions_keeps_counters_and_rankings_whole(kill_url: str) -> None:
    make_user("alice")
    make_project("p", members=("alice",), k_min=2, k_max=4)
    add_prompts("p", 400, candidates=4)
    get_engine(kill_url).dispose()
    proc = subprocess.Popen([sys.executable, "-c", BURST, "alice"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, LABELER_DATABASE_URL=kill_url))
    seen = 0

    def enough() -> bool:
        nonlocal seen
        line = proc.stdout.readline()  # blocks until the child commits a submission (or exits)
        seen += line == "submitted\n"
        return seen >= 25

    kill_when(proc, enough, "submission burst")
    settle(kill_url)
    assert consistency_problems(kill_url) == []
    assert audit_counters() == []
    conn_rankings = count(kill_url, "rankings")
    assert conn_rankings >= 25
    assert count(kill_url, "ranking_items") == 4 * conn_rankings  # no half-written ranking
