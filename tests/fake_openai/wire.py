"""Wire-level pieces shared by the fake server: control dataclasses, OpenAI error bodies,
ids, SSE framing, cursor pages and text helpers."""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

STREAM_FAULTS = ("stall", "cut", "malformed", "drop", "error_event", "reset")
# Answered instead of the endpoint's reply, blocking or streamed.
ANSWER_FAULTS = ("status", "retry_after_date", "html_error", "string_error", "flat_error", "empty_200")
# Applied by the endpoint itself, to the reply it builds.
REPLY_FAULTS = ("no_usage", "incomplete", "failed", "huge_models", "malformed_200")
# The endpoint's reply, written slowly.
WRITE_FAULTS = ("slow_headers", "drip")
# What a malformed_200 leaves out of the reply: the fields a client cannot do without.
MALFORMED_DROPS = ("choices", "output", "data", "status")


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string, e.g. "/v1/chat/completions"
    query: dict  # {name: last value}
    headers: dict  # lower-cased names
    json: Any  # parsed body, or None (no body / not JSON)
    client_port: int = 0  # the client's end of the connection: requests on one keep-alive connection share it


@dataclass
class Fault:
    """One injected failure, consumed by the next `times` requests whose path matches `path` (and, with
    `body_contains`, whose body holds that text: one request among others to the same path).

    Answers in place of the endpoint's reply (blocking or streamed alike), with `headers` added:
      status: answer `status` with an OpenAI error body (+ Retry-After when `retry_after` is set).
      retry_after_date: a 429 whose Retry-After is an HTTP date `retry_after` seconds ahead (default 2).
      html_error: an HTML error page of a proxy in front of the provider (`status`, e.g. 502 or 503),
        Content-Type text/html.
      string_error: `status` with `{"error": "<message>"}` (Ollama's and llama.cpp's error shape).
      flat_error: `status` with `{"object": "error", "message", "type", "param", "code"}` (vLLM's shape).
      empty_200: a 200 with an empty JSON body (Content-Length: 0).
    delay: sleep `seconds`, then answer normally (no byte at all before).
    The endpoint's reply, changed (blocking and streamed):
      no_usage: no usage anywhere: chat completions leave it out (no usage chunk even when
        stream_options.include_usage asks), a Response and a run have `usage: null`.
      incomplete: the reply stops short for `reason` (not the token limit): Responses status
        "incomplete" (streamed: `response.incomplete`, reason default "content_filter"), Assistants
        run status "incomplete" (streamed: `thread.run.incomplete`, default "max_prompt_tokens"),
        chat completions finish_reason `reason` (default "content_filter").
      failed: Responses status "failed" (streamed: `response.failed`), Assistants run "failed"
        (streamed: `thread.run.failed`), with the error code `reason` (default "server_error") and
        `message`; nothing is stored. Chat completions have no such state: not applicable there.
      huge_models: GET /models lists enough models to make a body of `size` bytes.
      malformed_200: a 200 JSON reply without the fields a client needs (`choices`, `output`,
        `data`, `status`); a streamed request gets that JSON too, not an event stream.
    Written slowly:
      slow_headers: the status line at once, the rest of the head `seconds` later, then the reply.
      drip: the head at once, then the body one byte every `seconds`, and after its last byte a
        space every `seconds`: the connection stays busy and the reply never ends.
    On a stream, after `after_chunks` good SSE frames (the final frame is never sent):
      stall: send nothing for `seconds`, then close;  cut: end the body cleanly, no finish marker;
      malformed: send `data: {not json`, then end;  drop: close the socket mid-body;
      reset: reset the connection (TCP RST) mid-body;  error_event: send the API's SSE error event, then end.
    On a blocking call: stall = no bytes for `seconds` then close; drop = close, no response;
      reset = a TCP RST, no response; cut = headers with a too-large Content-Length, half a body,
      close; malformed = 200 with a non-JSON body; error_event = a 500 server_error.
    refuse: not a server behaviour; use FakeOpenAI.refused_base_url().
    """

    kind: str  # one of the kinds above
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    after_chunks: int = 1
    path: str | None = None
    times: int = 1
    message: str | None = None  # addition: error message for "status" / "error_event" and the error kinds
    flat: bool = False  # addition: Responses "error_event" in the documented flat shape only
    reason: str | None = None  # "incomplete": why; "failed": the error code
    size: int = 0  # "huge_models": bytes of the body
    headers: dict = field(default_factory=dict)  # added to the answer of the answering kinds
    body_contains: str | None = None  # only requests whose raw body holds this text

    def matches(self, path: str, raw_body: bytes = b"") -> bool:
        if self.body_contains is not None and self.body_contains.encode() not in raw_body:
            return False
        return self.path is None or path.endswith(self.path) or self.path in path


class HTTPError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_, code, param)


@dataclass
class Reply:
    body: Any = None  # JSON body (when events is None)
    status: int = 200
    events: list[bytes] | None = None  # SSE frames
    api: str = "chat"  # "chat" | "responses" | "assistants": shapes the error_event
    commit: Callable[[], None] | None = None  # state change applied only if delivered intact
    headers: dict = field(default_factory=dict)


def error_body(message, type_="invalid_request_error", code=None, param=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())


def split_words(text: str) -> list[str]:
    """Split into word pieces that keep their leading whitespace: join == text."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)):]
    if tail:
        pieces.append(tail)
    return pieces or [""]


def count(text: Any) -> int:
    return len(str(text or "").split())


def text_of(content: Any) -> str:
    """Text of a chat / responses / assistants content value (string or list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    out = []
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            text = part.get("text")
            out.append(text.get("value", "") if isinstance(text, dict) else str(text or ""))
    return "".join(out)


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def default_reply(conversation: list[dict]) -> str:
    last = next((m for m in reversed(conversation) if m.get("role") == "user"), None)
    return "Echo: " + (last["content"] if last else "")


def example_of(schema: Any) -> Any:
    """A value that fits a JSON schema (the fake's structured output): each property filled in."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example_of(schema[key][0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        return {name: example_of(sub) for name, sub in (schema.get("properties") or {}).items()}
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "array": [],
            "null": None}.get(kind)


def structured_reply(body: dict, conversation: list[dict]) -> str | None:
    """What a model answers under response_format json_object / json_schema: JSON, not prose."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(example_of((response_format.get("json_schema") or {}).get("schema")))
    if response_format.get("type") == "json_object":  # the JSON object the prompt spelled out, if any
        last = default_reply(conversation)[len("Echo: "):]
        start, end = last.find("{"), last.rfind("}")
        try:
            return (json.dumps(json.loads(last[start:end + 1])) if 0 <= start < end
                    else json.dumps({"echo": last}))
        except ValueError:
            return json.dumps({"echo": last})
    return None


def forced_calls(body: dict, call_offered: bool = False) -> list[dict] | None:
    """The call a tool_choice naming a function (or "required") forces -- or, with ``call_offered``, any
    offered function on a conversation's first turn: that function, its arguments filled in from its
    parameters' schema."""
    choice, tools = body.get("tool_choice"), body.get("tools") or []
    functions = {t["function"]["name"]: t["function"] for t in tools if t.get("type") == "function"}
    first_turn = not any(m.get("role") == "tool" for m in body.get("messages") or ())
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
    elif (choice == "required" or (call_offered and choice != "none" and first_turn)) and functions:
        name = next(iter(functions))
    else:
        return None
    if name not in functions:
        return None
    arguments = json.dumps(example_of(functions[name].get("parameters") or {"type": "object"}))
    return [{"id": new_id("call_"), "name": name, "arguments": arguments}]


def page(items: list[dict], query: dict, default_order: str = "desc") -> dict:
    """OpenAI cursor page: order, limit, after, before."""
    items = items if query.get("order", default_order) == "asc" else list(reversed(items))
    ids = [i["id"] for i in items]
    if query.get("after") in ids:
        items = items[ids.index(query["after"]) + 1:]
    if query.get("before") in ids:
        items = items[: ids.index(query["before"])]
    limit = int(query.get("limit") or 20)
    data = items[:limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(items) > limit}
