"""file_search as a tool the service runs itself, in v2 runs: the model sees a function file_search(query);
the service searches the assistant's and the thread's vector stores, feeds the results back and goes on,
within the run (no requires_action); the run's steps show the call (its results' text with include), the
reply's markers become file_citation annotations. Through the official openai client, over the fake."""
import json

import openai
import pytest

from .helpers import auth_for, make_key, sdk, wait_for_runs
from .retrieval_fixtures import CONTENT, pdf_of, store_with

POLL = {"poll_interval_ms": 20}


def searching(*store_ids: str) -> dict:
    return {"file_search": {"vector_store_ids": list(store_ids)}}


HANDBOOK = pdf_of("Employee handbook", "Every employee gets 27 vacation days a year.",
                  "Expenses are refunded within 30 days.")


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def cites_first_result(conversation):
    """The fake model's answer once it read the results: it quotes the first passage's marker."""
    tool = [m for m in conversation if m["role"] == "tool"][-1]["content"]
    marker = tool[tool.index("【"):tool.index("】") + 1]
    return f"You get 27 vacation days {marker}."


def test_a_run_answers_from_an_uploaded_pdf(client, fake):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    assistant = client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search"}],
                                              tool_resources=searching(store.id))
    assert assistant.tool_resources.file_search.vector_store_ids == [store.id]
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "vacation days"})}])
    fake.reply = cites_first_result
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "How many vacation days?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "completed" and run.required_action is None
    asked = fake.requests_to("/chat/completions")
    assert [t["function"]["name"] for t in asked[0].json["tools"]] == ["file_search"]
    fed = asked[1].json["messages"][-1]
    assert fed["role"] == "tool" and "27 vacation days" in fed["content"]
    assert "【0:0†handbook.pdf】" in fed["content"]
    reply, = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    text = reply.content[0].text
    assert text.value == "You get 27 vacation days 【0:0†handbook.pdf】."
    file_id = client.vector_stores.files.list(vector_store_id=store.id).data[0].id
    assert [a.model_dump() for a in text.annotations] == [{
        "type": "file_citation", "text": "【0:0†handbook.pdf】", "start_index": 25, "end_index": 43,
        "file_citation": {"file_id": file_id}}]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [s.step_details.type for s in steps] == ["tool_calls", "message_creation"]
    call, = steps[0].step_details.tool_calls
    assert call.type == "file_search" and steps[0].status == "completed"
    assert [(r.file_id, r.file_name, r.content) for r in call.file_search.results] == [
        (file_id, "handbook.pdf", None)]  # no text unless asked for
    with_text = client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run.id,
                                                        include=[CONTENT])
    assert "27 vacation days" in with_text.step_details.tool_calls[0].file_search.results[0].content[0].text


def test_a_streamed_run_shows_the_file_search_step(client, fake):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    assistant = client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search",
                                                                     "file_search": {"max_num_results": 1}}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Expenses?"}],
                                        tool_resources=searching(store.id))
    assert client.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids == [store.id]
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "expenses refunded"})}])
    fake.reply = cites_first_result
    events = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            events.append(event)
        final = stream.get_final_messages()
    names = [e.event for e in events]
    assert names[:5] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress",
                         "thread.run.step.created", "thread.run.step.completed"]
    assert names[-1] == "thread.run.completed" and "thread.run.requires_action" not in names
    completed = events[4].data.step_details.tool_calls[0]
    assert completed.type == "file_search" and len(completed.file_search.results) == 1  # max_num_results
    assert final[0].content[0].text.annotations[0].type == "file_citation"
    # The stored step is the streamed one.
    stored = client.beta.threads.runs.steps.list(events[-1].data.id, thread_id=thread.id, order="asc").data[0]
    assert stored.id == events[4].data.id


def test_the_flowise_assistant_shape_maps_to_file_search(app, client, fake):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    http, auth = app.test_client(), auth_for(app, name="flowise")
    made = http.post("/assistants", headers=auth, json={"details": json.dumps({
        "model": "gpt-4", "tools": ["file_search"], "tool_resources": searching(store.id)})})
    assert made.status_code == 200, made.json
    refused = http.post("/assistants", headers=auth, json={"details": {
        "model": "gpt-4", "tools": ["file_search"], "tool_resources": searching("vs_x")}})
    assert refused.status_code == 404 and refused.json["message"] == "No vector store found with id 'vs_x'."
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "vacation"})}])
    fake.reply = cites_first_result
    run = client.beta.threads.create_and_run_poll(assistant_id=made.json["details"]["id"], thread={
        "messages": [{"role": "user", "content": "vacation?"}]}, **POLL)
    assert run.status == "completed"
    assert "27 vacation days" in fake.requests_to("/chat/completions")[1].json["messages"][-1]["content"]


def test_a_store_of_another_tenant_is_never_searched(app, client, fake):
    theirs = store_with(sdk(app, make_key(app, tenant="other", name="other")), ("secret.pdf", HANDBOOK))
    mine = store_with(client, ("mine.txt", "Nothing about holidays here."))
    assistant = client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search"}],
                                              tool_resources=searching(mine.id))
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.update(assistant.id, tool_resources=searching(theirs.id))
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "vacation days"})}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "vacation?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **POLL)
    assert run.status == "completed"
    fed = fake.requests_to("/chat/completions")[1].json["messages"][-1]["content"]
    assert "27 vacation" not in fed and "mine.txt" in fed


def test_runs_without_file_search_send_no_such_tool(client, fake):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    assistant = client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search"}],
                                              tool_resources=searching(store.id))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, tools=[],
                                                   **POLL)
    assert run.status == "completed" and "tools" not in fake.requests_to("/chat/completions")[0].json
