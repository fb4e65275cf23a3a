"""Alembic environment: runs against the engine handed over by db.migrate (never a URL in a file)."""

from alembic import context

from db.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the caller's engine, in batch mode on SQLite (ALTER is limited there)."""
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use `labeler db upgrade`")
run_migrations_online()
