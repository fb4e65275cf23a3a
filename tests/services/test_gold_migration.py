"""Migration 0002 (review, gold, qualification) keeps existing data on SQLite, where ALTER is limited.

Copying a table on SQLite (Alembic's batch mode) drops it, and with foreign keys on, SQLite first
deletes its rows, which would null `demonstrations.assignment_id`. 0002 adds columns in place instead;
this checks that on a database with work in it, up and down.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db.engine import create_store_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade

ROWS = [
    "INSERT INTO users (id, username, display_name, role, active, failed_logins, created_at) "
    "VALUES (1, 'alice', 'alice', 'labeler', 1, 0, '2026-01-01 00:00:00')",
    "INSERT INTO projects (id, name, guidelines, settings, created_at, updated_at) "
    "VALUES (1, 'p', '', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO memberships (id, project_id, user_id, created_at) VALUES (1, 1, 1, '2026-01-01 00:00:00')",
    "INSERT INTO prompts (id, project_id, messages, source, split, content_hash, meta, demonstration_count, "
    "ranking_count, created_at) VALUES (1, 1, '[]', '', 'train', 'h', '{}', 1, 0, '2026-01-01 00:00:00')",
    "INSERT INTO assignments (id, project_id, prompt_id, user_id, kind, status, leased_at, expires_at) "
    "VALUES (1, 1, 1, 1, 'demonstration', 'completed', '2026-01-01 00:00:00', '2026-01-01 00:30:00')",
    "INSERT INTO demonstrations (id, prompt_id, labeler_id, assignment_id, turns, status, origin, seconds_spent, "
    "created_at, updated_at) VALUES (1, 1, 1, 1, '[]', 'submitted', 'human', 3.0, '2026-01-01 00:00:00', "
    "'2026-01-01 00:00:00')",
]


def test_0002_keeps_work_and_links_up_and_down(sqlite_url):
    engine = create_store_engine(sqlite_url)
    downgrade(engine, "0001")
    with engine.begin() as conn:
        for row in ROWS:
            conn.execute(text(row))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT assignment_id FROM demonstrations")).scalar() == 1
        assert conn.execute(text("SELECT paused, qualification, qualified_at FROM memberships")).one() == (
            0, "pending", None)
        assert conn.execute(text("SELECT gold, gold_score FROM assignments")).one() == (None, None)
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the CHECK constraints came with the columns
        conn.execute(text("UPDATE assignments SET gold = 'sometimes'"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE memberships SET qualification = 'maybe'"))
    downgrade(engine, "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT assignment_id FROM demonstrations")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM memberships")).scalar() == 1
    engine.dispose()
