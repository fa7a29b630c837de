"""Seed 003's POST /{agent_id}/chat/completions: OpenAI's chat.completion (and chunk stream),
stateless or in a session, against the loopback fake; and the official openai client
pointed at the service through a real HTTP server."""
import json
import threading

import openai
import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from assistants_app.extensions import db
from assistants_app.models import Message, Thread

from .fake_openai import Fault
from .helpers import (AGENTS, ASSISTANTS, BASES, assert_validation_error, chat, create_agent, make_credential,
                      parse_stream, user)

INSTRUCTIONS = "You answer in one line."


def sent_messages(fake, index=-1):
    """The messages the provider received in its index-th chat completion request."""
    return [(m["role"], m["content"]) for m in fake.requests_to("/chat/completions")[index].json["messages"]]


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def agent(client, auth, fake):
    return create_agent(client, auth, instructions=INSTRUCTIONS)


@pytest.mark.parametrize("base", BASES)
def test_stateless_completion_in_openai_shape(app, client, auth, fake, agent, base):
    # Compared with before, not with zero: only what this request wrote counts.
    threads_before, messages_before = count(app, Thread), count(app, Message)
    response = chat(client, auth, agent["id"], [user("hello")], base=base)
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"id", "object", "created", "model", "choices", "usage", "session_id"}
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and body["model"] == "gpt-4" and body["session_id"] is None
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Echo: hello"},
                                "finish_reason": "stop", "logprobs": None}]
    assert (body["usage"]["total_tokens"]
            == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0)
    assert sent_messages(fake) == [("system", INSTRUCTIONS), ("user", "hello")]
    assert (count(app, Thread), count(app, Message)) == (threads_before, messages_before)


def test_request_messages_and_parameters_reach_the_provider(client, auth, fake, agent):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    messages = [{"role": "developer", "content": "Extra rule."}, user("one"),
                {"role": "assistant", "content": "Echo: one"}, {"role": "user", "content": [
                    {"type": "text", "text": "two "}, {"type": "text", "text": "parts"}]}]
    response = chat(client, auth, agent["id"], messages, model="gpt-4", temperature=0.2, top_p=0.5,
                    max_tokens=50, stop=["END"], seed=7, tools=[tool], n=1, user="someone")
    assert response.status_code == 200, response.json
    sent = fake.requests_to("/chat/completions")[-1].json
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", INSTRUCTIONS), ("system", "Extra rule."), ("user", "one"), ("assistant", "Echo: one"),
        ("user", "two parts")]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stop"], sent["seed"]) == (
        0.2, 0.5, 50, ["END"], 7)
    assert sent["tools"] == [tool]
    assert response.json["choices"][0]["message"]["content"] == "Echo: two parts"


@pytest.mark.parametrize("body, loc", [
    ({"messages": []}, ("body", "messages")),
    ({}, ("body", "messages")),
    ({"messages": [{"role": "wizard", "content": "x"}]}, ("body", "messages", 0, "role")),
    ({"messages": [{"role": "user"}]}, ("body", "messages", 0, "content")),
    ({"messages": [{"role": "tool", "content": "x"}]}, ("body", "messages", 0, "tool_call_id")),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     ("body", "messages", 0, "content")),
    ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-4o"}, ("body", "model")),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, ("body", "temperature")),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, ("body", "n")),
    ({"messages": [{"role": "user", "content": "x"}], "stop": ["a"] * 5}, ("body", "stop")),
    ({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"50256": 500}},
     ("body", "logit_bias", "50256", "value")),
    ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}},
     ("body", "response_format")),
    ({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}, ("body", "tool_choice")),
    ({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"},
     ("body", "reasoning_effort")),
    ({"messages": [{"role": "user", "content": "x"}], "frobnicate": 1}, ("body", "frobnicate")),
    ({"messages": [{"role": "user", "content": "x"}], "create_session": True, "store_in_session": "thread_x"},
     ("body", "store_in_session")),
])
def test_invalid_requests_are_422(client, auth, fake, agent, body, loc):
    response = client.post(f"{AGENTS}/{agent['id']}/chat/completions", json=body, headers=auth)
    assert_validation_error(response, loc)
    assert fake.requests_to("/chat/completions") == []


def test_a_session_keeps_the_history(app, client, auth, fake, agent):
    first = chat(client, auth, agent["id"], [user("first")], create_session=True)
    assert first.status_code == 200, first.json
    session_id = first.json["session_id"]
    assert session_id.startswith("thread_")
    second = chat(client, auth, agent["id"], [user("second")], base=ASSISTANTS, store_in_session=session_id)
    assert second.status_code == 200, second.json
    assert second.json["session_id"] == session_id
    assert sent_messages(fake) == [("system", INSTRUCTIONS), ("user", "first"), ("assistant", "Echo: first"),
                                   ("user", "second")]
    history = client.get(f"/openai/threads/{session_id}/messages", headers=auth).json["data"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "first"), ("assistant", "Echo: first"), ("user", "second"), ("assistant", "Echo: second")]
    # A stateless turn afterwards stores nothing.
    chat(client, auth, agent["id"], [user("aside")])
    assert count(app, Message) == 4 and count(app, Thread) == 1


def test_unknown_or_foreign_session_is_404(client, auth, other_auth, fake, agent):
    other_agent = create_agent(client, auth)
    session_id = chat(client, auth, agent["id"], [user("x")], create_session=True).json["session_id"]
    strangers_agent = create_agent(client, other_auth)
    for agent_id, sid, headers in (
            (agent["id"], "thread_nope", auth),  # no such session
            (other_agent["id"], session_id, auth),  # a session of another agent of the same tenant
            (strangers_agent["id"], session_id, other_auth)):  # another tenant's session, on its own agent
        response = chat(client, headers, agent_id, [user("y")], store_in_session=sid)
        assert response.status_code == 404, response.json
        assert set(response.json) == {"detail"} and "No session" in response.json["detail"]
    # Nothing reached the provider, and the session is as it was.
    assert [m[1] for m in sent_messages(fake)] == [INSTRUCTIONS, "x"]
    assert len(fake.requests_to("/chat/completions")) == 1
    history = client.get(f"/openai/threads/{session_id}/messages", headers=auth).json["data"]
    assert [m["content"] for m in history] == ["x", "Echo: x"]


def test_failed_first_turn_keeps_no_session(app, client, auth, fake, agent):
    fake.add_fault(Fault("status", status=500, path="/chat/completions", times=5))
    response = chat(client, auth, agent["id"], [user("x")], create_session=True)
    assert response.status_code == 502 and set(response.json) == {"detail"}
    streamed = chat(client, auth, agent["id"], [user("x")], create_session=True, stream=True)
    assert streamed.status_code == 502 and set(streamed.json) == {"detail"}
    assert count(app, Thread) == 0


def test_rate_limit_passes_retry_after(client, auth, fake, agent):
    # Longer than the turn's budget (OPENAI_TIMEOUT=5): given up at once, never waited out.
    fake.add_fault(Fault("status", status=429, retry_after=30, path="/chat/completions", times=5))
    response = chat(client, auth, agent["id"], [user("x")])
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert len(fake.requests_to("/chat/completions")) == 1
    assert "rate limiting" in response.json["detail"]


def test_failed_session_turn_writes_nothing(client, auth, fake, agent):
    session_id = chat(client, auth, agent["id"], [user("kept")], create_session=True).json["session_id"]
    fake.add_fault(Fault("status", status=500, path="/chat/completions", times=5))
    assert chat(client, auth, agent["id"], [user("lost")], store_in_session=session_id).status_code == 502
    history = client.get(f"/openai/threads/{session_id}/messages", headers=auth).json["data"]
    assert [m["content"] for m in history] == ["kept", "Echo: kept"]


@pytest.mark.parametrize("session", [False, True])
def test_streamed_completion(client, auth, fake, agent, session):
    extra = {"create_session": True} if session else {}
    response = chat(client, auth, agent["id"], [user("stream this please")], stream=True,
                    stream_options={"include_usage": True}, **extra)
    chunks = parse_stream(response)
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    session_ids = {c["session_id"] for c in chunks}
    assert len(session_ids) == 1 and (session_ids.pop() is not None) == session
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: stream this please"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    if session:
        sid = chunks[0]["session_id"]
        history = client.get(f"/openai/threads/{sid}/messages", headers=auth).json["data"]
        assert [m["content"] for m in history] == ["stream this please", "Echo: stream this please"]


def test_mid_stream_failure_ends_with_an_error_event_and_keeps_no_session(app, client, auth, fake, agent):
    fake.add_fault(Fault("drop", after_chunks=2, path="/chat/completions"))
    response = chat(client, auth, agent["id"], [user("one two three four")], stream=True, create_session=True)
    assert response.status_code == 200
    frames = [f for f in response.get_data(as_text=True).split("\n\n") if f]
    assert "[DONE]" not in frames[-1]
    error = json.loads(frames[-1][len("data: "):])["error"]
    assert error["code"] == 502 and "lost" in error["message"]
    assert count(app, Thread) == 0


def test_deleting_the_agent_deletes_its_sessions(app, client, auth, fake, agent):
    session_id = chat(client, auth, agent["id"], [user("x")], create_session=True).json["session_id"]
    assert client.delete(f"{AGENTS}/{agent['id']}", headers=auth).status_code == 200
    assert client.get(f"/openai/threads/{session_id}/messages", headers=auth).status_code == 404
    assert count(app, Thread) == 0 and count(app, Message) == 0


def test_user_message_instruction_mode(client, auth, fake):
    agent = create_agent(client, auth, instructions=INSTRUCTIONS, chat_system_instruction_mode="user-message")
    chat(client, auth, agent["id"], [user("hi")])
    assert sent_messages(fake) == [("user", f"{INSTRUCTIONS}\n\nhi")]


def test_completion_role_is_the_reply_role(client, auth, fake):
    agent = create_agent(client, auth, completion_role="bot")
    assert chat(client, auth, agent["id"], [user("hi")]).json["choices"][0]["message"]["role"] == "bot"


def test_tool_calls_round_trip_in_a_session(client, auth, fake, agent):
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"q": "x"}'}])
    first = chat(client, auth, agent["id"], [user("look it up")], create_session=True)
    choice = first.json["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["function"] == {"name": "lookup", "arguments": '{"q": "x"}'}
    session_id = first.json["session_id"]
    # The session waits for the tool's answer.
    waiting = chat(client, auth, agent["id"], [user("well?")], store_in_session=session_id)
    assert waiting.status_code == 400 and call["id"] in waiting.json["detail"]
    answered = chat(client, auth, agent["id"],
                    [{"role": "tool", "tool_call_id": call["id"], "content": "42"}],
                    store_in_session=session_id)
    assert answered.status_code == 200, answered.json
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call["id"] and sent[-1] == {
        "role": "tool", "content": "42", "tool_call_id": call["id"]}


def test_turns_on_a_responses_credential(client, auth, fake):
    credential = make_credential(client, auth, base_url=fake.base_url, api="responses")
    agent = create_agent(client, auth, credential=credential["id"])
    stateless = chat(client, auth, agent["id"], [user("no state")])
    assert stateless.json["choices"][0]["message"]["content"] == "Echo: no state"
    assert fake.requests_to("/responses") == []  # stateless turns use Chat Completions
    first = chat(client, auth, agent["id"], [user("remember")], create_session=True)
    assert first.status_code == 200, first.json
    second = chat(client, auth, agent["id"], [user("again")], store_in_session=first.json["session_id"])
    assert second.json["choices"][0]["message"]["content"] == "Echo: again"
    assert len([r for r in fake.requests_to("/responses") if r.method == "POST"]) == 2


# ---------------------------------------------------------------- the official openai client

@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def official(live_url, api_key, agent):
    return openai.OpenAI(base_url=f"{live_url}{AGENTS}/{agent['id']}", api_key=api_key, max_retries=0,
                         timeout=10)


def test_official_client_blocking_with_a_session(official, fake):
    first = official.chat.completions.create(model="gpt-4", messages=[user("Who are you?")],
                                             extra_body={"create_session": True})
    assert first.choices[0].message.content == "Echo: Who are you?"
    assert first.choices[0].finish_reason == "stop" and first.usage.total_tokens > 0
    session_id = first.model_extra["session_id"]
    second = official.chat.completions.create(model="gpt-4", messages=[user("And then?")],
                                              extra_body={"store_in_session": session_id})
    assert second.choices[0].message.content == "Echo: And then?"
    assert sent_messages(fake)[1:] == [("user", "Who are you?"), ("assistant", "Echo: Who are you?"),
                                       ("user", "And then?")]


def test_official_client_streamed(official, fake):
    stream = official.chat.completions.create(model="gpt-4", messages=[user("count to three")], stream=True,
                                              stream_options={"include_usage": True},
                                              extra_body={"create_session": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: count to three"
    session_id = chunks[0].model_extra["session_id"]
    assert session_id and all(c.model_extra["session_id"] == session_id for c in chunks)
    assert chunks[-1].usage.total_tokens > 0
    again = official.chat.completions.create(model="gpt-4", messages=[user("next")], stream=True,
                                             extra_body={"store_in_session": session_id})
    assert "".join(c.choices[0].delta.content or "" for c in again if c.choices) == "Echo: next"
    assert sent_messages(fake)[-2:] == [("assistant", "Echo: count to three"), ("user", "next")]


def test_official_client_sees_errors(official, live_url, api_key, fake):
    with pytest.raises(openai.UnprocessableEntityError):
        official.chat.completions.create(model="gpt-4o", messages=[user("x")])
    with pytest.raises(openai.NotFoundError):
        official.chat.completions.create(model="gpt-4", messages=[user("x")],
                                         extra_body={"store_in_session": "thread_gone"})
    fake.add_fault(Fault("drop", after_chunks=2, path="/chat/completions"))
    with pytest.raises(openai.APIError):
        list(official.chat.completions.create(model="gpt-4", messages=[user("one two three")], stream=True))
    nobody = openai.OpenAI(base_url=f"{live_url}{AGENTS}/nobody", api_key=api_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        nobody.chat.completions.create(model="gpt-4", messages=[user("x")])
    stranger = openai.OpenAI(base_url=official.base_url, api_key="sk-asst-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(model="gpt-4", messages=[user("x")])
