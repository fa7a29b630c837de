"""Seed 003's live status: AVAILABLE, or UNAVAILABLE with errors a person can act on; always
within STATUS_TIMEOUT (1 s in tests), and cached, so many lookups cost one provider call."""
import time

from cryptography.fernet import Fernet

from .fake_openai import FakeOpenAI, Fault
from .helpers import AGENTS, Clock, auth_for, create_agent, make_assistant, make_credential

STATUS_TIMEOUT = 1.0


def status_of(client, auth, agent_id):
    started = time.monotonic()
    response = client.get(f"{AGENTS}/{agent_id}", headers=auth)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.json
    return response.json["status"], response.json["status_errors"], elapsed


def agent_on(client, auth, fake, base_url=None, model="gpt-4", **credential_fields):
    """An agent created through seed 000 (no status check on the way), on its own credential."""
    credential = make_credential(client, auth, base_url=base_url or fake.base_url, api="chat_completions",
                                 **credential_fields)
    return make_assistant(client, auth, credential["id"], model=model), credential


def test_listed_model_is_available(client, auth, fake):
    agent, _ = agent_on(client, auth, fake)
    assert status_of(client, auth, agent["id"])[:2] == ("AVAILABLE", [])


def test_default_provider_is_available(client, auth, fake):
    agent = create_agent(client, auth)
    assert (agent["status"], agent["status_errors"]) == ("AVAILABLE", [])


def test_unknown_model_names_the_model_and_the_offered_ones(client, auth, fake):
    agent, credential = agent_on(client, auth, fake, model="gpt-9-imaginary")
    status, errors, _ = status_of(client, auth, agent["id"])
    assert status == "UNAVAILABLE" and len(errors) == 1
    assert "'gpt-9-imaginary'" in errors[0] and "gpt-4o-mini" in errors[0] and credential["id"] in errors[0]
    fake.models.append("gpt-9-imaginary")  # cached: the answer holds until MODELS_CACHE_TTL passes
    assert status_of(client, auth, agent["id"])[0] == "UNAVAILABLE"


def test_undecryptable_credential(make_app, client, auth, fake):
    # A credential stored by an instance with other ASSISTANTS_SECRET_KEYS.
    other_app = make_app(ASSISTANTS_SECRET_KEYS=Fernet.generate_key().decode())
    credential = make_credential(other_app.test_client(), auth, base_url=fake.base_url)
    agent = create_agent(client, auth, credential=credential["id"])
    assert agent["status"] == "UNAVAILABLE"
    [error] = agent["status_errors"]
    assert "cannot be decrypted" in error and credential["id"] in error and "ASSISTANTS_SECRET_KEYS" in error
    assert fake.requests_to("/models") == []


def test_no_provider_configured(make_app, fake):
    unconfigured = make_app(OPENAI_API_KEY=None, OPENAI_BASE_URL=None)
    headers = auth_for(unconfigured)
    agent = create_agent(unconfigured.test_client(), headers)
    assert agent["status"] == "UNAVAILABLE" and "OPENAI_API_KEY" in agent["status_errors"][0]


def test_rejected_api_key(client, auth, fake):
    agent, credential = agent_on(client, auth, fake, api_key="sk-bad")
    status, errors, _ = status_of(client, auth, agent["id"])
    assert status == "UNAVAILABLE"
    assert "rejected the API key" in errors[0] and "HTTP 401" in errors[0] and credential["id"] in errors[0]
    assert "sk-bad" not in errors[0]


def test_refused_connection_is_unavailable_quickly(client, auth, fake):
    agent, _ = agent_on(client, auth, fake, base_url=FakeOpenAI.refused_base_url())
    status, errors, elapsed = status_of(client, auth, agent["id"])
    assert status == "UNAVAILABLE" and "not answering" in errors[0] and "could not reach" in errors[0]
    assert elapsed < STATUS_TIMEOUT + 1


def test_stalled_provider_is_unavailable_within_the_timeout(client, auth, fake):
    agent, _ = agent_on(client, auth, fake)
    fake.add_fault(Fault(kind="stall", seconds=3, path="/models"))
    status, errors, elapsed = status_of(client, auth, agent["id"])
    assert status == "UNAVAILABLE" and "did not answer within 1 s" in errors[0]
    assert elapsed < STATUS_TIMEOUT + 1
    # The failure is cached: the next lookups answer at once, without asking again.
    status, _, elapsed = status_of(client, auth, agent["id"])
    assert status == "UNAVAILABLE" and elapsed < 0.5
    assert len(fake.requests_to("/models")) == 1


def test_list_checks_distinct_providers_in_parallel(client, auth, fake):
    agents = [agent_on(client, auth, fake)[0] for _ in range(3)]  # three credentials: three cache keys
    fake.delay = 3.0
    started = time.monotonic()
    listed = client.get(AGENTS, headers=auth)
    elapsed = time.monotonic() - started
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json["data"]] == [a["id"] for a in agents]
    assert all(a["status"] == "UNAVAILABLE" for a in listed.json["data"])
    assert elapsed < STATUS_TIMEOUT + 1  # not 3 x STATUS_TIMEOUT


def test_a_down_provider_does_not_slow_the_other_apis(client, auth, fake):
    agent, _ = agent_on(client, auth, fake)
    fake.delay = 3.0
    for path in ("/assistants", f"/assistants/{agent['id']}", "/credentials"):
        started = time.monotonic()
        assert client.get(path, headers=auth).status_code == 200
        assert time.monotonic() - started < 0.5
    thread = client.post("/openai/initialize", json={"agent_id": agent["id"]}, headers=auth)
    assert thread.status_code == 200


def test_one_hundred_lookups_cost_one_models_call(client, auth, fake):
    credential = make_credential(client, auth, base_url=fake.base_url, api="chat_completions")
    agents = [create_agent(client, auth, credential=credential["id"]) for _ in range(10)]
    for index in range(100):
        assert status_of(client, auth, agents[index % 10]["id"])[0] == "AVAILABLE"
    listed = client.get(f"{AGENTS}?limit=999", headers=auth).json["data"]
    assert len(listed) == 10 and {a["status"] for a in listed} == {"AVAILABLE"}
    assert len(fake.requests_to("/models")) == 1


def test_cache_period_ends(app, client, auth, fake):
    clock = app.extensions["provider_answers"].store.clock = Clock()
    agent = create_agent(client, auth, model="gpt-5-later")
    assert agent["status"] == "UNAVAILABLE"
    fake.models.append("gpt-5-later")
    clock.move(59)  # MODELS_CACHE_TTL is 60 s
    assert status_of(client, auth, agent["id"])[0] == "UNAVAILABLE"
    clock.move(2)
    assert status_of(client, auth, agent["id"])[:2] == ("AVAILABLE", [])


def test_assistants_backend_checks_the_remote_assistant(client, auth, fake):
    credential = make_credential(client, auth, base_url=fake.base_url, api="assistants")
    kept = make_assistant(client, auth, credential["id"])
    gone = make_assistant(client, auth, credential["id"])
    del fake.assistants[gone["details"]["id"]]
    assert status_of(client, auth, kept["id"])[:2] == ("AVAILABLE", [])
    status, errors, _ = status_of(client, auth, gone["id"])
    assert status == "UNAVAILABLE" and gone["details"]["id"] in errors[0] and "no longer has" in errors[0]
    for _ in range(5):
        status_of(client, auth, gone["id"])
    client.get(AGENTS, headers=auth)
    lookups = [r for r in fake.requests_to(gone["details"]["id"]) if r.method == "GET"]
    assert len(lookups) == 1
