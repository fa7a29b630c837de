"""The chat_completions backend: this service keeps the history and sends all of it every
turn (system instructions + history + this turn). Works with every OpenAI-compatible server.

The request is built as JSON once and posted with the client's URL and headers (prepared.py);
the reply is read with orjson (fast_json.py), the stream's `data:` lines parsed here (the SDK's typed
call cost ~4 ms a turn, its low-level post another ~1.5 ms)."""
from __future__ import annotations

import time
from typing import Iterator

import httpx2

from ..fast_json import loads
from .calls import Call
from .errors import STREAM_ENDED_EARLY, ProviderError
from .interface import ChatMessage, TextDelta, ToolCall, ToolCallDelta, TurnDone, TurnRequest, Usage
from .prepared import post_json

FINISH_REASONS = {"tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length"}
# What a stream may still send after `data: [DONE]` before its connection is dropped rather than kept.
AFTER_DONE_LINES = 4
AFTER_DONE_SECONDS = 1.0


def wire_message(message: ChatMessage) -> dict:
    """A ChatMessage in the Chat Completions wire format."""
    out = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c["id"], "type": "function",
                              "function": {"name": c["name"], "arguments": c["arguments"]}}
                             for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def build_messages(req: TurnRequest) -> list[dict]:
    """[system instructions] + history + new messages; in "user-message" mode the instructions
    open the first user message instead, for models without a system role."""
    messages = []
    prepend = None
    if req.instructions:
        if req.instruction_mode == "user-message":
            prepend = req.instructions
        else:
            messages.append({"role": "system", "content": req.instructions})
    for message in [*req.history, *req.new_messages]:
        wire = wire_message(message)
        previous = messages[-1] if messages else None
        if (previous is not None and wire.get("tool_calls") and not wire["content"]
                and previous.get("tool_calls") and not previous["content"]):
            # one call an item: one message
            previous["tool_calls"] = previous["tool_calls"] + wire["tool_calls"]
            continue
        messages.append(wire)
    if prepend is not None:
        for message in messages:
            if message["role"] == "user":
                message["content"] = f"{prepend}\n\n{message['content'] or ''}"
                break
        else:
            messages.insert(0, {"role": "user", "content": prepend})
    return messages


def request_params(req: TurnRequest) -> dict:
    params = {"model": req.model, "messages": build_messages(req)}
    if req.temperature is not None:
        params["temperature"] = req.temperature
    if req.top_p is not None:
        params["top_p"] = req.top_p
    if req.max_tokens is not None:
        params["max_tokens"] = req.max_tokens  # max_completion_tokens is OpenAI-only
    if req.stop:
        params["stop"] = req.stop
    if req.seed is not None:
        params["seed"] = req.seed
    if req.tools:
        params["tools"] = req.tools
    params.update(req.options)  # Chat Completions' own names: sent as they are
    return params


def usage_of(usage: dict | None) -> Usage | None:
    if not usage:
        return None
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return Usage(prompt, completion, usage.get("total_tokens") or prompt + completion)


def post(client, body: dict, call: Call, *, stream: bool = False) -> httpx2.Response:
    """POST /chat/completions with the openai client's base URL, auth headers and Azure handling,
    without the typed method's parameter transform and response model, nor its per-call request
    building (prepared.py: milliseconds a turn). The reply is read here, as JSON or as server-sent events."""
    return call.send(lambda timeout: post_json(client, "/chat/completions", body, timeout=timeout,
                                               stream=stream))


def run_turn(client, req: TurnRequest, call: Call) -> TurnDone:
    response = post(client, request_params(req), call)
    with call.guard():
        completion = loads(response.content)
        choice = completion["choices"][0]
        message = choice["message"]
        tool_calls = [ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
                      for c in message.get("tool_calls") or ()]
        return TurnDone(text=message.get("content") or "", tool_calls=tool_calls,
                        usage=usage_of(completion.get("usage")),
                        finish_reason=FINISH_REASONS.get(choice.get("finish_reason"), "stop"),
                        response_id=completion.get("id"), logprobs=choice.get("logprobs"))


def stream_events(lines: Iterator[str]) -> Iterator[dict]:
    """The JSON of each `data:` line of a Chat Completions event stream, up to `data: [DONE]`;
    an error event (a `data:` holding {"error": ...}) raises StreamError."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, `event:` names, `:` comments
        data = line[5:].strip()
        if data == "[DONE]":
            return
        event = loads(data)
        if "error" in event:
            raise StreamError(event["error"])
        yield event


class StreamError(Exception):
    """The provider sent an error event mid-stream."""

    def __init__(self, error) -> None:
        super().__init__("error event")
        self.error = error if isinstance(error, dict) else {}


def stream_turn(client, req: TurnRequest, call: Call) -> Iterator[TextDelta | ToolCallDelta | TurnDone]:
    body = {**request_params(req), "stream": True, "stream_options": {"include_usage": True}}
    response = post(client, body, call, stream=True)
    parts: list[str] = []
    calls: dict[int, list] = {}  # tool-call index -> [id, name, [argument pieces]]
    usage = finish = response_id = None
    lines = call.read(response.iter_lines())
    with call.guard(response):
        try:
            for chunk in stream_events(lines):
                response_id = chunk.get("id", response_id)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    if choice.get("index"):  # n > 1 is never asked for; ignore stray choices
                        continue
                    delta = choice.get("delta") or {}
                    for piece in delta.get("tool_calls") or ():
                        index = piece.get("index", 0)
                        entry = calls.setdefault(index, [None, "", []])
                        entry[0] = piece.get("id") or entry[0]
                        function = piece.get("function") or {}
                        entry[1] += function.get("name") or ""
                        entry[2].append(function.get("arguments") or "")
                        yield ToolCallDelta(index, piece.get("id"), function.get("name"),
                                            function.get("arguments") or "")
                    finish = choice.get("finish_reason") or finish
                    content = delta.get("content")
                    if content:
                        parts.append(content)
                        yield TextDelta(content, choice.get("logprobs"))
        except StreamError as err:
            raise call.failed(f"reported an error while answering for {call.subject}", err.error) from None
        if finish is None:
            raise ProviderError("bad_response", STREAM_ENDED_EARLY)
        _read_to_end(lines, call)
        tool_calls = [ToolCall(entry[0] or "", entry[1], "".join(entry[2]))
                      for _, entry in sorted(calls.items())]
        result = TurnDone(text="".join(parts), tool_calls=tool_calls, usage=usage_of(usage),
                          finish_reason=FINISH_REASONS.get(finish, "stop"), response_id=response_id)
    yield result


def _read_to_end(lines: Iterator[str], call: Call) -> None:
    """Read what follows `data: [DONE]`: the body's last chunk, sent with it. A response read to its end
    gives its connection back to the pool; one closed early drops it, and the next turn pays a new TCP
    (and TLS) handshake -- ~0.4 ms of a worker's CPU on loopback, tens of ms to a real provider. A
    provider that sends more, or waits, loses the connection as before; the reply is complete either way."""
    reading = call.reading
    deadline = reading.deadline
    reading.deadline = min(deadline, time.monotonic() + AFTER_DONE_SECONDS)
    try:
        for count, _ in enumerate(lines, 1):
            if count > AFTER_DONE_LINES:
                return
    except Exception:  # noqa: BLE001 - the reply is already whole: only the connection is lost
        return
    finally:
        reading.deadline = deadline
