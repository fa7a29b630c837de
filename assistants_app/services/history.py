"""What of a thread's history the provider sees (chat_completions keeps it here).

An assistant's session_max_length caps the characters of history the provider may see.
A history over it is reduced by session_summarization_strategy: `delete_oldest` drops the
oldest turns; `summarize` replaces them by a summary the assistant's model writes, kept as
the history's first message (Message.is_summary). The reduction is planned when the turn
is prepared and written by apply_reduction() in the turn's own commit: a turn that fails
leaves the history as it was."""
import dataclasses
import json
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Text, bindparam, cast, delete, select

from ..database import execute_core
from ..errors import invalid
from ..extensions import db, openai_adapter
from ..models import Assistant, Message, Thread
from ..openai_adapter import ChatMessage, Connection, TurnRequest

SUMMARY_PREFIX = "Summary of the earlier conversation: "
SUMMARY_PROMPT = ("Summarize the conversation below concisely. Keep the facts, names, numbers, decisions "
                  "and open questions that a later reply would need. Answer with the summary only.")
# A summary shorter than this would say nothing: below it, summarize drops the turns instead.
MIN_SUMMARY_ROOM = 40


# The history as plain rows (Core, not ORM instances: a tenth of the cost at 200 messages), which
# read like Message objects for what this module needs. Core columns: a select of the ORM's
# attributes goes through its entity machinery (~0.3 ms a turn).
# tool_calls comes as its JSON text: most messages have none, stored as JSON `null`, which the JSON
# type would parse row by row (a third of what a history message cost); decoded() parses the others.
_M = Message.__table__.c
HISTORY = (select(_M.id, _M.position, _M.role, _M.content, cast(_M.tool_calls, Text).label("tool_calls"),
                  _M.tool_call_id, _M.is_summary)
           .where(_M.thread_id == bindparam("thread_id")).order_by(_M.position))


class StoredMessage(NamedTuple):
    """A history row, read like a Message for what this module needs."""

    id: str
    position: int
    role: str
    content: str | None
    tool_calls: list | None
    tool_call_id: str | None
    is_summary: bool


def decoded(rows) -> list[StoredMessage]:
    return [StoredMessage(id_, position, role, content,
                          None if calls is None or calls == "null" else json.loads(calls), call_id,
                          is_summary)
            for id_, position, role, content, calls, call_id, is_summary in rows]


def size(message) -> int:
    """A message's length in characters: its text and its tool calls' names and arguments."""
    calls = message.tool_calls or ()
    return len(message.content or "") + sum(len(c.get("name") or "") + len(c.get("arguments") or "")
                                            for c in calls)


def summary_role(assistant: Assistant) -> str:
    """The role a summary is sent with: models without a system role get it as the opening user message."""
    return "user" if assistant.chat_system_instruction_mode == "user-message" else "system"


def as_chat(message, assistant: Assistant) -> ChatMessage:
    """A stored message (a Message, or a StoredMessage) as the provider receives it."""
    role = summary_role(assistant) if message.is_summary else message.role
    return ChatMessage(role=role, content=message.content, tool_calls=message.tool_calls,
                       tool_call_id=message.tool_call_id)


def as_chats(messages: list[StoredMessage], assistant: Assistant) -> list[ChatMessage]:
    """as_chat() of each, in one pass (this runs for every message of every turn)."""
    summary = summary_role(assistant)
    return [ChatMessage(summary if is_summary else role, content, calls, call_id)
            for _, _, role, content, calls, call_id, is_summary in messages]


@dataclass
class Reduction:
    """What apply_reduction() writes with the turn: rows to drop, and the summary replacing them."""

    dropped_ids: list[str]
    summary: str | None
    position: int


def history_for_provider(conn: Connection, thread: Thread, new_messages: list[ChatMessage],
                         assistant: Assistant | None = None) -> tuple[list[ChatMessage], Reduction | None]:
    """The stored history, oldest first, as the provider receives it: reduced to fit
    session_max_length together with this turn's new messages; and the reduction, if any,
    for apply_reduction() to write with the turn. ``assistant``: the turn's, when the thread
    has none of its own (Assistants v2)."""
    assistant = assistant or thread.assistant
    rows = decoded(execute_core(HISTORY, {"thread_id": thread.id}))
    if assistant.session_max_length:
        return _fit(conn, thread, rows, new_messages, assistant)
    return as_chats(rows, assistant), None


def apply_reduction(thread: Thread, reduction: Reduction | None) -> None:
    """Write a reduction history_for_provider() planned (call inside the turn's commit)."""
    if reduction is None:
        return
    db.session.execute(delete(Message).where(Message.id.in_(reduction.dropped_ids)))
    if reduction.summary:
        db.session.add(Message(thread_id=thread.id, position=reduction.position, role="system",
                               content=SUMMARY_PREFIX + reduction.summary, is_summary=True))


def _turns(rows: list[StoredMessage]) -> list[list[StoredMessage]]:
    """The history cut into turns: each starts at a user message; a summary is a turn of its own."""
    turns: list[list[StoredMessage]] = []
    for row in rows:
        if not turns or row.role == "user" or row.is_summary or turns[-1][0].is_summary:
            turns.append([row])
        else:
            turns[-1].append(row)
    return turns


def _fit(conn: Connection, thread: Thread, rows: list[StoredMessage], new_messages: list[ChatMessage],
         assistant: Assistant) -> tuple[list[ChatMessage], Reduction | None]:
    limit = assistant.session_max_length
    incoming = sum(size(m) for m in new_messages)
    budget = limit - incoming
    if budget < 0:
        raise invalid("messages", f"This turn's messages are {incoming} characters long, more than the "
                                  f"agent's session_max_length ({limit}).")
    if sum(size(row) for row in rows) <= budget:
        return as_chats(rows, assistant), None
    summarizing = assistant.session_summarization_strategy == "summarize"
    kept = _turns(rows)
    # Answering tool calls: the provider needs the assistant message that asked for them.
    pinned = 1 if new_messages and new_messages[0].role == "tool" else 0
    # With summarize, recent turns may use half the budget; the summary gets the rest.
    target = budget // 2 if summarizing else budget
    dropped: list[StoredMessage] = []
    while len(kept) > pinned and sum(size(row) for turn in kept for row in turn) > target:
        dropped.extend(kept.pop(0))
    kept_rows = [row for turn in kept for row in turn]
    summary = None
    room = budget - sum(size(row) for row in kept_rows) - len(SUMMARY_PREFIX)
    if summarizing and dropped and room >= MIN_SUMMARY_ROOM:
        text = summarize(conn, assistant.model, as_chats(dropped, assistant), room)
        summary = text[:room] or None
    history = as_chats(kept_rows, assistant)
    reduction = None
    if dropped:
        # The summary takes the newest dropped row's place: before every kept row.
        reduction = Reduction([row.id for row in dropped], summary, max(row.position for row in dropped))
    if summary:
        history.insert(0, ChatMessage(role=summary_role(assistant), content=SUMMARY_PREFIX + summary))
    return history, reduction


def transcript(messages: list[ChatMessage]) -> str:
    """A conversation as plain text, for a summarizing model."""
    lines = []
    for message in messages:
        if message.content:
            lines.append(f"{message.role}: {message.content}")
        for c in message.tool_calls or ():
            lines.append(f"{message.role} called {c['name']}({c['arguments']})")
    return "\n".join(lines)


def summarize(conn: Connection, model: str, messages: list[ChatMessage], room: int) -> str:
    """A summary of ``messages`` in at most about ``room`` characters: one stateless Chat
    Completions call, whatever the credential's backend."""
    request = TurnRequest(model=model, instructions=f"{SUMMARY_PROMPT} Use at most {room} characters.",
                          new_messages=[ChatMessage("user", transcript(messages))])
    stateless = dataclasses.replace(conn, api="chat_completions")
    return openai_adapter.run_turn(stateless, request).text.strip()
