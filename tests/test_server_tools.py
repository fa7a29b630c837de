"""Tools the service runs itself inside a turn (services/server_tools.py), through the one pipeline: the
model calls one, the service runs it, feeds the result back and asks the provider again, within the turn;
the calls and results are recorded with it. file_search is the one the APIs offer (tests/test_file_search.py);
here a plain server tool shows the pipeline's part, over the loopback fake provider."""
import json

import pytest
from flask import g

from assistants_app.extensions import db
from assistants_app.models import Assistant, Thread
from assistants_app.openai_adapter import TextDelta, ToolCallDelta
from assistants_app.services import turns
from assistants_app.services.server_tools import MAX_ROUNDS, ServerTool, ServerToolCalled, ServerToolResult

from .helpers import auth_for, make_assistant, make_thread

LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}}}}
CALLER = turns.Caller("default", None, None, "conversations")


@pytest.fixture
def conversation(app):
    client, auth = app.test_client(), auth_for(app)
    assistant = make_assistant(client, auth)
    return client, auth, assistant["id"], make_thread(client, auth, assistant["id"])


def lookup_tool(seen: list) -> ServerTool:
    def run(arguments: str) -> ServerToolResult:
        seen.append(json.loads(arguments))
        return ServerToolResult("The answer is 42.", {"query": json.loads(arguments).get("query")})
    return ServerTool(LOOKUP, run)


def take_turn(app, thread_id: str, tools: dict, stream: bool):
    with app.test_request_context():
        g.tenant = "default"
        thread = db.session.get(Thread, thread_id)
        assistant = db.session.get(Assistant, thread.assistant_id)
        turn = turns.TurnInput(text="What is the answer?", server_tools=tools)
        if not stream:
            return turns.complete(CALLER, assistant, turn, thread), []
        started = turns.stream(CALLER, assistant, turn, thread)
        events = list(started)
        return started.outcome, events


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_tool_runs_inside_the_turn(app, conversation, fake, stream):
    client, auth, _, thread_id = conversation
    seen = []
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"query": "the answer"}'}])
    outcome, events = take_turn(app, thread_id, {"lookup": lookup_tool(seen)}, stream)
    assert seen == [{"query": "the answer"}]
    assert outcome.done.text == "Echo: What is the answer?" and outcome.done.tool_calls == []
    requests = fake.requests_to("/chat/completions")
    assert len(requests) == 2 and requests[0].json["tools"] == [LOOKUP]
    follow_up = requests[1].json["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "tool"]
    assert follow_up[2] == {"role": "tool", "content": "The answer is 42.",
                            "tool_call_id": follow_up[1]["tool_calls"][0]["id"]}
    if stream:
        called = [e for e in events if isinstance(e, ServerToolCalled)]
        assert len(called) == 1 and called[0].result.details == {"query": "the answer"}
        # the server tool's pieces are held back
        assert not [e for e in events if isinstance(e, ToolCallDelta)]
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Echo: What is the answer?"
    stored = client.get(f"/openai/threads/{thread_id}/messages", headers=auth).json["data"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1]["tool_calls"][0]["name"] == "lookup" and stored[2]["content"] == "The answer is 42."
    assert stored[3]["content"] == "Echo: What is the answer?"
    usage = client.get("/usage", headers=auth, query_string={"group_by": "assistant"}).json["data"][0]
    assert usage["turns"] == 1 and usage["prompt_tokens"] == outcome.done.usage.prompt_tokens > 0


def test_a_round_that_also_calls_a_client_function_asks_the_client_for_it_alone(app, conversation, fake):
    client, auth, agent_id, thread_id = conversation
    seen = []
    fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}, {"name": "get_weather", "arguments": "{}"}])
    outcome, _ = take_turn(app, thread_id, {"lookup": lookup_tool(seen)}, stream=True)
    assert [c.name for c in outcome.done.tool_calls] == ["get_weather"] and len(seen) == 1
    stored = client.get(f"/openai/threads/{thread_id}/messages", headers=auth).json["data"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool"]
    assert [c["name"] for c in stored[1]["tool_calls"]] == ["lookup", "get_weather"]
    weather_id = stored[1]["tool_calls"][1]["id"]
    answered = client.post("/openai/chat", headers=auth, json={"agent_id": agent_id, "thread_id": thread_id,
                                                               "tool_outputs": [{"tool_call_id": weather_id,
                                                                                 "output": "sun"}]})
    assert answered.status_code == 200 and answered.json["status"] == "completed"
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]  # each call answered once


def test_a_model_that_keeps_calling_server_tools_is_stopped(app, conversation, fake):
    client, auth, _, thread_id = conversation
    seen = []
    for _ in range(MAX_ROUNDS + 2):
        fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
    outcome, _ = take_turn(app, thread_id, {"lookup": lookup_tool(seen)}, stream=False)
    assert len(fake.requests_to("/chat/completions")) == MAX_ROUNDS == len(seen)
    assert outcome.done.tool_calls == []  # nothing left for the client: the turn ends
    assert client.post("/openai/chat", headers=auth, json={
        "agent_id": conversation[2], "thread_id": thread_id, "user_input": "and now?"}).status_code == 200
