"""The Assistants API v2 through the official openai client against a real gunicorn (gevent
workers, runs in background greenlets) and the loopback fake provider: the main flows, errors,
tenants, a provider failure, and a worker killed mid-run."""
import os
import signal
import time

import openai
import pytest

from .fake_openai import Fault
from .helpers import key_on

POLL = {"poll_interval_ms": 50}
WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def client_of(server, key=None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key or server.api_key, max_retries=0,
                         timeout=30)


class Recorder(openai.AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_event(self, event):
        self.events.append(event.event)


def test_the_main_flows_on_gunicorn(shared_live_server, fake):
    server = shared_live_server
    beta = client_of(server).beta
    # An assistant made at /assistants runs at /v1, under its details.id.
    made = server.request("POST", "/assistants", {"details": {"model": "gpt-4", "tools": [WEATHER]}}).body
    assistant_id = made["details"]["id"]
    assert beta.assistants.retrieve(assistant_id).tools[0].function.name == "get_weather"

    thread = beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, **POLL)
    assert run.status == "completed"
    beta.threads.messages.create(thread_id=thread.id, role="user", content="more")
    handler = Recorder()
    with beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id,
                                  event_handler=handler) as stream:
        stream.until_done()
        assert [m.content[0].text.value for m in stream.get_final_messages()] == ["Echo: more"]
    assert handler.events[-1] == "thread.run.completed" and "thread.message.delta" in handler.events

    fake.queue_tool_calls([{"name": "get_weather", "arguments": "{}"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, **POLL)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
        **POLL)
    assert run.status == "completed"

    run = beta.threads.create_and_run_poll(assistant_id=assistant_id,
                                           thread={"messages": [{"role": "user", "content": "new"}]}, **POLL)
    assert run.status == "completed"
    assert [m.content[0].text.value for m in beta.threads.messages.list(thread_id=run.thread_id)] == [
        "Echo: new", "new"]

    fake.delay = 2.0
    slow = beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    with pytest.raises(openai.BadRequestError, match="already has an active run"):
        beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    assert beta.threads.runs.cancel(slow.id, thread_id=thread.id).status == "cancelled"
    fake.delay = 0

    # The fault only for this run's request (its own message): the cancelled run may still send one -- a
    # cancel landing after its last check and before its request went out (on a loaded PostgreSQL run it
    # took a fault queued for any /chat/completions, and this run completed). No retry: the server's
    # OPENAI_MAX_RETRIES is 0.
    fake.add_fault(Fault("status", status=500, path="/chat/completions", body_contains="this run fails"))
    failed = beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id,
        additional_messages=[{"role": "user", "content": "this run fails"}], **POLL)
    assert failed.status == "failed" and failed.last_error.message
    assert beta.threads.messages.list(thread_id=thread.id, run_id=failed.id).data == []

    with pytest.raises(openai.NotFoundError):
        beta.threads.retrieve("thread_nothing")
    with pytest.raises(openai.BadRequestError):
        beta.assistants.create(model="gpt-4", extra_body={"nonsense": 1})
    with pytest.raises(openai.AuthenticationError):
        client_of(server, "sk-asst-wrong").beta.threads.retrieve(thread.id)
    other = client_of(server, key_on(server.env["DATABASE_URL"], tenant="other", name="b")).beta
    with pytest.raises(openai.NotFoundError):
        other.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):
        other.assistants.retrieve(assistant_id)


def test_a_run_whose_worker_is_killed_fails_and_frees_its_thread(live_server, fake):
    server = live_server(OPENAI_TIMEOUT="2")  # a lock is stale after OPENAI_TIMEOUT + 30 s
    beta = client_of(server).beta
    assistant = beta.assistants.create(model="gpt-4")
    thread = beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    fake.delay = 1.8
    run = beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    while beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "queued":
        time.sleep(0.02)
    victims = server.worker_pids()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    server.wait_for_workers(exclude=victims)
    fake.delay = 0
    deadline = time.monotonic() + 60
    while (seen := beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status == "in_progress":
        assert time.monotonic() < deadline, "the dead worker's run never failed"
        time.sleep(0.1)
    assert seen.status == "failed" and "worker" in seen.last_error.message
    assert beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == "hi"
    again = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert again.status == "completed"
