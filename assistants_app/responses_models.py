"""The Responses API's rows: a stored response (resp_...), and the events of a background one (so that
GET /v1/responses/{id}?stream=true can replay them). A conversation is a Thread (conv_...) and its items
are Messages (models.py): one store for every API."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .database import db
from .models import UTCDateTime, new_token_id, utcnow


class Response(db.Model):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_tenant_created_at", "tenant", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_token_id("resp_"))
    tenant: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    model: Mapped[str] = mapped_column(String(256))
    previous_response_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Its conversation's thread; the response outlives a deleted conversation.
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    # The assistant of `prompt` (Assistant.id), if any.
    assistant_id: Mapped[str | None] = mapped_column(String(36))
    background: Mapped[bool] = mapped_column(default=False)
    # The request's settings, echoed in the response object (instructions, tools, text, temperature...).
    request: Mapped[dict] = mapped_column(JSON)
    input_items: Mapped[list] = mapped_column(JSON)
    output: Mapped[list] = mapped_column(JSON)
    usage: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)
    incomplete_details: Mapped[dict | None] = mapped_column(JSON)
    response_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)
    # The API key that asked for it: its usage and budget (a background response goes on after the request).
    api_key_id: Mapped[int | None] = mapped_column()
    # A background response's worker claim: the turn lock token of its worker, renewed until expires_at.
    turn_token: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ResponseEvent(db.Model):
    """One streaming event of a background response, kept for replay."""

    __tablename__ = "response_events"

    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    sequence_number: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[dict] = mapped_column(JSON)
