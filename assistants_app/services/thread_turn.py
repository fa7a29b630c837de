"""A turn on a stored thread, from its lock to its one commit (turns.py drives it):

    # the lock, the history read, the connection given back
    with ThreadTurn(thread, turn_input, caller) as owner:
        done = <the provider's answer to owner.request, through owner.conn>
        # messages + reply + usage + lock release: one commit
        reply = owner.record(done)

A second turn meanwhile gets 409. A failed turn frees the lock and writes nothing. Without a thread a
turn is stateless (stateless_request()): its messages are the whole conversation."""
import dataclasses

from sqlalchemy import insert

from ..database import autocommit_if_fresh, execute_core, on_postgresql
from ..errors import ServiceError
from ..extensions import db
from ..logs import log_turn_content
from ..models import Assistant, Message, Thread, new_token_id, utcnow
from ..openai_adapter import ChatMessage, Connection, TurnDone, TurnRequest
from . import commit_keeping_loaded
from . import history, turn_lock, usage
from .assistants import function_tools
from .credentials import connection_for
from .sessions import current_time
from .tenant_limits import Caller
from .turn_input import TurnInput

INSERT_MESSAGES = insert(Message.__table__)  # Core: the ORM's bulk insert costs ~0.3 ms more a turn
# A turn writing more messages than this (the agents API takes many at once) records in a transaction:
# the one statement binds every value of every row (PostgreSQL takes at most 65,535).
ONE_STATEMENT_ROWS = 16
# max_prompt_tokens is applied with this estimate of a token (no tokenizer of every provider's model here).
CHARACTERS_PER_TOKEN = 4


class ThreadTurn:
    """Owns one turn on a stored thread from its lock to its one commit (a context manager).
    ``assistant``: for a thread without one (v2); ``token``: a lock turn_lock.take() took earlier."""

    def __init__(self, thread: Thread, turn: TurnInput, caller: Caller, assistant: Assistant | None = None,
                 token: str | None = None):
        self.thread, self.turn, self.caller = thread, turn, caller
        self.assistant = assistant or thread.assistant
        self.token, self.finished = token, False

    def __enter__(self) -> "ThreadTurn":
        if self.token is None:  # committed with the reads below, when the provider is called
            self.token, self.last_position = turn_lock.take(self.thread, commit=False)
        else:
            self.last_position = turn_lock.last_position(self.thread.id)
        try:  # read after taking the lock, so the previous turn's messages are in
            self.conn, self.request, self.new_messages, self.reduction = _prepare(self.thread, self.turn,
                                                                                  self.assistant)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def record(self, done: TurnDone, before_commit=None, rounds=(), trailing=(), pending=None) -> Message:
        """Write this turn's messages, its server tool rounds (``rounds``: (message, extra columns)), the
        reply and the server tools' answers to it (``trailing``), its token usage, and free the lock: one
        commit, all or nothing (``before_commit(reply_row)`` writes more in it first, or raises to write
        nothing). ``pending``: the calls the client is to answer, when not all of the reply's."""
        billed = dict(tenant=self.thread.tenant, assistant_id=self.assistant.id, model=self.request.model,
                      api_key_id=self.caller.api_key_id, api=self.caller.api)
        columns = self.turn.message_columns or [{}] * len(self.new_messages)
        written = list(zip(self.new_messages, columns)) + list(rounds)
        reply = _record(self.thread, self.token, self.last_position, written, list(trailing), self.reduction,
                        done, pending, self.turn.stamp, billed, before_commit)
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
    conn = _local(connection_for(assistant.credential), turn)
    new_messages = _new_messages(thread, turn)
    past, reduction, sent = [], None, [*turn.stored_unsent, *new_messages]
    if conn.api == "chat_completions" or turn.local_history:  # the other backends keep it at the provider
        past, reduction = history.history_for_provider(conn, thread, new_messages, assistant)
        past = truncated(past, new_messages, turn)
        sent = new_messages
    request = turn_request(assistant, turn, sent, history=past,
                           remote_thread_id=None if turn.local_history else thread.remote_id,
                           remote_assistant_id=assistant.details_id if conn.api == "assistants" else None,
                           pending_run_id=thread.pending_run_id)
    return conn, request, new_messages, reduction


def truncated(past: list[ChatMessage], new_messages: list[ChatMessage], turn: TurnInput) -> list[ChatMessage]:
    """The history the provider sees under the turn's truncation_strategy and max_prompt_tokens: the
    oldest messages go first, and a tool message never loses the call it answers."""
    keep = len(past)
    strategy = turn.truncation or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages") is not None:
        keep = min(keep, max(0, strategy["last_messages"] - len(new_messages)))
    if turn.max_prompt_tokens is not None:
        room = turn.max_prompt_tokens * CHARACTERS_PER_TOKEN - sum(history.size(m) for m in new_messages)
        while keep and sum(history.size(m) for m in past[len(past) - keep:]) > room:
            keep -= 1
    kept = past[len(past) - keep:] if keep else []
    while kept and kept[0].role == "tool":
        kept = kept[1:]
    return kept


def turn_request(assistant: Assistant, turn: TurnInput, new_messages: list[ChatMessage],
                 **thread_state) -> TurnRequest:
    details = assistant.details
    return TurnRequest(
        model=turn.model or details["model"],
        instructions=details.get("instructions") if turn.instructions is None else turn.instructions,
        temperature=details.get("temperature") if turn.temperature is None else turn.temperature,
        top_p=details.get("top_p") if turn.top_p is None else turn.top_p,
        new_messages=new_messages,
        tools=[*(function_tools(details) if turn.tools is None else turn.tools),
               *(tool.definition for tool in turn.server_tools.values())],
        instruction_mode=assistant.chat_system_instruction_mode,
        max_tokens=turn.max_tokens,
        stop=turn.stop,
        seed=turn.seed,
        truncation=turn.truncation,
        max_prompt_tokens=turn.max_prompt_tokens,
        options={name: value for name, value in turn.options.items() if value is not None},
        **thread_state,
    )


def stateless_request(assistant: Assistant, turn: TurnInput) -> tuple[Connection, TurnRequest]:
    """Chat Completions whatever the credential's backend (the one API that needs no stored state), or the
    Responses API with store false for a turn whose history is this service's."""
    conn = _local(connection_for(assistant.credential), turn)
    if conn.api != "responses" or not turn.local_history:
        conn = dataclasses.replace(conn, api="chat_completions")
    return conn, turn_request(assistant, turn, list(turn.messages or []))


def _local(conn: Connection, turn: TurnInput) -> Connection:
    """For a turn whose history is this service's: the Responses API (stateless) or Chat Completions."""
    if turn.local_history and conn.api not in ("chat_completions", "responses"):
        return dataclasses.replace(conn, api="chat_completions")
    return conn


def _row(thread_id: str, position: int, message: ChatMessage, created_at) -> dict:
    content = message.content
    if isinstance(content, list):  # content parts (an image...): the row keeps the text, `item` the parts
        content = "".join(part.get("text") or "" for part in content if part.get("type") == "text")
    return {"id": new_token_id("msg_"), "thread_id": thread_id, "position": position, "role": message.role,
            "content": content, "tool_calls": message.tool_calls, "tool_call_id": message.tool_call_id,
            "is_summary": False, "created_at": created_at}


def _record(thread: Thread, token: str, last_position: int, written: list[tuple[ChatMessage, dict]],
            trailing: list[tuple[ChatMessage, dict]], reduction: history.Reduction | None, done: TurnDone,
            pending, stamp: dict, billed: dict, before_commit=None) -> Message:
    """One transaction: the thread's row (its outcome, the lock released), the reduction if any,
    the new messages and the reply in one INSERT, the usage row; then one commit. Core statements,
    not the ORM's unit of work: this runs on every turn. On PostgreSQL a turn without a reduction or
    a before_commit writes all of it in one statement, in autocommit: one round trip, not five."""
    tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls]
    reply = ChatMessage(role="assistant", content=done.text if not tool_calls else (done.text or None),
                        tool_calls=tool_calls or None)
    created_at = utcnow()
    every = [*written, (reply, {}), *trailing]
    rows = [{**_row(thread.id, last_position + 1 + offset, message, created_at), **stamp, **extra}
            for offset, (message, extra) in enumerate(every)]
    extras = {key for _, extra in every for key in extra}  # one INSERT of many rows: every row has every key
    rows = [{**dict.fromkeys(extras), **row} for row in rows]
    reply_row = rows[len(written)]
    if before_commit is not None:
        before_commit(reply_row)
    if pending is not None:
        tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in pending]
    # The thread may be gone, or its lock lost; then nothing else is written.
    state = {"last_active_at": current_time(), "pending_tool_calls": tool_calls or None,
             "pending_run_id": done.pending_run_id}
    if reduction is None and before_commit is None and len(rows) <= ONE_STATEMENT_ROWS and on_postgresql():
        autocommit_if_fresh()  # the provider call gave the connection back: the statement is the transaction
        turn_lock.record_in_one_statement(thread, token, state, rows, usage.usage_row(done=done, **billed))
    else:
        turn_lock.release_for_record(thread, token, **state)
        history.apply_reduction(thread, reduction)
        execute_core(INSERT_MESSAGES, rows)
        usage.add_usage(done=done, **billed)
    log_turn_content(thread.id, [message for message, _ in written], done.text)
    commit_keeping_loaded()  # the thread holds what was written: answering costs no query
    if thread in db.session:  # a streamed turn may end in another database session than it began
        db.session.expire(thread, ["messages"])  # this list did not see the rows added (or deleted) here
    reply_row = dict(reply_row)  # the column is "metadata", the ORM attribute message_metadata
    metadata = reply_row.pop("metadata", None)
    return Message(**reply_row, message_metadata=metadata)  # the reply as stored (not in the session)
