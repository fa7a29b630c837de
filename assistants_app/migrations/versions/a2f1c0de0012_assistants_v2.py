"""Assistants API v2: threads not bound to one assistant, messages of runs, runs

Revision ID: a2f1c0de0012
Revises: c511b54c28e9
Create Date: 2026-11-30 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a2f1c0de0012'
down_revision = 'c511b54c28e9'
branch_labels = None
depends_on = None


def upgrade():
    # A v2 thread has no assistant (each run names one); seed-004 threads and seed-003 sessions keep theirs.
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.alter_column('assistant_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('metadata', sa.JSON(), nullable=True))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('assistant_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('metadata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_run_id'), ['run_id'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('thread_id', sa.String(length=64), nullable=False),
    sa.Column('assistant_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('usage', sa.JSON(), nullable=True),
    sa.Column('required_action', sa.JSON(), nullable=True),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=True),
    sa.Column('tools', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('turn_token', sa.String(length=64), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], name=op.f('fk_runs_assistant_id_assistants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_runs_thread_id_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_assistant_id'), ['assistant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_tenant'), ['tenant'], unique=False)
        batch_op.create_index('ix_runs_thread_id_created_at', ['thread_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_thread_id_created_at')
        batch_op.drop_index(batch_op.f('ix_runs_tenant'))
        batch_op.drop_index(batch_op.f('ix_runs_assistant_id'))
    op.drop_table('runs')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_run_id'))
        batch_op.drop_column('attachments')
        batch_op.drop_column('metadata')
        batch_op.drop_column('assistant_id')
        batch_op.drop_column('run_id')

    # v2 threads have no assistant to keep: they go with the v2 API, their messages first (foreign
    # keys are off while migrations run on SQLite: no cascade does it).
    op.execute("DELETE FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE assistant_id IS NULL)")
    op.execute("DELETE FROM threads WHERE assistant_id IS NULL")
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_column('metadata')
        batch_op.alter_column('assistant_id', existing_type=sa.String(length=36), nullable=False)
