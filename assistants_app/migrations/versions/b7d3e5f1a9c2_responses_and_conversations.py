"""Responses and Conversations: typed items on messages (item_type, item), responses, response_events

Revision ID: b7d3e5f1a9c2
Revises: 806074792856
Create Date: 2026-12-06 20:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d3e5f1a9c2'
down_revision = '806074792856'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('item', sa.JSON(), nullable=True))

    op.create_table('responses',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('previous_response_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('assistant_id', sa.String(length=36), nullable=True),
    sa.Column('background', sa.Boolean(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('input_items', sa.JSON(), nullable=False),
    sa.Column('output', sa.JSON(), nullable=False),
    sa.Column('usage', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('incomplete_details', sa.JSON(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('turn_token', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['threads.id'], name=op.f('fk_responses_conversation_id_threads'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_tenant_created_at', ['tenant', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_previous_response_id'), ['previous_response_id'],
                              unique=False)

    op.create_table('response_events',
    sa.Column('response_id', sa.String(length=64), nullable=False),
    sa.Column('sequence_number', sa.Integer(), nullable=False),
    sa.Column('event', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_response_events_response_id_responses'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'sequence_number', name=op.f('pk_response_events'))
    )


def downgrade():
    op.drop_table('response_events')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responses_previous_response_id'))
        batch_op.drop_index('ix_responses_tenant_created_at')
    op.drop_table('responses')
    # Conversations stay: the older schema holds them as threads without an assistant (v2 threads), their
    # items as messages; responses it cannot hold.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('item')
        batch_op.drop_column('item_type')
