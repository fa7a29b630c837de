"""The responses backend: the history lives in an OpenAI Conversation (conv_...); each turn
sends only its new input with ``conversation=`` and ``store=True``."""
from __future__ import annotations

from typing import Iterator

from .calls import Call
from .errors import STREAM_ENDED_EARLY, ProviderError
from .interface import TextDelta, ToolCall, ToolCallDelta, TurnDone, TurnRequest, Usage

FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def function_tool(tool: dict) -> dict:
    """A Chat Completions tool definition in the Responses format (other tools pass as they are)."""
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict):
        return tool
    converted = {"type": "function", "name": function["name"], "parameters": function.get("parameters") or {},
                 # Responses makes function tools strict by default; Chat Completions does not.
                 "strict": function.get("strict", False)}
    if function.get("description"):
        converted["description"] = function["description"]
    return converted


PARTS = {"text": lambda part: {"type": "input_text", "text": part["text"]},
         "image_url": lambda part: {"type": "input_image", "image_url": part["image_url"]["url"],
                                    "detail": part["image_url"].get("detail") or "auto"},
         "file": lambda part: {"type": "input_file", **part["file"]}}


def input_items(messages) -> list[dict]:
    """Chat messages as Responses input items (a chat message's content parts as input parts)."""
    items = []
    for message in messages:
        if message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id,
                          "output": message.content or ""})
            continue
        if message.content or not message.tool_calls:
            content = message.content or ""
            if isinstance(content, list):
                content = [PARTS[part["type"]](part) for part in content]
            items.append({"role": message.role, "content": content})
        items += [{"type": "function_call", "call_id": call["id"], "name": call["name"],
                   "arguments": call["arguments"]} for call in message.tool_calls or ()]
    return items


# Chat Completions options the Responses API takes under the same name, and those it has no room for.
SAME_NAME = ("parallel_tool_calls", "service_tier", "user", "prompt_cache_key", "safety_identifier",
             "top_logprobs", "prompt_cache_retention")
NO_EQUIVALENT = ("frequency_penalty", "presence_penalty", "logit_bias", "modalities", "prediction", "audio",
                 "web_search_options", "moderation", "prompt_cache_options", "functions", "function_call")


def tool_choice(choice):
    """A Chat Completions tool_choice in the Responses format."""
    if (isinstance(choice, dict) and choice.get("type") == "function"
            and isinstance(choice.get("function"), dict)):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def text_format(response_format: dict) -> dict:
    """A Chat Completions response_format as the Responses API's text.format."""
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", **{k: v for k, v in schema.items() if v is not None}}
    return {"type": response_format.get("type", "text")}


def option_params(req: TurnRequest) -> dict:
    """req.options (and stop/seed) in the Responses API's terms; one it has no room for: ProviderError."""
    options = dict(req.options)
    refused = [name for name in NO_EQUIVALENT if options.get(name) is not None]
    refused += [name for name in ("stop", "seed") if getattr(req, name) is not None]
    if refused:
        raise ProviderError("unsupported", f"the credential's backend (the Responses API) does not take "
                                           f"{', '.join(sorted(refused))}: leave them out, or use a "
                                           "chat_completions credential")
    params = {name: options[name] for name in SAME_NAME if options.get(name) is not None}
    if options.get("tool_choice") is not None:
        params["tool_choice"] = tool_choice(options["tool_choice"])
    text = {}
    if options.get("response_format"):
        text["format"] = text_format(options["response_format"])
    if options.get("verbosity"):
        text["verbosity"] = options["verbosity"]
    if text:
        params["text"] = text
    if options.get("reasoning_effort"):
        params["reasoning"] = {"effort": options["reasoning_effort"]}
    if options.get("logprobs") or options.get("top_logprobs"):
        params["include"] = ["message.output_text.logprobs"]
    if req.truncation:
        if req.truncation.get("type") not in (None, "auto"):
            raise ProviderError("unsupported", "the Responses API truncates 'auto' or not at all: "
                                               "truncation_strategy last_messages cannot be sent")
        params["truncation"] = "auto"
    return params


def request_params(req: TurnRequest) -> dict:
    """With a remote conversation, this turn's input in it; without one (a stateless turn), the whole
    history with store false: the state stays with this service."""
    if req.remote_thread_id:
        params = {"model": req.model, "input": input_items(req.new_messages),
                  "conversation": req.remote_thread_id, "store": True}
    else:
        params = {"model": req.model, "input": input_items([*req.history, *req.new_messages]), "store": False}
    params.update(option_params(req))
    if req.instructions:
        params["instructions"] = req.instructions  # not kept by the conversation: sent every turn
    if req.temperature is not None:
        params["temperature"] = req.temperature
    if req.top_p is not None:
        params["top_p"] = req.top_p
    if req.max_tokens is not None:
        params["max_output_tokens"] = req.max_tokens
    if req.tools:
        params["tools"] = [function_tool(tool) for tool in req.tools]
    return params


def turn_result(response, text: str, call: Call) -> TurnDone:
    """The TurnDone of a finished Response; a failed or cut-short one raises ProviderError."""
    finish = "stop"
    if response.status == "failed":
        error = response.error
        raise call.failed(f"could not complete the reply for {call.subject}",
                          error.code if error is not None else None)
    if response.status == "incomplete":
        details = response.incomplete_details
        reason = details.reason if details is not None else None
        if reason != "max_output_tokens":
            raise call.failed(f"stopped the reply for {call.subject} early",
                              reason)
        finish = "length"
    tool_calls = [ToolCall(item.call_id, item.name, item.arguments)
                  for item in response.output if item.type == "function_call"]
    usage = response.usage
    if usage is not None:
        usage = Usage(usage.input_tokens or 0, usage.output_tokens or 0,
                      usage.total_tokens or (usage.input_tokens or 0) + (usage.output_tokens or 0))
    return TurnDone(text=text, tool_calls=tool_calls, usage=usage,
                    finish_reason="tool_calls" if tool_calls else finish, response_id=response.id)


def run_turn(client, req: TurnRequest, call: Call) -> TurnDone:
    params = request_params(req)
    response = call.send(lambda timeout: client.responses.create(**params, timeout=timeout))
    with call.guard():
        return turn_result(response, response.output_text, call)


def stream_turn(client, req: TurnRequest, call: Call) -> Iterator[TextDelta | ToolCallDelta | TurnDone]:
    params = request_params(req)
    stream = call.send(lambda timeout: client.responses.create(**params, stream=True, timeout=timeout))
    parts: list[str] = []
    final = None
    calls: dict[str, int] = {}  # a function call's output item id -> its index among the calls
    with call.guard(stream):
        for event in call.read(stream):
            kind = event.type
            if kind == "response.output_text.delta":
                if event.delta:
                    parts.append(event.delta)
                    yield TextDelta(event.delta)
            elif kind == "response.output_item.added" and event.item.type == "function_call":
                calls[event.item.id] = len(calls)
                yield ToolCallDelta(calls[event.item.id], event.item.call_id, event.item.name)
            elif kind == "response.function_call_arguments.delta" and event.item_id in calls:
                yield ToolCallDelta(calls[event.item_id], arguments=event.delta)
            elif kind in FINAL_EVENTS:  # read on to the end: a fully read response keeps its connection
                final = event.response
            elif kind == "error":  # the documented flat error event (openai raises on the nested one)
                raise call.failed(f"reported an error while answering for {call.subject}",
                                  event.code)
        if final is None:
            raise ProviderError("bad_response", STREAM_ENDED_EARLY)
        result = turn_result(final, "".join(parts), call)
    yield result


def create_thread(client, call: Call) -> str:
    return call.send(lambda timeout: client.conversations.create(timeout=timeout)).id


def delete_thread(client, remote_id: str, call: Call) -> None:
    call.send(lambda timeout: client.conversations.delete(remote_id, timeout=timeout))
