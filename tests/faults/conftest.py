"""Helpers for fault-injection tests: run the real CLI in a child process, kill it, inspect the SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def consistency_problems(url: str) -> list[str]:
    """Integrity, foreign keys and orphans of the SQLite file, read by a plain sqlite3 connection."""
    conn = sqlite3.connect(sqlite_path(url))
    try:
        problems = []
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            problems.append(f"integrity_check: {check[:5]}")
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {fk[:5]}")
        orphans = {
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
        for what, sql in orphans.items():
            n = conn.execute(sql).fetchone()[0]
            if n:
                problems.append(f"{n} {what}")
        return problems
    finally:
        conn.close()


def count(url: str, table: str) -> int:
    conn = sqlite3.connect(sqlite_path(url))
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - a fixed table name
    finally:
        conn.close()
