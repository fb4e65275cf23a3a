"""user preferences: users.preferences (a labeler's own view settings, such as `show_markdown`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00.000000

A NOT NULL JSON column with a server default of `{}`, added with plain `ALTER TABLE ... ADD COLUMN`
on both backends (never Alembic's batch copy on SQLite, see 0002): every existing user reads "nothing
chosen", so each preference takes its default (Markdown off: texts shown as written).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen types: migrations never import the models, which keep changing.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('preferences', JSON, nullable=False, server_default='{}'))


def downgrade() -> None:
    op.drop_column('users', 'preferences')
