"""token usage and daily token budgets: the token_usage ledger (GET /usage, flask usage purge)
and api_keys.daily_token_budget

Revision ID: c511b54c28e9
Revises: ccf57db1db86
Create Date: 2026-11-30 02:59:34.132037

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c511b54c28e9'
down_revision = 'ccf57db1db86'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('token_usage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('api', sa.String(length=32), nullable=False),
    sa.Column('assistant_id', sa.String(length=36), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_usage'))
    )
    with op.batch_alter_table('token_usage', schema=None) as batch_op:
        batch_op.create_index('ix_token_usage_api_key_id_created_at', ['api_key_id', 'created_at'], unique=False)
        batch_op.create_index('ix_token_usage_tenant_created_at', ['tenant', 'created_at', 'prompt_tokens', 'completion_tokens'], unique=False)

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('daily_token_budget', sa.Integer(), nullable=True))




def downgrade():
    
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('daily_token_budget')

    with op.batch_alter_table('token_usage', schema=None) as batch_op:
        batch_op.drop_index('ix_token_usage_tenant_created_at')
        batch_op.drop_index('ix_token_usage_api_key_id_created_at')

    op.drop_table('token_usage')

