"""Replies whose shape real providers send and the plainer fake did not: text, then tool calls, in one
reply (streamed and blocking), file_search called after some text, and chunks that carry a stray choice of
index 1. Each API shows them as OpenAI does: the message first, ended, then the tool call's step or item.
Through the official openai client, over the loopback fake."""
import json

import pytest

from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import pdf_of, store_with

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
RESPONSES_WEATHER = {"type": "function", "name": "get_weather", **{
    k: v for k, v in WEATHER["function"].items() if k != "name"}}
HANDBOOK = pdf_of("Employee handbook", "Every employee gets 27 vacation days a year.")


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def test_a_streamed_run_shows_the_text_message_then_the_tool_step(client, fake):
    assistant = client.beta.assistants.create(model="gpt-4", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Oslo?"}])
    fake.text_before_calls = "Let me check the weather."
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        events = list(stream)
        run = stream.get_final_run()
    names = [event.event for event in events]
    text_done = names.index("thread.message.completed")
    shown = [(name, getattr(event.data, "type", None)) for name, event in zip(names, events)
             if not name.endswith(".delta")]
    assert shown == [("thread.run.created", None), ("thread.run.queued", None),
                     ("thread.run.in_progress", None),
                     ("thread.run.step.created", "message_creation"),
                     ("thread.run.step.in_progress", "message_creation"),
                     ("thread.message.created", None), ("thread.message.in_progress", None),
                     ("thread.message.completed", None), ("thread.run.step.completed", "message_creation"),
                     ("thread.run.step.created", "tool_calls"), ("thread.run.step.in_progress", "tool_calls"),
                     ("thread.run.requires_action", None)]
    assert names.index("thread.message.delta") < text_done < names.index("thread.run.step.delta")
    message = events[text_done].data
    assert message.status == "completed" and message.content[0].text.value == "Let me check the weather."
    call, = run.required_action.submit_tool_outputs.tool_calls
    assert run.status == "requires_action" and call.function.arguments == '{"city": "Oslo"}'
    stored = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.content[0].text.value for m in stored] == ["Weather in Oslo?", "Let me check the weather."]
    assert stored[-1].id == message.id
    fake.text_before_calls = None
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "-3"}],
        poll_interval_ms=20)
    assert done.status == "completed"
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert sent[-2]["content"] == "Let me check the weather." and sent[-2]["tool_calls"][0]["id"] == call.id
    assert sent[-1] == {"role": "tool", "content": "-3", "tool_call_id": call.id}


def test_a_streamed_response_shows_the_message_item_then_the_function_call(client, fake):
    fake.text_before_calls = "Checking."
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Rome"}'}])
    with client.responses.stream(model="gpt-4", input="Rome?", tools=[RESPONSES_WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [(e.output_index, e.item.type) for e in events if e.type == "response.output_item.added"]
    done = [(e.output_index, e.item.type) for e in events if e.type == "response.output_item.done"]
    assert added == [(0, "message"), (1, "function_call")] and done == added
    kinds = [e.type for e in events]
    assert kinds.index("response.output_text.done") < kinds.index("response.function_call_arguments.delta")
    message, call = final.output
    assert message.content[0].text == "Checking." and message.status == "completed"
    assert (call.name, call.arguments, call.status) == ("get_weather", '{"city": "Rome"}', "completed")
    stored = client.responses.retrieve(final.id).output
    assert [(item.id, item.type) for item in stored] == [(message.id, "message"), (call.id, "function_call")]
    assert stored[0].content[0].text == "Checking." and stored[1].call_id == call.call_id


def test_a_blocking_response_keeps_the_text_before_its_function_call(client, fake):
    fake.text_before_calls = "Checking."
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Rome"}'}])
    response = client.responses.create(model="gpt-4", input="Rome?", tools=[RESPONSES_WEATHER])
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert response.output_text == "Checking."


def test_file_search_called_after_some_text_makes_a_message_of_that_text(client, fake):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    fake.text_before_calls = "Let me search."
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "vacation days"})}])
    fake.reply = lambda conversation: "You get 27 vacation days."
    tools = [{"type": "file_search", "vector_store_ids": [store.id]}]
    with client.responses.stream(model="gpt-4", input="Vacation?", tools=tools) as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [e.item.type for e in events if e.type == "response.output_item.added"]
    assert added == ["message", "file_search_call", "message"]
    first, search, answer = final.output
    assert first.content[0].text == "Let me search." and answer.content[0].text == "You get 27 vacation days."
    assert first.id != answer.id and search.queries == ["vacation days"]
    items = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.id for item in items] == [first.id, search.id, answer.id]
    stored = client.responses.retrieve(final.id)
    assert [item.id for item in stored.output] == [first.id, search.id, answer.id]


def test_a_stream_with_a_stray_choice_reads_only_the_first(client, fake):
    fake.stray_choices = True
    with client.responses.stream(model="gpt-4", input="one two three") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Echo: one two three"
    assistant = client.beta.assistants.create(model="gpt-4")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "four"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        message, = stream.get_final_messages()
    assert message.content[0].text.value == "Echo: four"
