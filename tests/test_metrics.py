"""GET /metrics: the operator's token (a tenant's key is refused), every family the issue names, counts
that follow what happened, model labels bounded per tenant, and no content or secret in it. In one
process (no gunicorn) the metrics are the process's: each test compares before and after. Then the
real service, gunicorn with two workers (tests/live_server.py) and the multiprocess directory
gunicorn.conf.py makes: one scrape, through either worker, holds both workers' counts, and a killed
worker's counts stay."""
import json
import os
import signal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from assistants_app.extensions import db
from assistants_app.models import Thread

from .fake_openai import Fault
from .helpers import AGENTS, auth_for, create_agent, make_thread, user

FAMILIES = ("assistants_http_requests", "assistants_http_request_duration_seconds", "assistants_chat_turns",
            "assistants_chat_turn_duration_seconds", "assistants_provider_request_duration_seconds",
            "assistants_provider_errors", "assistants_tokens", "assistants_active_streams",
            "assistants_models_cache")
SECRET_WORDS = "zebra-quartz-violin"
METRICS_TOKEN = "metrics-token-for-prometheus-0123456789"
OPERATOR = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def app_config(app_config):
    return dict(app_config, METRICS_TOKEN=METRICS_TOKEN)


def samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value} of a scrape."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(client) -> tuple[dict, str]:
    response = client.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    return samples(text), text


def refusal(message: str) -> dict:
    return {"code": 401, "status": "Unauthorized", "message": message}


WRONG_TOKEN = "Wrong metrics token: GET /metrics takes the operator's METRICS_TOKEN, not an API key."
NO_TOKEN = "Missing Bearer token: send 'Authorization: Bearer <METRICS_TOKEN>'."


def families(response) -> set:
    return {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}


def test_metrics_are_the_operators_token_holders_only(client, auth, other_auth):
    refused = {"no credential": ({}, NO_TOKEN),
               "a tenant's API key": (auth, WRONG_TOKEN), "another tenant's": (other_auth, WRONG_TOKEN),
               "a wrong token": ({"Authorization": f"Bearer {METRICS_TOKEN[:-1]}x"}, WRONG_TOKEN),
               "the token in another scheme": ({"Authorization": f"Basic {METRICS_TOKEN}"}, NO_TOKEN)}
    for what, (headers, message) in refused.items():
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, what
        assert response.json == refusal(message), what
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="assistants_app"', what
    response = client.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200
    assert families(response) >= set(FAMILIES)
    assert client.get("/assistants", headers=OPERATOR).status_code == 401  # the token is no API key


def test_without_a_token_metrics_are_off_unless_public(make_app, auth):
    off = make_app(METRICS_TOKEN=None).test_client()
    for headers in ({}, auth, OPERATOR):
        response = off.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.json == refusal(
            "GET /metrics is the operator's and is not enabled: set METRICS_TOKEN (the scraper sends "
            "'Authorization: Bearer <METRICS_TOKEN>') or METRICS_PUBLIC=true.")
    public = make_app(METRICS_TOKEN=None, METRICS_PUBLIC=True).test_client()
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = public.get("/metrics", headers=headers)
        assert response.status_code == 200 and families(response) >= set(FAMILIES)


def test_wrong_tokens_count_as_failed_authentication(make_app, auth):
    client = make_app(AUTH_FAILURE_LIMIT="2 per minute").test_client()
    statuses = [client.get("/metrics", headers=auth).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert client.get("/metrics", headers=OPERATOR).status_code == 200  # the right token still works


def test_a_short_token_is_refused_at_start(make_app):
    with pytest.raises(RuntimeError, match="METRICS_TOKEN is shorter than 16 characters") as refused:
        make_app(METRICS_TOKEN="short-secret")
    assert "short-secret" not in str(refused.value)


def test_counts_follow_turns_provider_calls_and_requests(app, client, auth, fake):
    before, _ = scrape(client)
    agent = create_agent(client, auth, instructions=SECRET_WORDS)  # its status: the model list, a cache miss
    thread_id = make_thread(client, auth, agent["id"])
    turn = {"agent_id": agent["id"], "thread_id": thread_id, "user_input": f"tell me {SECRET_WORDS}"}
    replies = [client.post("/openai/chat", headers=auth, json=turn),
               client.post("/openai/chat", headers=auth, json={**turn, "stream": True})]
    assert [r.status_code for r in replies] == [200, 200]
    streamed_done = json.loads(replies[1].get_data(as_text=True).split("event: done\ndata: ", 1)[1])
    fake.add_fault(Fault("status", status=500, times=2))  # one retry (OPENAI_MAX_RETRIES=1), then the error
    assert client.post("/openai/chat", headers=auth, json=turn).status_code == 502
    with app.app_context():  # a turn held by someone else: 409
        db.session.execute(update(Thread).values(turn_token="held", turn_started_at=db.func.now()))
        db.session.commit()
    assert client.post("/openai/chat", headers=auth, json=turn).status_code == 409
    fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
    stateless = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, json={
        "messages": [user("hi")], "tools": [{"type": "function", "function": {"name": "lookup"}}]})
    assert stateless.json["choices"][0]["finish_reason"] == "tool_calls"
    for _ in range(2):
        assert client.get("/openai/get_models", headers=auth).status_code == 200
    after, text = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    conversations = {"api": "conversations", "backend": "chat_completions"}
    assert delta("assistants_chat_turns_total", outcome="ok", **conversations) == 2
    assert delta("assistants_chat_turns_total", outcome="error", **conversations) == 1
    assert delta("assistants_chat_turns_total", outcome="conflict", **conversations) == 1
    assert delta("assistants_chat_turns_total", api="agents", backend="chat_completions",
                 outcome="requires_action") == 1
    assert delta("assistants_chat_turn_duration_seconds_count", **conversations) == 4
    # Each attempt is one provider request: the model list, 2 turns, 2 attempts of the failed one, 1
    # stateless.
    assert delta("assistants_provider_request_duration_seconds_count", backend="chat_completions") == 6
    assert delta("assistants_provider_errors_total", kind="provider_error") == 1
    # as the fake reported
    usage = [replies[0].json["usage"], streamed_done["usage"], stateless.json["usage"]]
    for direction in ("prompt", "completion"):
        assert delta("assistants_tokens_total", direction=direction, model="gpt-4") == sum(
            u[f"{direction}_tokens"] for u in usage) > 0
    assert value(after, "assistants_active_streams") == 0
    assert (delta("assistants_models_cache_total", result="miss"),
            delta("assistants_models_cache_total", result="hit")) == (1, 2)
    route = {"method": "POST", "route": "/openai/chat"}
    assert delta("assistants_http_requests_total", status="200", **route) == 2
    assert delta("assistants_http_requests_total", status="409", **route) == 1
    assert delta("assistants_http_request_duration_seconds_count", **route) == 4
    # Route templates, never a raw path; and nothing of the conversation, the keys or the ids.
    client.get(f"/openai/threads/{thread_id}/messages", headers=auth)
    client.get("/no/such/path", headers=auth)
    _, text = scrape(client)
    assert 'route="/openai/threads/<thread_id>/messages"' in text and 'route="unmatched"' in text
    for secret in (SECRET_WORDS, "Echo", auth["Authorization"][7:], "sk-default-test-key", thread_id,
                   agent["id"], "/no/such/path", METRICS_TOKEN):
        assert secret not in text


@pytest.fixture
def fresh_model_labels():
    """The model labels this process has handed out, emptied for the test and restored after it."""
    from assistants_app import metrics

    saved = set(metrics._models), {tenant: set(added) for tenant, added in metrics._models_added_by.items()}
    metrics._models.clear()
    metrics._models_added_by.clear()
    yield metrics
    metrics._models.clear()
    metrics._models.update(saved[0])
    metrics._models_added_by.clear()
    metrics._models_added_by.update(saved[1])


def test_model_labels_are_bounded(fresh_model_labels):
    metrics = fresh_model_labels
    assert metrics.model_label("gpt-4", "default") == "gpt-4"
    assert metrics.model_label("a model with spaces\n", "default") == "other"
    for tenant in range(metrics.MAX_MODELS // metrics.MAX_MODELS_PER_TENANT):
        for n in range(metrics.MAX_MODELS_PER_TENANT + 1):
            metrics.model_label(f"t{tenant}-m{n}", f"tenant-{tenant}")
    assert len(metrics._models) == metrics.MAX_MODELS
    assert metrics.model_label("one-more", "a-tenant-with-none-yet") == "other"
    assert metrics.model_label("gpt-4", "a-tenant-with-none-yet") == "gpt-4"  # a label already there


def test_one_tenant_adds_at_most_its_share_of_model_labels(app, client, auth, fake, fresh_model_labels):
    # The hog's own provider (here the fake) answers for any model name its assistants give.
    before, _ = scrape(client)  # this process's counters: earlier tests' models are in them too
    hog = auth_for(app, tenant="hog", name="hog")
    names = [f"hog-model-{n:02}" for n in range(fresh_model_labels.MAX_MODELS_PER_TENANT + 3)]
    fake.models.extend(names)
    for name in names:
        agent = create_agent(client, hog, model=name)
        reply = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=hog,
                            json={"messages": [user("hi")]})
        assert reply.status_code == 200
    mine = create_agent(client, auth, model="gpt-4o-mini")
    assert client.post(f"{AGENTS}/{mine['id']}/chat/completions", headers=auth,
                       json={"messages": [user("hi")]}).status_code == 200
    shared = create_agent(client, hog, model="gpt-4o-mini")  # another tenant added it: not the hog's share
    assert client.post(f"{AGENTS}/{shared['id']}/chat/completions", headers=hog,
                       json={"messages": [user("hi")]}).status_code == 200

    after, _ = scrape(client)
    counted = [dict(labels) for (name, labels), count in after.items()
               if name == "assistants_tokens_total" and count > before.get((name, labels), 0)]
    assert {frozenset(labels) for labels in counted} == {frozenset({"direction", "model"})}  # no tenant
    assert {labels["model"] for labels in counted} == {*names[:fresh_model_labels.MAX_MODELS_PER_TENANT],
                                                       "other", "gpt-4o-mini"}


@pytest.mark.parametrize("method", ["BREW"])
def test_unknown_methods_share_one_label(client, auth, method):
    before, _ = scrape(client)
    client.open("/openai/chat", method=method, headers=auth)
    after, _ = scrape(client)
    labels = {"method": "other", "route": "unmatched", "status": "405"}
    assert value(after, "assistants_http_requests_total", **labels) - value(
        before, "assistants_http_requests_total", **labels) == 1


# ---------------------------------------------------------------- the real service, two workers
LIVE_WORDS = "marmalade-obelisk"


def connections_on_each_worker(server) -> dict:
    for _ in range(20):
        by_worker = server.connections_by_worker()
        if len(by_worker) == 2:
            return by_worker
        for connection in by_worker.values():
            connection.close()
    raise AssertionError("every connection landed on the same worker")


def sse_usage(body: str) -> dict:
    return json.loads(body.split("event: done\ndata: ", 1)[1])["usage"]


@pytest.mark.slow
def test_one_scrape_holds_every_workers_counts(live_server, fake):
    # Measured: the scrape of the multiprocess directory is reached by a real gunicorn only.
    server = live_server(workers=2, measured=True, METRICS_TOKEN=METRICS_TOKEN)
    by_worker = connections_on_each_worker(server)
    agent = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}}).body
    reported, turns = [], {}
    for number, (pid, connection) in enumerate(by_worker.items()):
        thread_id = server.request("POST", "/openai/initialize", {"agent_id": agent["id"]},
                                   connection=connection).body["thread_id"]
        for _ in range(number + 2):  # 2 turns on one worker, 3 on the other
            turn = {"agent_id": agent["id"], "thread_id": thread_id, "user_input": f"say {LIVE_WORDS}"}
            reply = server.request("POST", "/openai/chat", turn, connection=connection)
            assert reply.status == 200 and server.worker_of(connection) == pid, reply
            reported.append(reply.body["usage"])
        streamed = server.request("POST", "/openai/chat", {**turn, "stream": True}, connection=connection)
        assert streamed.status == 200
        reported.append(sse_usage(streamed.body))
        stateless = server.request("POST",
                                   f"/api/v1/compatibility/openai/v1/agents/{agent['id']}/chat/completions",
                                   {"messages": [{"role": "user", "content": LIVE_WORDS}]},
                                   connection=connection)
        assert stateless.status == 200
        reported.append(stateless.body["usage"])
        turns[pid] = number + 2
    assert server.request("GET", "/metrics", headers={"Authorization": ""}).status == 401
    assert server.request("GET", "/metrics").status == 401  # the server's API key: a tenant's

    for connection in by_worker.values():  # the same totals, whichever worker answers the scrape
        scrape = server.request("GET", "/metrics", headers=OPERATOR, connection=connection)
        assert scrape.status == 200
        text = scrape.body
        metrics = samples(text)
        conversations = {"api": "conversations", "backend": "chat_completions"}
        assert value(metrics, "assistants_chat_turns_total", outcome="ok", **conversations) == 2 + 3 + 2
        assert value(metrics, "assistants_chat_turn_duration_seconds_count", **conversations) == 7
        assert value(metrics, "assistants_chat_turns_total", api="agents", backend="chat_completions",
                     outcome="ok") == 2
        assert value(metrics, "assistants_provider_request_duration_seconds_count",
                     backend="chat_completions") == 9
        route = {"method": "POST", "route": "/openai/chat"}
        assert value(metrics, "assistants_http_requests_total", status="200", **route) == 7
        assert value(metrics, "assistants_http_request_duration_seconds_count", **route) == 7
        for direction in ("prompt", "completion"):
            assert value(metrics, "assistants_tokens_total", direction=direction, model="gpt-4") == sum(
                u[f"{direction}_tokens"] for u in reported)
        assert value(metrics, "assistants_active_streams") == 0
        for secret in (LIVE_WORDS, "Echo", server.api_key, "sk-live-server-test", agent["id"]):
            assert secret not in text

    usage = server.request("GET", "/usage?start=0&group_by=model").body
    assert usage["data"] == [{"model": "gpt-4", "turns": 9,
                              "prompt_tokens": sum(u["prompt_tokens"] for u in reported),
                              "completion_tokens": sum(u["completion_tokens"] for u in reported),
                              "total_tokens": sum(u["total_tokens"] for u in reported)}]

    victim = next(iter(by_worker))  # a killed worker's counts stay in the scrape
    os.kill(victim, signal.SIGKILL)
    server.wait_for_workers(exclude=[victim])
    metrics = samples(server.request("GET", "/metrics", headers=OPERATOR).body)
    assert value(metrics, "assistants_chat_turns_total", outcome="ok", api="conversations",
                 backend="chat_completions") == 7


@pytest.mark.slow
def test_metrics_public_opens_the_scrape(live_server, fake):
    server = live_server(workers=1, METRICS_PUBLIC="true")
    reply = server.request("GET", "/metrics", headers={"Authorization": ""})
    assert reply.status == 200 and "assistants_http_requests_total" in reply.body


def test_assistants_v2_runs_are_counted_like_every_turn(app, client, auth, fake):
    """A v2 run's turn goes through the one pipeline: turns by api, its tokens, its duration and its
    provider errors, whether it ran in the background or streamed."""
    from .helpers import sdk, wait_for_runs

    before, _ = scrape(client)
    beta = sdk(app, auth["Authorization"][7:]).beta
    assistant = beta.assistants.create(model="gpt-4o-mini")
    thread = beta.threads.create(messages=[{"role": "user", "content": "one two"}])
    background = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   poll_interval_ms=20)
    with beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        streamed = stream.get_final_run()
    fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
    asking = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                               poll_interval_ms=20,
                                               tools=[{"type": "function", "function": {"name": "lookup"}}])
    beta.threads.runs.cancel(asking.id, thread_id=thread.id)
    fake.add_fault(Fault("status", status=500, times=2))
    failed = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                               poll_interval_ms=20)
    wait_for_runs(app)
    assert (background.status, streamed.status, asking.status, failed.status) == (
        "completed", "completed", "requires_action", "failed")
    after, _ = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    v2 = {"api": "assistants_v2", "backend": "chat_completions"}
    assert delta("assistants_chat_turns_total", outcome="ok", **v2) == 2
    assert delta("assistants_chat_turns_total", outcome="requires_action", **v2) == 1
    assert delta("assistants_chat_turns_total", outcome="error", **v2) == 1
    assert delta("assistants_chat_turn_duration_seconds_count", **v2) == 4
    assert delta("assistants_provider_errors_total", kind="provider_error") == 1
    usage = [run.usage for run in (background, streamed, asking)]
    for direction in ("prompt", "completion"):
        assert delta("assistants_tokens_total", direction=direction, model="gpt-4o-mini") == sum(
            getattr(u, f"{direction}_tokens") for u in usage) > 0
    assert value(after, "assistants_active_streams") == 0
