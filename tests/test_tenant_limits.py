"""One tenant cannot hurt the others: replies past MAX_REPLY_CHARS, pages bounded in bytes, storage
quotas, the daily budget at every entry of a turn (submit_tool_outputs, queued runs), at most
TENANT_MAX_ACTIVE_RUNS background runs and TENANT_MAX_CONCURRENT_TURNS turns in flight per tenant.
Stalled stream readers are tests/test_stalled_streams.py's (a real gunicorn)."""
import threading
import time

import openai
import pytest
from sqlalchemy import select

from assistants_app.extensions import db
from assistants_app.models import Message, Run, Thread

from .helpers import (AGENTS, auth_for, headers_for, make_assistant, make_key, make_thread, sdk, user,
                      wait_for_runs)

LONG = "wordy " * 40  # 240 characters
POLL = {"poll_interval_ms": 20}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def budget_headers(app, tokens: int, tenant: str = "default") -> tuple[str, dict]:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-keys", "create", "--name", "metered", "--tenant", tenant,
                                 "--daily-token-budget", str(tokens)])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    return key, headers_for(key)


def conversation(client, auth) -> tuple[str, str]:
    assistant = make_assistant(client, auth)
    return assistant["id"], make_thread(client, auth, assistant["id"])


def history(client, auth, thread_id, **query) -> dict:
    response = client.get(f"/openai/threads/{thread_id}/messages", headers=auth, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


# ---------------------------------------------------------------- replies past MAX_REPLY_CHARS

def test_a_reply_past_max_reply_chars_fails_and_stores_nothing(make_app, fake):
    """The conversations and agents APIs answer 502 (a stream: its error event) and store nothing."""
    app = make_app(MAX_REPLY_CHARS=100)
    client, auth = app.test_client(), auth_for(app)
    agent_id, thread_id = conversation(client, auth)
    fake.reply = lambda messages: LONG
    blocking = client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": thread_id,
                                                               "user_input": "talk"})
    assert blocking.status_code == 502 and "MAX_REPLY_CHARS" in blocking.json["message"]
    streamed = client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": thread_id,
                                                               "user_input": "talk", "stream": True})
    body = streamed.get_data(as_text=True)
    assert streamed.status_code == 200 and "event: error" in body and "MAX_REPLY_CHARS" in body
    assert "event: done" not in body
    completions = f"{AGENTS}/{agent_id}/chat/completions"
    for extra in ({}, {"create_session": True}):
        refused = client.post(completions, headers=auth, json={"messages": [user("talk")], **extra})
        assert refused.status_code == 502 and "MAX_REPLY_CHARS" in refused.json["detail"]
    chunks = client.post(completions, headers=auth, json={"messages": [user("talk")], "stream": True})
    assert '"error"' in chunks.get_data(as_text=True)
    assert history(client, auth, thread_id)["data"] == []
    with app.app_context():
        assert db.session.scalar(select(Message)) is None  # no session was kept either
    fake.reply = None  # the thread was freed: the next turn goes through
    assert client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": thread_id,
                                                           "user_input": "short"}).status_code == 200


def test_a_v2_run_past_max_reply_chars_ends_incomplete_with_the_reply_cut(make_app, fake):
    app = make_app(MAX_REPLY_CHARS=100)
    beta = sdk(app, make_key(app)).beta
    fake.reply = lambda messages: LONG
    assistant = beta.assistants.create(model="gpt-4")
    thread = beta.threads.create(messages=[{"role": "user", "content": "talk"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_completion_tokens"
    reply = beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    assert reply.content[0].text.value == LONG[:100] and reply.run_id == run.id

    events, deltas = [], []

    class Handler(openai.AssistantEventHandler):
        def on_event(self, event):
            events.append(event.event)

        def on_text_delta(self, delta, snapshot):
            deltas.append(delta.value)

    beta.threads.messages.create(thread_id=thread.id, role="user", content="again")
    with beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id,
                                  event_handler=Handler()) as s:
        s.until_done()
    assert "".join(deltas) == LONG[:100]
    assert events[-3:] == ["thread.message.incomplete", "thread.run.step.completed", "thread.run.incomplete"]
    wait_for_runs(app)


# ---------------------------------------------------------------- pages bounded in bytes

def test_message_pages_stop_before_max_page_bytes(make_app, fake):
    app = make_app(MAX_PAGE_BYTES=250)
    client, key = app.test_client(), make_key(app)
    beta = sdk(app, key).beta
    texts = [f"{n}" + "x" * 99 for n in range(5)] + ["big" * 100]  # 100 bytes each, then 300
    thread = beta.threads.create(messages=[{"role": "user", "content": text} for text in texts])
    seen, after, sizes = [], None, []
    while True:
        listed = beta.threads.messages.list(thread_id=thread.id, order="asc", limit=100,
                                            **({"after": after} if after else {}))
        sizes.append(len(listed.data))
        seen += [m.content[0].text.value for m in listed.data]
        if not listed.has_more:
            break
        after = listed.data[-1].id
    assert seen == texts and sizes == [2, 2, 1, 1]  # two of 100 fit in 250; the big one comes alone

    auth = headers_for(key)
    agent_id, thread_id = conversation(client, auth)
    fake.reply = lambda messages: "y" * 120
    for n in range(3):
        assert client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": thread_id,
                                                               "user_input": "x" * 100}).status_code == 200
    first = history(client, auth, thread_id)
    assert len(first["data"]) == 2 and first["has_more"] and first["last_id"] == first["data"][-1]["id"]
    rest, after = [], first["last_id"]
    while after:
        page = history(client, auth, thread_id, after=after)
        rest += page["data"]
        after = page["last_id"] if page["has_more"] else None
    assert [m["role"] for m in first["data"] + rest] == ["user", "assistant"] * 3
    assert client.get(f"/openai/threads/{thread_id}/messages?after=msg_nope", headers=auth).status_code == 400


# ---------------------------------------------------------------- storage quotas

def test_a_tenant_past_its_storage_quota_gets_429_and_the_others_go_on(make_app, fake):
    app = make_app(TENANT_MAX_STORED_BYTES=600)
    app.extensions["tenant_limits"].cache_seconds = 0  # summed at every check: the test needs no clock
    client = app.test_client()
    auth, other = auth_for(app), auth_for(app, tenant="other", name="other")
    agent_id, thread_id = conversation(client, auth)
    turn = {"agent_id": agent_id, "thread_id": thread_id, "user_input": "z" * 100}
    statuses = [client.post("/openai/chat", headers=auth, json=turn).status_code for _ in range(5)]
    assert statuses[:2] == [200, 200] and statuses[-1] == 429  # ~200 bytes a turn
    refused = client.post("/openai/chat", headers=auth, json=turn)
    assert refused.status_code == 429 and "quota" in refused.json["message"]
    stored = len(history(client, auth, thread_id)["data"])
    assert stored == 2 * statuses.count(200)
    beta = sdk(app, auth["Authorization"].split()[1]).beta
    with pytest.raises(openai.RateLimitError):
        beta.threads.create(messages=[{"role": "user", "content": "more"}])
    other_agent, other_thread = conversation(client, other)
    assert client.post("/openai/chat", headers=other, json={
        "agent_id": other_agent, "thread_id": other_thread, "user_input": "hi"}).status_code == 200


# ---------------------------------------------------------------- budgets where a turn starts

def test_submit_tool_outputs_is_refused_once_the_budget_is_spent(app, fake):
    key, auth = budget_headers(app, 5)
    beta = sdk(app, key).beta
    assistant = beta.assistants.create(model="gpt-4", tools=[WEATHER])
    thread = beta.threads.create(messages=[{"role": "user", "content": "weather in Oslo, Bergen and Bodø?"}])
    for _ in range(3):
        fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo", "unit": "celsius"}'}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "requires_action"
    spent = app.test_client().get("/usage", headers=auth).json["data"][0]["total_tokens"]
    assert spent > 5
    outputs = [{"tool_call_id": run.required_action.submit_tool_outputs.tool_calls[0].id, "output": "rain"}]
    with pytest.raises(openai.RateLimitError, match="daily token budget"):
        beta.threads.runs.submit_tool_outputs(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
    with pytest.raises(openai.RateLimitError, match="daily token budget"):
        with beta.threads.runs.submit_tool_outputs_stream(thread_id=thread.id, run_id=run.id,
                                                          tool_outputs=outputs) as stream:
            stream.until_done()
    with pytest.raises(openai.RateLimitError):
        beta.threads.create_and_run(assistant_id=assistant.id,
                                    thread={"messages": [{"role": "user", "content": "again"}]})
    with app.app_context():  # the refused createAndRun made no thread either
        assert db.session.scalars(select(Thread.id)).all() == [thread.id]
    assert beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    wait_for_runs(app)
    assert app.test_client().get("/usage", headers=auth).json["data"][0]["total_tokens"] == spent


def test_a_queued_run_whose_budget_ran_out_meanwhile_fails_when_it_would_start(make_app, fake):
    app = make_app(TENANT_MAX_ACTIVE_RUNS=1)
    key, _ = budget_headers(app, 3)
    beta = sdk(app, key).beta
    assistant = beta.assistants.create(model="gpt-4")
    first = beta.threads.create(messages=[{"role": "user", "content": "one two three four"}])
    second = beta.threads.create(messages=[{"role": "user", "content": "five"}])
    fake.delay = 0.5
    running = beta.threads.runs.create(thread_id=first.id, assistant_id=assistant.id)
    # the budget is not spent yet
    queued = beta.threads.runs.create(thread_id=second.id, assistant_id=assistant.id)
    wait_for_runs(app)
    ran = beta.threads.runs.retrieve(running.id, thread_id=first.id)
    assert ran.status == "completed", ran.last_error
    failed = beta.threads.runs.retrieve(queued.id, thread_id=second.id)
    assert failed.status == "failed" and failed.last_error.code == "rate_limit_exceeded"
    assert "daily token budget" in failed.last_error.message
    assert len(fake.requests_to("/chat/completions")) == 1


# ---------------------------------------------------------------- bounded background work

def test_background_runs_are_bounded_per_tenant_and_the_rest_wait_queued(make_app, fake):
    app = make_app(TENANT_MAX_ACTIVE_RUNS=2)
    beta = sdk(app, make_key(app)).beta
    other = sdk(app, make_key(app, tenant="other", name="other")).beta
    assistant = beta.assistants.create(model="gpt-4")
    fake.delay = 0.4
    threads = [beta.threads.create(messages=[{"role": "user", "content": f"run {n}"}]) for n in range(5)]
    peak, stop = [0], threading.Event()

    def watch():
        with app.app_context():
            while not stop.is_set():
                statuses = db.session.scalars(select(Run.status).where(Run.tenant == "default")).all()
                db.session.commit()
                peak[0] = max(peak[0], statuses.count("in_progress"))
                time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        runs = [beta.threads.runs.create(thread_id=t.id, assistant_id=assistant.id) for t in threads]
        assert [run.status for run in runs] == ["queued"] * 5
        other_assistant = other.assistants.create(model="gpt-4")
        theirs = other.threads.create_and_run_poll(assistant_id=other_assistant.id, thread={
            "messages": [{"role": "user", "content": "mine"}]}, **POLL)
        mine = [beta.threads.runs.retrieve(r.id, thread_id=r.thread_id) for r in runs]
        # not behind them
        assert theirs.status == "completed" and sum(r.status == "completed" for r in mine) < 5
        wait_for_runs(app, timeout=30)
    finally:
        stop.set()
        watcher.join()
    done = [beta.threads.runs.retrieve(r.id, thread_id=r.thread_id) for r in runs]
    assert [r.status for r in done] == ["completed"] * 5
    assert peak[0] == 2  # two at a time, never more


def test_turns_in_flight_are_bounded_per_tenant_in_a_worker(make_app, fake):
    app = make_app(TENANT_MAX_CONCURRENT_TURNS=1)
    client = app.test_client()
    auth, other = auth_for(app), auth_for(app, tenant="other", name="other")
    agent_id, first = conversation(client, auth)
    second = make_thread(client, auth, agent_id)
    fake.reply = lambda messages: "one two three four"
    held = client.post("/openai/chat", headers=auth, buffered=False,
                       json={"agent_id": agent_id, "thread_id": first, "user_input": "hi", "stream": True})
    frames = held.response  # the stream is open: its turn is in flight until it ends
    next(iter(frames))
    refused = client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": second,
                                                              "user_input": "hi"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "in progress" in refused.json["message"]
    other_agent, other_thread = conversation(client, other)
    assert client.post("/openai/chat", headers=other, json={
        "agent_id": other_agent, "thread_id": other_thread, "user_input": "hi"}).status_code == 200
    held.close()
    assert client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": second,
                                                           "user_input": "hi"}).status_code == 200
