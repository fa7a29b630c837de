"""The Responses API at /v1/responses through the official Python client (in process, over httpx2's WSGI
transport) and the loopback fake provider (a chat-completions provider: the state is kept here)."""
import openai
import pytest

from .helpers import headers_for, make_assistant, make_key, sdk, wait_for_runs


@pytest.fixture
def key(app):
    return make_key(app)


@pytest.fixture
def client(app, key):
    yield sdk(app, key)
    wait_for_runs(app)


def sent_messages(fake) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake.requests_to("/chat/completions")[-1].json["messages"]]


def test_a_response_and_its_successor(client, fake):
    first = client.responses.create(model="gpt-4", input="Hello there", instructions="Be brief.")
    assert first.status == "completed" and first.output_text == "Echo: Hello there"
    assert first.id.startswith("resp_") and first.object == "response" and first.store is True
    assert (first.usage.input_tokens > 0
            and first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens)
    message = first.output[0]
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    second = client.responses.create(model="gpt-4", input="And then?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.output_text == "Echo: And then?"
    assert sent_messages(fake) == [("user", "Hello there"), ("assistant", "Echo: Hello there"),
                                   ("user", "And then?")]
    assert client.responses.retrieve(second.id).output_text == "Echo: And then?"
    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"] and items.data[0].content[0].text == "And then?"
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4", input="x", previous_response_id=first.id)


def test_a_conversation_holds_the_items_of_its_responses(client, fake):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user",
                                                       "content": "My name is Ada."}],
                                               metadata={"topic": "names"})
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "names"}
    response = client.responses.create(model="gpt-4", input="What is my name?", conversation=conversation.id)
    assert response.conversation.id == conversation.id
    assert sent_messages(fake) == [("user", "My name is Ada."), ("user", "What is my name?")]
    listed = client.conversations.items.list(conversation.id, order="asc")
    assert [(item.type, item.role) for item in listed.data] == ([("message", "user")] * 2
                                                                + [("message", "assistant")])
    assert listed.data[-1].id == response.output[0].id  # the output item, as the response showed it
    again = client.responses.create(model="gpt-4", input="Thanks.", conversation={"id": conversation.id})
    assert sent_messages(fake)[-3:] == [("user", "What is my name?"), ("assistant", "Echo: What is my name?"),
                                        ("user", "Thanks.")]
    item = client.conversations.items.retrieve(again.output[0].id, conversation_id=conversation.id)
    assert item.content[0].text == "Echo: Thanks."
    added = client.conversations.items.create(conversation.id, items=[
        {"type": "message", "role": "user", "content": "Noted."}])
    assert [i.content[0].text for i in added.data] == ["Noted."]
    after = client.conversations.items.delete(added.data[0].id, conversation_id=conversation.id)
    assert after.id == conversation.id
    assert len(client.conversations.items.list(conversation.id).data) == 5
    assert client.conversations.update(conversation.id, metadata={"topic": "x"}).metadata == {"topic": "x"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "x"}
    assert client.conversations.delete(conversation.id).deleted
    with pytest.raises(openai.NotFoundError):
        # never made implicitly
        client.responses.create(model="gpt-4", input="hi", conversation=conversation.id)
    with pytest.raises(openai.BadRequestError, match="not both"):
        client.responses.create(model="gpt-4", input="hi", conversation="conv_x",
                                previous_response_id="resp_x")


def test_a_streamed_response_sends_the_documented_events(client):
    with client.responses.stream(model="gpt-4", input="count to three") as stream:
        events = [event for event in stream]
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    deltas = kinds.count("response.output_text.delta")
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * deltas,
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert deltas > 1 and final.output_text == "Echo: count to three" and final.status == "completed"
    assert client.responses.retrieve(final.id).output[0].id == final.output[0].id


def test_function_calls_and_their_outputs(client, fake):
    weather = {"type": "function", "name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    asked = client.responses.create(model="gpt-4", input="Weather in Oslo?", tools=[weather])
    call, = asked.output
    assert (call.type == "function_call" and call.name == "get_weather"
            and call.arguments == '{"city": "Oslo"}')
    assert (asked.tools[0].name == "get_weather"
            and fake.requests_to("/chat/completions")[-1].json["tools"] == [
                {"type": "function", "function": {k: v for k, v in weather.items() if k != "type"}}])
    answered = client.responses.create(model="gpt-4", previous_response_id=asked.id, tools=[weather], input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "-3 and snow"}])
    assert answered.output_text == "Echo: Weather in Oslo?"
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"] and sent[2]["content"] == "-3 and snow"
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Rome"}'}])
    with client.responses.stream(model="gpt-4", input="And Rome?", tools=[weather]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert ("response.function_call_arguments.delta" in kinds
            and "response.function_call_arguments.done" in kinds)
    assert final.output[0].arguments == '{"city": "Rome"}'
    with pytest.raises(openai.BadRequestError, match="web_search"):
        client.responses.create(model="gpt-4", input="x", tools=[{"type": "web_search"}])


def test_structured_output_and_settings_reach_the_provider(client, fake):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    response = client.responses.create(
        model="gpt-4", input="Answer",
        text={"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}},
        temperature=0.2, top_p=0.9, max_output_tokens=99, reasoning={"effort": "low"},
        parallel_tool_calls=False, user="u-1", metadata={"k": "v"})
    assert response.output_text == '{"answer": "text"}'
    sent = fake.requests_to("/chat/completions")[-1].json
    assert sent["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["reasoning_effort"]) == (
        0.2, 0.9, 99, "low")
    assert (response.temperature, response.top_p, response.max_output_tokens, response.metadata) == (
        0.2, 0.9, 99, {"k": "v"})
    assert response.text.format.type == "json_schema"


def test_an_assistant_is_a_prompt(app, client, key, fake):
    made = make_assistant(app.test_client(), headers_for(key), model="gpt-4o",
                          instructions="You help {{customer}} with {{product}}.", temperature=0.3)
    assistant_id = made["details"]["id"]
    response = client.responses.create(input="Hi", prompt={"id": assistant_id, "variables": {
        "customer": "Ada", "product": {"type": "input_text", "text": "lamps"}}})
    assert response.model == "gpt-4o" and response.instructions == "You help Ada with lamps."
    sent = fake.requests_to("/chat/completions")[-1].json
    assert sent["model"] == "gpt-4o" and sent["messages"][0] == {"role": "system",
                                                                 "content": "You help Ada with lamps."}
    assert sent["temperature"] == 0.3
    with pytest.raises(openai.NotFoundError):
        client.responses.create(input="Hi", prompt={"id": "asst_nope"})
    with pytest.raises(openai.BadRequestError, match="model"):
        client.responses.create(input="Hi")


def test_background_responses_poll_cancel_and_replay(app, client, fake):
    queued = client.responses.create(model="gpt-4", input="slowly", background=True)
    assert queued.status == "queued" and queued.background
    wait_for_runs(app)
    done = client.responses.retrieve(queued.id)
    assert done.status == "completed" and done.output_text == "Echo: slowly"
    replayed = list(client.responses.retrieve(queued.id, stream=True))
    assert replayed[0].type == "response.created" and replayed[-1].type == "response.completed"
    assert [event.sequence_number for event in replayed] == list(range(len(replayed)))
    tail = list(client.responses.retrieve(queued.id, stream=True,
                                          starting_after=replayed[-3].sequence_number))
    assert [event.type for event in tail] == [event.type for event in replayed[-2:]]
    fake.delay = 1.5
    slow = client.responses.create(model="gpt-4", input="never mind", background=True)
    cancelled = client.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    wait_for_runs(app)
    assert client.responses.retrieve(slow.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="background"):
        client.responses.cancel(done.id if False else client.responses.create(model="gpt-4", input="x").id)
    with pytest.raises(openai.BadRequestError, match="store"):
        client.responses.create(model="gpt-4", input="x", background=True, store=False)


def test_a_background_response_streams_as_it_runs(app, client):
    with client.responses.create(model="gpt-4", input="stream me", background=True, stream=True) as stream:
        kinds = [event.type for event in stream]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds


def test_input_tokens_and_unstored_responses(client):
    counted = client.responses.input_tokens.count(model="gpt-4", input="one two three four",
                                                  instructions="Be brief.")
    assert counted.input_tokens == 7  # 27 characters at ~4 a token
    unstored = client.responses.create(model="gpt-4", input="forget me", store=False)
    assert unstored.store is False and unstored.output_text == "Echo: forget me"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_other_tenants_responses_and_conversations_are_not_found(app, client):
    mine = client.responses.create(model="gpt-4", input="mine")
    conversation = client.conversations.create()
    other = sdk(app, make_key(app, tenant="other", name="other"))
    for call in (lambda: other.responses.retrieve(mine.id),
                 lambda: other.responses.create(model="gpt-4", input="x", previous_response_id=mine.id),
                 lambda: other.conversations.retrieve(conversation.id),
                 lambda: other.responses.create(model="gpt-4", input="x", conversation=conversation.id)):
        with pytest.raises(openai.NotFoundError):
            call()


def test_truncation_auto_drops_the_oldest_items_disabled_fails(client, fake):
    first = client.responses.create(model="gpt-4", input="x" * 400)
    second = client.responses.create(model="gpt-4", input="y" * 400, previous_response_id=first.id)
    fake.context_window = 1000  # the chain so far (~1,620 characters) no longer fits
    with pytest.raises(openai.APIStatusError, match="context_length_exceeded"):
        client.responses.create(model="gpt-4", input="z", previous_response_id=second.id)
    third = client.responses.create(model="gpt-4", input="z", previous_response_id=second.id,
                                    truncation="auto")
    assert third.status == "completed" and third.truncation == "auto" and third.output_text == "Echo: z"
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert sum(len(m["content"]) for m in sent) <= 1000 and sent[-1] == {"role": "user", "content": "z"}
