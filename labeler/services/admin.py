"""Database administration for the edges: migrate, report the schema revision."""

from __future__ import annotations

from db.migrate import current_revision, head_revision, upgrade
from labeler.services import database_url, get_engine


def upgrade_database(url: str | None = None) -> str:
    """Create the database if needed and apply every migration; return the revision reached."""
    engine = get_engine(url or database_url())
    upgrade(engine)
    return head_revision()


def schema_status(url: str | None = None) -> tuple[str | None, str]:
    """(current revision, newest shipped revision)."""
    return current_revision(get_engine(url or database_url())), head_revision()
