"""The agents API's chat completions: an OpenAI chat-completion request run as a turn with an agent,
answered in OpenAI's `chat.completion` shape (or `chat.completion.chunk` server-sent events).

Without session options the turn is stateless: the request's messages are the conversation
and nothing is stored. `create_session: true` starts a session (a Thread) with this turn;
`store_in_session: <session_id>` continues one: its history goes to the model before the
request's messages, and both are stored with the reply (all or nothing)."""
import logging
import time
from typing import Iterator

from ..database import autocommit_if_fresh
from ..errors import DETAIL, NotFound, ServiceError, invalid
from ..extensions import db
from ..logs import log_turn_content
from ..models import Assistant, Thread, new_token_id
from ..openai_adapter import OPTIONS, ChatMessage, ProviderError, TextDelta, TurnDone
from ..streaming import sse
from . import threads, turns
from .agents import find_agent

log = logging.getLogger(__name__)
API = "agents"


def complete(agent_id: str, body: dict) -> dict | Iterator[str]:
    """The chat.completion body of a turn with agent ``agent_id``, or (stream) an iterator of SSE frames
    ending with [DONE]. Failures before the first piece of the reply raise: the route answers them with
    a status. Unless the turn creates its session (whose INSERT goes with the lock), every statement
    before the record stands alone: on PostgreSQL they run in autocommit (database.each_statement_commits)."""
    if not body.get("create_session"):
        autocommit_if_fresh()
    assistant = find_agent(agent_id)
    if body.get("model") not in (None, assistant.model):
        raise invalid("model", f"This agent uses model {assistant.model!r}: leave model out or send "
                               "that one.")
    turn = turn_input(body)
    caller = turns.Caller.of_request(API)
    thread, created = _session(assistant, body)
    session_id = thread.id if thread else None
    try:
        if not body.get("stream"):
            done = turns.complete(caller, assistant, turn, thread).done
            if thread is None:
                # a stored turn logs its content itself (thread_turn.py), when LOG_CONTENT is on
                log_turn_content(None, turn.messages, done.text)
            return completion(assistant, done, session_id)
        stream = turns.stream(caller, assistant, turn, thread)
    except BaseException:
        if created:
            _discard(session_id)
        raise
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    # Read now: the generator runs after the view's database session has closed.
    return _chunks(stream, assistant.model, _role(assistant), session_id, created, include_usage,
                   stateless_messages=turn.messages if thread is None else None)


def turn_input(body: dict) -> turns.TurnInput:
    messages = [ChatMessage(role="system" if m["role"] == "developer" else m["role"],
                            content=m.get("content"),
                            tool_calls=[{"id": c["id"], "name": c["function"]["name"],
                                         "arguments": c["function"]["arguments"]}
                                        for c in m.get("tool_calls") or ()] or None,
                            tool_call_id=m.get("tool_call_id"))
                for m in body["messages"]]
    tools = body.get("tools")
    if tools is not None:
        tools = [{"type": "function", "function": {k: v for k, v in t["function"].items() if v is not None}}
                 for t in tools]
    return turns.TurnInput(
        messages=messages, temperature=body.get("temperature"), top_p=body.get("top_p"),
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens"), stop=body.get("stop"),
        seed=body.get("seed"), tools=tools or None,
        options={name: body[name] for name in OPTIONS if body.get(name) is not None})


def _session(assistant: Assistant, body: dict) -> tuple[Thread | None, bool]:
    if body.get("create_session"):
        thread = threads.start_thread(assistant)
        db.session.flush()  # the turn lock is taken by id
        return thread, True
    if body.get("store_in_session"):
        try:
            return threads.find_thread(body["store_in_session"], assistant), False
        except NotFound as err:  # the seed calls threads sessions
            raise NotFound(err.message.replace("thread", "session", 1)
                           .replace("Thread", "Session", 1)) from None
    return None, False


def _discard(thread_id: str) -> None:
    """A session whose first turn failed is not kept: the client never got a usable session_id."""
    try:
        db.session.rollback()
        # Fetched again: a streamed turn ends in another database session than the one that began it.
        thread = db.session.get(Thread, thread_id)
        if thread is not None:
            threads.delete_thread(thread)
            db.session.commit()
    except Exception:  # the turn's own error is the one to report
        log.exception("could not discard session %s", thread_id)
        db.session.rollback()


def _tool_calls(result: TurnDone) -> list[dict]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in result.tool_calls]


def _usage(result: TurnDone) -> dict:
    return (vars(result.usage) if result.usage
            else {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})


def _role(assistant: Assistant) -> str:
    return assistant.completion_role or "assistant"


def completion(assistant: Assistant, result: TurnDone, session_id: str | None) -> dict:
    message = {"role": _role(assistant),
               "content": result.text if result.text or not result.tool_calls else None}
    if result.tool_calls:
        message["tool_calls"] = _tool_calls(result)
    choice = {"index": 0, "message": message, "finish_reason": result.finish_reason,
              "logprobs": result.logprobs}
    return {"id": new_token_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
            "model": assistant.model, "choices": [choice], "usage": _usage(result), "session_id": session_id}


def _delta(event) -> tuple[dict, dict | None]:
    """A chunk's delta (and logprobs) for a TextDelta or a ToolCallDelta, as OpenAI streams them."""
    if isinstance(event, TextDelta):
        return {"content": event.text}, event.logprobs
    call = {"index": event.index, "function": {"arguments": event.arguments}}
    if event.id is not None:
        call.update(id=event.id, type="function")
    if event.name is not None:
        call["function"]["name"] = event.name
    return {"tool_calls": [call]}, None


def _chunks(stream: turns.TurnStream, model: str, role: str, session_id: str | None, created: bool,
            include_usage: bool, stateless_messages: list | None = None) -> Iterator[str]:
    base = {"id": new_token_id("chatcmpl-"), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}

    def chunk(delta: dict, finish_reason: str | None = None, logprobs: dict | None = None) -> str:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                                         "finish_reason": finish_reason}], "session_id": session_id})

    completed = False
    try:
        yield chunk({"role": role, "content": ""})
        for event in stream:
            yield chunk(*_delta(event))
        done = stream.outcome.done
        if stateless_messages is not None:
            log_turn_content(None, stateless_messages, done.text)
        yield chunk({}, done.finish_reason)
        if include_usage:
            yield sse({**base, "choices": [], "usage": _usage(done), "session_id": session_id})
        completed = True
        yield sse("[DONE]")
    # mid-stream: OpenAI's error event (the openai client raises it)
    except (ProviderError, ServiceError) as err:
        yield DETAIL.sse_error(err)
    finally:
        stream.close()  # frees the turn lock now, inside the request's context
        if created and not completed:
            _discard(session_id)
