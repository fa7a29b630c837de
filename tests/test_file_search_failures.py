"""file_search when something goes wrong, as the model and the client see it: a call without a query, a
search whose query the embedding provider refuses (the model reads an error, the turn goes on), a store
deleted before the model searched it, and tool_resources naming stores in a wrong shape (400).
Through the official openai client, over the loopback fake."""
import json

import openai
import pytest

from .fake_openai import Fault
from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import store_with


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


@pytest.fixture
def store(client):
    return store_with(client, ("handbook.txt", "Every employee gets 27 vacation days a year."))


def searched(client, fake, store_id: str, arguments: dict):
    """A response whose model calls file_search(arguments) then answers; what the model was fed back."""
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps(arguments)}])
    fake.reply = lambda conversation: "Done."
    response = client.responses.create(model="gpt-4", input="Vacation?", include=["file_search_call.results"],
                                       tools=[{"type": "file_search", "vector_store_ids": [store_id]}])
    assert response.status == "completed" and response.output_text == "Done."
    return response, fake.requests_to("/chat/completions")[-1].json["messages"][-1]


@pytest.mark.parametrize("arguments", [{}, {"query": "   "}, {"query": 7}])
def test_a_search_without_a_query_tells_the_model(client, fake, store, arguments):
    response, fed = searched(client, fake, store.id, arguments)
    assert fed["role"] == "tool" and fed["content"] == "Error: file_search needs a non-empty string query."
    call = response.output[0]
    assert call.type == "file_search_call" and call.queries == [] and call.results == []
    assert len(fake.requests_to("/embeddings")) == 1  # the file's, when it was indexed: no search ran


def test_a_refused_query_embedding_is_an_error_the_model_reads(client, fake, store):
    fake.add_fault(Fault("status", status=401, path="/embeddings", times=5, message="bad key"))
    response, fed = searched(client, fake, store.id, {"query": "vacation days"})
    assert fed["content"].startswith("Error: the search failed (")
    call = response.output[0]
    assert call.queries == ["vacation days"] and call.results == []


def test_a_store_deleted_before_the_search_finds_nothing(client, fake, store):
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "vacation"})}])
    resources = {"file_search": {"vector_store_ids": [store.id]}}
    assistant = client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search"}],
                                              tool_resources=resources)
    assert client.vector_stores.delete(store.id).deleted
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=20, thread={
        "messages": [{"role": "user", "content": "vacation?"}]})
    assert run.status == "completed"
    fed = fake.requests_to("/chat/completions")[-1].json["messages"][-1]
    assert fed["role"] == "tool" and fed["content"] == "file_search found nothing for 'vacation'."


@pytest.mark.parametrize("ids", ["vs_1", [f"vs_{n}" for n in range(9)], [""], [7]])
def test_vector_store_ids_in_a_wrong_shape_are_refused(client, ids):
    with pytest.raises(openai.BadRequestError, match="Invalid vector_store_ids"):
        client.beta.assistants.create(model="gpt-4", tools=[{"type": "file_search"}],
                                      tool_resources={"file_search": {"vector_store_ids": ids}})
