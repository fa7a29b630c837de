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
from typing import Iterator

from sqlalchemy import insert

from ..database import autocommit_if_fresh, on_postgresql
from ..errors import ServiceError
from ..extensions import db, openai_adapter
from ..logs import log_turn_content
from ..models import Assistant, Message, Thread, new_token_id, utcnow
from ..openai_adapter import ChatMessage, Connection, TextDelta, TurnDone, TurnRequest
from . import commit_keeping_loaded, release_connection
from . import history, turn_lock, usage
from .assistants import function_tools
from .credentials import connection_for
from .sessions import current_time

INSERT_MESSAGES = insert(Message.__table__)  # Core: the ORM's bulk insert costs ~0.3 ms more a turn
# A turn writing more messages than this (the agents API takes many at once) records in a transaction:
# the one statement binds every value of every row (PostgreSQL takes at most 65,535).
ONE_STATEMENT_ROWS = 16


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
    # Assistants v2: a run's model and instructions; stored messages a remote history has not seen
    # (chat_completions finds them in its history); columns every message this turn writes carries.
    model: str | None = None
    instructions: str | None = None
    stored_unsent: list[ChatMessage] = field(default_factory=list)
    stamp: dict = field(default_factory=dict)
    # Whose tokens these are, for a turn run outside its request (a background v2 run); None: the request's.
    api_key_id: int | None = None
    api: str | None = None


@dataclass
class TurnOutcome:
    """How a turn ended, and (on a stored thread) its stored reply."""

    done: TurnDone
    thread: Thread | None = None
    reply: Message | None = None


def complete(assistant: Assistant, turn: TurnInput, thread: Thread | None = None) -> TurnOutcome:
    """A blocking turn, on ``thread`` or (None) stateless."""
    with usage.start_turn(assistant, thread) as meter:
        if thread is None:
            conn, request = _stateless(assistant, turn)
            release_connection()
            outcome = TurnOutcome(openai_adapter.run_turn(conn, request))
            meter.record(outcome.done)
        else:
            with ThreadTurn(thread, turn) as owner:
                done = openai_adapter.run_turn(owner.conn, owner.request)
                outcome = TurnOutcome(done, thread, owner.record(done))
        meter.ended(outcome.done)
    return outcome


def stream(assistant: Assistant, turn: TurnInput, thread: Thread | None = None) -> "TurnStream":
    """A streamed turn. The lock, the input and the provider's first answer are checked before
    this returns: a busy thread, bad input or a provider that fails at once raise here, so the
    route answers them with a plain status rather than inside a stream."""
    with usage.start_turn(assistant, thread) as meter:
        if thread is None:  # the meter records a stateless turn's usage; a ThreadTurn, a thread's
            owner, (conn, request) = meter, _stateless(assistant, turn)
            release_connection()
        else:
            owner = ThreadTurn(thread, turn).__enter__()
            conn, request = owner.conn, owner.request
        try:
            items = openai_adapter.stream_turn(conn, request)
            first = next(items)
        except BaseException:
            owner.__exit__(None, None, None)
            raise
    return TurnStream(first, items, owner, thread, meter.streaming())


class TurnStream:
    """Iterating yields the reply's text as it arrives; ``outcome`` is set once all of it was
    read. A provider failure raises ProviderError from the iteration. ``close()`` (the client
    went away, or the route is done) frees the lock of a turn that did not finish."""

    def __init__(self, first: TextDelta | TurnDone, items: Iterator[TextDelta | TurnDone],
                 owner: "ThreadTurn | usage.TurnMeter", thread: Thread | None, meter: usage.TurnMeter):
        self._first, self._items, self._owner, self._thread, self._meter = first, items, owner, thread, meter
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
                    reply = self._owner.record(item)
                    self.outcome = TurnOutcome(item, self._thread, reply)
                    self._meter.ended(item)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._items.close()  # the provider's stream: its connection goes back, or is dropped, now
        self._owner.__exit__(None, None, None)  # frees a thread's lock unless the turn was recorded
        self._meter.stream_closed()  # a stream that did not end (the provider failed, the client left) failed

    def close(self) -> None:
        self._pieces.close()
        self._finish()  # also when the pieces were never read


class ThreadTurn:
    """Owns one turn on a stored thread from its lock to its one commit (a context manager).
    ``assistant``: for a thread without one (v2); ``token``: a lock turn_lock.take() took earlier."""

    def __init__(self, thread: Thread, turn: TurnInput, assistant: Assistant | None = None, token: str | None = None):
        self.thread, self.turn = thread, turn
        self.assistant = assistant or thread.assistant
        self.token, self.finished = token, False

    def __enter__(self) -> "ThreadTurn":
        if self.token is None:  # committed with the reads below, by release_connection()
            self.token, self.last_position = turn_lock.take(self.thread, commit=False)
        else:
            self.last_position = turn_lock.last_position(self.thread.id)
        try:  # read after taking the lock, so the previous turn's messages are in
            self.conn, self.request, self.new_messages, self.reduction = _prepare(self.thread, self.turn, self.assistant)
            release_connection()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def record(self, done: TurnDone, before_commit=None) -> Message:
        """Write this turn's messages and the reply, its token usage, and free the lock: one commit,
        all or nothing (``before_commit(reply_row)`` writes more in it first, or raises to write nothing)."""
        billed = dict(tenant=self.thread.tenant, assistant_id=self.assistant.id, model=self.request.model,
                      api_key_id=self.turn.api_key_id, api=self.turn.api)
        reply = _record(self.thread, self.token, self.last_position, self.new_messages, self.reduction, done,
                        self.turn.stamp, billed, before_commit)
        self.finished = True
        return reply

    def __exit__(self, *exc) -> bool:
        if not self.finished:
            self.finished = True
            turn_lock.free(self.thread.id, self.token)
        return False


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


def _prepare(thread: Thread, turn: TurnInput, assistant: Assistant) -> tuple[
        Connection, TurnRequest, list[ChatMessage], history.Reduction | None]:
    conn = connection_for(assistant.credential)
    new_messages = _new_messages(thread, turn)
    past, reduction, sent = [], None, [*turn.stored_unsent, *new_messages]
    if conn.api == "chat_completions":  # the other backends keep the history at the provider
        past, reduction = history.history_for_provider(conn, thread, new_messages, assistant)
        sent = new_messages
    request = _turn_request(assistant, turn, sent, history=past, remote_thread_id=thread.remote_id,
                            remote_assistant_id=assistant.details_id if conn.api == "assistants" else None,
                            pending_run_id=thread.pending_run_id)
    return conn, request, new_messages, reduction


def _turn_request(assistant: Assistant, turn: TurnInput, new_messages: list[ChatMessage], **thread_state) -> TurnRequest:
    details = assistant.details
    return TurnRequest(
        model=turn.model or details["model"],
        instructions=details.get("instructions") if turn.instructions is None else turn.instructions,
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


def _row(thread_id: str, position: int, message: ChatMessage, created_at) -> dict:
    return {"id": new_token_id("msg_"), "thread_id": thread_id, "position": position, "role": message.role,
            "content": message.content, "tool_calls": message.tool_calls, "tool_call_id": message.tool_call_id,
            "is_summary": False, "created_at": created_at}


def _record(thread: Thread, token: str, last_position: int, new_messages: list[ChatMessage],
            reduction: history.Reduction | None, done: TurnDone, stamp: dict, billed: dict,
            before_commit=None) -> Message:
    """One transaction: the thread's row (its outcome, the lock released), the reduction if any,
    the new messages and the reply in one INSERT, the usage row; then one commit. Core statements,
    not the ORM's unit of work: this runs on every turn. On PostgreSQL a turn without a reduction or
    a before_commit writes all of it in one statement, in autocommit: one round trip, not five."""
    tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls]
    reply = ChatMessage(role="assistant", content=done.text if not tool_calls else (done.text or None),
                        tool_calls=tool_calls or None)
    created_at = utcnow()
    rows = [{**_row(thread.id, last_position + 1 + offset, message, created_at), **stamp}
            for offset, message in enumerate([*new_messages, reply])]
    if before_commit is not None:
        before_commit(rows[-1])
    # The thread may be gone, or its lock lost; then nothing else is written.
    state = {"last_active_at": current_time(), "pending_tool_calls": tool_calls or None,
             "pending_run_id": done.pending_run_id}
    if reduction is None and before_commit is None and len(rows) <= ONE_STATEMENT_ROWS and on_postgresql():
        autocommit_if_fresh()  # after release_connection(): the statement is the transaction
        turn_lock.record_in_one_statement(thread, token, state, rows, usage.usage_row(done=done, **billed))
    else:
        turn_lock.release_for_record(thread, token, **state)
        history.apply_reduction(thread, reduction)
        db.session.execute(INSERT_MESSAGES, rows)
        usage.add_usage(done=done, **billed)
    log_turn_content(thread.id, new_messages, done.text)
    commit_keeping_loaded()  # the thread holds what was written: answering costs no query
    if thread in db.session:  # a streamed turn may end in another database session than it began
        db.session.expire(thread, ["messages"])  # this list did not see the rows added (or deleted) here
    return Message(**rows[-1])  # the reply as stored, for the route to answer with (not in the session)


def _stateless(assistant: Assistant, turn: TurnInput) -> tuple[Connection, TurnRequest]:
    # Chat Completions whatever the credential's backend: it is the one API that needs no stored state.
    conn = dataclasses.replace(connection_for(assistant.credential), api="chat_completions")
    return conn, _turn_request(assistant, turn, list(turn.messages or []))
