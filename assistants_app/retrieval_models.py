"""The rows of files, vector stores and their chunks (the /v1 files and vector stores APIs, file_search):
imported by the services that use them, beside models.py, which they extend.

    File               an uploaded file: its bytes in the database (every host sees them)
    VectorStore        a searchable set of files, embedded with one credential's model
    VectorStoreFile    a file in a store: its indexing job (status, claim) and attributes
    FileBatch          files attached together (vector_stores.file_batches)
    Chunk              a piece of a file's text in a store, its embedding and (by dialect) its keyword index

Deleting a file, a store or a file of a store deletes its chunks by cascade (Chunk's foreign key)."""
from datetime import datetime

from sqlalchemy import (JSON, BigInteger, ForeignKey, ForeignKeyConstraint, Index, Integer, LargeBinary,
                        String, Text)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from .database import db
from .models import UTCDateTime, new_token_id, utcnow


class File(db.Model):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_tenant_created_at", "tenant", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("file-"))
    tenant: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(BigInteger)
    # Read only by GET .../content and indexing: a listing never loads it.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VectorStore(db.Model):
    __tablename__ = "vector_stores"
    __table_args__ = (Index("ix_vector_stores_tenant_created_at", "tenant", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("vs_"))
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(256))
    store_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)
    # {"anchor": "last_active_at", "days": N}: the store expires N days after it was last used.
    expires_after: Mapped[dict | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who embeds its chunks and queries: a credential of the tenant (None: the app's default provider),
    # the model and dimensions as they were when the store was made (its vectors must stay comparable).
    credential_id: Mapped[str | None] = mapped_column(String(36))
    embedding_model: Mapped[str] = mapped_column(String(256))
    embedding_dimensions: Mapped[int | None] = mapped_column(Integer)
    # Moves on whenever its chunks change: a worker's cached vectors of an older revision are stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)


class FileBatch(db.Model):
    __tablename__ = "vector_store_file_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("vsfb_"))
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    vector_store_id: Mapped[str] = mapped_column(ForeignKey("vector_stores.id", ondelete="CASCADE"),
                                                 index=True)
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VectorStoreFile(db.Model):
    """A file in a store, and the job that indexes it: ``status`` as OpenAI shows it (in_progress,
    completed, failed, cancelled); while in_progress, ``started_at`` says a worker holds one of the
    tenant's TENANT_MAX_ACTIVE_RUNS slots for it, and ``expires_at`` how long its claim lasts unrenewed."""

    __tablename__ = "vector_store_files"
    __table_args__ = (
        Index("ix_vector_store_files_vector_store_id_created_at", "vector_store_id", "created_at"),
        Index("ix_vector_store_files_tenant_status", "tenant", "status"))

    vector_store_id: Mapped[str] = mapped_column(ForeignKey("vector_stores.id", ondelete="CASCADE"),
                                                 primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    tenant: Mapped[str] = mapped_column(String(100))
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    last_error: Mapped[dict | None] = mapped_column(JSON)
    usage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    chunking_strategy: Mapped[dict] = mapped_column(JSON)
    attributes: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Chunk(db.Model):
    """A piece of a file's text in one store. Its keyword index is the database's: an FTS5 table kept by
    triggers on SQLite, a generated tsvector column on PostgreSQL (the migration makes both)."""

    __tablename__ = "vector_store_chunks"
    __table_args__ = (
        ForeignKeyConstraint(["vector_store_id", "file_id"],
                             ["vector_store_files.vector_store_id", "vector_store_files.file_id"],
                             ondelete="CASCADE", name="fk_vector_store_chunks_vector_store_files"),
        Index("ix_vector_store_chunks_vector_store_id_file_id", "vector_store_id", "file_id"),
        # Which store and file a chunk the keyword index found is of, without reading its text and vector.
        Index("ix_vector_store_chunks_id_vector_store_id_file_id", "id", "vector_store_id", "file_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    vector_store_id: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    # float32 values, little-endian, unit length (a dot product is the cosine similarity).
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
