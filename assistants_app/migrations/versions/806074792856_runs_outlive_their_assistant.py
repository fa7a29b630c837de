"""Runs outlive their assistant: runs.assistant_id nullable, ON DELETE SET NULL, and
runs.assistant_public_id (its asst_ id) kept for when it is gone

Revision ID: 806074792856
Revises: a2f1c0de0012
Create Date: 2026-12-06 19:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '806074792856'
down_revision = 'a2f1c0de0012'
branch_labels = None
depends_on = None

FOREIGN_KEY = 'fk_runs_assistant_id_assistants'


def upgrade():
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assistant_public_id', sa.String(length=64), nullable=True))
    op.execute("UPDATE runs SET assistant_public_id = "
               "(SELECT details_id FROM assistants WHERE assistants.id = runs.assistant_id)")
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.alter_column('assistant_public_id', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('assistant_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.drop_constraint(FOREIGN_KEY, type_='foreignkey')
        batch_op.create_foreign_key(FOREIGN_KEY, 'assistants', ['assistant_id'], ['id'], ondelete='SET NULL')


def downgrade():
    # The older schema has no run without its assistant: those runs go (their messages stay, naming
    # a run that 404s, as they did when the assistant's deletion took its runs).
    op.execute("DELETE FROM runs WHERE assistant_id IS NULL")
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_='foreignkey')
        batch_op.create_foreign_key(FOREIGN_KEY, 'assistants', ['assistant_id'], ['id'], ondelete='CASCADE')
        batch_op.alter_column('assistant_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column('assistant_public_id')
