"""truncation "auto" when the provider finds the context too long (400 context_length_exceeded): the
oldest half of the context goes, a few times at most, and a tool answer never loses the call it answers;
with nothing left to drop the response fails as the provider said. A stateless response's input items,
and a conversation's history. Over the loopback fake (its context_window)."""
import openai
import pytest

from .helpers import make_key, sdk, wait_for_runs


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def sent(fake) -> list[dict]:
    return fake.requests_to("/chat/completions")[-1].json["messages"]


def test_a_stateless_input_loses_its_oldest_items_first(client, fake):
    fake.context_window = 300
    response = client.responses.create(model="gpt-4", truncation="auto", input=[
        user("a" * 300), user("b" * 300), user("c" * 100), user("last")])
    assert response.status == "completed" and response.output_text == "Echo: last"
    assert [m["content"][0] for m in sent(fake)] == ["c", "l"]
    assert len(fake.requests_to("/chat/completions")) == 3  # the whole, then two halvings


def test_a_dropped_call_takes_its_output_with_it(client, fake):
    fake.context_window = 400
    response = client.responses.create(model="gpt-4", truncation="auto", input=[
        user("a" * 300),
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "o" * 200},
        user("b" * 50), user("last")])
    assert response.status == "completed"
    assert [(m["role"], m["content"][:1]) for m in sent(fake)] == [("user", "b"), ("user", "l")]


def test_one_message_too_long_for_the_model_fails_even_with_auto(client, fake):
    fake.context_window = 100
    with pytest.raises(openai.APIStatusError, match="context_length_exceeded"):
        client.responses.create(model="gpt-4", truncation="auto", input="x" * 200)
    assert len(fake.requests_to("/chat/completions")) == 1  # nothing to drop: asked once


def test_a_conversations_history_loses_its_oldest_half_without_orphan_tool_answers(client, fake):
    conversation = client.conversations.create(items=[
        user("a" * 200),
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "o" * 200},
        user("b" * 60)])
    fake.context_window = 300
    with pytest.raises(openai.APIStatusError, match="context_length_exceeded"):
        client.responses.create(model="gpt-4", input="now", conversation=conversation.id)
    response = client.responses.create(model="gpt-4", input="now", conversation=conversation.id,
                                       truncation="auto")
    assert response.output_text == "Echo: now"
    assert [(m["role"], m["content"][:1]) for m in sent(fake)] == [("user", "b"), ("user", "n")]
    listed = client.conversations.items.list(conversation.id).data
    assert len(listed) == 6  # the conversation keeps every item: only what the model saw was shorter
