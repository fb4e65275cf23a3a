"""ranking metadata: rankings.meta (where an imported ranking's time came from, a source's pair margins).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:10:00.000000

A nullable JSON column added with plain `ALTER TABLE ... ADD COLUMN` on both backends (never
Alembic's batch copy on SQLite, see 0002); existing rankings keep NULL, read as "nothing known".
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen types: migrations never import the models, which keep changing.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('rankings', sa.Column('meta', JSON, nullable=True))


def downgrade() -> None:
    op.drop_column('rankings', 'meta')
