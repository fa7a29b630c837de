"""A credential whose api is "responses": each turn goes to the provider's own Responses API (a session's
history in a provider Conversation), the Chat Completions options translated into its terms, and those
it has no room for refused with a clear error before anything is sent."""
import pytest

from tests.fake_openai import Fault

from .helpers import AGENTS, chat, create_agent, make_assistant, make_credential, parse_stream, user

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}}
LOOKUP = {"type": "function", "function": {"name": "lookup", "description": "Looks a word up.",
                                           "parameters": {"type": "object"}}}


@pytest.fixture
def agent(client, auth, fake):
    credential = make_credential(client, auth, base_url=fake.base_url, api="responses")
    return create_agent(client, auth, credential=credential["id"])


def sent(fake) -> dict:
    return [r for r in fake.requests_to("/responses") if r.method == "POST"][-1].json


def session_turn(client, auth, agent, fake, **extra):
    """A session's first turn (the provider's Conversation) and what the provider was sent."""
    answer = chat(client, auth, agent["id"], [user("hello")], create_session=True, **extra)
    assert answer.status_code == 200, answer.json
    return answer.json, sent(fake)


def test_options_are_sent_in_the_responses_apis_terms(client, auth, agent, fake):
    answer, body = session_turn(
        client, auth, agent, fake, tools=[LOOKUP],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        response_format={"type": "json_schema",
                         "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True}},
        verbosity="low", reasoning_effort="high", logprobs=True, top_logprobs=2, parallel_tool_calls=False,
        user="u-7", service_tier="flex", temperature=0.5, top_p=0.8, max_tokens=40)
    assert answer["choices"][0]["message"]["content"] == "Echo: hello"
    assert body["conversation"].startswith("conv_") and body["store"] is True
    assert body["input"] == [{"role": "user", "content": "hello"}]
    assert body["tools"] == [{"type": "function", "name": "lookup", "description": "Looks a word up.",
                              "parameters": {"type": "object"}, "strict": False}]
    assert body["tool_choice"] == {"type": "function", "name": "lookup"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "reply", "schema": SCHEMA, "strict": True},
        "verbosity": "low"}
    assert body["reasoning"] == {"effort": "high"} and body["include"] == ["message.output_text.logprobs"]
    assert (body["top_logprobs"], body["parallel_tool_calls"], body["user"], body["service_tier"]) == (
        2, False, "u-7", "flex")
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.5, 0.8, 40)


def test_a_plain_format_and_a_named_tool_choice_pass_as_they_are(client, auth, agent, fake):
    _, body = session_turn(client, auth, agent, fake, tools=[LOOKUP], tool_choice="required",
                           response_format={"type": "json_object"})
    assert body["tool_choice"] == "required" and body["text"] == {"format": {"type": "json_object"}}
    assert "reasoning" not in body and "include" not in body


@pytest.mark.parametrize("extra, named", [
    ({"frequency_penalty": 0.5, "presence_penalty": 0.1}, "frequency_penalty, presence_penalty"),
    ({"stop": ["END"]}, "stop"),
    ({"seed": 7, "logit_bias": {"50256": -100}}, "logit_bias, seed"),
])
def test_options_the_responses_api_has_no_room_for_are_refused(client, auth, agent, fake, extra, named):
    answer = chat(client, auth, agent["id"], [user("hello")], create_session=True, **extra)
    assert answer.status_code == 400, answer.json
    assert f"does not take {named}" in answer.json["detail"]
    assert "chat_completions credential" in answer.json["detail"]
    assert [r for r in fake.requests_to("/responses") if r.method == "POST"] == []


def test_a_reply_without_usage_still_answers(client, auth, agent, fake):
    fake.add_fault(Fault("no_usage", path="/responses"))
    answer = chat(client, auth, agent["id"], [user("count me")], create_session=True)
    assert answer.status_code == 200, answer.json
    assert answer.json["choices"][0]["message"]["content"] == "Echo: count me"


def test_a_reply_cut_at_the_token_limit_finishes_with_length(client, auth, agent, fake):
    fake.add_fault(Fault("incomplete", reason="max_output_tokens", path="/responses"))
    answer = chat(client, auth, agent["id"], [user("go on and on")], create_session=True, max_tokens=3)
    assert answer.status_code == 200, answer.json
    assert answer.json["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("fault, said", [
    (Fault("incomplete", reason="content_filter", path="/responses"),
     "stopped the reply for model 'gpt-4' early"),
    (Fault("failed", reason="server_error", path="/responses"), "could not complete the reply"),
])
def test_a_failed_or_filtered_reply_is_a_502(client, auth, agent, fake, fault, said):
    fake.add_fault(fault)
    answer = chat(client, auth, agent["id"], [user("hello")], create_session=True)
    assert answer.status_code == 502, answer.json
    assert said in answer.json["detail"]


def test_a_streamed_turn_with_a_tool_call_then_its_answer(client, auth, agent, fake):
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"word": "tulip"}'}])
    first = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, json={
        "messages": [user("what is a tulip?")], "tools": [LOOKUP], "stream": True, "create_session": True})
    chunks = parse_stream(first)
    calls = [call for chunk in chunks for choice in chunk["choices"]
             for call in choice["delta"].get("tool_calls") or ()]
    assert calls[0]["function"]["name"] == "lookup" and calls[0]["id"].startswith("call_")
    assert "".join(c["function"].get("arguments") or "" for c in calls) == '{"word": "tulip"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    output = {"role": "tool", "tool_call_id": calls[0]["id"], "content": "a flower"}
    answered = chat(client, auth, agent["id"], [output], tools=[LOOKUP],
                    store_in_session=chunks[0]["session_id"])
    assert answered.status_code == 200, answered.json
    assert sent(fake)["input"] == [{"type": "function_call_output", "call_id": calls[0]["id"],
                                    "output": "a flower"}]


def test_a_stream_that_reports_an_error_or_ends_early_fails_in_band(client, auth, agent, fake):
    fake.add_fault(Fault("error_event", flat=True, after_chunks=3, path="/responses"))
    failed = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, json={
        "messages": [user("one two three four")], "stream": True, "create_session": True})
    text = failed.get_data(as_text=True)
    assert "reported an error while answering for model 'gpt-4'" in text
    assert "Echo: one two three four" not in text
    fake.add_fault(Fault("cut", after_chunks=3, path="/responses"))
    cut = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, json={
        "messages": [user("one two three four")], "stream": True, "create_session": True})
    assert "the provider's stream ended before the reply was complete" in cut.get_data(as_text=True)


def test_a_streamed_text_turn_arrives_in_pieces(client, auth, agent, fake):
    chunks = parse_stream(client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth, json={
        "messages": [user("one two three")], "stream": True, "create_session": True}))
    pieces = [choice["delta"].get("content") for chunk in chunks for choice in chunk["choices"]]
    assert len([piece for piece in pieces if piece]) > 1
    assert "".join(p or "" for p in pieces) == "Echo: one two three"


def test_a_response_on_a_responses_credential_sends_the_whole_chain_unstored(client, auth, fake):
    """/v1/responses keeps the state here: the provider gets the history each turn, with store false."""
    credential = make_credential(client, auth, base_url=fake.base_url, api="responses")
    made = make_assistant(client, auth, credential["id"], instructions="Be brief.")
    prompt = {"id": made["details"]["id"]}
    parts = [{"type": "input_text", "text": "what is this?"},
             {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}]
    first = client.post("/v1/responses", headers=auth, json={
        "prompt": prompt, "input": [{"role": "user", "content": parts}]})
    assert first.status_code == 200, first.json
    body = sent(fake)
    assert body["store"] is False and body["instructions"] == "Be brief." and "conversation" not in body
    assert body["input"] == [{"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}]}]
    second = client.post("/v1/responses", headers=auth, json={
        "prompt": prompt, "input": "and now?", "previous_response_id": first.json["id"],
        "truncation": "auto"})
    assert second.status_code == 200, second.json
    body = sent(fake)
    assert body["truncation"] == "auto"
    assert [item["role"] for item in body["input"]] == ["user", "assistant", "user"]
