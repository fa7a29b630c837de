"""Threads and chat turns, for seed 004's threads and seed 003's sessions alike.

A turn holds the thread's turn lock (a second turn meanwhile gets 409), calls the
provider, and only then writes the new messages and the reply in one commit. A failed
turn writes nothing: the history is exactly what it was."""
import dataclasses
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterator

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from ..errors import Conflict, NotFound, ServiceError
from ..extensions import db, openai_adapter
from ..logs import log_turn_content
from ..models import Assistant, Message, Thread, utcnow
from ..openai_adapter import ChatMessage, Connection, TurnRequest, TurnResult
from . import commit_keeping_loaded, is_plausible_id, owned_select, release_connection, tenant
from . import history as history_policy
from .assistants import function_tools
from .credentials import backend_api, connection_for


@dataclass
class TurnInput:
    """One turn from a client: a user message, or the outputs of pending tool calls, or
    (seed 003) several new messages of any role."""

    text: str | None = None
    tool_outputs: list[dict] = field(default_factory=list)
    messages: list[ChatMessage] | None = None
    # Seed 003's per-request settings; None keeps the assistant's.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    tools: list[dict] | None = None


@dataclass
class PreparedTurn:
    """What a turn sends the provider, and what record_turn writes besides the reply."""

    conn: Connection
    request: TurnRequest
    new_messages: list[ChatMessage]
    reduction: history_policy.Reduction | None = None


@dataclass
class TurnOutcome:
    thread: Thread
    result: TurnResult
    reply: Message


def start_thread(assistant: Assistant) -> Thread:
    """A new thread; backends that keep history remotely get their conversation first."""
    remote_id = None
    if backend_api(assistant.credential) != "chat_completions":
        conn = connection_for(assistant.credential)
        release_connection()
        remote_id = openai_adapter.create_remote_thread(conn)
    thread = Thread(tenant=tenant(), assistant=assistant, remote_id=remote_id,
                    last_active_at=history_policy.current_time())
    db.session.add(thread)
    return thread


def find_thread(thread_id: str, assistant: Assistant | None = None) -> Thread:
    """The caller's thread (of this assistant, when given); 404 when missing or expired."""
    thread = None
    if is_plausible_id(thread_id):
        thread = db.session.scalar(owned_select(Thread), {"id": thread_id, "tenant": tenant()})
    if thread is None or (assistant is not None and thread.assistant_id != assistant.id):
        raise NotFound(f"No thread {thread_id[:128]!r} for this agent.")
    if history_policy.is_expired(thread):
        raise NotFound(f"Thread {thread_id!r} expired: it was not used for more than "
                       f"{thread.assistant.session_max_ttl} seconds. Start a new one.")
    return thread


def delete_thread(thread: Thread) -> None:
    if thread.remote_id:
        conn = connection_for(thread.assistant.credential)
        release_connection()
        openai_adapter.delete_remote_thread(conn, thread.remote_id)
    db.session.delete(thread)


def _turn_lock_stale_after() -> timedelta:
    # A lock older than any turn can last belongs to a crashed worker.
    return timedelta(seconds=current_app.config["OPENAI_TIMEOUT"] + 30)


# The statements of every turn, built once: composing one costs about as much as running it (~0.1 ms).
TAKE_TURN_LOCK = (
    update(Thread)
    .where(Thread.id == bindparam("thread_id"),
           or_(Thread.turn_token.is_(None),
               Thread.turn_started_at < bindparam("stale_before", type_=Thread.turn_started_at.type)))
    .values(turn_token=bindparam("token", type_=Thread.turn_token.type),
            turn_started_at=bindparam("now", type_=Thread.turn_started_at.type))
    .execution_options(synchronize_session=False)
)
LAST_POSITION = select(db.func.coalesce(db.func.max(Message.position), -1)).where(
    Message.thread_id == bindparam("thread_id"))


def acquire_turn(thread: Thread) -> str:
    """Take the thread's turn lock in one atomic UPDATE (so across workers and hosts too)."""
    token = secrets.token_hex(16)
    now = utcnow()
    taken = db.session.execute(TAKE_TURN_LOCK, {"thread_id": thread.id, "token": token, "now": now,
                                                "stale_before": now - _turn_lock_stale_after()}).rowcount
    commit_keeping_loaded()  # the assistant stays loaded: no query to read it again
    db.session.expire(thread)  # but the thread is read again: the turn before this one may just have ended
    if taken != 1:
        raise Conflict("A turn is in progress on this thread; wait for it to finish.")
    return token


def release_turn(thread_id: str, token: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Thread).where(Thread.id == thread_id, Thread.turn_token == token)
        .values(turn_token=None, turn_started_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _new_messages(thread: Thread, turn: TurnInput) -> list[ChatMessage]:
    pending = thread.pending_tool_calls or []
    if turn.messages is not None:
        answered = sorted(m.tool_call_id for m in turn.messages[:len(pending)] if m.role == "tool")
        if answered != sorted(call["id"] for call in pending):
            raise ServiceError(400, "The assistant is waiting for tool messages answering its tool calls, "
                                    "first in messages: " + ", ".join(call["id"] for call in pending))
        return list(turn.messages)
    if turn.tool_outputs:
        expected = {call["id"] for call in pending}
        given = [output["tool_call_id"] for output in turn.tool_outputs]
        if not pending:
            raise ServiceError(400, "This thread has no pending tool calls to answer.")
        if set(given) != expected or len(given) != len(expected):
            raise ServiceError(400, "tool_outputs must answer each pending tool call exactly once: "
                                    + ", ".join(sorted(expected)))
        return [ChatMessage(role="tool", content=o["output"], tool_call_id=o["tool_call_id"])
                for o in turn.tool_outputs]
    if pending:
        raise ServiceError(400, "The assistant is waiting for tool_outputs answering its tool calls: "
                                + ", ".join(call["id"] for call in pending))
    return [ChatMessage(role="user", content=turn.text)]


def prepare_turn(thread: Thread, turn: TurnInput) -> PreparedTurn:
    assistant = thread.assistant
    conn = connection_for(assistant.credential)
    new_messages = _new_messages(thread, turn)
    history, reduction = [], None
    if conn.api == "chat_completions":  # the other backends keep the history at the provider
        history, reduction = history_policy.history_for_provider(conn, thread, new_messages)
    request = _turn_request(
        assistant, turn, new_messages,
        history=history,
        remote_thread_id=thread.remote_id,
        remote_assistant_id=assistant.details_id if conn.api == "assistants" else None,
        pending_run_id=thread.pending_run_id,
    )
    return PreparedTurn(conn, request, new_messages, reduction)


def _turn_request(assistant: Assistant, turn: TurnInput, new_messages: list[ChatMessage], **thread_state) -> TurnRequest:
    details = assistant.details
    return TurnRequest(
        model=details["model"],
        instructions=details.get("instructions"),
        temperature=details.get("temperature") if turn.temperature is None else turn.temperature,
        top_p=details.get("top_p") if turn.top_p is None else turn.top_p,
        new_messages=new_messages,
        tools=function_tools(details) if turn.tools is None else turn.tools,
        instruction_mode=assistant.chat_system_instruction_mode,
        max_tokens=turn.max_tokens,
        stop=turn.stop,
        seed=turn.seed,
        **thread_state,
    )


def _append(thread: Thread, position: int, message: ChatMessage) -> Message:
    row = Message(thread_id=thread.id, position=position, role=message.role, content=message.content,
                  tool_calls=message.tool_calls, tool_call_id=message.tool_call_id)
    db.session.add(row)
    return row


def record_turn(thread: Thread, prepared: PreparedTurn, result: TurnResult) -> Message:
    """Write this turn's messages and the reply, and free the lock: one commit, all or nothing."""
    if thread not in db.session:  # a streamed turn ends after the view's session was closed
        thread = db.session.get(Thread, thread.id)
    new_messages = prepared.new_messages
    history_policy.apply_reduction(thread, prepared.reduction)
    position = db.session.scalar(LAST_POSITION, {"thread_id": thread.id}) + 1
    for offset, message in enumerate(new_messages):
        _append(thread, position + offset, message)
    tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.tool_calls]
    reply = _append(thread, position + len(new_messages),
                    ChatMessage(role="assistant", content=result.text if not tool_calls else (result.text or None),
                                tool_calls=tool_calls or None))
    thread.pending_tool_calls = tool_calls or None
    thread.pending_run_id = result.pending_run_id
    thread.last_active_at = history_policy.current_time()
    thread.turn_token = None
    thread.turn_started_at = None
    log_turn_content(thread.id, new_messages, result.text)
    commit_keeping_loaded()  # the thread and the reply hold what was written: answering costs no query
    db.session.expire(thread, ["messages"])  # this list did not see the rows added (or deleted) here
    return reply


def run_turn(thread: Thread, turn: TurnInput) -> TurnOutcome:
    """A blocking turn."""
    thread_id = thread.id
    token = acquire_turn(thread)
    try:
        prepared = prepare_turn(thread, turn)
        release_connection()
        result = openai_adapter.run_turn(prepared.conn, prepared.request)
        reply = record_turn(thread, prepared, result)
    except BaseException:
        release_turn(thread_id, token)
        raise
    return TurnOutcome(thread, result, reply)


def stream_turn(thread: Thread, turn: TurnInput) -> Iterator[str | TurnOutcome]:
    """A streamed turn: yields text deltas, then the TurnOutcome. The lock, the input and the
    provider's first answer are checked before the stream starts: a busy thread, bad input
    or a provider that fails at once get a plain JSON error with their status."""
    thread_id = thread.id
    token = acquire_turn(thread)
    try:  # read after taking the lock, so the previous turn's messages are in
        prepared = prepare_turn(thread, turn)
        release_connection()
        stream = openai_adapter.stream_turn(prepared.conn, prepared.request)
        # Wait for the first piece: a provider that fails at once gets a plain status (429, 502...).
        first = next(stream)
    except BaseException:
        release_turn(thread_id, token)
        raise

    def events():
        try:
            for item in itertools.chain((first,), stream):
                if isinstance(item, str):
                    yield item
                else:
                    reply = record_turn(thread, prepared, item)
                    yield TurnOutcome(thread, item, reply)
                    return
        except BaseException:  # a provider failure, or the client went away (GeneratorExit)
            release_turn(thread_id, token)
            raise

    return events()


def list_messages(thread: Thread) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.thread_id == thread.id).order_by(Message.position)))


def _stateless(assistant: Assistant, turn: TurnInput) -> tuple[Connection, TurnRequest]:
    # Chat Completions whatever the credential's backend: it is the one API that needs no stored state.
    conn = dataclasses.replace(connection_for(assistant.credential), api="chat_completions")
    return conn, _turn_request(assistant, turn, list(turn.messages or []))


def run_stateless(assistant: Assistant, turn: TurnInput) -> TurnResult:
    """A turn that stores nothing: turn.messages are the whole conversation."""
    conn, request = _stateless(assistant, turn)
    release_connection()
    return openai_adapter.run_turn(conn, request)


def stream_stateless(assistant: Assistant, turn: TurnInput) -> Iterator[str | TurnResult]:
    """Streamed run_stateless: text deltas, then the TurnResult. The provider's first answer is
    awaited before returning, so one that fails at once raises here, not mid-stream."""
    conn, request = _stateless(assistant, turn)
    release_connection()
    stream = openai_adapter.stream_turn(conn, request)
    return itertools.chain((next(stream),), stream)
