"""The turn pipeline: every turn of every API -- blocking, streamed or in the background -- is started,
budget-checked, metered (metrics and usage), recorded and released here. An API only maps its request
to a TurnInput and the turn's events to its own wire format.

    stream = turns.stream(caller, assistant, turn_input, thread)  # checked, sent, the first answer read
    for event in stream: ...    # TextDelta / ToolCallDelta as they arrive; no database connection is held
    stream.outcome              # the TurnOutcome, once the turn is recorded
    outcome = turns.complete(caller, assistant, turn_input, thread)   # blocking: the same at once

Keyword options of both: ``lock_token`` (a lock taken earlier: a v2 run's); ``before_record(reply_row,
done, incomplete)`` writes more in the record's transaction, or raises Abandoned to write nothing;
``keep_going()`` returning False abandons the turn (a cancelled run; asked before the provider is, then
at most once a second);
``on_overflow``: a reply longer than MAX_REPLY_CHARS fails the turn ("fail": 502, nothing stored) or is
cut there and recorded ("truncate": outcome.incomplete). A turn without a thread is stateless: its
messages are the whole conversation.

A thread's turn is owned by a ThreadTurn (thread_turn.py): its lock (a second turn meanwhile gets 409),
its reads, the database connection given back while the provider answers, and its one commit."""
import dataclasses
import itertools
import time
from typing import Iterator

from flask import current_app

from ..database import assert_released
from ..extensions import openai_adapter
from ..models import Assistant, Thread
from ..openai_adapter import ProviderError, TextDelta, ToolCallDelta, TurnDone, Usage
from ..openai_adapter.errors import STREAM_ENDED_EARLY
from . import server_tools, tenant_limits, usage
from .credentials import backend_api
from .tenant_limits import Caller
from .thread_turn import ThreadTurn, stateless_request
from .turn_input import TurnInput, TurnOutcome

__all__ = ["Caller", "TurnInput", "TurnOutcome", "TurnStream", "complete", "stream"]

KEEP_GOING_SECONDS = 1.0
TRUNCATIONS = 3  # times a context may lose its older half under truncation "auto"


def complete(caller: Caller, assistant: Assistant, turn: TurnInput, thread: Thread | None = None,
             **options) -> TurnOutcome:
    """A blocking turn: one provider request, not streamed."""
    started = stream(caller, assistant, turn, thread, blocking=True, **options)
    for _ in started:
        pass
    return started.outcome


def stream(caller: Caller, assistant: Assistant, turn: TurnInput, thread: Thread | None = None, *,
           blocking: bool = False, lock_token: str | None = None, before_record=None, keep_going=None,
           on_overflow: str = "fail") -> "TurnStream":
    """A streamed turn. The budget, the lock, the input and the provider's first answer are checked
    before this returns: a spent budget, a busy thread, bad input or a provider that fails at once raise
    here, so the route answers them with a plain status rather than inside a stream."""
    tenant_limits.check_budget(caller)
    if thread is not None:
        tenant_limits.check_storage(caller.tenant)
    tenant_limits.take_turn_slot(caller.tenant)
    meter = usage.TurnMeter(caller, assistant, "chat_completions" if thread is None
                            else backend_api(assistant.credential))
    owner = None
    try:
        if thread is None:
            owner = _Stateless(caller, assistant, turn)
        else:
            owner = ThreadTurn(thread, turn, caller, assistant, lock_token).__enter__()
        meter.model = owner.request.model
        if keep_going is not None and not keep_going():  # e.g. a run cancelled while its turn was set up
            raise Abandoned()
        items, first = _first_answer(owner, blocking, (turn.truncation or {}).get("type") == "auto")
    except BaseException as err:
        if owner is not None:
            owner.__exit__(None, None, None)
        meter.failed(err)
        tenant_limits.free_turn_slot(caller.tenant)
        raise
    settings = _Settings(before_record, keep_going, on_overflow, current_app.config["MAX_REPLY_CHARS"],
                         blocking)
    return TurnStream(first, items, owner, thread, meter, settings)


@dataclasses.dataclass(frozen=True)
class _Settings:
    before_record: object
    keep_going: object
    on_overflow: str
    max_chars: int
    blocking: bool


class Abandoned(Exception):
    """keep_going() said no: the provider's answer is abandoned and nothing is written."""


class TurnStream:
    """Iterating yields the reply's TextDelta and ToolCallDelta events as they arrive; ``outcome`` is
    set once all of it was read and recorded. A provider failure raises ProviderError from the
    iteration, an abandoned turn Abandoned. ``close()`` (the client went away, or the route is done)
    frees the lock of a turn that did not finish."""

    def __init__(self, first, items: Iterator, owner, thread: Thread | None, meter: usage.TurnMeter,
                 settings: _Settings):
        self._first, self._items, self._owner, self._thread = first, items, owner, thread
        self._meter, self._settings = meter if settings.blocking else meter.streaming(), settings
        self._app = current_app._get_current_object()
        self.outcome: TurnOutcome | None = None
        self._finished = False
        self._events = self._read()

    def __iter__(self) -> Iterator[TextDelta | ToolCallDelta]:
        return self._events

    def texts(self) -> Iterator[str]:
        """Only the reply's text, piece by piece."""
        return (event.text for event in self._events if isinstance(event, TextDelta))

    def _read(self) -> Iterator:
        """The provider's rounds (one, unless the model calls server tools: then those run and the provider
        is asked again), then the record."""
        self._size, self._parts, self._checked, incomplete = 0, [], time.monotonic(), False
        items, rounds, trailing, spent = itertools.chain((self._first,), self._items), [], [], []
        tools = self._owner.turn.server_tools
        try:
            for round_number in range(1, server_tools.MAX_ROUNDS + 1):
                done, incomplete = yield from self._round(items, tools)
                served = None if incomplete else server_tools.serve(done, tools)
                if served is None:
                    break
                yield from served.events
                if served.client_calls or round_number == server_tools.MAX_ROUNDS:
                    # This round's message is the reply; the client answers its own calls (requires_action).
                    trailing = served.recorded[1:]
                    break
                rounds += served.recorded
                spent.append(done.usage)
                items = self._items = self._ask_again(rounds, served, done)
            done = dataclasses.replace(done, usage=_total([*spent, done.usage]))
            shown = done if not trailing else dataclasses.replace(done, tool_calls=served.client_calls)
            self._items.close()  # before the record: the provider's connection goes back now
            hook = self._settings.before_record
            reply = self._owner.record(done, (lambda row: hook(row, shown, incomplete)) if hook else None,
                                       rounds=rounds, trailing=trailing, pending=shown.tool_calls)
            self.outcome = TurnOutcome(shown, self._thread, reply, incomplete)
            self._meter.ended(shown)
        finally:
            self._finish()

    def _round(self, items, tools):
        """One provider answer's events (a server tool's call pieces held back); (its TurnDone, cut short)."""
        settings, held = self._settings, set()
        for item in items:
            if isinstance(item, TurnDone):
                if len(item.text) > settings.max_chars:  # a blocking turn's whole reply
                    return self._overflow(item.text[:settings.max_chars]), True
                return item, False
            if isinstance(item, ToolCallDelta) and (item.name in tools or item.index in held):
                held.add(item.index)
                continue
            if isinstance(item, TextDelta):
                self._size += len(item.text)
                if self._size > settings.max_chars:
                    cut = item.text[:len(item.text) - (self._size - settings.max_chars)]
                    if cut:
                        yield TextDelta(cut)
                    return self._overflow("".join(self._parts) + cut), True
                self._parts.append(item.text)
            assert_released("while a turn's reply is read")
            yield item
            if settings.keep_going is not None and time.monotonic() - self._checked > KEEP_GOING_SECONDS:
                self._checked = time.monotonic()
                if not settings.keep_going():
                    raise Abandoned()
        raise ProviderError("bad_response", STREAM_ENDED_EARLY)  # the backends end with a TurnDone, or raise

    def _ask_again(self, rounds, served, done) -> Iterator:
        """The provider asked again, with the server tools' results: a chat_completions provider gets the
        conversation so far, one that keeps the history the results alone."""
        self._items.close()
        owner = self._owner
        if owner.conn.api == "chat_completions":
            request = dataclasses.replace(owner.request, new_messages=[*owner.request.new_messages,
                                                                       *(message for message, _ in rounds)])
        else:
            request = dataclasses.replace(owner.request, new_messages=served.tool_messages,
                                          pending_run_id=done.pending_run_id)
        if self._settings.blocking:
            return _once(openai_adapter.run_turn(owner.conn, request))
        return openai_adapter.stream_turn(owner.conn, request)

    def _overflow(self, text: str) -> TurnDone:
        limit = self._settings.max_chars
        if self._settings.on_overflow != "truncate":
            raise ProviderError("too_large", f"the reply was longer than {limit} characters, the most "
                                             "this service stores of one reply (MAX_REPLY_CHARS): nothing "
                                             "was stored")
        return TurnDone(text=text, finish_reason="length")

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._items.close()  # the provider's stream: its connection goes back, or is dropped, now
            self._owner.__exit__(None, None, None)  # frees a thread's lock unless the turn was recorded
        finally:
            self._meter.stream_closed()  # a stream that did not end (a failure, a client gone) failed
            tenant_limits.free_turn_slot(self._meter.tenant, self._app)

    def close(self) -> None:
        self._events.close()
        self._finish()  # also when the events were never read


def _first_answer(owner, blocking: bool, truncate: bool):
    """The provider's answer begun (its first item read). With truncation "auto", a context the provider
    finds too long loses its oldest half, a few times at most, rather than failing the turn."""
    for attempt in range(TRUNCATIONS + 1):
        try:
            if blocking:
                items = _once(openai_adapter.run_turn(owner.conn, owner.request))
            else:
                items = openai_adapter.stream_turn(owner.conn, owner.request)
            return items, next(items)
        except ProviderError as err:
            shorter = _without_oldest_half(owner.request) if truncate and attempt < TRUNCATIONS else None
            if err.code != "context_length_exceeded" or shorter is None:
                raise
            owner.request = shorter


def _without_oldest_half(request):
    """The request with the older half of its context dropped (the history, or for a stateless turn the
    messages before the last); a tool answer never loses the call it answers. None: nothing left to drop."""
    if request.history:
        kept = request.history[len(request.history) // 2:]
        while kept and kept[0].role == "tool":
            kept = kept[1:]
        return dataclasses.replace(request, history=kept)
    earlier, last = request.new_messages[:-1], request.new_messages[-1:]
    if not earlier:
        return None
    kept = earlier[len(earlier) // 2:] if len(earlier) > 1 else []
    while kept and kept[0].role == "tool":
        kept = kept[1:]
    return dataclasses.replace(request, new_messages=[*kept, *last])


def _total(usages: list) -> Usage | None:
    """The tokens of every provider round of a turn."""
    known = [u for u in usages if u is not None]
    if not known:
        return None
    return Usage(*(sum(getattr(u, name) for u in known)
                   for name in ("prompt_tokens", "completion_tokens", "total_tokens")))


def _once(item) -> Iterator:
    yield item


class _Stateless:
    """The owner of a turn without a thread: nothing to lock, its usage row its only record."""

    def __init__(self, caller: Caller, assistant: Assistant, turn: TurnInput):
        self.caller, self.assistant, self.turn = caller, assistant, turn
        self.conn, self.request = stateless_request(assistant, turn)

    def record(self, done: TurnDone, before_record=None, **_rounds):
        """The usage row, and what ``before_record(None)`` writes (a stored response), in one commit."""
        autocommit = before_record is None
        if before_record is not None:
            before_record(None)
        usage.record_usage(tenant=self.caller.tenant, assistant_id=self.assistant.id,
                           model=self.request.model,
                           done=done, api_key_id=self.caller.api_key_id, api=self.caller.api,
                           autocommit=autocommit)
        return None

    def __exit__(self, *exc) -> bool:
        return False
