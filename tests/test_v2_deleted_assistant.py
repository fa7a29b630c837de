"""A v2 thread's runs, steps and messages outlive the assistant that ran them, as OpenAI's do,
whichever API deletes it; what is the assistant's own (the conversations API's threads, the agents
API's sessions) goes with it. A run still going when its assistant is deleted ends failed, cleanly."""
import time

import openai
import pytest

from .fake_openai import Fault
from .helpers import (AGENTS, chat, make_assistant, make_credential, make_key, make_thread, sdk, user,
                      wait_for_runs)

POLL = {"poll_interval_ms": 20}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
DELETED = {"code": "server_error",
           "message": "The run's assistant was deleted while the run was active; nothing of it was stored."}


@pytest.fixture
def key(app):
    return make_key(app)


@pytest.fixture
def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def beta(app, key):
    yield sdk(app, key).beta
    wait_for_runs(app)


def row_id(client, auth, public_id):
    """The assistant's own id (the Flowise and agents APIs name it so) from its asst_ id."""
    return next(a["id"] for a in client.get("/assistants", headers=auth).json
                if a["details"]["id"] == public_id)


DELETIONS = {
    "v2": lambda client, auth, beta, public_id: beta.assistants.delete(public_id).deleted,
    "flowise": lambda client, auth, beta, public_id: client.delete(
        f"/assistants/{row_id(client, auth, public_id)}", headers=auth).status_code == 200,
    "conversations": lambda client, auth, beta, public_id: client.post(
        "/openai/delete_agent", headers=auth, json={"agent_id": public_id}).status_code == 200,
    "agents": lambda client, auth, beta, public_id: client.delete(
        f"{AGENTS}/{row_id(client, auth, public_id)}", headers=auth).json["deleted"],
}


@pytest.mark.parametrize("api", DELETIONS)
def test_runs_steps_and_replies_keep_the_deleted_assistants_id(client, auth, beta, api):
    assistant = beta.assistants.create(model="gpt-4", name="gone soon")
    thread = beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "completed"
    # What is the assistant's own: a conversations-API thread and an agents-API session.
    own_thread = make_thread(client, auth, assistant.id)
    session = chat(client, auth, assistant.id, [user("hi")], create_session=True).json["session_id"]
    steps = beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    replies = beta.threads.messages.list(thread_id=thread.id, order="asc").data

    assert DELETIONS[api](client, auth, beta, assistant.id)

    with pytest.raises(openai.NotFoundError):
        beta.assistants.retrieve(assistant.id)
    kept = beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert kept.model_dump() == run.model_dump()  # every field, assistant_id (its asst_ id) included
    assert [r.id for r in beta.threads.runs.list(thread_id=thread.id).data] == [run.id]
    assert beta.threads.runs.steps.list(run.id, thread_id=thread.id).data == steps
    assert steps[0].assistant_id == assistant.id
    assert beta.threads.runs.steps.retrieve(steps[0].id, run_id=run.id, thread_id=thread.id) == steps[0]
    assert beta.threads.messages.list(thread_id=thread.id, order="asc").data == replies
    assert (replies[1].role, replies[1].assistant_id, replies[1].run_id) == ("assistant", assistant.id,
                                                                             run.id)
    for gone in (own_thread, session):  # the assistant's own threads went with it
        assert client.get(f"/openai/threads/{gone}/messages", headers=auth).status_code == 404
    # The thread goes on with another assistant.
    other = beta.assistants.create(model="gpt-4")
    assert beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=other.id,
                                             **POLL).status == "completed"


def test_a_run_waiting_for_tool_outputs_fails_when_its_assistant_is_deleted(beta, fake):
    assistant = beta.assistants.create(model="gpt-4", tools=[WEATHER])
    thread = beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    fake.queue_tool_calls([{"name": "get_weather", "arguments": "{}"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "requires_action"
    call, = run.required_action.submit_tool_outputs.tool_calls
    beta.assistants.delete(assistant.id)
    failed = beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert (failed.status, failed.last_error.model_dump(), failed.required_action) == (
        "failed", DELETED, None)
    assert failed.failed_at and failed.assistant_id == assistant.id
    with pytest.raises(openai.BadRequestError, match="Runs in status 'failed' do not accept tool outputs"):
        beta.threads.runs.submit_tool_outputs(run.id, thread_id=thread.id,
                                              tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}])
    # Its unanswered round left the history; the thread takes messages and runs again.
    beta.threads.messages.create(thread_id=thread.id, role="user", content="never mind")
    other = beta.assistants.create(model="gpt-4")
    assert beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=other.id,
                                             **POLL).status == "completed"
    assert [m["role"] for m in fake.requests_to("/chat/completions")[-1].json["messages"]] == ["user", "user"]


def test_a_run_waiting_on_the_provider_fails_and_writes_nothing(app, beta, fake):
    assistant = beta.assistants.create(model="gpt-4")
    thread = beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    fake.add_fault(Fault("delay", seconds=2, path="/chat/completions"))
    run = beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    deadline = time.monotonic() + 10
    while beta.threads.runs.retrieve(run.id, thread_id=thread.id).status != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    beta.assistants.delete(assistant.id)
    failed = beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert (failed.status, failed.last_error.model_dump()) == ("failed", DELETED)
    # the thread is free at once
    beta.threads.messages.create(thread_id=thread.id, role="user", content="again")
    wait_for_runs(app)  # the provider's late answer is abandoned: nothing written, the run stays failed
    assert beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "failed"
    assert [m.content[0].text.value
            for m in beta.threads.messages.list(thread_id=thread.id, order="asc")] == [
        "hi", "again"]


def test_a_thread_kept_at_the_provider_is_deleted_once_its_runs_assistants_are_gone(client, auth, beta, fake):
    """The provider's conversation is reached through a run's assistant's credential: with the only
    one deleted, no credential is known, and the thread's local rows go alone."""
    credential = make_credential(client, auth, base_url=fake.base_url, api="responses",
                                 api_key="sk-v2-remote")
    made = make_assistant(client, auth, credential["id"])
    thread = beta.threads.create(messages=[{"role": "user", "content": "one"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=made["details"]["id"], **POLL)
    assert run.status == "completed" and len(fake.conversation_meta) == 1
    client.delete(f"/assistants/{made['id']}", headers=auth)
    assert beta.threads.delete(thread.id).deleted
    assert len(fake.conversation_meta) == 1  # left at the provider: no credential names it any more
    with pytest.raises(openai.NotFoundError):
        beta.threads.runs.retrieve(run.id, thread_id=thread.id)
