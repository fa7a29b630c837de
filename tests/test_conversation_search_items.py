"""Deleting a file_search_call item of a conversation whose asking reply holds more than that call: two
searches asked in one reply, or text written before the search. The deleted search and its answer leave
the history the model sees; the other call, or the text, stay. Over the loopback fake."""
import json

import pytest

from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import store_with


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def searches(*queries: str) -> list[dict]:
    return [{"name": "file_search", "arguments": json.dumps({"query": query})} for query in queries]


def history(fake) -> list[dict]:
    return fake.requests_to("/chat/completions")[-1].json["messages"]


@pytest.fixture
def asked(client, fake):
    """A conversation, its store, and a turn run with the tools given to `ask(calls, text)`."""
    store = store_with(client, ("handbook.txt", "Every employee gets 27 vacation days a year."))
    conversation = client.conversations.create()

    def ask(calls, text=None):
        fake.text_before_calls = text
        fake.queue_tool_calls(calls)
        fake.reply = lambda conversation: "27 days."
        client.responses.create(model="gpt-4", input="Vacation?", conversation=conversation.id,
                                tools=[{"type": "file_search", "vector_store_ids": [store.id]}])
        fake.reply = fake.text_before_calls = None
        return client.conversations.items.list(conversation.id, order="asc").data
    return conversation, ask


def test_deleting_one_of_two_searches_keeps_the_other(client, fake, asked):
    conversation, ask = asked
    listed = ask(searches("vacation", "holidays"))
    assert [item.type for item in listed] == ["message", "file_search_call", "file_search_call", "message"]
    assert [item.queries for item in listed[1:3]] == [["vacation"], ["holidays"]]
    client.conversations.items.delete(listed[1].id, conversation_id=conversation.id)
    left = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.id for item in left] == [listed[0].id, listed[2].id, listed[3].id]
    client.responses.create(model="gpt-4", input="Thanks", conversation=conversation.id)
    sent = history(fake)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    call, = sent[1]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"query": "holidays"}
    assert sent[2]["tool_call_id"] == call["id"] and "holidays" in sent[2]["content"]
    client.conversations.items.delete(listed[2].id, conversation_id=conversation.id)  # the last one
    client.responses.create(model="gpt-4", input="Bye", conversation=conversation.id)
    assert [m["role"] for m in history(fake)] == ["user", "assistant", "user", "assistant", "user"]


def test_deleting_a_search_asked_after_some_text_keeps_the_text(client, fake, asked):
    conversation, ask = asked
    listed = ask(searches("vacation"), text="Let me search.")
    assert [item.type for item in listed] == ["message", "message", "file_search_call", "message"]
    assert listed[1].content[0].text == "Let me search."
    client.conversations.items.delete(listed[2].id, conversation_id=conversation.id)
    left = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.id for item in left] == [listed[0].id, listed[1].id, listed[3].id]
    client.responses.create(model="gpt-4", input="Thanks", conversation=conversation.id)
    sent = history(fake)
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Vacation?"), ("assistant", "Let me search."), ("assistant", "27 days."), ("user", "Thanks")]
    assert "tool_calls" not in sent[1]
