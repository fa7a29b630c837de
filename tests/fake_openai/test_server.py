"""The loopback fake OpenAI server, driven by the official openai client (no Flask): the endpoints
and the original fault kinds (test_faults.py: the real-world ones).

The fault tests double as the reference table of what openai 3.x raises for each
failure mode; the adapter's error mapping should follow them.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time

import httpx2
import openai
import pytest

from . import FakeOpenAI, Fault

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Assistants API is deprecated


# `fake` (tests/conftest.py): the session's loopback server, reset before each test; `client` and
# `raw` (tests/fake_openai/conftest.py): the official client on it, and a plain HTTP request to it.


def user(text):
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------- models, auth, routing
def test_models_list_and_retrieve(fake, client):
    assert [m.id for m in client.models.list()] == ["gpt-4", "gpt-4o-mini", "gpt-4o"]
    fake.models.append("llama3")
    assert client.models.retrieve("llama3").owned_by
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("nope")
    assert err.value.code == "model_not_found"
    fake.reset()
    assert "llama3" not in [m.id for m in client.models.list()]


def test_bad_key_and_missing_auth_are_401(fake, raw):
    bad = openai.OpenAI(base_url=fake.base_url, api_key="sk-bad", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.code == "invalid_api_key"
    status, body = raw("GET", "/v1/models")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_unknown_route_and_unknown_model(fake, client, raw):
    status, body = raw("GET", "/v1/nothing", headers={"Authorization": "Bearer sk-test"})
    assert status == 404 and body["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=user("hi"))
    assert err.value.code == "model_not_found" and "gpt-9" in err.value.message


def test_keep_alive_and_request_recording(fake):
    conn = http.client.HTTPConnection("127.0.0.1", int(fake.url.rsplit(":", 1)[1]), timeout=5)
    for _ in range(3):
        conn.request("GET", "/v1/models?limit=2", headers={"Authorization": "Bearer sk-test"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["object"] == "list"
    conn.close()
    recorded = fake.requests_to("/models")
    assert len(recorded) == 3
    assert recorded[0].query == {"limit": "2"} and recorded[0].headers["authorization"] == "Bearer sk-test"


# ---------------------------------------------------------------- chat completions
def test_chat_blocking_and_streamed_text_are_equal(fake, client):
    done = client.chat.completions.create(model="gpt-4", messages=user("hello there world"))
    assert done.object == "chat.completion" and done.id.startswith("chatcmpl-")
    assert done.choices[0].message.content == "Echo: hello there world"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage.completion_tokens == 4 and done.usage.prompt_tokens == 3

    chunks = list(client.chat.completions.create(model="gpt-4", messages=user("hello there world"),
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == done.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 7
    assert fake.requests_to("/chat/completions")[-1].json["stream"] is True


def test_chat_custom_reply_sees_the_messages(fake, client):
    seen = []
    fake.reply = lambda conv: (seen.append(conv), "custom")[1]
    messages = [{"role": "system", "content": "sys"},
                {"role": "user", "content": [{"type": "text", "text": "x"}]}]
    done = client.chat.completions.create(model="gpt-4", messages=messages)
    assert done.choices[0].message.content == "custom"
    assert [(m["role"], m["content"]) for m in seen[0]] == [("system", "sys"), ("user", "x")]


def test_chat_tool_calls_blocking_and_streamed(fake, client):
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    done = client.chat.completions.create(model="gpt-4", messages=user("weather?"))
    call = done.choices[0].message.tool_calls[0]
    assert done.choices[0].finish_reason == "tool_calls" and done.choices[0].message.content is None
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    fake.queue_tool_calls([{"name": "a", "arguments": '{"x": 1}'}, {"name": "b", "arguments": "{}"}])
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(model="gpt-4", messages=user("two"), stream=True):
        for tc in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = tc.id or entry["id"]
            entry["name"] += (tc.function.name or "") if tc.function else ""
            entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [("a", '{"x": 1}'), ("b", "{}")]
    assert all(c["id"].startswith("call_") for c in calls.values())
    # the queue is consumed: the next turn is text again
    assert call_chat(client).choices[0].message.content == "Echo: one two three"


# ---------------------------------------------------------------- responses + conversations
def test_responses_conversation_two_turns(fake, client):
    conv = client.conversations.create(metadata={"k": "v"})
    assert conv.id.startswith("conv_") and conv.object == "conversation"
    first = client.responses.create(model="gpt-4", instructions="be brief", input="first question",
                                    conversation=conv.id, temperature=0.2)
    assert first.status == "completed" and first.output_text == "Echo: first question"
    assert first.usage.output_tokens == 3 and first.conversation.id == conv.id

    seen = []
    fake.reply = lambda c: (seen.append(c), "second answer")[1]
    second = client.responses.create(model="gpt-4", input=[{"role": "user", "content": "second question"}],
                                     conversation={"id": conv.id})
    assert second.output_text == "second answer"
    assert [(m["role"], m["content"]) for m in seen[0]] == [
        ("user", "first question"), ("assistant", "Echo: first question"), ("user", "second question")]
    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert [i.role for i in items] == ["user", "assistant", "user", "assistant"]
    assert items[-1].content[0].text == "second answer"
    assert len(fake.conversations[conv.id]) == 4
    assert client.conversations.retrieve(conv.id).metadata == {"k": "v"}
    assert client.conversations.delete(conv.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)


def test_responses_streamed(fake, client):
    conv = client.conversations.create()
    events = list(client.responses.create(model="gpt-4", input="a b c", conversation=conv.id, stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Echo: a b c" == events[-1].response.output_text
    assert len(fake.conversations[conv.id]) == 2  # committed once the stream was delivered

    with client.responses.stream(model="gpt-4", input="via helper") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Echo: via helper"


def test_responses_function_call_round_trip(fake, client):
    conv = client.conversations.create()
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"q": "x"}'}])
    first = client.responses.create(model="gpt-4", input="find x", conversation=conv.id,
                                    tools=[{"type": "function", "name": "lookup", "parameters": {}}])
    call = first.output[0]
    assert call.type == "function_call" and call.call_id.startswith("call_") and call.name == "lookup"
    seen = []
    fake.reply = lambda c: (seen.append(c), "found")[1]
    second = client.responses.create(model="gpt-4", conversation=conv.id, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "42"}])
    assert second.output_text == "found"
    assert seen[0][-1] == {"role": "tool", "content": "42", "tool_call_id": call.call_id}

    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"q": "y"}'}])
    events = list(client.responses.create(model="gpt-4", input="find y", stream=True))
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert args == '{"q": "y"}' and events[-1].response.output[0].type == "function_call"


def test_responses_fault_leaves_conversation_unchanged(fake, client):
    conv = client.conversations.create()
    fake.add_fault(Fault("cut", after_chunks=3, path="/responses"))
    list(client.responses.create(model="gpt-4", input="lost", conversation=conv.id, stream=True))
    fake.add_fault(Fault("status", status=500, path="/responses"))
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="gpt-4", input="lost", conversation=conv.id)
    assert fake.conversations[conv.id] == []


# ---------------------------------------------------------------- assistants (beta)
def test_assistants_crud(fake, client):
    asst = client.beta.assistants.create(model="gpt-4", name="Helper", instructions="be nice",
                                         temperature=0.5)
    assert asst.id.startswith("asst_") and asst.object == "assistant" and asst.temperature == 0.5
    updated = client.beta.assistants.update(asst.id, name="Renamed")
    assert updated.name == "Renamed" and client.beta.assistants.retrieve(asst.id).instructions == "be nice"
    assert fake.assistants[asst.id]["name"] == "Renamed"
    assert [a.id for a in client.beta.assistants.list()] == [asst.id]
    assert fake.requests_to("/assistants")[0].headers["openai-beta"] == "assistants=v2"
    assert client.beta.assistants.delete(asst.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(asst.id)


def _assistant_and_thread(client, text="hello"):
    asst = client.beta.assistants.create(model="gpt-4", instructions="be nice")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    return asst, thread


def test_thread_run_blocking_then_poll(fake, client):
    asst, thread = _assistant_and_thread(client)
    assert client.beta.threads.retrieve(thread.id).object == "thread"
    client.beta.threads.messages.create(thread.id, role="user", content="more")
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "queued" and run.id.startswith("run_") and run.instructions == "be nice"
    done = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert done.status == "completed" and done.usage.completion_tokens == 2
    newest = client.beta.threads.messages.list(thread.id, order="desc", limit=1).data
    assert newest[0].role == "assistant" and newest[0].content[0].text.value == "Echo: more"
    assert [m["role"] for m in fake.threads[thread.id]] == ["user", "user", "assistant"]
    oldest_first = client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.role for m in oldest_first] == ["user", "user", "assistant"]

    polled = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, additional_messages=[{"role": "user", "content": "again"}])
    assert polled.status == "completed"
    assert fake.threads[thread.id][-1]["content"][0]["text"]["value"] == "Echo: again"
    assert client.beta.threads.delete(thread.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)


def test_streamed_run(fake, client):
    asst, thread = _assistant_and_thread(client, "stream me please")
    events = list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True))
    names = [e.event for e in events]
    assert names[:5] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress",
                         "thread.message.created", "thread.message.in_progress"]
    assert names[-2:] == ["thread.message.completed", "thread.run.completed"]
    text = "".join(e.data.delta.content[0].text.value for e in events if e.event == "thread.message.delta")
    assert text == "Echo: stream me please"

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id) as stream:
        deltas = list(stream.text_deltas)
        run = stream.get_final_run()
    assert run.status == "completed" and "".join(deltas) == "Echo: stream me please"
    assert [m["role"] for m in fake.threads[thread.id]] == ["user", "assistant", "assistant"]


def test_run_requires_action_and_submit_tool_outputs(fake, client):
    asst, thread = _assistant_and_thread(client, "weather?")
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    seen = []
    fake.reply = lambda c: (seen.append(c), "It is sunny")[1]
    client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=thread.id,
                                                 tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}])
    done = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert done.status == "completed" and seen[0][-1]["content"] == "sunny"
    assert fake.threads[thread.id][-1]["content"][0]["text"]["value"] == "It is sunny"

    # streamed: requires_action, then a streamed submit_tool_outputs
    fake.queue_tool_calls([{"name": "get_weather", "arguments": "{}"}])
    events = list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True))
    assert events[-1].event == "thread.run.requires_action"
    run2 = events[-1].data
    call2 = run2.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [{"tool_call_id": call2.id, "output": "rain"}]
    events = list(client.beta.threads.runs.submit_tool_outputs(run2.id, thread_id=thread.id,
                                                               tool_outputs=outputs, stream=True))
    assert events[-1].event == "thread.run.completed"
    assert "".join(e.data.delta.content[0].text.value for e in events if e.event == "thread.message.delta") \
        == "It is sunny"
    with pytest.raises(openai.BadRequestError):  # a completed run takes no more tool outputs
        client.beta.threads.runs.submit_tool_outputs(run2.id, thread_id=thread.id, tool_outputs=[])


def test_cancel_run_and_unknown_ids(fake, client):
    asst, thread = _assistant_and_thread(client)
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    assert client.beta.threads.runs.cancel(run.id, thread_id=thread.id).status == "cancelled"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list("thread_missing")


# ---------------------------------------------------------------- faults
def call_chat(client, stream=False):
    return client.chat.completions.create(model="gpt-4", messages=user("one two three"), stream=stream)


def call_responses(client, stream=False):
    return client.responses.create(model="gpt-4", input="one two three", stream=stream)


APIS = ("chat", "responses", "run")


def _armed(fake, client, api, fault):
    """Arm a copy of `fault` on one API's path; return `call(client, stream=False)` for that API."""
    if api == "chat":
        path, call = "/chat/completions", call_chat
    elif api == "responses":
        path, call = "/responses", call_responses
    else:
        asst, thread = _assistant_and_thread(client)  # made before the fault is armed

        def call(c, stream=False):
            return c.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=stream)
        path = "/runs"
    fake.add_fault(dataclasses.replace(fault, path=path))
    return call


BLOCKING = [  # fault -> what the openai client raises on a blocking call
    (Fault("status", status=500), openai.InternalServerError),
    (Fault("drop"), openai.APIConnectionError),
    (Fault("stall", seconds=1.0), openai.APITimeoutError),
    (Fault("cut"), openai.APIConnectionError),
    (Fault("malformed"), json.JSONDecodeError),
    (Fault("error_event"), openai.InternalServerError),
]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault,exc", BLOCKING, ids=[f.kind for f, _ in BLOCKING])
def test_blocking_faults(fake, client, api, fault, exc):
    call = _armed(fake, client, api, fault)
    with pytest.raises(exc) as err:
        call(client.with_options(timeout=0.5))
    if exc is openai.APIConnectionError:
        assert not isinstance(err.value, openai.APITimeoutError)
    assert type(call(client)).__name__ in ("ChatCompletion", "Response", "Run")  # used up: next call is fine


STREAMING = [  # fault -> what iterating the raw stream (create(stream=True)) raises
    (Fault("drop", after_chunks=2), openai.APIConnectionError),
    (Fault("stall", seconds=1.0, after_chunks=2), openai.APITimeoutError),
    (Fault("malformed", after_chunks=2), json.JSONDecodeError),
    (Fault("error_event", after_chunks=2), openai.APIError),
]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault,exc", STREAMING, ids=[f.kind for f, _ in STREAMING])
def test_streaming_faults(fake, client, api, fault, exc):
    call = _armed(fake, client, api, fault)
    got = []
    with pytest.raises(exc) as err:
        for event in call(client.with_options(timeout=0.5), stream=True):
            got.append(event)
    assert len(got) == 2  # the good chunks arrived first
    if exc is openai.APIError:
        assert type(err.value) is openai.APIError and "server had an error" in err.value.message
    if exc is openai.APIConnectionError:
        assert not isinstance(err.value, openai.APITimeoutError)


@pytest.mark.parametrize("api", APIS)
def test_cut_stream_ends_silently_without_finish_marker(fake, client, api):
    call = _armed(fake, client, api, Fault("cut", after_chunks=3))
    events = list(call(client, stream=True))  # no exception at all
    assert len(events) == 3
    if api == "chat":
        assert all(c.choices[0].finish_reason is None for c in events)
    elif api == "responses":
        assert "response.completed" not in [e.type for e in events]
    else:
        assert not any(e.event in ("thread.run.completed", "thread.run.requires_action") for e in events)


def test_status_429_with_retry_after(fake, client):
    fake.add_fault(Fault("status", status=429, retry_after=7))
    with pytest.raises(openai.RateLimitError) as err:
        call_chat(client)
    assert err.value.response.headers["retry-after"] == "7" and err.value.status_code == 429
    assert err.value.body["type"] == "rate_limit_exceeded"
    assert len(fake.requests_to("/chat/completions")) == 1  # recorded even though it failed


def test_status_fault_on_streaming_request(fake, client):
    fake.add_fault(Fault("status", status=503, message="overloaded"))
    with pytest.raises(openai.InternalServerError, match="overloaded"):
        call_chat(client, stream=True)


def test_responses_flat_error_event_is_yielded_not_raised(fake, client):
    """The documented (flat) Responses error event has no "error" key: openai 3.x yields it."""
    fake.add_fault(Fault("error_event", after_chunks=2, flat=True))
    events = list(call_responses(client, stream=True))
    assert events[-1].type == "error" and events[-1].code == "server_error"


def test_assistant_stream_helper_unwraps_transport_errors(fake, client):
    """runs.stream() re-raises the raw httpx2 exception instead of APIConnectionError/APITimeoutError."""
    asst, thread = _assistant_and_thread(client)
    for fault, exc in [(Fault("drop", after_chunks=2), httpx2.RemoteProtocolError),
                       (Fault("stall", seconds=1.0, after_chunks=2), httpx2.ReadTimeout),
                       (Fault("error_event", after_chunks=2), openai.APIError)]:
        fake.add_fault(fault)
        with pytest.raises(exc):
            with client.with_options(timeout=0.5).beta.threads.runs.stream(
                    thread_id=thread.id, assistant_id=asst.id) as stream:
                stream.until_done()


def test_refused_base_url(fake):
    refused = openai.OpenAI(base_url=FakeOpenAI.refused_base_url(), api_key="sk-test", max_retries=0,
                            timeout=2)
    with pytest.raises(openai.APIConnectionError) as err:
        refused.models.list()
    assert not isinstance(err.value, openai.APITimeoutError)


def test_fault_path_and_times(fake, client):
    fake.add_fault(Fault("status", status=500, path="/responses", times=2))
    assert call_chat(client).choices[0].message.content  # not matched: untouched
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            call_responses(client)
    assert call_responses(client).status == "completed"  # used up
    fake.add_fault(Fault("status", status=502))  # path=None hits anything
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    fake.add_fault(Fault("status", status=500, path="/chat/completions", body_contains="fail me"))
    assert call_chat(client).choices[0].message.content  # another body: untouched
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "fail me"}])
    assert call_chat(client).choices[0].message.content  # used up


def test_delays(fake, client):
    fake.add_fault(Fault("delay", seconds=0.3))
    start = time.perf_counter()
    assert call_chat(client).choices[0].message.content == "Echo: one two three"
    assert time.perf_counter() - start >= 0.3
    fake.delay, fake.chunk_delay = 0.1, 0.05
    start = time.perf_counter()
    list(call_chat(client, stream=True))  # 7 frames: 0.1 + 6 * 0.05
    assert time.perf_counter() - start >= 0.35
    fake.reset()
    assert (fake.delay, fake.chunk_delay, fake.reply, fake.requests) == (0.0, 0.0, None, [])


def test_stop_releases_a_stalled_request():
    server = FakeOpenAI().start()
    server.add_fault(Fault("stall", seconds=30))
    c = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=10)
    start = time.perf_counter()
    threading.Timer(0.3, server.stop).start()
    with pytest.raises(openai.APIConnectionError):
        c.models.list()
    assert time.perf_counter() - start < 3
