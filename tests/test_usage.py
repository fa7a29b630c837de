"""Token usage: a row per recorded turn of every API (the conversations API, the agents API with and
without sessions, blocking and streamed), none for a failed turn; GET /usage per tenant; the purge
command; and daily token budgets (429 until the next UTC day)."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from assistants_app.extensions import db
from assistants_app.models import ApiKey, TokenUsage

from .fake_openai import Fault
from .helpers import AGENTS, auth_for, create_agent, headers_for, make_key, make_thread, parse_stream, user

START = datetime(2026, 3, 14, 23, 59, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock(app):
    """app.config["CLOCK"] (services/sessions.py's seam), moved by tests."""
    class Clock:
        now = START

        def move(self, **delta):
            self.now += timedelta(**delta)

    moving = Clock()
    app.config["CLOCK"] = lambda: moving.now
    return moving


def usage(client, auth, **query):
    return client.get("/usage", headers=auth, query_string=query)


def totals(client, auth, group_by="day", start=0, end=4102444800):
    response = usage(client, auth, start=start, end=end, group_by=group_by)
    assert response.status_code == 200, response.json
    return response.json["data"]


def turns_of_every_api(client, auth, fake):
    """One recorded turn through each way in; what the fake provider reported for them."""
    agent = create_agent(client, auth, name="metered")
    thread_id = make_thread(client, auth, agent["id"])
    replies = [client.post("/openai/chat", headers=auth,
                           json={"agent_id": agent["id"], "thread_id": thread_id, "user_input": "one two"})]
    streamed = client.post("/openai/chat", headers=auth, json={"agent_id": agent["id"],
                                                               "thread_id": thread_id,
                                                               "user_input": "three", "stream": True})
    done = streamed.get_data(as_text=True).split("event: done\ndata: ", 1)[1]
    base = f"{AGENTS}/{agent['id']}/chat/completions"
    replies.append(client.post(base, headers=auth, json={"messages": [user("stateless turn")]}))
    replies.append(client.post(base, headers=auth,
                               json={"messages": [user("new session")], "create_session": True}))
    session = replies[-1].json["session_id"]
    replies.append(client.post(base, headers=auth,
                               json={"messages": [user("again")], "store_in_session": session}))
    chunks = parse_stream(client.post(base, headers=auth, json={
        "messages": [user("streamed stateless")], "stream": True, "stream_options": {"include_usage": True}}))
    assert all(reply.status_code == 200 for reply in replies), [r.json for r in replies]
    reported = [replies[0].json["usage"], json.loads(done)["usage"], *(r.json["usage"] for r in replies[1:]),
                chunks[-1]["usage"]]
    assert len(fake.requests_to("/chat/completions")) == 6
    return agent, reported


def test_every_api_records_each_turn_with_the_providers_tokens(app, client, auth, fake):
    agent, reported = turns_of_every_api(client, auth, fake)
    with app.app_context():
        rows = db.session.scalars(select(TokenUsage).order_by(TokenUsage.id)).all()
        key_id = db.session.scalar(select(ApiKey.id))
    assert [row.api for row in rows] == ["conversations", "conversations", "agents", "agents", "agents",
                                         "agents"]
    assert {(row.tenant, row.assistant_id, row.model, row.api_key_id) for row in rows} == {
        ("default", agent["id"], "gpt-4", key_id)}
    assert [(row.prompt_tokens, row.completion_tokens) for row in rows] == [
        (u["prompt_tokens"], u["completion_tokens"]) for u in reported]
    assert all(row.prompt_tokens > 0 and row.completion_tokens > 0 for row in rows)
    day = totals(client, auth)
    assert len(day) == 1 and day[0]["turns"] == 6
    assert day[0]["prompt_tokens"] == sum(row.prompt_tokens for row in rows)
    assert day[0]["completion_tokens"] == sum(row.completion_tokens for row in rows)
    assert day[0]["total_tokens"] == day[0]["prompt_tokens"] + day[0]["completion_tokens"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_turn_counts_nothing(app, client, auth, fake, stream):
    agent = create_agent(client, auth)
    thread_id = make_thread(client, auth, agent["id"])
    fake.add_fault(Fault("status", status=500, times=5))
    reply = client.post("/openai/chat", headers=auth, json={"agent_id": agent["id"], "thread_id": thread_id,
                                                            "user_input": "hi", "stream": stream})
    assert reply.status_code == 502
    fake.clear_faults()
    fake.add_fault(Fault("cut", times=5))  # mid-stream: the 200 went out, the turn still failed
    reply = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth,
                        json={"messages": [user("hi")], "stream": True})
    assert reply.status_code == 502 or '"error"' in reply.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TokenUsage)) == 0
    assert totals(client, auth) == []


def test_usage_is_grouped_and_tenants_stay_apart(app, client, auth, other_auth, fake, clock):
    mine = create_agent(client, auth, name="mine")
    theirs = create_agent(client, other_auth, name="theirs")
    second_key = auth_for(app, name="second")
    for headers, agent in ((auth, mine), (second_key, mine), (other_auth, theirs)):
        reply = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=headers,
                            json={"messages": [user("one two three")]})
        assert reply.status_code == 200
        clock.move(minutes=2)  # the second turn is on the next UTC day
    by_assistant = totals(client, auth, "assistant")
    assert [(g["assistant_id"], g["turns"]) for g in by_assistant] == [(mine["id"], 2)]
    assert set(by_assistant[0]) == {"assistant_id", "turns", "prompt_tokens", "completion_tokens",
                                    "total_tokens"}
    assert [(g["model"], g["turns"]) for g in totals(client, auth, "model")] == [("gpt-4", 2)]
    assert [g["turns"] for g in totals(client, auth, "api_key")] == [1, 1]
    assert [(g["day"], g["turns"]) for g in totals(client, auth)] == [("2026-03-14", 1), ("2026-03-15", 1)]
    assert [(g["assistant_id"], g["turns"])
            for g in totals(client, other_auth, "assistant")] == [(theirs["id"], 1)]
    # A window: [start, end), in unix seconds or ISO 8601.
    response = usage(client, auth, start="2026-03-15T00:00:00Z", end=int(START.timestamp()) + 3600)
    assert response.json == {"object": "list", "start": int(START.timestamp()) + 60,
                             "end": int(START.timestamp()) + 3600, "data": [
                                 {"day": "2026-03-15", "turns": 1, **{k: v for k, v in totals(
                                     client, auth)[1].items() if k not in ("day", "turns")}}]}
    # Defaults: the 30 days before now (the clock's), by day.
    response = usage(client, auth)
    assert response.json["end"] == int(clock.now.timestamp())
    assert response.json["start"] == int((clock.now - timedelta(days=30)).timestamp())
    assert len(response.json["data"]) == 2


@pytest.mark.parametrize("query, field", [
    ({"group_by": "tenant"}, "group_by"),
    ({"start": "yesterday"}, "start"),
    ({"start": "1e400"}, "start"),
    ({"end": "99999999999999"}, "end"),
    ({"start": "2026-01-02", "end": "2026-01-01"}, "end"),
    ({"start": "4000000000"}, "end"),  # after the default end (now)
])
def test_bad_queries_are_400_in_the_service_shape(client, auth, query, field):
    response = usage(client, auth, **query)
    assert response.status_code == 400, response.json
    assert response.json["code"] == 400 and response.json["status"] == "Bad Request"
    assert field in response.json["errors"]["query"]


def test_purge_deletes_records_before_a_date(app, client, auth, fake, clock):
    agent = create_agent(client, auth)
    for _ in range(2):
        assert client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth,
                           json={"messages": [user("hi")]}).status_code == 200
        clock.move(days=1)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["usage", "purge", "--before", "2026-03-15"])
    assert result.exit_code == 0 and "Deleted 1 usage record(s)" in result.output, result.output
    assert [g["day"] for g in totals(client, auth)] == ["2026-03-15"]
    result = runner.invoke(args=["usage", "purge", "--before", "soon"])
    assert result.exit_code == 2 and "--before" in result.output


def budget_key(app, tokens):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-keys", "create", "--name", "metered", "--daily-token-budget",
                                 str(tokens)])
    assert result.exit_code == 0, result.output
    return headers_for(result.output.strip().splitlines()[-1])


def test_budget_refuses_turns_until_the_next_utc_day(app, client, fake, clock):
    clock.now = datetime(2026, 3, 14, 22, 0, tzinfo=timezone.utc)
    auth = budget_key(app, 10)
    agent = create_agent(client, auth)
    thread_id = make_thread(client, auth, agent["id"])
    turn = {"messages": [user("one two three four five six seven eight nine ten eleven")]}
    completions = f"{AGENTS}/{agent['id']}/chat/completions"
    assert client.post(completions, headers=auth, json=turn).status_code == 200  # under budget when it began
    refusals = [
        client.post(completions, headers=auth, json=turn),
        client.post(completions, headers=auth, json={**turn, "stream": True}),
        client.post(completions, headers=auth, json={**turn, "create_session": True}),
        client.post("/openai/chat", headers=auth, json={"agent_id": agent["id"], "thread_id": thread_id,
                                                        "user_input": "hi"}),
        client.post("/openai/chat", headers=auth, json={"agent_id": agent["id"], "thread_id": thread_id,
                                                        "user_input": "hi", "stream": True}),
    ]
    calls = len(fake.requests_to("/chat/completions"))
    for reply in refusals:
        assert reply.status_code == 429, reply.get_data(as_text=True)
        assert reply.headers["Retry-After"] == str(2 * 3600)
        message = reply.json.get("detail") or reply.json.get("message")
        assert "daily token budget" in message and "00:00 UTC" in message
    assert calls == 1  # no provider call, no session kept, no message stored
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TokenUsage)) == 1
    assert [m["role"] for m in client.get(f"/openai/threads/{thread_id}/messages",
                                          headers=auth).json["data"]] == []
    assert client.get(f"/assistants/{agent['id']}", headers=auth).status_code == 200  # only turns are refused
    clock.move(hours=2)  # the next UTC day
    assert client.post(completions, headers=auth, json=turn).status_code == 200


def test_set_budget_on_an_existing_key(app, client, auth, fake):
    agent = create_agent(client, auth)
    runner = app.test_cli_runner()
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id))
    result = runner.invoke(args=["api-keys", "set-budget", str(key_id), "--daily-token-budget", "0"])
    assert result.exit_code == 0 and "0 tokens per UTC day" in result.output, result.output
    assert "0 tokens/day" in runner.invoke(args=["api-keys", "list"]).output
    completions = f"{AGENTS}/{agent['id']}/chat/completions"
    assert client.post(completions, headers=auth, json={"messages": [user("hi")]}).status_code == 429
    result = runner.invoke(args=["api-keys", "set-budget", str(key_id), "--none"])
    assert result.exit_code == 0 and "no daily token budget" in result.output
    assert client.post(completions, headers=auth, json={"messages": [user("hi")]}).status_code == 200
    for args in (["--none", "--daily-token-budget", "5"], [], ["--daily-token-budget", "-1"]):
        assert runner.invoke(args=["api-keys", "set-budget", str(key_id), *args]).exit_code == 2, args
    result = runner.invoke(args=["api-keys", "set-budget", "999999", "--none"])
    assert result.exit_code == 1 and "No API key" in result.output


def test_an_assistants_v2_run_is_billed_to_the_key_that_started_it(app, client, fake):
    """A background run goes on after its request: its usage row still names the run's API key."""
    from .helpers import sdk, wait_for_runs

    key = make_key(app, name="v2 runner")
    beta = sdk(app, key).beta
    assistant = beta.assistants.create(model="gpt-4", instructions="Be brief.")
    run = beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "count these words"}]})
    wait_for_runs(app)
    assert run.status == "completed"
    with app.app_context():
        row = db.session.scalars(select(TokenUsage).where(TokenUsage.api == "assistants_v2")).one()
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.name == "v2 runner"))
    assert (row.api_key_id, row.model) == (key_id, "gpt-4")
    assert (row.prompt_tokens, row.completion_tokens) == (run.usage.prompt_tokens,
                                                          run.usage.completion_tokens)
    assert [(d["turns"], d["total_tokens"])
            for d in totals(client, headers_for(key), group_by="assistant")] == [
        (1, run.usage.total_tokens)]
