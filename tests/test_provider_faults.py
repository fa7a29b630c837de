"""Real-world provider failures through the service's routes, each with the exact status and
body a client gets, and the history unchanged: an HTML error page from a proxy, Retry-After as
an HTTP date, a malformed 200, a run or a Response that stops early, no usage, the budget
running out before a retry, a models-list 5xx in a status check, a cached remote lookup error,
a thread deleted mid-stream, a client that leaves mid-stream, and a stored summary re-sent."""
import json
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from assistants_app.extensions import db
from assistants_app.models import Thread, utcnow

from .fake_openai import Fault
from .helpers import (AGENTS, Clock, chat, create_agent, make_assistant, make_credential, make_thread,
                      parse_stream, user)

TURN_PATH = {"chat_completions": "/chat/completions", "responses": "/responses", "assistants": "/runs"}


def agent_on(client, auth, fake, api="chat_completions") -> dict:
    credential = make_credential(client, auth, base_url=fake.base_url, api=api)
    return make_assistant(client, auth, credential["id"])


def thread_of(client, auth, agent) -> str:
    return make_thread(client, auth, agent["id"])


def turn(client, auth, agent, thread_id, text="hello", stream=False):
    return client.post("/openai/chat", headers=auth, json={"agent_id": agent["id"], "thread_id": thread_id,
                                                           "user_input": text, "stream": stream})


def messages(client, auth, thread_id) -> list:
    return client.get(f"/openai/threads/{thread_id}/messages", headers=auth).json["data"]


def error(status: int, phrase: str, message: str) -> dict:
    return {"code": status, "status": phrase, "message": message}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status, phrase", [(502, "Bad Gateway"), (503, "Service Unavailable")])
def test_an_html_error_page_from_a_proxy_is_a_502_naming_its_status(client, auth, fake, status, phrase,
                                                                    stream):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("html_error", status=status, path="/chat/completions", times=2))  # the retry too
    response = turn(client, auth, agent, thread_id, stream=stream)
    assert response.status_code == 502
    assert response.json == error(502, "Bad Gateway", f"the provider at {fake.base_url} answered HTTP "
                                                      f"{status} for model 'gpt-4'")
    assert messages(client, auth, thread_id) == []


def test_retry_after_as_an_http_date_is_passed_on_in_seconds(client, auth, fake):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("retry_after_date", retry_after=2, path="/chat/completions", times=2))
    response = turn(client, auth, agent, thread_id)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3
    assert re.fullmatch(rf"the provider at {re.escape(fake.base_url)} is rate limiting this credential "
                        r"\(HTTP 429, rate_limit_exceeded\); retry after [0-9.]+ s", response.json["message"])
    assert messages(client, auth, thread_id) == []


@pytest.mark.parametrize("stream, said", [
    (False, "sent a reply for model 'gpt-4' that could not be read"),
    (True, None),  # a JSON body where a stream was asked for: the stream ends before a reply
])
def test_a_malformed_200_is_a_502(client, auth, fake, stream, said):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("malformed_200", path="/chat/completions"))
    response = turn(client, auth, agent, thread_id, stream=stream)
    message = (f"the provider at {fake.base_url} {said}" if said
               else "the provider's stream ended before the reply was complete")
    assert (response.status_code, response.json) == (502, error(502, "Bad Gateway", message))
    assert messages(client, auth, thread_id) == []


@pytest.mark.parametrize("api, said", [
    ("assistants", "stopped its run for model 'gpt-4' early (max_prompt_tokens)"),
    ("responses", "stopped the reply for model 'gpt-4' early (content_filter)"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_that_stops_early_is_a_502_and_writes_nothing(client, auth, fake, api, said, stream):
    agent = agent_on(client, auth, fake, api)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("incomplete", path=TURN_PATH[api]))
    response = turn(client, auth, agent, thread_id, stream=stream)
    if stream:  # the text came first: the stream began, the failure is its last event
        assert response.status_code == 200
        events = response.get_data(as_text=True).strip().split("\n\n")
        assert events[-1] == "event: error\ndata: " + json.dumps(
            error(502, "Bad Gateway", f"the provider at {fake.base_url} {said}"))
    else:
        assert response.json == error(502, "Bad Gateway", f"the provider at {fake.base_url} {said}")
    assert messages(client, auth, thread_id) == []
    fake.clear_faults()
    assert turn(client, auth, agent, thread_id).status_code == 200  # the thread is usable again


def test_a_provider_that_sends_no_usage_still_answers(client, auth, fake):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("no_usage", path="/chat/completions", times=3))
    blocking = turn(client, auth, agent, thread_id, "one")
    assert blocking.status_code == 200 and blocking.json["usage"] is None
    streamed = turn(client, auth, agent, thread_id, "two", stream=True)
    done = streamed.get_data(as_text=True).strip().split("\n\n")[-1]
    assert done.startswith("event: done\n") and json.loads(done.split("data: ", 1)[1])["usage"] is None
    agents_api = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth,
                             json={"messages": [user("three")]})
    assert agents_api.json["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert [m["content"] for m in messages(client, auth, thread_id)] == ["one", "Echo: one", "two",
                                                                         "Echo: two"]


def test_a_retry_that_would_outlast_the_budget_is_not_made(client, auth, fake):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.add_fault(Fault("status", status=429, retry_after=30, path="/chat/completions", times=2))
    response = turn(client, auth, agent, thread_id)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert len(fake.requests_to("/chat/completions")) == 1  # OPENAI_TIMEOUT is 5 s: no wait of 30 s
    assert messages(client, auth, thread_id) == []


def test_a_models_list_5xx_makes_the_agent_unavailable_saying_so(app, client, auth, fake):
    clock = app.extensions["provider_answers"].store.clock = Clock()
    credential = make_credential(client, auth, base_url=fake.base_url, api="chat_completions", name="ollama")
    agent = create_agent(client, auth, credential=credential["id"])
    clock.move(61)  # past MODELS_CACHE_TTL: creating the agent cached the model list
    fake.add_fault(Fault("status", status=500, path="/models", times=2))
    fetched = client.get(f"{AGENTS}/{agent['id']}", headers=auth).json
    assert (fetched["status"], fetched["status_errors"]) == ("UNAVAILABLE", [
        f"The provider of credential 'ollama' ({credential['id']}) failed: the provider at {fake.base_url} "
        "answered HTTP 500, server_error for the model list."])


def test_a_remote_assistant_lookup_error_is_cached_like_an_answer(app, client, auth, fake):
    clock = app.extensions["provider_answers"].store.clock = Clock()
    agent = agent_on(client, auth, fake, "assistants")
    clock.move(61)  # past MODELS_CACHE_TTL: creating the assistant cached its lookup
    remote_id = agent["details"]["id"]
    fake.add_fault(Fault("status", status=500, path=f"/assistants/{remote_id}", times=2))
    expected = (f"The provider of credential 'fake' ({agent['credential']}) failed: the provider at "
                f"{fake.base_url} answered HTTP 500, server_error for remote assistant '{remote_id}'.")
    for _ in range(3):
        fetched = client.get(f"{AGENTS}/{agent['id']}", headers=auth).json
        assert (fetched["status"], fetched["status_errors"]) == ("UNAVAILABLE", [expected])
    assert len(fake.requests_to(f"/assistants/{remote_id}")) == 2  # one lookup and its retry, then cached


def test_a_thread_deleted_mid_stream_ends_the_stream_with_an_error_event(app, client, auth, fake):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.chunk_delay = 0.2
    response = client.post("/openai/chat", headers=auth, buffered=False, json={
        "agent_id": agent["id"], "thread_id": thread_id, "user_input": "one two three", "stream": True})
    pieces = iter(response.response)
    first = next(pieces).decode()
    assert first.startswith("event: delta")
    assert app.test_client().delete(f"/openai/threads/{thread_id}", headers=auth).status_code == 200
    rest = b"".join(pieces).decode().strip().split("\n\n")
    assert rest[-1] == "event: error\ndata: " + json.dumps(error(
        404, "Not Found", f"Thread {thread_id!r} was deleted while its turn ran: the reply was not stored."))
    assert client.get(f"/openai/threads/{thread_id}/messages", headers=auth).status_code == 404


def test_a_session_deleted_mid_stream_ends_the_agents_stream_with_an_error_event(app, client, auth, fake):
    agent = create_agent(client, auth)
    session_id = chat(client, auth, agent["id"], [user("first")], create_session=True).json["session_id"]
    fake.chunk_delay = 0.2
    response = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, buffered=False,
                           json={"messages": [user("one two three")], "store_in_session": session_id,
                                 "stream": True})
    pieces = iter(response.response)
    next(pieces)
    assert app.test_client().delete(f"/openai/threads/{session_id}", headers=auth).status_code == 200
    frames = [frame for frame in b"".join(pieces).decode().split("\n\n") if frame]
    assert json.loads(frames[-1][len("data: "):]) == {"error": {
        "message": f"Thread {session_id!r} was deleted while its turn ran: the reply was not stored.",
        "type": "service_error", "code": 404}}


@pytest.mark.slow
@pytest.mark.parametrize("api", ["conversations", "agents"])
def test_a_client_that_leaves_mid_stream_frees_the_thread_and_writes_nothing(shared_live_server, fake, api):
    server = shared_live_server
    agent = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}}).body
    if api == "conversations":
        thread_id = server.request("POST", "/openai/initialize",
                                   {"agent_id": agent["id"]}).body["thread_id"]
        path, body = "/openai/chat", {"agent_id": agent["id"], "thread_id": thread_id,
                                      "user_input": "a b c d e f", "stream": True}
    else:
        thread_id = server.request("POST", f"{AGENTS}/{agent['id']}/chat/completions",
                                   {"messages": [user("first")], "create_session": True}).body["session_id"]
        path, body = f"{AGENTS}/{agent['id']}/chat/completions", {
            "messages": [user("a b c d e f")], "store_in_session": thread_id, "stream": True}
    before = server.request("GET", f"/openai/threads/{thread_id}/messages").body["data"]
    fake.chunk_delay = 0.3
    connection = server.connection()
    connection.request("POST", path, body=json.dumps(body),
                       headers={"Authorization": f"Bearer {server.api_key}",
                                "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.read1(4096)  # the first piece arrived
    connection.sock.shutdown(2)
    connection.close()  # the client is gone mid-reply
    fake.chunk_delay = 0
    if api == "conversations":
        retry = ("/openai/chat", {"agent_id": agent["id"], "thread_id": thread_id, "user_input": "again"})
    else:
        retry = (path, {"messages": [user("again")], "store_in_session": thread_id})
    deadline = time.monotonic() + 10
    while True:  # the server sees the client gone at its next write (the next piece, 0.3 s later)
        again = server.request("POST", *retry)
        if again.status != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert again.status == 200, again
    after = server.request("GET", f"/openai/threads/{thread_id}/messages").body["data"]
    assert [m["content"] for m in after] == [m["content"] for m in before] + ["again", "Echo: again"]


def test_a_later_turn_re_sends_the_stored_summary_as_a_user_message(client, auth, fake):
    fake.reply = lambda conversation: ("Numbered questions."
                                       if conversation[0]["content"].startswith("Summarize") else "ok")
    agent = create_agent(client, auth, instructions="Be brief.", session_max_length=300,
                         session_summarization_strategy="summarize",
                         chat_system_instruction_mode="user-message")
    session_id = chat(client, auth, agent["id"], [user("q0".ljust(50, "."))],
                      create_session=True).json["session_id"]
    for index in range(1, 6):
        chat(client, auth, agent["id"], [user(f"q{index}".ljust(50, "."))], store_in_session=session_id)
    summary = "Summary of the earlier conversation: Numbered questions."
    stored = client.get(f"/openai/threads/{session_id}/messages", headers=auth).json["data"]
    assert (stored[0]["role"], stored[0]["content"]) == ("system", summary)

    assert chat(client, auth, agent["id"], [user("short")], store_in_session=session_id).status_code == 200
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert sent[0] == {"role": "user", "content": f"Be brief.\n\n{summary}"}  # stored as system, sent as user
    assert (sent[-1] == {"role": "user", "content": "short"}
            and {m["role"] for m in sent} == {"user", "assistant"})


def test_a_streamed_agents_api_turn_without_usage_ends_cleanly(client, auth, fake):
    agent = create_agent(client, auth)
    fake.add_fault(Fault("no_usage", path="/chat/completions"))
    response = chat(client, auth, agent["id"], [user("hi")], stream=True,
                    stream_options={"include_usage": True})
    chunks = parse_stream(response)
    assert chunks[-1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_a_turn_that_outlasted_its_lock_stores_nothing_and_says_so(app, client, auth, fake):
    agent = agent_on(client, auth, fake)
    thread_id = thread_of(client, auth, agent)
    fake.chunk_delay = 0.2
    response = client.post("/openai/chat", headers=auth, buffered=False, json={
        "agent_id": agent["id"], "thread_id": thread_id, "user_input": "slow reply here", "stream": True})
    pieces = iter(response.response)
    assert next(pieces).decode().startswith("event: delta")
    with app.app_context():  # the lock ages past its stale window, as a dead worker's would
        db.session.execute(update(Thread).where(Thread.id == thread_id)
                           .values(turn_started_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    fake.chunk_delay = 0
    assert turn(app.test_client(), auth, agent, thread_id, "meanwhile").status_code == 200
    rest = b"".join(pieces).decode().strip().split("\n\n")
    assert rest[-1] == "event: error\ndata: " + json.dumps(error(
        409, "Conflict", "This turn outlasted its lock and another turn took the thread: the reply was "
                         "not stored."))
    assert [m["content"] for m in messages(client, auth, thread_id)] == ["meanwhile", "Echo: meanwhile"]
