"""The chat_completions backend: this service keeps the history and sends all of it every
turn (system instructions + history + this turn). Works with every OpenAI-compatible server."""
from __future__ import annotations

from typing import Iterator

from .calls import Call
from .errors import STREAM_ENDED_EARLY, ProviderError
from .interface import ChatMessage, TextDelta, ToolCall, TurnDone, TurnRequest, Usage

FINISH_REASONS = {"tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length"}


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
    for message in req.history:
        messages.append(wire_message(message))
    for message in req.new_messages:
        messages.append(wire_message(message))
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
    return params


def usage_of(usage) -> Usage | None:
    if usage is None:
        return None
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    return Usage(prompt, completion, usage.total_tokens or prompt + completion)


def run_turn(client, req: TurnRequest, call: Call) -> TurnDone:
    params = request_params(req)
    completion = call.send(lambda timeout: client.chat.completions.create(**params, timeout=timeout))
    with call.guard():
        choice = completion.choices[0]
        message = choice.message
        tool_calls = [ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()]
        return TurnDone(text=message.content or "", tool_calls=tool_calls, usage=usage_of(completion.usage),
                          finish_reason=FINISH_REASONS.get(choice.finish_reason, "stop"),
                          response_id=completion.id)


def stream_turn(client, req: TurnRequest, call: Call) -> Iterator[TextDelta | TurnDone]:
    params = request_params(req)
    stream = call.send(lambda timeout: client.chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}, timeout=timeout))
    parts: list[str] = []
    calls: dict[int, list] = {}  # tool-call index -> [id, name, [argument pieces]]
    usage = finish = response_id = None
    with call.guard(stream):
        for chunk in call.read(stream):
            response_id = chunk.id
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.index:  # n > 1 is never asked for; ignore stray choices
                    continue
                delta = choice.delta
                if delta.tool_calls:
                    for piece in delta.tool_calls:
                        entry = calls.setdefault(piece.index, [None, "", []])
                        if piece.id:
                            entry[0] = piece.id
                        if piece.function is not None:
                            entry[1] += piece.function.name or ""
                            entry[2].append(piece.function.arguments or "")
                if choice.finish_reason:
                    finish = choice.finish_reason
                if delta.content:
                    parts.append(delta.content)
                    yield TextDelta(delta.content)
        if finish is None:
            raise ProviderError("bad_response", STREAM_ENDED_EARLY)
        tool_calls = [ToolCall(entry[0] or "", entry[1], "".join(entry[2]))
                      for _, entry in sorted(calls.items())]
        result = TurnDone(text="".join(parts), tool_calls=tool_calls, usage=usage_of(usage),
                            finish_reason=FINISH_REASONS.get(finish, "stop"), response_id=response_id)
    yield result
