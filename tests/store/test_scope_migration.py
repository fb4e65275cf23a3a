"""Migration 0003 (scope labels, paraphrase links) keeps existing work, and its constraints hold, on both backends.

On SQLite the self-referencing foreign key `prompts.source_prompt_id` is written into the stored
table definition (no table copy, which would cascade-delete every candidate and result); this
checks that it is a real foreign key there too: deleting a source deletes its paraphrases.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db.engine import create_store_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade

T0 = "'2026-01-01 00:00:00+00'"
ROWS = [
    f"INSERT INTO users (id, username, display_name, role, active, failed_logins, created_at) "
    f"VALUES (1, 'alice', 'alice', 'labeler', true, 0, {T0})",
    f"INSERT INTO projects (id, name, guidelines, settings, created_at, updated_at) "
    f"VALUES (1, 'p', '', '{{}}', {T0}, {T0})",
    "INSERT INTO prompts (id, project_id, messages, source, split, content_hash, meta, demonstration_count, "
    f"ranking_count, created_at) VALUES (1, 1, '[]', '', 'train', 'h1', '{{}}', 1, 0, {T0}), "
    f"(2, 1, '[]', '', 'train', 'h2', '{{}}', 0, 0, {T0})",
    "INSERT INTO candidates (id, prompt_id, text, text_hash, origin, params, usage, meta, created_at) "
    f"VALUES (1, 1, 'hi', 't1', 'generated', '{{}}', '{{}}', '{{}}', {T0})",
    "INSERT INTO assignments (id, project_id, prompt_id, user_id, kind, status, leased_at, expires_at) "
    f"VALUES (1, 1, 1, 1, 'demonstration', 'completed', {T0}, {T0})",
    "INSERT INTO demonstrations (id, prompt_id, labeler_id, assignment_id, turns, status, origin, seconds_spent, "
    f"created_at, updated_at) VALUES (1, 1, 1, 1, '[]', 'submitted', 'human', 3.0, {T0}, {T0})",
]


def _count(conn, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_0003_keeps_work_and_its_constraints_hold_up_and_down(db_url):
    engine = create_store_engine(db_url)
    downgrade(engine, "0002")
    with engine.begin() as conn:
        for row in ROWS:
            conn.execute(text(row))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert [_count(conn, t) for t in ("prompts", "candidates", "assignments", "demonstrations")] == [2, 1, 1, 1]
        assert conn.execute(text("SELECT assignment_id FROM demonstrations")).scalar() == 1
        assert conn.execute(text("SELECT scope, scope_reason, source_prompt_id, paraphrase_status FROM prompts "
                                 "WHERE id = 1")).one() == (None, None, None, None)
    for bad in ("UPDATE prompts SET scope = 'maybe'", "UPDATE prompts SET paraphrase_status = 'lost'",
                "UPDATE prompts SET source_prompt_id = 99",
                f"INSERT INTO scope_labels (project_id, prompt_id, user_id, label, by_admin, created_at, updated_at) "
                f"VALUES (1, 1, 1, 'unsure', false, {T0}, {T0})"):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(bad))
    with engine.begin() as conn:  # prompt 2 is a paraphrase of prompt 1, with a vote
        conn.execute(text("UPDATE prompts SET source_prompt_id = 1, paraphrase_status = 'kept', scope = 'off-limits' "
                          "WHERE id = 2"))
        conn.execute(text("INSERT INTO scope_labels (project_id, prompt_id, user_id, label, by_admin, created_at, "
                          f"updated_at) VALUES (1, 2, 1, 'off-limits', false, {T0}, {T0})"))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one vote per prompt and person
        conn.execute(text("INSERT INTO scope_labels (project_id, prompt_id, user_id, label, by_admin, created_at, "
                          f"updated_at) VALUES (1, 2, 1, 'answerable', false, {T0}, {T0})"))

    downgrade(engine, "0002")  # and back: the work stays
    with engine.connect() as conn:
        assert [_count(conn, t) for t in ("prompts", "candidates", "assignments", "demonstrations")] == [2, 1, 1, 1]
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE prompts SET source_prompt_id = 1 WHERE id = 2"))
        conn.execute(text("DELETE FROM prompts WHERE id = 1"))  # ON DELETE CASCADE: the paraphrase goes too
    with engine.connect() as conn:
        assert _count(conn, "prompts") == 0 and _count(conn, "candidates") == 0
    engine.dispose()
