"""What of a thread's history the provider sees, and when a thread has expired.

Seed 003's session settings live on the assistant: session_max_ttl (idle seconds before
a thread expires) and session_max_length (characters of history the provider may see).
A history over the length is reduced by session_summarization_strategy: `delete_oldest`
drops the oldest turns; `summarize` replaces them by a summary the assistant's model
writes, kept as the history's first message (Message.is_summary). The reduction is planned
when the turn is prepared and written by apply_reduction() in the turn's own commit
(record_turn): a turn that fails leaves the history as it was.

The clock is app.config["CLOCK"] (a callable returning an aware UTC datetime) when set,
so tests can move time; otherwise the system clock."""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..errors import invalid
from ..extensions import db, openai_adapter
from ..models import Assistant, Message, Thread, utcnow
from ..openai_adapter import ChatMessage, Connection, ProviderError
from ..openai_adapter.adapter import SUMMARY_PROMPT
from . import release_connection
from .credentials import ProviderNotConfigured, connection_for

log = logging.getLogger(__name__)

SUMMARY_PREFIX = "Summary of the earlier conversation: "
# A summary shorter than this would say nothing: below it, summarize drops the turns instead.
MIN_SUMMARY_ROOM = 40
REMOTE_DELETE_TIMEOUT = 10.0


def current_time() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else utcnow()


def is_expired(thread: Thread, now=None) -> bool:
    ttl = thread.assistant.session_max_ttl
    if not ttl:
        return False
    return (now or current_time()) - thread.last_active_at > timedelta(seconds=ttl)


def size(message) -> int:
    """A message's length in characters: its text and its tool calls' names and arguments."""
    calls = message.tool_calls or ()
    return len(message.content or "") + sum(len(c.get("name") or "") + len(c.get("arguments") or "") for c in calls)


def as_chat(message: Message, assistant: Assistant) -> ChatMessage:
    role = message.role
    if message.is_summary and assistant.chat_system_instruction_mode == "user-message":
        role = "user"  # models without a system role get the summary as the opening user message
    return ChatMessage(role=role, content=message.content, tool_calls=message.tool_calls,
                       tool_call_id=message.tool_call_id)


@dataclass
class Reduction:
    """What apply_reduction() writes with the turn: rows to drop, and the summary replacing them."""

    dropped_ids: list[str]
    summary: str | None
    position: int


def history_for_provider(conn: Connection, thread: Thread,
                         new_messages: list[ChatMessage]) -> tuple[list[ChatMessage], Reduction | None]:
    """The stored history, oldest first, as the provider receives it: reduced to fit
    session_max_length together with this turn's new messages; and the reduction, if any,
    for apply_reduction() to write with the turn."""
    assistant = thread.assistant
    rows = list(thread.messages)
    if assistant.session_max_length:
        return _fit(conn, thread, rows, new_messages, assistant.session_max_length)
    return [as_chat(row, assistant) for row in rows], None


def apply_reduction(thread: Thread, reduction: Reduction | None) -> None:
    """Write a reduction history_for_provider() planned (call inside the turn's commit)."""
    if reduction is None:
        return
    db.session.execute(delete(Message).where(Message.id.in_(reduction.dropped_ids)))
    if reduction.summary:
        db.session.add(Message(thread_id=thread.id, position=reduction.position, role="system",
                               content=SUMMARY_PREFIX + reduction.summary, is_summary=True))


def _turns(rows: list[Message]) -> list[list[Message]]:
    """The history cut into turns: each starts at a user message; a summary is a turn of its own."""
    turns: list[list[Message]] = []
    for row in rows:
        if not turns or row.role == "user" or row.is_summary or turns[-1][0].is_summary:
            turns.append([row])
        else:
            turns[-1].append(row)
    return turns


def _fit(conn: Connection, thread: Thread, rows: list[Message], new_messages: list[ChatMessage],
         limit: int) -> tuple[list[ChatMessage], Reduction | None]:
    incoming = sum(size(m) for m in new_messages)
    budget = limit - incoming
    if budget < 0:
        raise invalid("messages", f"This turn's messages are {incoming} characters long, more than the agent's "
                                  f"session_max_length ({limit}).")
    assistant = thread.assistant
    if sum(size(row) for row in rows) <= budget:
        return [as_chat(row, assistant) for row in rows], None
    summarize = assistant.session_summarization_strategy == "summarize"
    kept = _turns(rows)
    # Answering tool calls: the provider needs the assistant message that asked for them.
    pinned = 1 if new_messages and new_messages[0].role == "tool" else 0
    # With summarize, recent turns may use half the budget; the summary gets the rest.
    target = budget // 2 if summarize else budget
    dropped: list[Message] = []
    while len(kept) > pinned and sum(size(row) for turn in kept for row in turn) > target:
        dropped.extend(kept.pop(0))
    kept_rows = [row for turn in kept for row in turn]
    summary = None
    room = budget - sum(size(row) for row in kept_rows) - len(SUMMARY_PREFIX)
    if summarize and dropped and room >= MIN_SUMMARY_ROOM:
        release_connection()
        text = openai_adapter.summarize(
            conn, assistant.model, [as_chat(row, assistant) for row in dropped],
            instructions=f"{SUMMARY_PROMPT} Use at most {room} characters.")
        summary = text.strip()[:room] or None
    history = [as_chat(row, assistant) for row in kept_rows]
    reduction = None
    if dropped:
        # The summary takes the newest dropped row's place: before every kept row.
        reduction = Reduction([row.id for row in dropped], summary, max(row.position for row in dropped))
    if summary:
        role = "user" if assistant.chat_system_instruction_mode == "user-message" else "system"
        history.insert(0, ChatMessage(role=role, content=SUMMARY_PREFIX + summary))
    return history, reduction


def purge_expired() -> int:
    """Delete every thread (of every tenant) idle for longer than its assistant's session_max_ttl;
    their provider-side conversations too, best effort. Returns how many were deleted."""
    count = 0
    moment = current_time()
    ttl_assistants = db.session.scalars(select(Assistant).where(Assistant.session_max_ttl.is_not(None))).all()
    for assistant in ttl_assistants:
        cutoff = moment - timedelta(seconds=assistant.session_max_ttl)
        expired = db.session.scalars(select(Thread).where(
            Thread.assistant_id == assistant.id, Thread.last_active_at < cutoff,
            Thread.turn_token.is_(None))).all()  # a turn in progress finishes first
        for thread in expired:
            _delete_remote(thread)
            db.session.delete(thread)
            count += 1
        db.session.commit()
    return count


def _delete_remote(thread: Thread) -> None:
    if not thread.remote_id:
        return
    try:
        conn = connection_for(thread.assistant.credential)
        openai_adapter.delete_remote_thread(conn, thread.remote_id, timeout=REMOTE_DELETE_TIMEOUT)
    except (ProviderNotConfigured, ProviderError) as err:
        log.warning("could not delete remote thread %s: %s", thread.remote_id, getattr(err, "message", err))
