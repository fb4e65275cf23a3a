"""scope labels and paraphrases: scope_labels, prompts.scope/scope_reason, prompts.source_prompt_id/paraphrase_status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:20:00.000000

Like 0002, columns are added with plain `ALTER TABLE ... ADD COLUMN` on both backends, never by
Alembic's batch copy on SQLite (copying `prompts` would drop it, and with foreign keys on, SQLite's
DROP TABLE first deletes every row and cascades to every candidate, result and lease). SQLite cannot
add a table constraint afterwards, so there a CHECK is written into the column definition (same
name as on PostgreSQL). The self-referencing foreign key `prompts.source_prompt_id` is written as a
named table constraint into the stored table definition instead, with `PRAGMA writable_schema`
(the simpler procedure of https://sqlite.org/lang_altertable.html, "Making Other Kinds Of Table
Schema Changes", for changes that leave the stored rows as they are). SQLite's page lists removing a
foreign key as such a change; adding one is safe here too because the new column is NULL in every
row, so no row can violate it. A column-level REFERENCES would also work, but SQLite reflects it
without its name and ON DELETE rule, so the models could never be checked against the database.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

SCOPE_CHECK = "scope IN ('answerable', 'off-limits')"
PARAPHRASE_CHECK = "paraphrase_status IN ('pending', 'kept', 'rejected')"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _column_spec(column: sa.Column) -> str:
    dialect = op.get_bind().dialect
    return dialect.ddl_compiler(dialect, None).get_column_specification(column)


def _add_checked_column(table: str, column: sa.Column, check_name: str, check: str) -> None:
    """Add `column` with a named CHECK constraint, without copying the table on SQLite."""
    if _sqlite():
        op.execute(f"ALTER TABLE {table} ADD COLUMN {_column_spec(column)} CONSTRAINT {check_name} CHECK ({check})")
    else:
        op.add_column(table, column)
        op.create_check_constraint(op.f(check_name), table, check)


FK_NAME = 'fk_prompts_source_prompt_id_prompts'
FK_SQL = f"CONSTRAINT {FK_NAME} FOREIGN KEY(source_prompt_id) REFERENCES prompts (id) ON DELETE CASCADE"


def _sqlite_edit_table_sql(table: str, edit, *, fk_on: str, expect_fk: bool) -> None:
    """Replace `table`'s stored CREATE TABLE text by `edit(text)` (no row is rewritten).

    Afterwards the schema is read back: SQLite must parse the new text and list (or no longer list)
    the foreign key on column `fk_on`. A cheap check, unlike an integrity check of every page.
    """
    bind = op.get_bind()
    old = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar_one()
    new = edit(old)
    assert new != old, f"the stored definition of {table} did not change"
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (new, table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    fk_columns = {row[3] for row in bind.exec_driver_sql(f"PRAGMA foreign_key_list({table})")}
    assert (fk_on in fk_columns) == expect_fk, f"{table}: foreign key on {fk_on} not as expected: {fk_columns}"


def _add_table_constraint(text: str) -> str:
    head, _, tail = text.rstrip().rpartition(")")
    return f"{head.rstrip()}, \n\t{FK_SQL}\n){tail}"


def _drop_table_constraint(text: str) -> str:
    return text.replace(f", \n\t{FK_SQL}\n", "\n")


def upgrade() -> None:
    op.create_table('scope_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=True),
    sa.Column('by_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("label IN ('answerable', 'off-limits')", name=op.f('ck_scope_labels_label')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_scope_labels_project_id_projects'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_scope_labels_prompt_id_prompts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scope_labels_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scope_labels')),
    sa.UniqueConstraint('prompt_id', 'user_id', name=op.f('uq_scope_labels_prompt_id_user_id'))
    )
    op.create_index('ix_scope_labels_project_id_user_id', 'scope_labels', ['project_id', 'user_id'], unique=False)

    _add_checked_column('prompts', sa.Column('scope', sa.String(length=16), nullable=True),
                        'ck_prompts_scope', SCOPE_CHECK)
    op.add_column('prompts', sa.Column('scope_reason', sa.String(length=100), nullable=True))
    op.create_index('ix_prompts_project_id_scope_id', 'prompts', ['project_id', 'scope', 'id'], unique=False)

    op.add_column('prompts', sa.Column('source_prompt_id', sa.Integer(), nullable=True))
    if _sqlite():
        _sqlite_edit_table_sql('prompts', _add_table_constraint, fk_on='source_prompt_id', expect_fk=True)
    else:
        op.create_foreign_key(op.f(FK_NAME), 'prompts', 'prompts', ['source_prompt_id'], ['id'], ondelete='CASCADE')
    op.create_index('ix_prompts_source_prompt_id', 'prompts', ['source_prompt_id'], unique=False)
    _add_checked_column('prompts', sa.Column('paraphrase_status', sa.String(length=16), nullable=True),
                        'ck_prompts_paraphrase_status', PARAPHRASE_CHECK)


def downgrade() -> None:
    # Plain DROP COLUMN on both backends (SQLite 3.35+; a column's own CHECK goes with it). SQLite
    # refuses to drop a column named in a foreign key, so the constraint goes first there too.
    op.drop_column('prompts', 'paraphrase_status')
    op.drop_index('ix_prompts_source_prompt_id', table_name='prompts')
    if _sqlite():
        _sqlite_edit_table_sql('prompts', _drop_table_constraint, fk_on='source_prompt_id', expect_fk=False)
    else:
        op.drop_constraint(FK_NAME, 'prompts', type_='foreignkey')
    op.drop_column('prompts', 'source_prompt_id')
    op.drop_index('ix_prompts_project_id_scope_id', table_name='prompts')
    op.drop_column('prompts', 'scope_reason')
    op.drop_column('prompts', 'scope')
    op.drop_index('ix_scope_labels_project_id_user_id', table_name='scope_labels')
    op.drop_table('scope_labels')
