"""Migration 0008: a candidate's text_hash covers its exact text (whitespace included), on both backends.

Texts with surrounding whitespace get the exact hash on upgrade and the stripped one back on downgrade;
every other row, and every link to a candidate, is left as it was.
"""

from __future__ import annotations

from hashlib import blake2b

from alembic.script import ScriptDirectory
from sqlalchemy import text

from db.engine import create_store_engine
from db.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from labeler.services.ingest_labels import text_hash

T0 = "'2026-01-01 00:00:00+00'"
TEXTS = {1: "plain", 2: "  padded\n", 3: "\u3000ideographic space"}


def _h(value: str) -> str:
    return blake2b(value.encode(), digest_size=16).hexdigest()


def _rows() -> list[str]:
    values = ", ".join(f"({i}, 1, :t{i}, :h{i}, 'imported', '{{}}', '{{}}', '{{}}', {T0})" for i in TEXTS)
    return [
        f"INSERT INTO projects (id, name, guidelines, settings, created_at, updated_at) "
        f"VALUES (1, 'p', '', '{{}}', {T0}, {T0})",
        "INSERT INTO prompts (id, project_id, messages, source, split, content_hash, meta, demonstration_count, "
        f"ranking_count, created_at) VALUES (1, 1, '[]', '', 'train', 'h1', '{{}}', 0, 0, {T0})",
        "INSERT INTO candidates (id, prompt_id, text, text_hash, origin, params, usage, meta, created_at) "
        f"VALUES {values}",
    ]


def _hashes(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, text_hash FROM candidates")).all())


def test_0008_rehashes_only_texts_with_surrounding_whitespace(db_url):
    engine = create_store_engine(db_url)
    before = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0008").down_revision
    downgrade(engine, before)
    params = {**{f"t{i}": t for i, t in TEXTS.items()}, **{f"h{i}": _h(t.strip()) for i, t in TEXTS.items()}}
    with engine.begin() as conn:
        for row in _rows():
            conn.execute(text(row), {k: v for k, v in params.items() if f":{k}" in row})
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _hashes(engine) == {i: text_hash(t) for i, t in TEXTS.items()} == {i: _h(t) for i, t in TEXTS.items()}
    downgrade(engine, before)
    assert _hashes(engine) == {i: _h(t.strip()) for i, t in TEXTS.items()}
    upgrade(engine)
    engine.dispose()


def test_the_cheap_head_lookup_agrees_with_alembic(sqlite_url):
    engine = create_store_engine(sqlite_url)
    assert head_revision() == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    engine.dispose()
