"""The turn pipeline: every API that chats goes through it.

    outcome = turns.complete(assistant, turn_input, thread)   # blocking
    stream = turns.stream(assistant, turn_input, thread)      # streamed:
    for text in stream: ...                                   # the reply's pieces as they arrive,
    stream.outcome                                            # then how the turn ended

A turn on a stored thread is owned by a ThreadTurn, from its lock to its one commit: it takes
the thread's lock (a second turn meanwhile gets 409), reads what the provider needs, gives the
database connection back while the provider answers, and ends in one commit that writes the
new messages and the reply and frees the lock -- or frees the lock alone: a failed turn writes
nothing. Without a thread a turn is stateless: its messages are the whole conversation."""
import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterator

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from ..errors import Conflict, ServiceError
from ..extensions import db, openai_adapter
from ..logs import log_turn_content
from ..models import Assistant, Message, Thread, utcnow
from ..workers import new_turn_token
from ..openai_adapter import ChatMessage, Connection, TextDelta, TurnDone, TurnRequest
from . import commit_keeping_loaded, release_connection
from . import history
from .assistants import function_tools
from .credentials import connection_for
from .sessions import current_time


@dataclass
class TurnInput:
    """One turn from a client: a user message, or the outputs of pending tool calls, or
    (the agents API) several new messages of any role."""

    text: str | None = None
    tool_outputs: list[dict] = field(default_factory=list)
    messages: list[ChatMessage] | None = None
    # The agents API's per-request settings; None keeps the assistant's.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    tools: list[dict] | None = None


@dataclass
class TurnOutcome:
    """How a turn ended, and (on a stored thread) its stored reply."""

    done: TurnDone
    thread: Thread | None = None
    reply: Message | None = None


def complete(assistant: Assistant, turn: TurnInput, thread: Thread | None = None) -> TurnOutcome:
    """A blocking turn, on ``thread`` or (None) stateless."""
    if thread is None:
        conn, request = _stateless(assistant, turn)
        release_connection()
        return TurnOutcome(openai_adapter.run_turn(conn, request))
    with ThreadTurn(thread, turn) as owner:
        done = openai_adapter.run_turn(owner.conn, owner.request)
        return TurnOutcome(done, thread, owner.record(done))


def stream(assistant: Assistant, turn: TurnInput, thread: Thread | None = None) -> "TurnStream":
    """A streamed turn. The lock, the input and the provider's first answer are checked before
    this returns: a busy thread, bad input or a provider that fails at once raise here, so the
    route answers them with a plain status rather than inside a stream."""
    owner = None
    if thread is None:
        conn, request = _stateless(assistant, turn)
        release_connection()
    else:
        owner = ThreadTurn(thread, turn).__enter__()
        conn, request = owner.conn, owner.request
    try:
        items = openai_adapter.stream_turn(conn, request)
        first = next(items)
    except BaseException:
        if owner is not None:
            owner.__exit__(None, None, None)
        raise
    return TurnStream(first, items, owner, thread)


class TurnStream:
    """Iterating yields the reply's text as it arrives; ``outcome`` is set once all of it was
    read. A provider failure raises ProviderError from the iteration. ``close()`` (the client
    went away, or the route is done) frees the lock of a turn that did not finish."""

    def __init__(self, first: TextDelta | TurnDone, items: Iterator[TextDelta | TurnDone],
                 owner: "ThreadTurn | None", thread: Thread | None):
        self._first, self._items, self._owner, self._thread = first, items, owner, thread
        self.outcome: TurnOutcome | None = None
        self._pieces = self._read()

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def _read(self) -> Iterator[str]:
        try:
            for item in itertools.chain((self._first,), self._items):
                if isinstance(item, TextDelta):
                    yield item.text
                else:
                    reply = self._owner.record(item) if self._owner is not None else None
                    self.outcome = TurnOutcome(item, self._thread, reply)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._items.close()  # the provider's stream: its connection goes back, or is dropped, now
        if self._owner is not None:
            self._owner.__exit__(None, None, None)  # frees the lock unless the turn was recorded

    def close(self) -> None:
        self._pieces.close()
        self._finish()  # also when the pieces were never read


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


class ThreadTurn:
    """Owns one turn on a stored thread from its lock to its one commit (a context manager)."""

    def __init__(self, thread: Thread, turn: TurnInput):
        self.thread, self.turn = thread, turn
        self.token: str | None = None
        self.finished = False

    def __enter__(self) -> "ThreadTurn":
        self.token = _take_lock(self.thread)
        try:  # read after taking the lock, so the previous turn's messages are in
            self.conn, self.request, self.new_messages, self.reduction = _prepare(self.thread, self.turn)
            release_connection()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def record(self, done: TurnDone) -> Message:
        """Write this turn's messages and the reply, and free the lock: one commit, all or nothing."""
        reply = _record(self.thread, self.new_messages, self.reduction, done)
        self.finished = True
        return reply

    def __exit__(self, *exc) -> bool:
        if not self.finished:
            self.finished = True
            _free_lock(self.thread.id, self.token)
        return False


def _take_lock(thread: Thread) -> str:
    """Take the thread's turn lock in one atomic UPDATE (so across workers and hosts too)."""
    token = new_turn_token()  # names this worker: if it dies, its master frees the lock at once
    now = utcnow()
    taken = db.session.execute(TAKE_TURN_LOCK, {"thread_id": thread.id, "token": token, "now": now,
                                                "stale_before": now - _turn_lock_stale_after()}).rowcount
    commit_keeping_loaded()  # the assistant stays loaded: no query to read it again
    db.session.expire(thread)  # but the thread is read again: the turn before this one may just have ended
    if taken != 1:
        raise Conflict("A turn is in progress on this thread; wait for it to finish.")
    return token


def _free_lock(thread_id: str, token: str) -> None:
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


def _prepare(thread: Thread, turn: TurnInput) -> tuple[Connection, TurnRequest, list[ChatMessage],
                                                     history.Reduction | None]:
    assistant = thread.assistant
    conn = connection_for(assistant.credential)
    new_messages = _new_messages(thread, turn)
    past, reduction = [], None
    if conn.api == "chat_completions":  # the other backends keep the history at the provider
        past, reduction = history.history_for_provider(conn, thread, new_messages)
    request = _turn_request(
        assistant, turn, new_messages,
        history=past,
        remote_thread_id=thread.remote_id,
        remote_assistant_id=assistant.details_id if conn.api == "assistants" else None,
        pending_run_id=thread.pending_run_id,
    )
    return conn, request, new_messages, reduction


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


def _record(thread: Thread, new_messages: list[ChatMessage], reduction: history.Reduction | None,
            done: TurnDone) -> Message:
    if thread not in db.session:  # a streamed turn may end in another database session than it began
        thread = db.session.get(Thread, thread.id)
    history.apply_reduction(thread, reduction)
    position = db.session.scalar(LAST_POSITION, {"thread_id": thread.id}) + 1
    for offset, message in enumerate(new_messages):
        _append(thread, position + offset, message)
    tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls]
    reply = _append(thread, position + len(new_messages),
                    ChatMessage(role="assistant", content=done.text if not tool_calls else (done.text or None),
                                tool_calls=tool_calls or None))
    thread.pending_tool_calls = tool_calls or None
    thread.pending_run_id = done.pending_run_id
    thread.last_active_at = current_time()
    thread.turn_token = None
    thread.turn_started_at = None
    log_turn_content(thread.id, new_messages, done.text)
    commit_keeping_loaded()  # the thread and the reply hold what was written: answering costs no query
    db.session.expire(thread, ["messages"])  # this list did not see the rows added (or deleted) here
    return reply


def _stateless(assistant: Assistant, turn: TurnInput) -> tuple[Connection, TurnRequest]:
    # Chat Completions whatever the credential's backend: it is the one API that needs no stored state.
    conn = dataclasses.replace(connection_for(assistant.credential), api="chat_completions")
    return conn, _turn_request(assistant, turn, list(turn.messages or []))
