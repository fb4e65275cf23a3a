"""local training jobs: finetune_jobs.provider (`openai` for a fine-tuning API, `local` for `labeler train`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:15:00.000000

A NOT NULL string column with a server default, added with plain `ALTER TABLE ... ADD COLUMN` on
both backends (never Alembic's batch copy on SQLite, see 0002): every existing job was launched on
an OpenAI-compatible API, so it reads `openai`.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('finetune_jobs', sa.Column('provider', sa.String(length=32), nullable=False,
                                             server_default='openai'))


def downgrade() -> None:
    op.drop_column('finetune_jobs', 'provider')
