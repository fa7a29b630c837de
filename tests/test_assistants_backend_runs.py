"""Turns over a credential whose api is "assistants" (openai_adapter/assistants.py: the provider's own
Assistants API keeps the thread): a v2 run's limits and truncation reach the provider's run, a run the
provider stops at the completion-token limit is incomplete (not a failure), and the Chat Completions
options a run has no room for are a 400 naming them, before anything is sent (an agents chat kept in a
session: a stateless one goes through Chat Completions)."""
import pytest

from .fake_openai import Fault
from .helpers import chat, create_agent, make_assistant, make_credential, sdk, user, wait_for_runs

POLL = {"poll_interval_ms": 20}


@pytest.fixture
def remote(client, auth, fake):
    return make_credential(client, auth, base_url=fake.base_url, api="assistants", api_key="sk-remote-4321")


@pytest.fixture
def beta(app, api_key):
    client = sdk(app, api_key)
    yield client.beta
    wait_for_runs(app)


def test_a_runs_limits_and_truncation_reach_the_providers_run(client, auth, fake, remote, beta):
    assistant_id = make_assistant(client, auth, remote["id"])["details"]["id"]
    thread = beta.threads.create(messages=[{"role": "user", "content": "one"}])
    run = beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, max_completion_tokens=40, max_prompt_tokens=900,
        truncation_strategy={"type": "last_messages", "last_messages": 3}, **POLL)
    assert run.status == "completed", run.last_error
    sent = fake.requests_to("/runs")[-1].json
    assert sent["max_completion_tokens"] == 40 and sent["max_prompt_tokens"] == 900
    assert sent["truncation_strategy"] == {"type": "last_messages", "last_messages": 3}
    assert sent["additional_messages"] == [{"role": "user", "content": "one"}]


def test_a_remote_run_stopped_at_the_token_limit_is_an_incomplete_run(client, auth, fake, remote, beta):
    assistant_id = make_assistant(client, auth, remote["id"])["details"]["id"]
    thread = beta.threads.create(messages=[{"role": "user", "content": "tell me everything"}])
    fake.add_fault(Fault("incomplete", reason="max_completion_tokens", path="/runs"))
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id,
                                            max_completion_tokens=2, **POLL)
    assert run.status == "incomplete", run.last_error
    assert run.incomplete_details.reason == "max_completion_tokens" and run.last_error is None
    replies = beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert [m.role for m in replies] == ["assistant"]


@pytest.mark.parametrize("extra, named", [({"seed": 7}, "seed"), ({"stop": ["END"]}, "stop"),
                                          ({"logit_bias": {"50256": -100}}, "logit_bias")])
def test_chat_options_a_remote_run_cannot_take_are_a_400(client, auth, fake, remote, extra, named):
    agent = create_agent(client, auth, credential=remote["id"])
    answer = chat(client, auth, agent["id"], [user("hi")], create_session=True, **extra)
    assert answer.status_code == 400, answer.json
    assert answer.json["detail"].startswith("the credential's backend (the Assistants API) does not take "
                                            f"{named}: leave them out")
    assert fake.requests_to("/runs") == []


def test_max_tokens_of_an_agents_chat_is_the_remote_runs_max_completion_tokens(client, auth, fake, remote):
    agent = create_agent(client, auth, credential=remote["id"], instructions="Be brief.")
    answer = chat(client, auth, agent["id"], [user("hi")], create_session=True, max_tokens=33,
                  temperature=0.2, top_p=0.9)
    assert answer.status_code == 200, answer.json
    sent = fake.requests_to("/runs")[-1].json
    assert (sent["max_completion_tokens"], sent["temperature"], sent["top_p"]) == (33, 0.2, 0.9)
    assert sent["instructions"] == "Be brief."
