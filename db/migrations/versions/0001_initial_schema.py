"""initial schema: every table of DESIGN.md's data model.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:13:40.212369
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen types: migrations never import the models, which keep changing.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'reviewer', 'labeler')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('details', JSON, nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_events_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_at', ['at'], unique=False)
        batch_op.create_index('ix_events_object_type_object_id', ['object_type', 'object_id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('guidelines', sa.Text(), nullable=False),
    sa.Column('settings', JSON, nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_projects_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=64), nullable=False),
    sa.Column('filters', JSON, nullable=False),
    sa.Column('counts', JSON, nullable=False),
    sa.Column('files', JSON, nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('tool_version', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_exports_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_exports_project_id_projects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports'))
    )
    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_memberships_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('project_id', 'user_id', name=op.f('uq_memberships_project_id_user_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('messages', JSON, nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('external_id', sa.String(length=300), nullable=True),
    sa.Column('origin_user', sa.String(length=300), nullable=True),
    sa.Column('split', sa.String(length=8), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('prefix_hash', sa.String(length=32), nullable=True),
    sa.Column('meta', JSON, nullable=False),
    sa.Column('demonstration_count', sa.Integer(), nullable=False),
    sa.Column('ranking_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("split IN ('train', 'valid', 'test')", name=op.f('ck_prompts_split')),
    sa.CheckConstraint('demonstration_count >= 0 AND ranking_count >= 0', name=op.f('ck_prompts_counts')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_prompts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompts')),
    sa.UniqueConstraint('project_id', 'content_hash', name=op.f('uq_prompts_project_id_content_hash'))
    )
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.create_index('ix_prompts_project_id_origin_user', ['project_id', 'origin_user'], unique=False)
        batch_op.create_index('ix_prompts_project_id_prefix_hash', ['project_id', 'prefix_hash'], unique=False)
        batch_op.create_index('ix_prompts_project_id_split_id', ['project_id', 'split', 'id'], unique=False)
        batch_op.create_index('ix_prompts_queue_demonstration', ['project_id', 'demonstration_count', 'id'], unique=False)
        batch_op.create_index('ix_prompts_queue_ranking', ['project_id', 'ranking_count', 'id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('leased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('demonstration', 'ranking')", name=op.f('ck_assignments_kind')),
    sa.CheckConstraint("status IN ('active', 'completed', 'released', 'expired')", name=op.f('ck_assignments_status')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_assignments_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_assignments_prompt_id_prompts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('prompt_id', 'kind', 'user_id', name=op.f('uq_assignments_prompt_id_kind_user_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_project_id_status_expires_at', ['project_id', 'status', 'expires_at'], unique=False)
        batch_op.create_index('ix_assignments_user_id_status', ['user_id', 'status', 'expires_at'], unique=False)

    op.create_table('candidates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('params', JSON, nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('finish_reason', sa.String(length=32), nullable=True),
    sa.Column('usage', JSON, nullable=False),
    sa.Column('meta', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("origin IN ('human', 'imported', 'generated')", name=op.f('ck_candidates_origin')),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_candidates_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidates')),
    sa.UniqueConstraint('prompt_id', 'text_hash', name=op.f('uq_candidates_prompt_id_text_hash'))
    )
    op.create_table('finetune_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('export_id', sa.Integer(), nullable=True),
    sa.Column('provider_job_id', sa.String(length=200), nullable=False),
    sa.Column('base_url', sa.Text(), nullable=True),
    sa.Column('base_model', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('hyperparameters', JSON, nullable=False),
    sa.Column('training_file_id', sa.String(length=200), nullable=True),
    sa.Column('validation_file_id', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('fine_tuned_model', sa.String(length=300), nullable=True),
    sa.Column('events', JSON, nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_finetune_jobs_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['export_id'], ['exports.id'], name=op.f('fk_finetune_jobs_export_id_exports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_finetune_jobs_project_id_projects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finetune_jobs')),
    sa.UniqueConstraint('provider_job_id', name=op.f('uq_finetune_jobs_provider_job_id'))
    )
    op.create_table('demonstrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('labeler_id', sa.Integer(), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('turns', JSON, nullable=False),
    sa.Column('suggestion', JSON, nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.Column('seconds_spent', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("origin IN ('human', 'imported', 'generated')", name=op.f('ck_demonstrations_origin')),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'accepted', 'rejected', 'skipped')", name=op.f('ck_demonstrations_status')),
    sa.CheckConstraint('seconds_spent >= 0', name=op.f('ck_demonstrations_seconds_spent')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_demonstrations_assignment_id_assignments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['labeler_id'], ['users.id'], name=op.f('fk_demonstrations_labeler_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_demonstrations_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demonstrations')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_demonstrations_assignment_id'))
    )
    with op.batch_alter_table('demonstrations', schema=None) as batch_op:
        batch_op.create_index('ix_demonstrations_labeler_id_status', ['labeler_id', 'status'], unique=False)
        batch_op.create_index('ix_demonstrations_prompt_id_status', ['prompt_id', 'status'], unique=False)
        batch_op.create_index('ix_demonstrations_status_submitted_at', ['status', 'submitted_at'], unique=False)

    op.create_table('rankings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('labeler_id', sa.Integer(), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.Column('display_order', JSON, nullable=False),
    sa.Column('none_acceptable', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('seconds_spent', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("origin IN ('human', 'imported', 'generated')", name=op.f('ck_rankings_origin')),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'accepted', 'rejected', 'skipped')", name=op.f('ck_rankings_status')),
    sa.CheckConstraint('seconds_spent >= 0', name=op.f('ck_rankings_seconds_spent')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_rankings_assignment_id_assignments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['labeler_id'], ['users.id'], name=op.f('fk_rankings_labeler_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_rankings_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rankings')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_rankings_assignment_id'))
    )
    with op.batch_alter_table('rankings', schema=None) as batch_op:
        batch_op.create_index('ix_rankings_labeler_id_status', ['labeler_id', 'status'], unique=False)
        batch_op.create_index('ix_rankings_prompt_id_status', ['prompt_id', 'status'], unique=False)
        batch_op.create_index('ix_rankings_status_submitted_at', ['status', 'submitted_at'], unique=False)

    op.create_table('ranking_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ranking_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('likert', sa.Integer(), nullable=True),
    sa.Column('flags', JSON, nullable=False),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.CheckConstraint('likert IS NULL OR (likert >= 1 AND likert <= 10)', name=op.f('ck_ranking_items_likert')),
    sa.CheckConstraint('rank IS NULL OR (rank >= 1 AND rank <= 9)', name=op.f('ck_ranking_items_rank')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_ranking_items_candidate_id_candidates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ranking_id'], ['rankings.id'], name=op.f('fk_ranking_items_ranking_id_rankings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ranking_items')),
    sa.UniqueConstraint('ranking_id', 'candidate_id', name=op.f('uq_ranking_items_ranking_id_candidate_id'))
    )
    with op.batch_alter_table('ranking_items', schema=None) as batch_op:
        batch_op.create_index('ix_ranking_items_candidate_id', ['candidate_id'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demonstration_id', sa.Integer(), nullable=True),
    sa.Column('ranking_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('before', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("verdict IN ('accept', 'reject', 'edit')", name=op.f('ck_reviews_verdict')),
    sa.CheckConstraint('(demonstration_id IS NULL) <> (ranking_id IS NULL)', name=op.f('ck_reviews_exactly_one_target')),
    sa.ForeignKeyConstraint(['demonstration_id'], ['demonstrations.id'], name=op.f('fk_reviews_demonstration_id_demonstrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ranking_id'], ['rankings.id'], name=op.f('fk_reviews_ranking_id_rankings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_reviews_reviewer_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('ix_reviews_demonstration_id', ['demonstration_id'], unique=False)
        batch_op.create_index('ix_reviews_ranking_id', ['ranking_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_ranking_id')
        batch_op.drop_index('ix_reviews_demonstration_id')

    op.drop_table('reviews')
    with op.batch_alter_table('ranking_items', schema=None) as batch_op:
        batch_op.drop_index('ix_ranking_items_candidate_id')

    op.drop_table('ranking_items')
    with op.batch_alter_table('rankings', schema=None) as batch_op:
        batch_op.drop_index('ix_rankings_status_submitted_at')
        batch_op.drop_index('ix_rankings_prompt_id_status')
        batch_op.drop_index('ix_rankings_labeler_id_status')

    op.drop_table('rankings')
    with op.batch_alter_table('demonstrations', schema=None) as batch_op:
        batch_op.drop_index('ix_demonstrations_status_submitted_at')
        batch_op.drop_index('ix_demonstrations_prompt_id_status')
        batch_op.drop_index('ix_demonstrations_labeler_id_status')

    op.drop_table('demonstrations')
    op.drop_table('finetune_jobs')
    op.drop_table('candidates')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_user_id_status')
        batch_op.drop_index('ix_assignments_project_id_status_expires_at')

    op.drop_table('assignments')
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_index('ix_prompts_queue_ranking')
        batch_op.drop_index('ix_prompts_queue_demonstration')
        batch_op.drop_index('ix_prompts_project_id_split_id')
        batch_op.drop_index('ix_prompts_project_id_prefix_hash')
        batch_op.drop_index('ix_prompts_project_id_origin_user')

    op.drop_table('prompts')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))

    op.drop_table('memberships')
    op.drop_table('exports')
    op.drop_table('projects')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_object_type_object_id')
        batch_op.drop_index('ix_events_at')

    op.drop_table('events')
    op.drop_table('users')
