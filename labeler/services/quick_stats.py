"""`labeler stats` for the operator on an SQLite file, answered through sqlite3 alone.

Why: importing SQLAlchemy costs 0.4 s on the reference machine, most of the command's budget. The
counts are db/counts.py's plain SQL, the same the services run through a session, so the two paths
cannot disagree. Anything this path cannot answer (another backend, a schema not at head, an unknown
project) returns None and the command takes the services' path, which explains the problem.
"""

from __future__ import annotations

from typing import Any

from db.counts import sqlite_project_counts
from db.migrate import head_revision
from labeler.config import get_settings


def operator_project_stats(project_name: str) -> dict[str, Any] | None:
    """`stats.project_stats` as the local operator (an admin) sees it, or None to take the usual path."""
    return sqlite_project_counts(get_settings().database_url, project_name, head_revision())
