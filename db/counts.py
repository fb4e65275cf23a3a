"""A project's counts by split, origin and status, as plain SQL that any connection can run.

One set of queries serves both callers: the services run it through a SQLAlchemy session (the
dashboard, `labeler stats` on PostgreSQL), and `labeler stats` on an SQLite file runs it through the
standard library's sqlite3, so that the command answers without importing SQLAlchemy (0.4 s of
start-up on the reference machine). Every count is computed by the database (GROUP BY).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

# Runs one SQL statement with named parameters (`:name`) and returns its rows.
Run = Callable[[str, dict[str, Any]], Iterable[Sequence[Any]]]

_PROMPTS_BY_SPLIT = "SELECT split, COUNT(*) FROM prompts WHERE project_id = :pid GROUP BY split"
_CANDIDATES_BY_ORIGIN = (
    "SELECT c.origin, COUNT(*) FROM candidates c JOIN prompts p ON p.id = c.prompt_id"
    " WHERE p.project_id = :pid GROUP BY c.origin"
)
_WORK = (  # demonstrations or rankings (a fixed table name, never user input)
    "SELECT w.status, w.origin, p.split, COUNT(*) FROM {table} w JOIN prompts p ON p.id = w.prompt_id"
    " WHERE p.project_id = :pid GROUP BY w.status, w.origin, p.split"
)


def project_counts(run: Run, project_id: int, project_name: str) -> dict[str, Any]:
    """Prompts by split; candidates by origin; demonstrations and rankings by status, origin and split."""
    params = {"pid": project_id}
    prompts = {split: n for split, n in run(_PROMPTS_BY_SPLIT, params)}
    candidates = {origin: n for origin, n in run(_CANDIDATES_BY_ORIGIN, params)}
    return {
        "project": project_name,
        "prompts": {"total": sum(prompts.values()), "by_split": prompts},
        "candidates": {"total": sum(candidates.values()), "by_origin": candidates},
        "demonstrations": _work_counts(run(_WORK.format(table="demonstrations"), params)),
        "rankings": _work_counts(run(_WORK.format(table="rankings"), params)),
    }


def _work_counts(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"total": 0, "by_status": {}, "by_origin": {}, "by_split": {}, "by_status_split": {}}
    for status, origin, split, n in rows:
        out["total"] += n
        for key, value in (("by_status", status), ("by_origin", origin), ("by_split", split)):
            out[key][value] = out[key].get(value, 0) + n
        cell = out["by_status_split"].setdefault(status, {})
        cell[split] = cell.get(split, 0) + n
    return out


def sqlite_file_of(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for other databases, memory or URL options."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):])


def sqlite_project_counts(url: str, project_name: str, schema_revision: str) -> dict[str, Any] | None:
    """`project_counts` read straight from an SQLite file, opened read-only.

    None when this path cannot answer (not an SQLite file, no such file, schema not at
    `schema_revision`, no such project): the caller then takes the services' path, which reports
    each of those problems in its own words.
    """
    path = sqlite_file_of(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        def run(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        revision = run("SELECT version_num FROM alembic_version", {})
        project = run("SELECT id, name FROM projects WHERE name = :name", {"name": project_name})
        if revision != [(schema_revision,)] or not project:
            return None
        return project_counts(run, project[0][0], project[0][1])
    except sqlite3.Error:  # not a labeler database (yet), unreadable, locked: the usual path says which
        return None
    finally:
        conn.close()
