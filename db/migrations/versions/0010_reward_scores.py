"""reward-model scores: candidate_scores (one score per reward model and candidate) and prompts.rm_margin.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:00:00.000000

`prompts.rm_margin` is a NOT NULL float with a server default of UNSCORED_MARGIN (1e9: behind every
scored prompt), added with a plain `ALTER TABLE
... ADD COLUMN` on both backends (never Alembic's batch copy on SQLite, see 0002); its index serves
the `uncertain-first` ranking queue the way ix_prompts_queue_ranking serves the default one.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'candidate_scores',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('reward_model', sa.String(length=500), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'],
                                name=op.f('fk_candidate_scores_candidate_id_candidates'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_scores')),
        sa.UniqueConstraint('reward_model', 'candidate_id', name=op.f('uq_candidate_scores_reward_model_candidate_id')),
    )
    op.create_index('ix_candidate_scores_candidate_id', 'candidate_scores', ['candidate_id'])
    op.add_column('prompts', sa.Column('rm_margin', sa.Float(), nullable=False, server_default='1000000000.0'))  # db.models.UNSCORED_MARGIN
    op.create_index('ix_prompts_queue_ranking_margin', 'prompts', ['project_id', 'ranking_count', 'rm_margin', 'id'])


def downgrade() -> None:
    op.drop_index('ix_prompts_queue_ranking_margin', table_name='prompts')
    op.drop_column('prompts', 'rm_margin')
    op.drop_index('ix_candidate_scores_candidate_id', table_name='candidate_scores')
    op.drop_table('candidate_scores')
