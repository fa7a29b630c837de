"""file_search in the Responses API over a chat-completions provider: the service searches the tenant's
vector stores itself when the model calls file_search, within the response; the call is a file_search_call
output item (its results with include), the cited passages file_citation annotations; on a conversation the
call is an item of its own. Through the official openai client, over the loopback fake."""
import json

import openai
import pytest

from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import pdf_of, store_with

HANDBOOK = pdf_of("Employee handbook", "Every employee gets 27 vacation days a year.",
                  "Expenses are refunded within 30 days.")
RESULTS = "file_search_call.results"


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


@pytest.fixture
def handbook(client):
    store = store_with(client, ("handbook.pdf", HANDBOOK))
    return store, client.vector_stores.files.list(vector_store_id=store.id).data[0].id


def searching(store_id: str, **more) -> list[dict]:
    return [{"type": "file_search", "vector_store_ids": [store_id], **more}]


def the_model_searches(fake, query: str = "vacation days") -> None:
    """The fake model calls file_search, then answers quoting the first passage's marker."""
    def cites_first_result(conversation):
        tool = [m for m in conversation if m["role"] == "tool"][-1]["content"]
        return f"You get 27 vacation days {tool[tool.index('【'):tool.index('】') + 1]}."
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": query})}])
    fake.reply = cites_first_result


def test_a_response_answers_from_an_uploaded_pdf(client, fake, handbook):
    store, file_id = handbook
    the_model_searches(fake)
    response = client.responses.create(model="gpt-4", input="How many vacation days?",
                                       tools=searching(store.id),
                                       include=[RESULTS])
    assert response.status == "completed"
    call, message = response.output
    assert (call.type, call.status, call.queries) == ("file_search_call", "completed", ["vacation days"])
    assert call.id.startswith("fs_") and call.results[0].file_id == file_id
    assert call.results[0].filename == "handbook.pdf" and "27 vacation days" in call.results[0].text
    assert message.content[0].text == "You get 27 vacation days 【0:0†handbook.pdf】."
    assert [a.model_dump() for a in message.content[0].annotations] == [
        {"type": "file_citation", "file_id": file_id, "filename": "handbook.pdf", "index": 25}]
    asked = fake.requests_to("/chat/completions")
    assert [t["function"]["name"] for t in asked[0].json["tools"]] == ["file_search"]
    fed = asked[1].json["messages"][-1]
    assert fed["role"] == "tool" and "27 vacation days" in fed["content"]
    assert response.tools[0].type == "file_search" and response.tools[0].vector_store_ids == [store.id]
    stored = client.responses.retrieve(response.id)
    assert [item.model_dump() for item in stored.output] == [item.model_dump() for item in response.output]
    fake.reply = None
    follow_up = client.responses.create(model="gpt-4", input="Thanks", previous_response_id=response.id)
    assert follow_up.output_text == "Echo: Thanks"  # the chain goes on; the search item is not resent


def test_results_are_shown_only_when_included_and_filters_apply(client, fake, handbook):
    store, _ = handbook
    the_model_searches(fake, "expenses")
    response = client.responses.create(model="gpt-4", input="Expenses?", tools=searching(store.id))
    assert response.output[0].results is None
    fake.queue_tool_calls([{"name": "file_search", "arguments": json.dumps({"query": "expenses"})}])
    fake.reply = lambda conversation: "Nothing found."
    filtered = client.responses.create(model="gpt-4", input="Expenses?", include=[RESULTS], tools=searching(
        store.id, filters={"type": "eq", "key": "lang", "value": "fr"}, max_num_results=3))
    assert filtered.output[0].results == [] and filtered.output[1].content[0].annotations == []
    assert "found nothing" in fake.requests_to("/chat/completions")[-1].json["messages"][-1]["content"]


def test_a_streamed_response_shows_the_search_and_its_citation(client, fake, handbook):
    store, file_id = handbook
    the_model_searches(fake)
    with client.responses.stream(model="gpt-4", input="Vacation?", tools=searching(store.id),
                                 include=[RESULTS]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    searched = kinds.index("response.file_search_call.completed")
    assert kinds[searched - 3:searched + 2] == [
        "response.output_item.added", "response.file_search_call.in_progress",
        "response.file_search_call.searching", "response.file_search_call.completed",
        "response.output_item.done"]
    assert kinds.index("response.output_text.annotation.added") < kinds.index("response.output_text.done")
    assert kinds[-1] == "response.completed"
    assert [item.type for item in final.output] == ["file_search_call", "message"]
    assert final.output[1].content[0].annotations[0].file_id == file_id
    stored = client.responses.retrieve(final.id).model_dump()["output"]
    streamed = events[-1].response.model_dump()["output"]
    for part in streamed[1]["content"]:
        part.pop("parsed")  # the stream helper's own field
    assert stored == streamed


def test_a_conversation_keeps_the_search_as_its_own_item(client, fake, handbook):
    store, _ = handbook
    conversation = client.conversations.create()
    the_model_searches(fake)
    client.responses.create(model="gpt-4", input="Vacation?", tools=searching(store.id),
                            conversation=conversation.id)
    listed = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in listed] == ["message", "file_search_call", "message"]
    search = client.conversations.items.retrieve(listed[1].id, conversation_id=conversation.id)
    assert search.type == "file_search_call" and search.queries == ["vacation days"]
    fake.reply = None
    client.responses.create(model="gpt-4", input="Thanks", conversation=conversation.id)
    history = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[1]["tool_calls"][0]["function"]["name"] == "file_search"
    client.conversations.items.delete(listed[1].id, conversation_id=conversation.id)  # the call goes with it
    client.responses.create(model="gpt-4", input="Bye", conversation=conversation.id)
    history = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant", "user"]


def test_stores_are_the_tenants_own_and_other_built_in_tools_are_refused(app, client, fake, handbook):
    store, _ = handbook
    intruder = sdk(app, make_key(app, tenant="other", name="other"))
    with pytest.raises(openai.NotFoundError):
        intruder.responses.create(model="gpt-4", input="Vacation?", tools=searching(store.id))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4", input="x", tools=[{"type": "web_search"}])
    assert "web_search" in refused.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4", input="x",
                                tools=[{"type": "file_search", "vector_store_ids": []}])
    assert fake.requests_to("/chat/completions") == []


def test_a_background_response_searches_too(app, client, fake, handbook):
    store, file_id = handbook
    the_model_searches(fake)
    queued = client.responses.create(model="gpt-4", input="Vacation?", tools=searching(store.id),
                                     background=True)
    wait_for_runs(app)
    done = client.responses.retrieve(queued.id)
    assert (done.status == "completed"
            and [item.type for item in done.output] == ["file_search_call", "message"])
    assert done.output[1].content[0].annotations[0].file_id == file_id
    replayed = [event.type for event in client.responses.retrieve(queued.id, stream=True)]
    assert "response.file_search_call.completed" in replayed and replayed[-1] == "response.completed"
