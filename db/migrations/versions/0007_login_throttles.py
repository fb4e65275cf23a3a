"""login throttles: failed logins and lockout per username and client (not per account alone).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 05:00:00.000000

A new table only: `users.failed_logins` and `users.locked_until` stay (the admin pages show them);
the lockout itself is now decided by `login_throttles`, so a stranger cannot lock a labeler out.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttles')),
    sa.UniqueConstraint('username', 'client', name=op.f('uq_login_throttles_username_client'))
    )
    op.create_index('ix_login_throttles_updated_at', 'login_throttles', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_throttles_updated_at', table_name='login_throttles')
    op.drop_table('login_throttles')
