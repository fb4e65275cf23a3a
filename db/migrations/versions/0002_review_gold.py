"""review, gold and qualification: gold_tasks, gold leases on assignments, pause and qualification on memberships.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:00:00.000000

Columns are added with plain `ALTER TABLE ... ADD COLUMN` on both backends, never by Alembic's
batch copy on SQLite: copying `assignments` means dropping it, and with foreign keys on SQLite's
DROP TABLE first deletes every row, which would set `demonstrations.assignment_id` and
`rankings.assignment_id` to NULL. SQLite cannot add a table CHECK constraint afterwards, so there
the check is written into the column definition (same name as on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen types: migrations never import the models, which keep changing.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

GOLD_CHECK = "gold IN ('qualification', 'check')"
QUALIFICATION_CHECK = "qualification IN ('pending', 'qualified', 'failed')"


def _add_checked_column(table: str, column: sa.Column, check_name: str, check: str) -> None:
    """Add `column` with a named CHECK constraint, without copying the table on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        spec = op.get_bind().dialect.ddl_compiler(op.get_bind().dialect, None).get_column_specification(column)
        op.execute(f"ALTER TABLE {table} ADD COLUMN {spec} CONSTRAINT {check_name} CHECK ({check})")
    else:
        op.add_column(table, column)
        op.create_check_constraint(op.f(check_name), table, check)


def upgrade() -> None:
    op.create_table('gold_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('expected', JSON, nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('demonstration', 'ranking')", name=op.f('ck_gold_tasks_kind')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_gold_tasks_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_gold_tasks_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_gold_tasks_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gold_tasks')),
    sa.UniqueConstraint('prompt_id', 'kind', name=op.f('uq_gold_tasks_prompt_id_kind'))
    )
    op.create_index('ix_gold_tasks_project_id_kind_id', 'gold_tasks', ['project_id', 'kind', 'id'], unique=False)

    _add_checked_column('assignments', sa.Column('gold', sa.String(length=16), nullable=True),
                        'ck_assignments_gold', GOLD_CHECK)
    op.add_column('assignments', sa.Column('gold_score', sa.Float(), nullable=True))
    op.create_index('ix_assignments_project_id_gold', 'assignments', ['project_id', 'gold', 'user_id'], unique=False)

    op.add_column('memberships', sa.Column('paused', sa.Boolean(), server_default='0', nullable=False))
    _add_checked_column('memberships',
                        sa.Column('qualification', sa.String(length=16), server_default='pending', nullable=False),
                        'ck_memberships_qualification', QUALIFICATION_CHECK)
    op.add_column('memberships', sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('memberships', sa.Column('qualification_score', sa.Float(), nullable=True))
    op.add_column('memberships', sa.Column('qualification_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN on both backends (SQLite 3.35+); a column's own CHECK goes with it.
    for column in ('qualification_since', 'qualification_score', 'qualified_at', 'qualification', 'paused'):
        op.drop_column('memberships', column)
    op.drop_index('ix_assignments_project_id_gold', table_name='assignments')
    op.drop_column('assignments', 'gold_score')
    op.drop_column('assignments', 'gold')
    op.drop_index('ix_gold_tasks_project_id_kind_id', table_name='gold_tasks')
    op.drop_table('gold_tasks')
