"""Counts of a project's data by status and split, and work submitted over time: `labeler stats` and
the admin dashboard.

Design constraints: every count is computed by the database (GROUP BY), never by loading rows (the
project counts are db/counts.py's plain SQL, shared with `labeler stats`' sqlite3 path); time
buckets are formatted by the database itself (`strftime` on SQLite, `to_char` on PostgreSQL, both in
UTC) so that the same query groups the same way on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.orm import Session

from db.base import utcnow
from db.counts import project_counts
from db.models import Demonstration, Prompt, Ranking
from labeler.errors import Invalid
from labeler.services.actors import Actor, require_admin
from labeler.services.projects import get_project_for, get_project_or_raise, list_projects


def project_stats(session: Session, actor: Actor, project_name: str) -> dict[str, Any]:
    """Prompts by split; candidates by origin; demonstrations and rankings by status, origin and split."""
    project = get_project_for(session, actor, project_name)
    return project_counts(lambda sql, params: session.execute(text(sql), params).all(), project.id, project.name)


def projects_overview(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """One row of counts per project, for the admin overview (admins only)."""
    require_admin(actor)
    rows = []
    for project in list_projects(session, actor):
        data = project_stats(session, actor, project.name)
        rows.append({
            "project": project.name,
            "prompts": data["prompts"]["total"],
            "candidates": data["candidates"]["total"],
            "demonstrations": data["demonstrations"]["by_status"].get("submitted", 0),
            "rankings": data["rankings"]["by_status"].get("submitted", 0),
            "imported rankings": data["rankings"]["by_origin"].get("imported", 0),
            "created": project.created_at,
        })
    return rows


Bucket = Literal["day", "hour"]
MAX_THROUGHPUT_DAYS = 366
_BUCKET_FORMATS = {  # (SQLite strftime, PostgreSQL to_char, Python strftime): the same text on each
    "day": ("%Y-%m-%d", "YYYY-MM-DD", "%Y-%m-%d"),
    "hour": ("%Y-%m-%d %H:00", "YYYY-MM-DD HH24:00", "%Y-%m-%d %H:00"),
}


@dataclass(frozen=True)
class ThroughputPoint:
    """Work submitted by labelers in one time bucket (UTC), per kind."""

    bucket: str  # "2026-11-23" or "2026-11-23 14:00"
    demonstrations: int
    rankings: int


def _bucket_of(session: Session, column: Any, bucket: Bucket) -> Any:
    """A SQL expression giving the bucket's text for a timestamp column, in UTC."""
    sqlite_fmt, pg_fmt, _ = _BUCKET_FORMATS[bucket]
    # Constant formats are inlined (not bound) so the GROUP BY expression matches the SELECT's on PostgreSQL.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column(f"'{pg_fmt}'"))
    return func.strftime(literal_column(f"'{sqlite_fmt}'"), column)  # SQLite stores UTC text


def throughput(
    session: Session, actor: Actor, project_name: str, days: int = 14, bucket: Bucket = "day",
    now: datetime | None = None,
) -> list[ThroughputPoint]:
    """Demonstrations and rankings submitted by labelers per day (or hour) over the last `days` days (admins only).

    Imported work is left out (it was not done here); every bucket of the window is listed, empty
    ones with zeros, oldest first.
    """
    require_admin(actor)
    if bucket not in _BUCKET_FORMATS:
        raise Invalid(f"bucket `{bucket}`: expected `day` or `hour`")
    if not 1 <= days <= MAX_THROUGHPUT_DAYS:
        raise Invalid(f"days `{days}`: expected 1..{MAX_THROUGHPUT_DAYS}")
    project = get_project_or_raise(session, project_name)
    now = (now or utcnow()).astimezone(UTC)
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    last = now.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        last = last.replace(hour=0)
    first = last - timedelta(days=days) + step
    counts: dict[str, dict[str, int]] = {}
    for kind, model in (("demonstrations", Demonstration), ("rankings", Ranking)):
        key = _bucket_of(session, model.submitted_at, bucket).label("bucket")
        rows = session.execute(
            select(key, func.count())
            .join(Prompt, Prompt.id == model.prompt_id)
            .where(Prompt.project_id == project.id, model.origin == "human", model.status != "draft",
                   model.submitted_at.is_not(None), model.submitted_at >= first)
            .group_by(key)
        ).all()
        counts[kind] = {str(b): n for b, n in rows}
    fmt = _BUCKET_FORMATS[bucket][2]
    points, at = [], first
    while at <= last:
        label = at.strftime(fmt)
        points.append(ThroughputPoint(label, counts["demonstrations"].get(label, 0), counts["rankings"].get(label, 0)))
        at += step
    return points
