"""Migrations: empty -> head, head -> base -> head, and the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.engine import create_store_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base


def _fresh_engine(db_url: str):
    engine = create_store_engine(db_url)
    downgrade(engine)  # the fixture's database is migrated: take it back to empty
    return engine


def test_empty_to_head_creates_every_table(db_url):
    engine = _fresh_engine(db_url)
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    engine.dispose()


def test_head_base_head_round_trip(db_url):
    engine = _fresh_engine(db_url)
    upgrade(engine)
    downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_models_match_migrations(db_url):
    engine = create_store_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_every_constraint_is_named(db_url):
    engine = create_store_engine(db_url)
    insp = inspect(engine)
    for table in Base.metadata.tables:
        for uq in insp.get_unique_constraints(table):
            assert uq["name"], f"unnamed unique constraint on {table}"
        for ck in insp.get_check_constraints(table):
            assert ck["name"], f"unnamed check constraint on {table}"
    engine.dispose()
