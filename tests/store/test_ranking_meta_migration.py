"""Migration 0005 (`rankings.meta`) keeps existing rankings, which export as before, on both backends."""

from __future__ import annotations

import json

from alembic.script import ScriptDirectory
from sqlalchemy import text

from db.engine import create_store_engine
from db.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from labeler.hygiene import content_hash, normalize_text
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportRequest, export_dataset

T0 = "'2026-01-01 00:00:00+00'"
MESSAGES = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "A fruit?"}]
ROWS = [
    f"INSERT INTO projects (id, name, guidelines, settings, created_at, updated_at) "
    f"VALUES (1, 'p', '', '{{}}', {T0}, {T0})",
    "INSERT INTO prompts (id, project_id, messages, source, split, content_hash, meta, demonstration_count, "
    f"ranking_count, created_at) VALUES (1, 1, '{json.dumps(MESSAGES)}', 'old.jsonl', 'train', 'h1', '{{}}', "
    f"0, 1, {T0})",
    "INSERT INTO candidates (id, prompt_id, text, text_hash, origin, params, usage, meta, created_at) "
    f"VALUES (1, 1, 'Apple.', 't1', 'imported', '{{}}', '{{}}', '{{}}', {T0}), "
    f"(2, 1, 'Rock.', 't2', 'imported', '{{}}', '{{}}', '{{}}', {T0})",
    "INSERT INTO rankings (id, prompt_id, status, origin, source, display_order, none_acceptable, comment, "
    f"seconds_spent, created_at, updated_at, submitted_at) VALUES (1, 1, 'submitted', 'imported', 'old.jsonl', "
    f"'[1, 2]', false, '', 0, {T0}, {T0}, {T0})",
    "INSERT INTO ranking_items (id, ranking_id, candidate_id, rank, flags, position) "
    "VALUES (1, 1, 1, 1, '[]', 0), (2, 1, 2, 2, '[]', 1)",
]


def test_0005_keeps_rankings_which_export_as_before(db_url, tmp_path):
    engine = create_store_engine(db_url)
    before = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0005").down_revision
    downgrade(engine, before)
    with engine.begin() as conn:
        for row in ROWS:
            conn.execute(text(row))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT meta FROM rankings WHERE id = 1")).scalar() is None
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=tmp_path / "pairs"))
        export_dataset(s, OPERATOR, ExportRequest(format="rankings", project="p", out_dir=tmp_path / "rankings"))
    pair = json.loads((tmp_path / "pairs" / "train.jsonl").read_text())
    assert (pair["margin"], pair["split_key"]) == (1.0, content_hash(normalize_text(MESSAGES[:1])))
    ranking = json.loads((tmp_path / "rankings" / "train.jsonl").read_text())
    assert (ranking["submitted_at"], ranking["time_source"]) == ("2026-01-01T00:00:00Z", None)
    downgrade(engine, before)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rankings")).scalar() == 1
    upgrade(engine)
    engine.dispose()
