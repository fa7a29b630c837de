"""Seed 004 (routes.openai_routes) through HTTP, for each backend, against the loopback fake."""
import json
import threading
import time

import pytest

from sqlalchemy import func, select

from assistants_app.extensions import db
from assistants_app.models import Assistant, Message, Thread

from .fake_openai import Fault
from .helpers import Clock, make_assistant, make_credential, make_thread

BACKENDS = ("chat_completions", "responses", "assistants")
INSTRUCTIONS = "You answer in one line."


@pytest.fixture
def app_config(app_config):
    # A short turn budget, so stalls time out quickly.
    return dict(app_config, OPENAI_TIMEOUT=2.0)


def make_agent(client, auth, fake, backend, **details):
    credential = make_credential(client, auth, base_url=fake.base_url, api=backend,
                                 api_key="sk-route-test-key")
    details = {"instructions": INSTRUCTIONS, "temperature": 0.3, "top_p": 0.9, **details}
    return make_assistant(client, auth, credential["id"], **details)


def chat(client, auth, agent_id, thread_id, text, **extra):
    return client.post("/openai/chat", headers=auth,
                       json={"user_input": text, "agent_id": agent_id, "thread_id": thread_id, **extra})


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def messages(client, auth, thread_id):
    response = client.get(f"/openai/threads/{thread_id}/messages", headers=auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def provider_turns(fake, backend):
    path = {"chat_completions": "/chat/completions", "responses": "/responses",
            "assistants": "/runs"}[backend]
    return [r for r in fake.requests_to(path) if r.method == "POST"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_turns_keep_the_whole_history(client, auth, fake, backend):
    agent = make_agent(client, auth, fake, backend)
    thread_id = make_thread(client, auth, agent["id"])
    assert thread_id.startswith("thread_")
    for index in range(3):
        response = chat(client, auth, agent["id"], thread_id, f"question {index}")
        assert response.status_code == 200, response.json
        body = response.json
        assert body["message"] == "Retrieved response"
        assert body["response"] == f"Echo: question {index}"
        assert (body["thread_id"], body["agent_id"], body["status"]) == (thread_id, agent["id"], "completed")
        assert body["message_id"].startswith("msg_")
        assert body["usage"]["total_tokens"] > 0

    history = messages(client, auth, thread_id)
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "question 0"), ("assistant", "Echo: question 0"),
        ("user", "question 1"), ("assistant", "Echo: question 1"),
        ("user", "question 2"), ("assistant", "Echo: question 2")]
    assert history[-1]["id"] == body["message_id"]

    last = provider_turns(fake, backend)[-1].json
    if backend == "chat_completions":
        assert last["messages"] == [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": "question 0"}, {"role": "assistant", "content": "Echo: question 0"},
            {"role": "user", "content": "question 1"}, {"role": "assistant", "content": "Echo: question 1"},
            {"role": "user", "content": "question 2"}]
        assert (last["model"], last["temperature"], last["top_p"]) == ("gpt-4", 0.3, 0.9)
    elif backend == "responses":
        conversation_id = (last["conversation"] if isinstance(last["conversation"], str)
                           else last["conversation"]["id"])
        assert last["instructions"] == INSTRUCTIONS and last["model"] == "gpt-4"
        items = fake.conversations[conversation_id]
        assert len(items) == 6  # the provider holds the same six messages
    else:
        assert last["assistant_id"] == agent["details"]["id"]
        remote_thread = [t for t in fake.threads.values() if len(t) == 6]
        assert len(remote_thread) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_equals_blocking(client, auth, fake, backend):
    agent = make_agent(client, auth, fake, backend)
    thread_id = make_thread(client, auth, agent["id"])
    blocking = chat(client, auth, agent["id"], thread_id, "tell me three words").json
    streamed = chat(client, auth, agent["id"], thread_id, "tell me three words", stream=True)
    assert streamed.status_code == 200
    assert streamed.mimetype == "text/event-stream"
    events = parse_sse(streamed.get_data(as_text=True))
    assert [name for name, _ in events[:-1]] == ["delta"] * (len(events) - 1)
    assert len(events) > 2
    assert "".join(data["delta"] for _, data in events[:-1]) == blocking["response"]
    name, done = events[-1]
    assert name == "done"
    assert (done["thread_id"], done["agent_id"]) == (thread_id, agent["id"])
    assert done["usage"]["total_tokens"] > 0
    history = messages(client, auth, thread_id)
    assert len(history) == 4 and history[-1]["id"] == done["message_id"]
    assert history[-1]["content"] == blocking["response"]


LONG_REPLY = "one two three four five six seven eight nine ten eleven twelve"
# Past every backend's preamble events: a fault after 8 chunks strikes mid-text.
MID_TEXT = 8
FAULTS = [
    (Fault(kind="status", status=429, retry_after=30, times=5), 429),
    (Fault(kind="status", status=500, times=5), 502),
    (Fault(kind="status", status=503, times=5), 502),
    (Fault(kind="drop", times=5, after_chunks=MID_TEXT), 502),
    (Fault(kind="stall", seconds=4, times=5, after_chunks=MID_TEXT), 504),
    (Fault(kind="cut", after_chunks=MID_TEXT), 502),
    (Fault(kind="cut", after_chunks=1), 502),
    (Fault(kind="malformed", after_chunks=MID_TEXT), 502),
    (Fault(kind="error_event", after_chunks=MID_TEXT), 502),
]
STREAM_ONLY = ("cut", "malformed", "error_event")
FAULT_CASES = [
    pytest.param(backend, stream, fault, status,
                 id=f"{backend}-{'streamed' if stream else 'blocking'}-{fault.kind}{fault.after_chunks}"
                    f"-{status}")
    for backend in BACKENDS for stream in (False, True) for fault, status in FAULTS
    if stream or fault.kind not in STREAM_ONLY
]


@pytest.mark.parametrize("backend, stream, fault, status", FAULT_CASES)
def test_faults_give_their_status_and_write_nothing(app_config, client, auth, fake, backend, stream, fault,
                                                    status):
    fault = Fault(**vars(fault))  # a fresh copy: the fake counts down its uses
    fake.reply = lambda conversation: LONG_REPLY
    agent = make_agent(client, auth, fake, backend)
    thread_id = make_thread(client, auth, agent["id"])
    chat(client, auth, agent["id"], thread_id, "before")
    before = messages(client, auth, thread_id)
    fault.path = {"chat_completions": "/chat/completions", "responses": "/responses",
                  "assistants": "/runs"}[backend]
    fake.add_fault(fault)
    started = time.monotonic()
    response = chat(client, auth, agent["id"], thread_id, "during", stream=stream)
    elapsed = time.monotonic() - started
    assert elapsed < app_config["OPENAI_TIMEOUT"] + 1
    text = response.get_data(as_text=True)
    assert "sk-route-test-key" not in text
    # A provider that fails before the first delta gets a plain status; one that fails
    # mid-stream ends the stream with an error event.
    if stream and fault.after_chunks == MID_TEXT:
        assert response.status_code == 200, text
        events = parse_sse(text)
        assert events[0][0] == "delta", text
        name, body = events[-1]
        assert name == "error", text
        assert body["code"] == status, body
    else:
        assert response.status_code == status, text
        assert response.json["code"] == status
        if status == 429:
            assert response.headers["Retry-After"] == "30"
    assert messages(client, auth, thread_id) == before
    # The thread is usable again at once.
    fake.clear_faults()
    after = chat(client, auth, agent["id"], thread_id, "after")
    assert after.status_code == 200, after.json


def test_refused_connection_is_502(client, auth, fake):
    agent = make_agent(client, auth, fake, "chat_completions")
    thread_id = make_thread(client, auth, agent["id"])
    client.put(f"/credentials/{agent['credential']}", headers=auth,
               json={"base_url": fake.refused_base_url(), "api_key": "sk-moved"})
    response = chat(client, auth, agent["id"], thread_id, "hello")
    assert response.status_code == 502
    assert set(response.json) == {"code", "status", "message"}
    assert (response.json["code"], response.json["status"]) == (502, "Bad Gateway")
    assert "sk-route-test-key" not in response.get_data(as_text=True)
    assert messages(client, auth, thread_id) == []


def test_second_turn_on_a_busy_thread_is_409(app, auth, fake):
    client = app.test_client()
    agent = make_agent(client, auth, fake, "chat_completions")
    thread_id = make_thread(client, auth, agent["id"])
    arrived, release = threading.Event(), threading.Event()

    def held_reply(conversation):  # the provider holds the first turn until the test lets it go
        arrived.set()
        release.wait(30)
        return "Echo: slow"

    fake.reply = held_reply
    first = {}
    worker = threading.Thread(target=lambda: first.update(
        response=app.test_client().post("/openai/chat", headers=auth, json={
            "user_input": "slow", "agent_id": agent["id"], "thread_id": thread_id})))
    worker.start()
    try:
        assert arrived.wait(30), "the first turn never reached the provider"
        started = time.monotonic()
        second = chat(client, auth, agent["id"], thread_id, "impatient")
        assert second.status_code == 409
        assert "in progress" in second.json["message"]
        assert time.monotonic() - started < 0.5
        streamed = chat(client, auth, agent["id"], thread_id, "impatient", stream=True)
        assert streamed.status_code == 409
    finally:
        release.set()
        worker.join(30)
    assert first["response"].status_code == 200
    assert [m["content"] for m in messages(client, auth, thread_id)] == ["slow", "Echo: slow"]


def test_tool_call_round_trip(client, auth, fake):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    for backend in BACKENDS:
        agent = make_agent(client, auth, fake, backend, tools=[tool])
        thread_id = make_thread(client, auth, agent["id"])
        fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
        first = chat(client, auth, agent["id"], thread_id, "weather in Oslo?")
        assert first.status_code == 200, first.json
        assert first.json["status"] == "requires_action"
        [call] = first.json["tool_calls"]
        assert (call["name"], call["arguments"]) == ("get_weather", '{"city": "Oslo"}')
        # The thread waits for the outputs: a plain message now is refused, nothing written.
        assert chat(client, auth, agent["id"], thread_id, "hello?").status_code == 400
        wrong = client.post("/openai/chat", headers=auth, json={
            "agent_id": agent["id"], "thread_id": thread_id,
            "tool_outputs": [{"tool_call_id": "nope", "output": "x"}]})
        assert wrong.status_code == 400
        second = client.post("/openai/chat", headers=auth, json={
            "agent_id": agent["id"], "thread_id": thread_id,
            "tool_outputs": [{"tool_call_id": call["id"], "output": "sunny"}]})
        assert second.status_code == 200, (backend, second.json)
        assert second.json["status"] == "completed" and second.json["response"]
        roles = [m["role"] for m in messages(client, auth, thread_id)]
        assert roles == ["user", "assistant", "tool", "assistant"], backend
        if backend == "chat_completions":
            sent = provider_turns(fake, backend)[-1].json["messages"]
            assert sent[-1] == {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}
            # The stored history: the call as it was made, read back from its JSON column; no calls elsewhere.
            assert sent[-2]["tool_calls"] == [{"id": call["id"], "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city": "Oslo"}'}}]
            assert sent[-3] == {"role": "user", "content": "weather in Oslo?"}


def test_bad_payloads_are_400(client, auth, fake):
    agent = make_agent(client, auth, fake, "chat_completions")
    thread_id = make_thread(client, auth, agent["id"])
    cases = [
        ("/openai/initialize", {}),
        ("/openai/initialize", {"agent_id": 5}),
        ("/openai/chat", {"agent_id": agent["id"], "thread_id": thread_id}),
        ("/openai/chat", {"user_input": "", "agent_id": agent["id"], "thread_id": thread_id}),
        ("/openai/chat", {"user_input": "x", "message": "y", "agent_id": agent["id"],
                          "thread_id": thread_id}),
        ("/openai/chat", {"user_input": "x", "agent_id": agent["id"]}),
        ("/openai/chat", {"user_input": "x", "agent_id": agent["id"], "thread_id": thread_id, "extra": 1}),
        ("/openai/delete_agent", {"agent": agent["id"]}),
    ]
    for path, body in cases:
        response = client.post(path, json=body, headers=auth)
        assert response.status_code == 400, (path, body, response.json)
        assert response.json["code"] == 400
    malformed = client.post("/openai/chat", data="{", content_type="application/json", headers=auth)
    assert malformed.status_code == 400
    assert messages(client, auth, thread_id) == []


def test_message_is_an_alias_of_user_input(client, auth, fake):
    agent = make_agent(client, auth, fake, "chat_completions")
    thread_id = make_thread(client, auth, agent["id"])
    response = client.post("/openai/chat", headers=auth,
                           json={"message": "aliased", "agent_id": agent["id"], "thread_id": thread_id})
    assert response.status_code == 200 and response.json["response"] == "Echo: aliased"


def test_unknown_agent_thread_and_other_agents_thread_are_404(client, auth, other_auth, fake):
    agent = make_agent(client, auth, fake, "chat_completions")
    other = make_agent(client, auth, fake, "chat_completions")
    thread_id = make_thread(client, auth, agent["id"])
    assert client.post("/openai/initialize", json={"agent_id": "nope"}, headers=auth).status_code == 404
    assert chat(client, auth, "nope", thread_id, "x").status_code == 404
    assert chat(client, auth, agent["id"], "thread_nope", "x").status_code == 404
    assert chat(client, auth, other["id"], thread_id, "x").status_code == 404
    # Another tenant sees nothing of ours.
    assert client.post("/openai/initialize", json={"agent_id": agent["id"]},
                       headers=other_auth).status_code == 404
    assert chat(client, other_auth, agent["id"], thread_id, "x").status_code == 404
    assert client.get(f"/openai/threads/{thread_id}/messages", headers=other_auth).status_code == 404
    assert client.delete(f"/openai/threads/{thread_id}", headers=other_auth).status_code == 404
    assert client.post("/openai/delete_agent", json={"agent_id": agent["id"]},
                       headers=other_auth).status_code == 404


def test_agent_id_may_be_details_id(client, auth, fake):
    agent = make_agent(client, auth, fake, "chat_completions")
    response = client.post("/openai/initialize", json={"agent_id": agent["details"]["id"]}, headers=auth)
    assert response.status_code == 200
    # The assistant answers to both ids; the replies name the id the client used.
    assert set(response.json) == {"message", "thread_id", "agent_id"}
    assert response.json["agent_id"] == agent["details"]["id"]
    reply = chat(client, auth, agent["details"]["id"], response.json["thread_id"], "hi")
    assert reply.status_code == 200
    assert (reply.json["response"], reply.json["thread_id"]) == ("Echo: hi", response.json["thread_id"])
    assert reply.json["agent_id"] == agent["details"]["id"]
    assert [m["content"] for m in messages(client, auth, response.json["thread_id"])] == ["hi", "Echo: hi"]


def test_delete_thread(client, auth, fake):
    agent = make_agent(client, auth, fake, "responses")
    thread_id = make_thread(client, auth, agent["id"])
    chat(client, auth, agent["id"], thread_id, "hi")
    [conversation_id] = list(fake.conversations)
    response = client.delete(f"/openai/threads/{thread_id}", headers=auth)
    assert response.status_code == 200
    assert response.json == {"id": thread_id, "object": "thread.deleted", "deleted": True}
    assert conversation_id not in fake.conversations
    assert client.get(f"/openai/threads/{thread_id}/messages", headers=auth).status_code == 404


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_agent_leaves_no_rows(app, client, auth, fake, backend):
    agent = make_agent(client, auth, fake, backend)
    thread_id = make_thread(client, auth, agent["id"])
    chat(client, auth, agent["id"], thread_id, "hi")
    response = client.post("/openai/delete_agent", json={"agent_id": agent["id"]}, headers=auth)
    assert response.status_code == 200
    assert response.json == {"message": "Agent deleted successfully", "agent_id": agent["id"]}
    with app.app_context():
        for query in (select(Assistant).where(Assistant.id == agent["id"]),
                      select(Thread).where(Thread.assistant_id == agent["id"]),
                      select(Message).where(Message.thread_id == thread_id)):
            assert db.session.scalar(select(func.count()).select_from(query.subquery())) == 0
    if backend == "assistants":
        assert agent["details"]["id"] not in fake.assistants
    if backend == "responses":
        assert fake.conversations == {}
    assert client.post("/openai/delete_agent", json={"agent_id": agent["id"]},
                       headers=auth).status_code == 404


def test_get_models_is_cached_per_credential(app_config, client, auth, fake):
    first = client.get("/openai/get_models", headers=auth)
    assert first.status_code == 200
    assert first.json == {"models": sorted(fake.models)}
    assert client.get("/openai/get_models", headers=auth).json == first.json
    assert len(fake.requests_to("/models")) == 1
    credential = make_credential(client, auth, base_url=fake.base_url)
    other = client.get(f"/openai/get_models?credential={credential['id']}", headers=auth)
    assert other.status_code == 200
    assert len(fake.requests_to("/models")) == 2
    assert client.get("/openai/get_models?credential=nope", headers=auth).status_code == 404


def test_get_models_cache_expires(app, client, auth, fake):
    clock = app.extensions["provider_answers"].store.clock = Clock()
    client.get("/openai/get_models", headers=auth)
    clock.move(59)  # MODELS_CACHE_TTL is 60 s
    client.get("/openai/get_models", headers=auth)
    assert len(fake.requests_to("/models")) == 1
    clock.move(2)
    assert client.get("/openai/get_models", headers=auth).json == {"models": sorted(fake.models)}
    assert len(fake.requests_to("/models")) == 2
