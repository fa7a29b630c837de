"""The OpenAI adapter against a real loopback fake OpenAI server (tests/fake_openai):
every backend blocking and streamed, client reuse, the deadline, retries, and every
injected fault mapped to its ProviderError. A few narrow cases the fake cannot produce
(a failed response or run) use httpx2.MockTransport."""
import json
import logging
import threading
import time

import httpx2
import openai
import pytest
from flask import Flask

from assistants_app.config import DefaultConfig
from assistants_app.openai_adapter import (AssistantSpec, ChatMessage, Connection, OpenAIAdapter,
                                           ProviderError, TextDelta, ToolCall, ToolCallDelta, TurnDone,
                                           TurnRequest, Usage)
from assistants_app.openai_adapter import assistants as assistants_backend
from assistants_app.openai_adapter import responses as responses_backend
from assistants_app.openai_adapter.calls import Call, Settings
from assistants_app.openai_adapter.clients import ClientCache
from assistants_app.openai_adapter.errors import translate
from assistants_app.errors import PROVIDER_STATUS
from assistants_app.services import history
from tests.fake_openai import FakeOpenAI, Fault

pytestmark = [
    # openai 3.x marks every Assistants API method deprecated; the assistants backend exists for
    # servers that still implement it.
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

KEY = "sk-test-0123456789abcdefSECRET"
BACKENDS = ("chat_completions", "responses", "assistants")
MODES = ("blocking", "streamed")
TURN_PATH = {"chat_completions": "/chat/completions", "responses": "/responses", "assistants": "/runs"}
# SSE frames a streamed reply sends up to and including its first text delta ("Echo:").
FIRST_DELTA_FRAMES = {"chat_completions": 2, "responses": 5, "assistants": 6}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


# `fake` (conftest.py): the session's loopback server, reset before each test.


def make_app(**config):
    app = Flask(__name__)
    app.config.from_object(DefaultConfig)  # the adapter reads its settings with no defaults of its own
    # A short backoff keeps the retry tests fast; Retry-After is still honoured as sent.
    app.config.update(OPENAI_TIMEOUT=3.0, OPENAI_CONNECT_TIMEOUT=1.0, OPENAI_MAX_RETRIES=2,
                      OPENAI_RETRY_BACKOFF=0.02, PROVIDER_ALLOWED_HOSTS="127.0.0.1")
    app.config.update(config)
    return app, OpenAIAdapter(app)


@pytest.fixture
def adapter():
    app, adapter = make_app()
    with app.app_context():
        yield adapter


@pytest.fixture
def slow_adapter():
    """OPENAI_TIMEOUT=1.0: for stalls and delays."""
    app, adapter = make_app(OPENAI_TIMEOUT=1.0)
    with app.app_context():
        yield adapter


def connection(fake, api, **fields):
    return Connection(**{"cache_key": f"cred-{api}", "api": api, "api_key": KEY, "base_url": fake.base_url,
                         **fields})


def turn_request(adapter, conn, text="Hello there", **fields):
    """A user turn on a fresh remote thread (and remote assistant, for the assistants backend)."""
    fields.setdefault("remote_thread_id", adapter.create_remote_thread(conn))
    if conn.api == "assistants" and "remote_assistant_id" not in fields:
        fields["remote_assistant_id"] = adapter.create_remote_assistant(conn, AssistantSpec(model="gpt-4"))
    return TurnRequest(model=fields.pop("model", "gpt-4"), new_messages=[ChatMessage("user", text)], **fields)


def take_turn(adapter, conn, req, mode):
    """(TurnDone, text deltas); a streamed turn must end with exactly one TurnDone."""
    if mode == "blocking":
        return adapter.run_turn(conn, req), []
    items = list(adapter.stream_turn(conn, req))
    assert isinstance(items[-1], TurnDone)
    assert all(isinstance(item, (TextDelta, ToolCallDelta)) for item in items[:-1])
    return items[-1], [item.text for item in items[:-1] if isinstance(item, TextDelta)]


def failed_turn(adapter, conn, req, mode):
    """(ProviderError, deltas seen before it, seconds taken)."""
    deltas = []
    start = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        if mode == "blocking":
            adapter.run_turn(conn, req)
        else:
            for item in adapter.stream_turn(conn, req):
                deltas.append(item.text)
    return caught.value, deltas, time.monotonic() - start


# ---------------------------------------------------------------------------- turns


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_turn_returns_text_and_usage(adapter, fake, api, mode):
    conn = connection(fake, api)
    result, deltas = take_turn(adapter, conn, turn_request(adapter, conn), mode)

    assert result.text == "Echo: Hello there"
    assert result.finish_reason == "stop" and result.tool_calls == [] and result.pending_run_id is None
    assert result.usage.completion_tokens == 3 and result.usage.prompt_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    assert result.response_id.startswith({"chat_completions": "chatcmpl-", "responses": "resp_",
                                          "assistants": "run_"}[api])
    if mode == "streamed":
        assert deltas == ["Echo:", " Hello", " there"]


@pytest.mark.parametrize("api", BACKENDS)
def test_blocking_turn_equals_streamed_turn(adapter, fake, api):
    conn = connection(fake, api)
    blocking, _ = take_turn(adapter, conn, turn_request(adapter, conn), "blocking")
    streamed, _ = take_turn(adapter, conn, turn_request(adapter, conn), "streamed")

    assert (blocking.text, blocking.usage) == (streamed.text, streamed.usage)
    bodies = [r.json for r in fake.requests_to(TURN_PATH[api])]
    if api == "assistants":  # runs are always streamed: reading the events replaces polling
        assert [b["stream"] for b in bodies] == [True, True]
    else:  # a blocking turn is a real non-streamed request
        assert [b.get("stream") for b in bodies] == [None, True]
    if api == "chat_completions":
        assert bodies[1]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("api", ("chat_completions", "responses"))
def test_streamed_turns_give_their_connection_back(adapter, fake, api):
    """A stream read to its end leaves its connection in the pool: the next request reuses it, where a
    new one costs a TCP handshake (and with a real provider a TLS one) and ~0.4 ms of a worker's CPU.
    (The assistants backend's stream is the SDK's, whose sync Stream closes at [DONE] unread.)"""
    conn = connection(fake, api)
    for _ in range(3):
        take_turn(adapter, conn, turn_request(adapter, conn), "streamed")

    assert len(fake.requests_to(TURN_PATH[api])) == 3
    assert len({request.client_port for request in fake.requests}) == 1


HISTORY = [ChatMessage("user", "My name is Ada."), ChatMessage("assistant", "Hello Ada.")]


@pytest.mark.parametrize("mode", MODES)
def test_chat_completions_sends_instructions_history_and_settings(adapter, fake, mode):
    conn = connection(fake, "chat_completions")
    req = turn_request(adapter, conn, "What is my name?", instructions="Be brief.", history=HISTORY,
                       temperature=0.2, top_p=0.9, max_tokens=50, stop=["\n\n"], seed=7, tools=[WEATHER_TOOL])
    take_turn(adapter, conn, req, mode)

    body = fake.requests_to("/chat/completions")[-1].json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    settings = ("model", "temperature", "top_p", "max_tokens", "stop", "seed")
    assert [body[name] for name in settings] == ["gpt-4", 0.2, 0.9, 50, ["\n\n"], 7]
    assert body["tools"] == [WEATHER_TOOL]
    assert fake.requests_to("/chat/completions")[-1].headers["authorization"] == f"Bearer {KEY}"


def test_chat_completions_leaves_out_unset_settings(adapter, fake):
    conn = connection(fake, "chat_completions")
    adapter.run_turn(conn, turn_request(adapter, conn))

    body = fake.requests_to("/chat/completions")[-1].json
    assert set(body) == {"model", "messages"}
    assert body["messages"] == [{"role": "user", "content": "Hello there"}]


@pytest.mark.parametrize("mode", MODES)
def test_chat_completions_user_message_instruction_mode(adapter, fake, mode):
    conn = connection(fake, "chat_completions")
    req = turn_request(adapter, conn, "What is my name?", instructions="Be brief.", history=HISTORY,
                       instruction_mode="user-message")
    take_turn(adapter, conn, req, mode)

    messages = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert messages[0] == {"role": "user", "content": "Be brief.\n\nMy name is Ada."}
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[2]["content"] == "What is my name?"
    assert req.history[0].content == "My name is Ada."  # the caller's messages are not changed


@pytest.mark.parametrize("mode", MODES)
def test_responses_sends_conversation_instructions_and_tools(adapter, fake, mode):
    conn = connection(fake, "responses")
    req = turn_request(adapter, conn, "Hi", instructions="Be brief.", history=HISTORY, temperature=0.3,
                       top_p=0.8, max_tokens=40, tools=[WEATHER_TOOL])
    assert req.remote_thread_id.startswith("conv_")
    take_turn(adapter, conn, req, mode)

    body = fake.requests_to("/responses")[-1].json
    assert body["conversation"] == req.remote_thread_id and body["store"] is True
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "Hi"}]  # the history lives in the conversation
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.3, 0.8, 40)
    assert body["tools"] == [{"type": "function", "name": "get_weather", "description": "Weather in a city",
                              "parameters": WEATHER_TOOL["function"]["parameters"], "strict": False}]
    if mode == "blocking":  # (a streamed turn is stored once the fake finished writing: racy to check)
        assert [item["role"] for item in fake.conversations[req.remote_thread_id]] == ["user", "assistant"]


@pytest.mark.parametrize("mode", MODES)
def test_assistants_run_request(adapter, fake, mode):
    conn = connection(fake, "assistants")
    req = turn_request(adapter, conn, "Hi", temperature=0.4, top_p=0.7)
    take_turn(adapter, conn, req, mode)
    take_turn(adapter, conn, TurnRequest(model="gpt-4", instructions="Be brief.",
                                         new_messages=[ChatMessage("user", "Again")],
                                         remote_thread_id=req.remote_thread_id,
                                         remote_assistant_id=req.remote_assistant_id), mode)

    first, second = [r.json for r in fake.requests_to("/runs")]
    assert req.remote_thread_id.startswith("thread_") and req.remote_assistant_id.startswith("asst_")
    assert first == {"assistant_id": req.remote_assistant_id, "stream": True, "temperature": 0.4,
                     "top_p": 0.7, "additional_messages": [{"role": "user", "content": "Hi"}]}
    assert "instructions" not in first and second["instructions"] == "Be brief."
    texts = [m["content"][0]["text"]["value"] for m in fake.threads[req.remote_thread_id]]
    assert texts == ["Hi", "Echo: Hi", "Again", "Echo: Again"]


# ---------------------------------------------------------------------------- tool calls


@pytest.mark.parametrize("api", BACKENDS)
def test_tool_calls_stream_as_deltas(adapter, fake, api):
    """Each backend streams a function call as it arrives: the first piece of a call carries its id and
    name, every piece a part of its arguments; together they are the TurnDone's calls."""
    conn = connection(fake, api)
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Paris"}'},
                           {"name": "get_time", "arguments": '{"zone": "CET"}'}])
    items = list(adapter.stream_turn(conn, turn_request(adapter, conn, "Paris?", tools=[WEATHER_TOOL])))
    done, pieces = items[-1], [item for item in items if isinstance(item, ToolCallDelta)]
    assert len(pieces) >= 2
    calls = {}
    for piece in pieces:
        if piece.index not in calls:
            assert piece.id and piece.name, piece  # a call's first piece names it
            calls[piece.index] = [piece.id, piece.name, ""]
        calls[piece.index][2] += piece.arguments
    assert [tuple(calls[i]) for i in sorted(calls)] == [(c.id, c.name, c.arguments) for c in done.tool_calls]
    assert [c.name for c in done.tool_calls] == ["get_weather", "get_time"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_tool_calls_round_trip(adapter, fake, api, mode):
    conn = connection(fake, api)
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Paris"}'},
                           {"name": "get_weather", "arguments": '{"city": "Rome"}'}])
    req = turn_request(adapter, conn, "Weather in Paris and Rome?", tools=[WEATHER_TOOL])
    first, deltas = take_turn(adapter, conn, req, mode)

    assert first.finish_reason == "tool_calls" and first.text == "" and deltas == []
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Rome"}')]
    assert all(c.id.startswith("call_") for c in first.tool_calls)
    if api == "assistants":
        assert first.pending_run_id == first.response_id and first.pending_run_id.startswith("run_")
    else:
        assert first.pending_run_id is None

    answers = [ChatMessage("tool", f"sunny {i}", tool_call_id=c.id) for i, c in enumerate(first.tool_calls)]
    history = [req.new_messages[0], ChatMessage("assistant", None, tool_calls=[
        {"id": c.id, "name": c.name, "arguments": c.arguments} for c in first.tool_calls])]
    second, _ = take_turn(adapter, conn, TurnRequest(
        model="gpt-4", history=history, new_messages=answers, tools=[WEATHER_TOOL],
        remote_thread_id=req.remote_thread_id, remote_assistant_id=req.remote_assistant_id,
        pending_run_id=first.pending_run_id), mode)

    assert second.text == "Echo: Weather in Paris and Rome?" and second.finish_reason == "stop"
    ids = [c.id for c in first.tool_calls]
    if api == "chat_completions":
        messages = fake.requests_to("/chat/completions")[-1].json["messages"]
        assert messages[1] == {"role": "assistant", "content": None, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in first.tool_calls]}
        assert messages[2:] == [{"role": "tool", "content": "sunny 0", "tool_call_id": ids[0]},
                                {"role": "tool", "content": "sunny 1", "tool_call_id": ids[1]}]
    elif api == "responses":
        assert fake.requests_to("/responses")[-1].json["input"] == [
            {"type": "function_call_output", "call_id": ids[0], "output": "sunny 0"},
            {"type": "function_call_output", "call_id": ids[1], "output": "sunny 1"}]
    else:
        submitted = fake.requests_to(f"/runs/{first.pending_run_id}/submit_tool_outputs")
        assert submitted[0].json == {"stream": True, "tool_outputs": [
            {"tool_call_id": ids[0], "output": "sunny 0"}, {"tool_call_id": ids[1], "output": "sunny 1"}]}
        assert fake.runs[first.pending_run_id]["status"] == "completed"
        assert second.response_id == first.pending_run_id and second.pending_run_id is None


# ---------------------------------------------------------------------------- clients


def test_one_client_per_cache_key(adapter, fake):
    conn = connection(fake, "chat_completions")
    client = adapter.client(conn)

    assert adapter.client(Connection(**{**conn.__dict__})) is client  # an equal connection reuses it
    assert adapter.client(connection(fake, "chat_completions", cache_key="cred-2:1700000001.0")) is not client
    # Settings come from the app config, never openai's defaults (600 s, 2 retries).
    assert client.max_retries == 0
    assert (client.timeout.read, client.timeout.connect) == (3.0, 1.0)
    adapter.run_turn(conn, turn_request(adapter, conn))
    adapter.run_turn(conn, turn_request(adapter, conn))
    assert adapter.client(conn) is client


def test_changed_credential_rebuilds_the_client(adapter, fake):
    conn = connection(fake, "chat_completions")
    client = adapter.client(conn)
    # The app changes the key when a credential is updated...
    assert adapter.client(connection(fake, "chat_completions", cache_key="cred-1:2.0")) is not client
    # ... and a reused key with other fields never hands out the old client.
    rotated = adapter.client(connection(fake, "chat_completions", api_key="sk-rotated-key-000"))
    assert rotated is not client and rotated.api_key == "sk-rotated-key-000"


def test_azure_connection_builds_an_azure_client(adapter):
    conn = Connection("azure", "chat_completions", KEY, base_url="https://example.openai.azure.com",
                      api_version="2024-10-21", provider="azure")
    client = adapter.client(conn)
    assert isinstance(client, openai.AzureOpenAI) and client.max_retries == 0


def test_azure_turns_reach_their_deployment_with_the_api_key_header(adapter, fake):
    """Turns reuse a prepared URL and headers (openai_adapter/prepared.py): for Azure the URL names
    the model, so each model gets its own deployment's URL, and the key goes as `api-key` alone."""
    conn = Connection("azure", "chat_completions", KEY, base_url=fake.url, api_version="2024-10-21",
                      provider="azure")
    for model in ("gpt-4o", "gpt-4", "gpt-4o"):
        # the fake serves no deployments: a 404, after it recorded the request
        with pytest.raises(ProviderError):
            adapter.run_turn(conn, TurnRequest(model=model, new_messages=[ChatMessage("user", "hi")]))
    sent = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert [r.path for r in sent] == [f"/openai/deployments/{m}/chat/completions"
                                      for m in ("gpt-4o", "gpt-4", "gpt-4o")]
    assert all(r.query == {"api-version": "2024-10-21"} and r.headers["api-key"] == KEY
               and "authorization" not in r.headers and r.json["model"] == r.path.split("/")[3] for r in sent)


def test_prepared_posts_send_what_the_sdk_sends(adapter, fake):
    """The prepared path's request carries the SDK's own headers (auth, organization, user agent)."""
    conn = connection(fake, "chat_completions", organization="org-42")
    adapter.run_turn(conn, TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "hi")]))
    adapter.client(conn).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    ours, sdks = fake.requests_to("/chat/completions")
    skip = {"content-length", "x-stainless-read-timeout", "x-stainless-retry-count"}
    assert {k: v for k, v in ours.headers.items() if k not in skip} == \
        {k: v for k, v in sdks.headers.items() if k not in skip}
    assert (ours.headers["authorization"] == f"Bearer {KEY}"
            and ours.headers["openai-organization"] == "org-42")


def test_client_cache_is_a_bounded_lru(fake):
    cache = ClientCache(Settings(), maxsize=2)
    a, b, c = (connection(fake, "chat_completions", cache_key=k) for k in "abc")
    client_a = cache.get(a)
    cache.get(b)
    assert cache.get(a) is client_a  # a is now the most recent
    cache.get(c)  # evicts b
    assert len(cache) == 2 and cache.get(a) is client_a


def test_client_cache_is_thread_safe(fake):
    cache = ClientCache(Settings())
    conn = connection(fake, "chat_completions")
    barrier = threading.Barrier(8)
    clients = []

    def get():
        barrier.wait()
        clients.append(cache.get(conn))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in clients}) == 1


# ---------------------------------------------------------------------------- retries


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_429_is_retried_when_retry_after_fits_the_budget(adapter, fake, api, mode):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=429, retry_after=0.2, path=TURN_PATH[api]))
    start = time.monotonic()
    result, _ = take_turn(adapter, conn, req, mode)

    assert result.text == "Echo: Hello there"
    assert len(fake.requests_to(TURN_PATH[api])) == 2
    assert time.monotonic() - start >= 0.2  # Retry-After was honoured


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_429_beyond_the_budget_gives_up_at_once(adapter, fake, api, mode):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=429, retry_after=30, path=TURN_PATH[api]))
    error, _, elapsed = failed_turn(adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("rate_limited", 429, 429)
    assert error.retry_after == 30
    assert error.message == (f"the provider at {fake.base_url} is rate limiting this credential "
                             "(HTTP 429, rate_limit_exceeded); retry after 30 s")
    assert len(fake.requests_to(TURN_PATH[api])) == 1 and elapsed < 1


def test_retry_after_ms_is_preferred(adapter, fake):
    from assistants_app.openai_adapter.errors import retry_after_seconds
    assert retry_after_seconds(httpx2.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after_seconds(httpx2.Headers({"retry-after": "3"})) == 3
    assert retry_after_seconds(httpx2.Headers({})) is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried_then_given_up(adapter, fake, api, mode, status):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=status, path=TURN_PATH[api], times=10))
    error, _, _ = failed_turn(adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("provider_error", 502, status)
    assert f"HTTP {status}" in error.message
    assert len(fake.requests_to(TURN_PATH[api])) == 3  # OPENAI_MAX_RETRIES=2


@pytest.mark.parametrize("api", BACKENDS)
def test_one_5xx_is_retried_to_success(adapter, fake, api):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=502, path=TURN_PATH[api]))
    assert adapter.run_turn(conn, req).text == "Echo: Hello there"
    assert len(fake.requests_to(TURN_PATH[api])) == 2


@pytest.mark.parametrize("api", BACKENDS)
def test_other_4xx_is_not_retried(adapter, fake, api):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=400, message="Invalid 'temperature'.", path=TURN_PATH[api],
                         times=3))
    error, _, _ = failed_turn(adapter, conn, req, "streamed")

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("provider_error", 502, 400)
    # The provider's own words go to the log only; its error code, a known one, is kept.
    assert error.message == (f"the provider at {fake.base_url} answered HTTP 400, invalid_request_error "
                             "for model 'gpt-4'")
    assert len(fake.requests_to(TURN_PATH[api])) == 1


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_unknown_model_is_a_provider_error_naming_it(adapter, fake, api):
    conn = connection(fake, api)
    error, _, _ = failed_turn(adapter, conn, turn_request(adapter, conn, model="gpt-nope"), "blocking")

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("provider_error", 502, 404)
    assert "gpt-nope" in error.message


def test_max_retries_comes_from_config(fake):
    app, adapter = make_app(OPENAI_MAX_RETRIES=0)
    with app.app_context():
        conn = connection(fake, "chat_completions")
        fake.add_fault(Fault("status", status=500, times=3))
        error, _, _ = failed_turn(adapter, conn, turn_request(adapter, conn), "blocking")
    assert error.kind == "provider_error" and len(fake.requests_to("/chat/completions")) == 1


# ---------------------------------------------------------------------------- credentials, connections


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_rejected_key_is_credential_rejected_without_the_key(adapter, fake, api, mode):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("status", status=401, path=TURN_PATH[api], times=3,
                         message=f"Incorrect API key provided: {KEY}."))
    error, _, _ = failed_turn(adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == (
        "credential_rejected", 502, 401)
    assert error.message == (f"the provider at {fake.base_url} rejected the credential "
                             "(HTTP 401, invalid_request_error)")
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)
    assert len(fake.requests_to(TURN_PATH[api])) == 1


def test_wrong_key_on_the_fake_is_credential_rejected(adapter, fake):
    conn = connection(fake, "chat_completions", api_key="sk-bad")
    with pytest.raises(ProviderError) as caught:
        adapter.list_models(conn)
    assert caught.value.kind == "credential_rejected" and caught.value.provider_status == 401


def test_forbidden_is_credential_rejected(adapter, fake):
    fake.add_fault(Fault("status", status=403, message="Project not allowed"))
    with pytest.raises(ProviderError) as caught:
        adapter.list_models(connection(fake, "chat_completions"))
    assert (caught.value.kind, PROVIDER_STATUS[caught.value.kind]) == ("credential_rejected", 502)
    assert caught.value.message == (f"the provider at {fake.base_url} rejected the credential "
                                    "(HTTP 403, invalid_request_error)")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_refused_connection_is_unreachable(adapter, fake, api, mode):
    conn = connection(fake, api, base_url=FakeOpenAI.refused_base_url())
    req = TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "Hi")], remote_thread_id="thread_x",
                      remote_assistant_id="asst_x")
    error, _, elapsed = failed_turn(adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("unreachable", 502, None)
    assert conn.base_url in error.message and KEY not in error.message
    assert elapsed < 3.0 + 1


# ---------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_stall_is_a_timeout_within_the_budget(slow_adapter, fake, api, mode):
    conn = connection(fake, api)
    req = turn_request(slow_adapter, conn)
    # Streamed: the provider stalls after the first text delta; blocking: before answering.
    fake.add_fault(Fault("stall", seconds=5, after_chunks=FIRST_DELTA_FRAMES[api],
                         path=TURN_PATH[api]))
    error, deltas, elapsed = failed_turn(slow_adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind]) == ("timeout", 504)
    assert "did not answer within 1 s" in error.message
    assert 0.9 < elapsed < 1.0 + 1
    assert len(fake.requests_to(TURN_PATH[api])) == 1
    if mode == "streamed":
        assert deltas == ["Echo:"]


@pytest.mark.parametrize("api", BACKENDS)
def test_slow_first_byte_is_a_timeout(slow_adapter, fake, api):
    conn = connection(fake, api)
    req = turn_request(slow_adapter, conn)
    fake.add_fault(Fault("delay", seconds=3, path=TURN_PATH[api]))
    error, _, elapsed = failed_turn(slow_adapter, conn, req, "streamed")
    assert error.kind == "timeout" and elapsed < 1.0 + 1


def test_slow_stream_is_cut_at_the_deadline(slow_adapter, fake):
    conn = connection(fake, "chat_completions")
    fake.reply = lambda conversation: " ".join(["word"] * 40)
    fake.chunk_delay = 0.1  # every chunk comes in time, the whole reply does not
    error, deltas, elapsed = failed_turn(slow_adapter, conn, turn_request(slow_adapter, conn), "streamed")
    assert error.kind == "timeout" and 2 < len(deltas) < 40 and elapsed < 1.0 + 1


def test_retries_stay_inside_the_deadline(fake):
    app, adapter = make_app(OPENAI_TIMEOUT=1.0, OPENAI_MAX_RETRIES=20)
    with app.app_context():
        conn = connection(fake, "chat_completions")
        fake.add_fault(Fault("status", status=500, times=100))
        error, _, elapsed = failed_turn(adapter, conn, turn_request(adapter, conn), "blocking")
    assert error.kind == "provider_error" and elapsed < 1.0 + 1
    assert 2 <= len(fake.requests_to("/chat/completions")) < 10


def test_list_models_takes_its_own_timeout(adapter, fake):
    fake.add_fault(Fault("delay", seconds=2, path="/models"))
    start = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        adapter.list_models(connection(fake, "chat_completions"), timeout=0.3)
    assert caught.value.kind == "timeout" and time.monotonic() - start < 0.3 + 1


# ---------------------------------------------------------------------------- broken streams


@pytest.mark.parametrize("api", BACKENDS)
def test_cut_stream_is_bad_response(adapter, fake, api):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("cut", after_chunks=3, path=TURN_PATH[api]))
    error, _, _ = failed_turn(adapter, conn, req, "streamed")

    assert (error.kind, PROVIDER_STATUS[error.kind]) == ("bad_response", 502)
    assert error.message == "the provider's stream ended before the reply was complete"
    assert len(fake.requests_to(TURN_PATH[api])) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", BACKENDS)
def test_malformed_chunk_is_bad_response(adapter, fake, api, mode):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("malformed", after_chunks=3, path=TURN_PATH[api]))
    error, _, _ = failed_turn(adapter, conn, req, mode)

    assert (error.kind, PROVIDER_STATUS[error.kind]) == ("bad_response", 502)
    what = "stream" if mode == "streamed" or api == "assistants" else "reply"  # runs are always streamed
    assert error.message == (f"the provider at {fake.base_url} sent a {what} for model 'gpt-4' that "
                             "could not be read")


@pytest.mark.parametrize("api", BACKENDS)
def test_error_event_is_provider_error(adapter, fake, api):
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("error_event", after_chunks=3, path=TURN_PATH[api],
                         message="The model is overloaded."))
    error, _, _ = failed_turn(adapter, conn, req, "streamed")

    assert (error.kind, PROVIDER_STATUS[error.kind]) == ("provider_error", 502)
    assert error.message == (f"the provider at {fake.base_url} reported an error while answering for "
                             "model 'gpt-4' (server_error)")


def test_flat_responses_error_event_is_provider_error(adapter, fake):
    conn = connection(fake, "responses")
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("error_event", after_chunks=3, path="/responses", message="Overloaded.", flat=True))
    error, _, _ = failed_turn(adapter, conn, req, "streamed")
    assert error.kind == "provider_error"
    assert error.message == (f"the provider at {fake.base_url} reported an error while answering for "
                             "model 'gpt-4' (server_error)")


@pytest.mark.parametrize("api", BACKENDS)
def test_dropped_stream_is_unreachable_and_never_retried_after_a_delta(adapter, fake, api):
    # The SDK reports a connection lost mid-body as APIConnectionError: we keep its meaning
    # (unreachable: the network or the provider went away), with a message saying "lost mid-reply".
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault("drop", after_chunks=FIRST_DELTA_FRAMES[api], path=TURN_PATH[api]))
    error, deltas, _ = failed_turn(adapter, conn, req, "streamed")

    assert (error.kind, PROVIDER_STATUS[error.kind]) == ("unreachable", 502)
    assert "lost before the reply was complete" in error.message
    assert deltas == ["Echo:"]
    assert len(fake.requests_to(TURN_PATH[api])) == 1  # a retry would have succeeded: none happened


@pytest.mark.parametrize("kind", ["drop", "cut", "error_event"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_broken_blocking_reply_is_retried(adapter, fake, api, kind):
    # Blocking: "drop"/"cut" close the connection before a complete body (APIConnectionError),
    # "error_event" is an HTTP 500; all are retried and the second attempt succeeds.
    conn = connection(fake, api)
    req = turn_request(adapter, conn)
    fake.add_fault(Fault(kind, path=TURN_PATH[api]))
    assert adapter.run_turn(conn, req).text == "Echo: Hello there"
    assert len(fake.requests_to(TURN_PATH[api])) == 2


def test_persistently_dropped_blocking_reply_is_unreachable(adapter, fake):
    conn = connection(fake, "chat_completions")
    fake.add_fault(Fault("drop", path="/chat/completions", times=5))
    error, _, _ = failed_turn(adapter, conn, turn_request(adapter, conn), "blocking")
    assert error.kind == "unreachable" and len(fake.requests_to("/chat/completions")) == 3


def test_closing_a_stream_early_releases_it(adapter, fake):
    conn = connection(fake, "chat_completions")
    stream = adapter.stream_turn(conn, turn_request(adapter, conn))
    assert next(stream) == TextDelta("Echo:")
    stream.close()  # the client went away mid-reply
    assert adapter.run_turn(conn, turn_request(adapter, conn)).text == "Echo: Hello there"


# ---------------------------------------------------------------------------- remote objects, summaries


def test_list_models(adapter, fake):
    assert adapter.list_models(connection(fake, "chat_completions")) == ["gpt-4", "gpt-4o", "gpt-4o-mini"]


def test_remote_assistant_lifecycle(adapter, fake):
    conn = connection(fake, "assistants")
    spec = AssistantSpec(model="gpt-4", name="Helper", description="helps", instructions="Be kind.",
                         temperature=0.5, top_p=0.9, tools=[WEATHER_TOOL], metadata={"team": "a"})
    remote_id = adapter.create_remote_assistant(conn, spec)

    stored = fake.assistants[remote_id]
    fields = ("name", "instructions", "temperature", "tools", "metadata")
    assert [stored[name] for name in fields] == ["Helper", "Be kind.", 0.5, [WEATHER_TOOL], {"team": "a"}]
    assert adapter.remote_assistant_metadata(conn, remote_id) == {"team": "a"}

    adapter.update_remote_assistant(conn, remote_id, AssistantSpec(model="gpt-4o", name="Helper 2", tools=[]))
    assert (fake.assistants[remote_id]["model"], fake.assistants[remote_id]["name"]) == ("gpt-4o", "Helper 2")
    assert fake.assistants[remote_id]["tools"] == [] and fake.assistants[remote_id]["instructions"] is None

    adapter.delete_remote_assistant(conn, remote_id)
    assert remote_id not in fake.assistants
    adapter.delete_remote_assistant(conn, remote_id)  # a 404 counts as already deleted
    assert adapter.remote_assistant_metadata(conn, remote_id) is None


def test_remote_assistant_lookup_errors(adapter, fake):
    conn = connection(fake, "assistants")
    with pytest.raises(ProviderError) as caught:
        adapter.update_remote_assistant(conn, "asst_missing", AssistantSpec(model="gpt-4"))
    error = caught.value
    assert (error.kind, PROVIDER_STATUS[error.kind], error.provider_status) == ("not_found", 404, 404)
    assert "asst_missing" in caught.value.message

    with pytest.raises(ProviderError) as caught:
        adapter.create_remote_assistant(conn, AssistantSpec(model="gpt-nope"))
    assert caught.value.kind == "provider_error" and "gpt-nope" in caught.value.message

    fake.add_fault(Fault("status", status=401, path="/assistants/asst_x"))
    with pytest.raises(ProviderError) as caught:
        adapter.remote_assistant_metadata(conn, "asst_x")
    assert caught.value.kind == "credential_rejected"


def test_remote_threads(adapter, fake, caplog):
    chat = connection(fake, "chat_completions")
    assert adapter.create_remote_thread(chat) is None
    adapter.delete_remote_thread(chat, None)
    assert fake.requests == []  # chat_completions keeps threads locally: no call at all

    responses = connection(fake, "responses")
    conv_id = adapter.create_remote_thread(responses)
    assert conv_id.startswith("conv_") and conv_id in fake.conversations
    adapter.delete_remote_thread(responses, conv_id)
    assert conv_id not in fake.conversations
    adapter.delete_remote_thread(responses, conv_id)  # 404: fine

    assistants = connection(fake, "assistants")
    thread_id = adapter.create_remote_thread(assistants)
    assert thread_id.startswith("thread_") and thread_id in fake.threads
    adapter.delete_remote_thread(assistants, thread_id)
    assert thread_id not in fake.threads

    fake.add_fault(Fault("status", status=500, times=3))
    with caplog.at_level(logging.WARNING, logger="assistants_app.openai_adapter"):
        adapter.delete_remote_thread(assistants, "thread_gone")  # best effort: logged, not raised
    attempts = [r for r in fake.requests_to("/threads/thread_gone") if r.method == "DELETE"]
    assert len(attempts) == 3  # tried, and retried like any call (OPENAI_MAX_RETRIES=2)
    [warning] = [r for r in caplog.records if "thread_gone" in r.getMessage()]
    assert warning.levelname == "WARNING" and KEY not in warning.getMessage()


CONVERSATION = [ChatMessage("user", "I live in Paris."), ChatMessage("assistant", "Nice city."),
                ChatMessage("user", "Weather?"),
                ChatMessage("assistant", None,
                            tool_calls=[{"id": "c1", "name": "get_weather", "arguments": "{}"}]),
                ChatMessage("tool", "sunny", tool_call_id="c1")]


@pytest.mark.parametrize("api", ["chat_completions", "responses", "assistants"])
def test_a_summary_is_one_stateless_chat_completion(adapter, fake, api):
    fake.reply = lambda conversation: "  The user lives in Paris; it is sunny.  "
    summary = history.summarize(connection(fake, api), "gpt-4", CONVERSATION, room=200)

    assert summary == "The user lives in Paris; it is sunny."
    body = fake.requests_to("/chat/completions")[-1].json
    assert body["messages"][0] == {"role": "system",
                                   "content": f"{history.SUMMARY_PROMPT} Use at most 200 characters."}
    assert body["messages"][1]["content"] == (
        "user: I live in Paris.\nassistant: Nice city.\nuser: Weather?\n"
        "assistant called get_weather({})\ntool: sunny")
    assert len(fake.requests) == 1 and fake.conversations == {}  # nothing stored at the provider


def test_summarize_maps_errors(adapter, fake):
    fake.add_fault(Fault("status", status=429, retry_after=60, path="/chat/completions"))
    with pytest.raises(ProviderError) as caught:
        history.summarize(connection(fake, "chat_completions"), "gpt-4", CONVERSATION, room=200)
    assert caught.value.kind == "rate_limited" and caught.value.retry_after == 60


def test_a_responses_turn_without_a_conversation_sends_the_whole_history_unstored(adapter, fake):
    """The Responses API over a `responses` credential keeps its state here: the whole input, store false."""
    req = TurnRequest(model="gpt-4", instructions="Be brief.",
                      history=[ChatMessage("user", "one"), ChatMessage("assistant", None, tool_calls=[
                          {"id": "call_1", "name": "f", "arguments": "{}"}]),
                          ChatMessage("tool", "out", tool_call_id="call_1")],
                      new_messages=[ChatMessage("user", [{"type": "text", "text": "two"}, {
                          "type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}])])
    for mode in MODES:
        done, _ = take_turn(adapter, connection(fake, "responses"), req, mode)
        body = fake.requests_to("/responses")[-1].json
        assert body["store"] is False and "conversation" not in body and done.text.startswith("Echo")
        assert body["input"] == [
            {"role": "user", "content": "one"},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "out"},
            {"role": "user", "content": [{"type": "input_text", "text": "two"}, {
                "type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"}]}]


def test_missing_remote_ids_are_caller_errors(adapter, fake):
    with pytest.raises(ValueError):
        adapter.run_turn(connection(fake, "assistants"),
                         TurnRequest(model="gpt-4", remote_thread_id="thread_1"))
    with pytest.raises(ValueError):
        adapter.run_turn(connection(fake, "nope"), TurnRequest(model="gpt-4"))


# ---------------------------------------------------------------------------- what the fake cannot produce


def mock_client(events):
    """An openai client whose every request answers ``events`` as one SSE stream."""
    body = b"".join((f"event: {name}\n" if name else "").encode() + f"data: {json.dumps(data)}\n\n".encode()
                    for name, data in events)

    def answer(request):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return openai.OpenAI(api_key=KEY, base_url="http://mock/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))


def mock_call(api):
    conn = Connection("mock", api, KEY, "http://mock/v1")
    return Call(Settings(timeout=30.0), conn, "model 'gpt-4'")  # generous: a busy machine never hits it


TEXT_DELTA = {"type": "response.output_text.delta", "delta": "Hi"}
RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-4", "output": [],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
            "incomplete_details": None, "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}


def test_failed_response_is_provider_error():
    client = mock_client([("response.output_text.delta", TEXT_DELTA),
                          ("response.failed", {"type": "response.failed", "response": {
                              **RESPONSE, "status": "failed",
                              "error": {"code": "server_error", "message": f"Upstream broke for {KEY}"}}})])
    req = TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "Hi")], remote_thread_id="conv_1")
    with pytest.raises(ProviderError) as caught:
        list(responses_backend.stream_turn(client, req, mock_call("responses")))
    assert caught.value.kind == "provider_error"
    assert caught.value.message == ("the provider at http://mock/v1 could not complete the reply for model "
                                    "'gpt-4' (server_error)")


def test_incomplete_response_at_max_tokens_is_length():
    client = mock_client([("response.output_text.delta", TEXT_DELTA),
                          ("response.incomplete", {"type": "response.incomplete", "response": {
                              **RESPONSE, "status": "incomplete",
                              "incomplete_details": {"reason": "max_output_tokens"}}})])
    req = TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "Hi")], remote_thread_id="conv_1")
    *deltas, result = responses_backend.stream_turn(client, req, mock_call("responses"))
    assert deltas == [TextDelta("Hi")] and result.finish_reason == "length" and result.usage == Usage(5, 2, 7)


@pytest.mark.parametrize("event, said", [("thread.run.failed", "failed (rate_limit_exceeded)"),
                                         ("thread.run.expired", "expired"),
                                         ("thread.run.cancelled", "was cancelled")])
def test_failed_run_is_provider_error(event, said):
    run = {"id": "run_1", "object": "thread.run", "status": event.rsplit(".", 1)[1],
           "last_error": {"code": "rate_limit_exceeded", "message": "Rate limit reached"}
           if event == "thread.run.failed" else None}
    client = mock_client([("thread.run.created", {**run, "status": "queued"}), (event, run)])
    req = TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "Hi")], remote_thread_id="thread_1",
                      remote_assistant_id="asst_1")
    with pytest.raises(ProviderError) as caught:
        assistants_backend.run_turn(client, req, mock_call("assistants"))
    assert caught.value.kind == "provider_error"
    assert caught.value.message == (f"the provider at http://mock/v1 ended its run for model 'gpt-4': "
                                    f"it {said}")


def test_flat_assistants_error_event_is_provider_error():
    client = mock_client([("error", {"code": "server_error", "message": "Something broke"})])
    req = TurnRequest(model="gpt-4", new_messages=[ChatMessage("user", "Hi")], remote_thread_id="thread_1",
                      remote_assistant_id="asst_1")
    with pytest.raises(ProviderError) as caught:
        assistants_backend.run_turn(client, req, mock_call("assistants"))
    assert caught.value.kind == "provider_error"
    assert caught.value.message == ("the provider at http://mock/v1 reported an error while answering for "
                                    "model 'gpt-4' (server_error)")


def test_tool_call_results_are_plain_dataclasses(adapter, fake):
    conn = connection(fake, "chat_completions")
    fake.queue_tool_calls([{"name": "get_weather", "arguments": "{}"}])
    result = adapter.run_turn(conn, turn_request(adapter, conn, tools=[WEATHER_TOOL]))
    assert type(result.tool_calls[0]) is ToolCall and type(result.usage) is Usage


def test_an_sdk_error_of_no_known_class_is_a_provider_error_without_its_text(caplog):
    """openai raises a bare OpenAIError for failures outside HTTP (a misconfigured client, say):
    it becomes a provider_error in this service's words, and its text stays out of the message."""
    conn = Connection("cred-x", "chat_completions", KEY, "http://127.0.0.1:9/v1")
    failure = translate(openai.OpenAIError(f"internal detail {KEY}"), conn, subject="model 'gpt-4'")
    assert (failure.kind, failure.message) == (
        "provider_error", "the call to the provider at http://127.0.0.1:9/v1 for model 'gpt-4' failed")
    assert KEY not in caplog.text and "internal detail" not in caplog.text
