"""Alembic migrations run from code: `upgrade(engine)` is what `labeler db upgrade` and the app call.

The migration scripts ship inside the package (db/migrations), so an installed wheel can migrate.
Alembic is imported only to migrate: checking that a database is current reads the `alembic_version`
table and the scripts' own `revision` lines, which keeps every CLI command's start-up fast, and
`head_revision()` imports no SQLAlchemy (`labeler stats` answers on SQLite without it).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:["']([^"']*)["']|None)""", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine` (env.py reads the engine from its attributes)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Take the schema down to `revision` (default: empty)."""
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an unmigrated database."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision shipped with this version: the one no other script names as its parent."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the shipped migrations must have one head, found {sorted(heads) or 'none'}")
    return heads.pop()
