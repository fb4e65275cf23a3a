"""The store: SQLAlchemy 2 models, the engine (SQLite or PostgreSQL) and Alembic migrations.

`db` never imports `labeler`: the services sit above it.
"""
