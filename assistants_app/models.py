"""The database: API keys, provider credentials, assistants, threads and their messages.

Every row but ApiKey belongs to a tenant; queries always filter by it."""
import secrets
import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .database import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def same_as_created(context) -> datetime:
    """A new row's updated_at equals its created_at, to the microsecond."""
    return context.get_current_parameters()["created_at"]


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_token_id(prefix: str) -> str:
    """OpenAI-style ids ("asst_...", "thread_...") minted locally."""
    return prefix + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    # SHA-256 of the key: keys are long random strings, so a fast digest is safe.
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tokens (prompt + completion) the key's turns may use per UTC day; None: no limit.
    daily_token_budget: Mapped[int | None] = mapped_column()


class Credential(db.Model):
    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str | None] = mapped_column(String(2048))
    api: Mapped[str] = mapped_column(String(32))
    api_key_ciphertext: Mapped[bytes] = mapped_column(db.LargeBinary)
    api_key_hint: Mapped[str] = mapped_column(String(8))
    organization: Mapped[str | None] = mapped_column(String(200))
    api_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=same_as_created, onupdate=utcnow)
    # The vector stores it embeds for (None: the provider kind's default, services/retrieval/embeddings.py).
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    embedding_dimensions: Mapped[int | None] = mapped_column()


class Assistant(db.Model):
    __tablename__ = "assistants"
    __table_args__ = (UniqueConstraint("tenant", "details_id", name="uq_assistants_tenant_details_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    # None: the app-default credential (OPENAI_API_KEY / OPENAI_BASE_URL).
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="OPENAI")
    icon_src: Mapped[str | None] = mapped_column(String(2048))
    # Flowise's `details`: name, description, model, instructions, temperature, top_p, tools, ...
    details: Mapped[dict] = mapped_column(JSON)
    # details.id: the remote asst_ id (assistants backend) or one minted here.
    details_id: Mapped[str] = mapped_column(String(64))
    # The agents API's settings.
    session_max_ttl: Mapped[int | None] = mapped_column()
    session_max_length: Mapped[int | None] = mapped_column()
    session_summarization_strategy: Mapped[str] = mapped_column(String(32), default="delete_oldest")
    chat_system_instruction_mode: Mapped[str] = mapped_column(String(32), default="system-message")
    completion_role: Mapped[str | None] = mapped_column(String(64))
    agent_tools: Mapped[list] = mapped_column(JSON, default=list)
    index_id: Mapped[str | None] = mapped_column(String(256))
    index_top_n: Mapped[int | None] = mapped_column()
    index_similarity_cutoff: Mapped[float | None] = mapped_column()
    index_reference_format: Mapped[str | None] = mapped_column(String(256))
    index_reference_delimiter: Mapped[str | None] = mapped_column(String(256))
    agent_metadata: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=same_as_created, onupdate=utcnow)

    credential: Mapped[Credential | None] = relationship(lazy="joined")
    threads: Mapped[list["Thread"]] = relationship(
        back_populates="assistant", cascade="all, delete-orphan", passive_deletes=True
    )

    # The agents API's live status, set on an instance before the agent is serialized (not stored).
    live_status = None
    live_status_errors = ()

    @property
    def model(self) -> str:
        return self.details.get("model", "")

    @property
    def name(self) -> str | None:
        return self.details.get("name")

    @property
    def description(self) -> str | None:
        return self.details.get("description")

    @property
    def instructions(self) -> str | None:
        return self.details.get("instructions")

    @property
    def details_with_id(self) -> dict:
        """Flowise's `details` as clients see it: with its server-owned id."""
        return {"id": self.details_id, **self.details}


class Thread(db.Model):
    """A conversations-API thread or an agents-API session: one conversation with one assistant;
    or an Assistants-v2 thread (assistant_id None): each of its runs names its assistant."""

    __tablename__ = "threads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("thread_"))
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    assistant_id: Mapped[str | None] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"),
                                                     index=True)
    # The provider's conv_/thread_ id for backends that keep history remotely.
    remote_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last write; session_max_ttl counts idle time from here.
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The turn lock: set atomically by one request, so a second turn gets 409.
    turn_token: Mapped[str | None] = mapped_column(String(64))
    turn_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tool calls the model asked for and the client has not answered yet.
    pending_tool_calls: Mapped[list | None] = mapped_column(JSON)
    pending_run_id: Mapped[str | None] = mapped_column(String(128))
    # Assistants v2: the client's metadata (the attribute name `metadata` is SQLAlchemy's).
    thread_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)
    # Assistants v2: {"file_search": {"vector_store_ids": [...]}} the thread's runs search.
    tool_resources: Mapped[dict | None] = mapped_column(JSON)

    assistant: Mapped[Assistant | None] = relationship(back_populates="threads")
    messages: Mapped[list["Message"]] = relationship(
        back_populates="thread",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.position",
    )


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("thread_id", "position", name="uq_messages_thread_id_position"),
        Index("ix_messages_thread_id_position", "thread_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("msg_"))
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list | None] = mapped_column(JSON)
    tool_call_id: Mapped[str | None] = mapped_column(String(128))
    # A summary of older turns that session_max_length replaced.
    is_summary: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Assistants v2: the run that wrote it and its assistant (Assistant.id: the run keeps its public
    # id), the client's metadata and attachments (stored and returned; files are not read).
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assistant_id: Mapped[str | None] = mapped_column(String(36))
    message_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)
    attachments: Mapped[list | None] = mapped_column(JSON)
    # The Responses and Conversations APIs: the item's type (None: a message) and what of it the columns
    # above do not hold (content parts, the ids of its function calls).
    item_type: Mapped[str | None] = mapped_column(String(32))
    item: Mapped[dict | None] = mapped_column(JSON)

    thread: Mapped[Thread] = relationship(back_populates="messages")


class TokenUsage(db.Model):
    """One recorded turn's tokens: a ledger row, written in the turn's own commit. No foreign keys:
    usage outlives the assistants and keys it names (billing still needs a deleted assistant's)."""

    __tablename__ = "token_usage"
    __table_args__ = (
        # GET /usage: a tenant's rows in a time range (its tokens in the index: no table reads for
        # ?group_by=day).
        Index("ix_token_usage_tenant_created_at", "tenant", "created_at", "prompt_tokens",
              "completion_tokens"),
        # Daily token budgets: a key's rows since midnight UTC.
        Index("ix_token_usage_api_key_id_created_at", "api_key_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tenant: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[int | None] = mapped_column()
    api: Mapped[str] = mapped_column(String(32))  # "conversations" | "agents" | ...
    assistant_id: Mapped[str] = mapped_column(String(36))
    model: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column()
    completion_tokens: Mapped[int] = mapped_column()


class Run(db.Model):
    """An Assistants-v2 run: one turn of a thread with an assistant, its state kept here so a
    poll from any worker sees it. The thread's turn lock (turn_token) is the run's while it is
    active."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_thread_id_created_at", "thread_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("run_"))
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    # None once its assistant is deleted: the run stays, as OpenAI's do, and keeps the assistant's
    # public asst_ id (its messages name it through their run).
    assistant_id: Mapped[str | None] = mapped_column(ForeignKey("assistants.id", ondelete="SET NULL"),
                                                     index=True)
    assistant_public_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[dict | None] = mapped_column(JSON)
    usage: Mapped[dict | None] = mapped_column(JSON)
    required_action: Mapped[dict | None] = mapped_column(JSON)
    # The run's own settings: the assistant's unless the run overrode them.
    model: Mapped[str] = mapped_column(String(256))
    instructions: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[list] = mapped_column(JSON, default=list)
    # temperature, top_p, max_completion_tokens, tool_choice, response_format, ...: as given.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    run_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)
    # The thread's turn lock token while the run holds it.
    turn_token: Mapped[str | None] = mapped_column(String(64))
    # The API key that started the run: its usage and budget (the run goes on after the request).
    api_key_id: Mapped[int | None] = mapped_column()

    assistant: Mapped[Assistant | None] = relationship(lazy="joined")
