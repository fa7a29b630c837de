"""Files, vector stores, their files, batches and chunks (with each database's keyword index); v2 threads'
tool_resources; a credential's embedding model

Revision ID: f1e5a7c0d028
Revises: a2f1c0de0012
Create Date: 2026-12-06 19:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f1e5a7c0d028'
down_revision = 'b7d3e5f1a9c2'
branch_labels = None
depends_on = None

# SQLite: an FTS5 index over the chunks' text (external content: the text is stored once, in the
# chunks table), kept by triggers, so that a chunk deleted by any cascade leaves the index too.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5(text, content='vector_store_chunks', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER vector_store_chunks_fts_insert AFTER INSERT ON vector_store_chunks BEGIN "
    "INSERT INTO vector_store_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER vector_store_chunks_fts_delete AFTER DELETE ON vector_store_chunks BEGIN "
    "INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
)
SQLITE_FTS_DROP = ("DROP TRIGGER IF EXISTS vector_store_chunks_fts_delete",
                   "DROP TRIGGER IF EXISTS vector_store_chunks_fts_insert",
                   "DROP TABLE IF EXISTS vector_store_chunks_fts")
# PostgreSQL: a generated tsvector column and its GIN index.
POSTGRESQL_FTS = (
    "ALTER TABLE vector_store_chunks ADD COLUMN text_search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX ix_vector_store_chunks_text_search ON vector_store_chunks USING gin (text_search)",
)


def upgrade():
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedding_model', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('embedding_dimensions', sa.Integer(), nullable=True))
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tool_resources', sa.JSON(), nullable=True))

    op.create_table('files',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=512), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_index('ix_files_tenant_created_at', 'files', ['tenant', 'created_at'], unique=False)

    op.create_table('vector_stores',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('expires_after', sa.JSON(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_active_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('credential_id', sa.String(length=36), nullable=True),
    sa.Column('embedding_model', sa.String(length=256), nullable=False),
    sa.Column('embedding_dimensions', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vector_stores'))
    )
    op.create_index('ix_vector_stores_tenant_created_at', 'vector_stores', ['tenant', 'created_at'])

    op.create_table('vector_store_file_batches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('vector_store_id', sa.String(length=64), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vector_store_id'], ['vector_stores.id'],
                            name=op.f('fk_vector_store_file_batches_vector_store_id_vector_stores'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vector_store_file_batches'))
    )
    op.create_index(op.f('ix_vector_store_file_batches_tenant'), 'vector_store_file_batches', ['tenant'])
    op.create_index(op.f('ix_vector_store_file_batches_vector_store_id'), 'vector_store_file_batches',
                    ['vector_store_id'])

    op.create_table('vector_store_files',
    sa.Column('vector_store_id', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('usage_bytes', sa.BigInteger(), nullable=False),
    sa.Column('chunking_strategy', sa.JSON(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_vector_store_files_file_id_files'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vector_store_id'], ['vector_stores.id'],
                            name=op.f('fk_vector_store_files_vector_store_id_vector_stores'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vector_store_id', 'file_id', name=op.f('pk_vector_store_files'))
    )
    op.create_index(op.f('ix_vector_store_files_batch_id'), 'vector_store_files', ['batch_id'])
    op.create_index(op.f('ix_vector_store_files_file_id'), 'vector_store_files', ['file_id'])
    op.create_index('ix_vector_store_files_tenant_status', 'vector_store_files', ['tenant', 'status'])
    op.create_index('ix_vector_store_files_vector_store_id_created_at', 'vector_store_files',
                    ['vector_store_id', 'created_at'])

    op.create_table('vector_store_chunks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('vector_store_id', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['vector_store_id', 'file_id'],
                            ['vector_store_files.vector_store_id', 'vector_store_files.file_id'],
                            name='fk_vector_store_chunks_vector_store_files', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vector_store_chunks'))
    )
    op.create_index('ix_vector_store_chunks_vector_store_id_file_id', 'vector_store_chunks',
                    ['vector_store_id', 'file_id'])
    op.create_index('ix_vector_store_chunks_id_vector_store_id_file_id', 'vector_store_chunks',
                    ['id', 'vector_store_id', 'file_id'])
    for statement in SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_FTS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_DROP:
            op.execute(statement)
    op.drop_table('vector_store_chunks')  # PostgreSQL: its tsvector column and index go with it
    op.drop_table('vector_store_files')
    op.drop_table('vector_store_file_batches')
    op.drop_table('vector_stores')
    op.drop_table('files')
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_column('tool_resources')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('embedding_dimensions')
        batch_op.drop_column('embedding_model')
