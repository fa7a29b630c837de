"""POST /v1/responses with what a client may get wrong (each a 400 in OpenAI's error shape, naming the
field), and the request features beyond the common case: item_reference, prompt overrides, tool_choice,
json_object, logprobs, paged input items and the token count of a conversation."""
import pytest

from .helpers import auth_for, make_assistant

ITEM = {"type": "message", "role": "user", "content": "hi"}


@pytest.fixture
def post(client, auth):
    def send(body, path="/v1/responses"):
        return client.post(path, headers=auth, json=body)
    return send


def assert_invalid(response, param: str, text: str):
    """OpenAI's 400: {"error": {"message", "type": "invalid_request_error", "param", "code"}}."""
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["type"] == "invalid_request_error" and text in error["message"], error
    assert param in (error["param"] or "") or param in error["message"], error


@pytest.mark.parametrize("item, text", [
    ("just text", "An input item is an object"),
    ({"role": "user", "content": 42}, "a string or a list of content parts"),
    ({"role": "user", "content": [{"type": "input_text", "text": 7}]},
     "input_text part's text must be a string"),
    ({"role": "robot", "content": "hi"}, "role is one of"),
    ({"type": "function_call", "call_id": "c1", "name": "f"}, "function_call's arguments"),
    ({"type": "function_call_output", "call_id": "c1", "output": 3}, "output is a string or a list of parts"),
    ({"type": "item_reference"}, "An item_reference's id"),
    ({"type": "computer_call", "id": "x"}, "Unsupported item type 'computer_call'"),
])
def test_a_malformed_input_item_is_a_400_naming_the_input(post, item, text):
    assert_invalid(post({"model": "gpt-4", "input": [item]}), "input", text)


def test_malformed_tools_tool_choice_and_text_format_are_400s(post, fake):
    assert_invalid(post({"model": "gpt-4", "input": "x", "tools": [{"type": "function"}]}), "tools",
                   "A function tool has a name")
    assert_invalid(post({"model": "gpt-4", "input": "x", "tools": ["lookup"]}), "tools",
                   "A tool is an object")
    assert_invalid(post({"model": "gpt-4", "input": "x", "tool_choice": {"type": "function"}}), "tool_choice",
                   "A function tool_choice")
    assert_invalid(post({"model": "gpt-4", "input": "x", "tool_choice": "always"}), "tool_choice",
                   '"none", "auto", "required"')
    assert_invalid(post({"model": "gpt-4", "input": "x", "text": {"format": {"type": "json_schema"}}}),
                   "text", "A json_schema format has a name and a schema")
    assert_invalid(post({"model": "gpt-4", "input": "x" * 1_000_001}), "input", "at most 1000000 characters")
    assert_invalid(post({"model": "gpt-4", "input": []}), "input", "The input is empty")
    assert fake.requests_to("/chat/completions") == []  # none of them reached the provider


@pytest.mark.parametrize("part, text", [
    ({"type": "input_image", "file_id": "file-1"}, "input_image needs an image_url"),
    ({"type": "input_file", "file_id": "file-1"}, "input_file needs file_data"),
    ({"type": "input_audio", "input_audio": {}}, "cannot hold a input_audio part"),
])
def test_content_parts_this_service_cannot_send_are_400s(post, fake, part, text):
    content = [{"type": "input_text", "text": "look"}, part]
    body = {"model": "gpt-4", "input": [{"role": "user", "content": content}]}
    assert_invalid(post(body), "input", text)
    assert fake.requests_to("/chat/completions") == []


def test_images_and_files_are_sent_as_chat_content_parts(post, fake):
    answer = post({"model": "gpt-4", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "what is it?"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBO"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}]}]})
    assert answer.status_code == 200, answer.json
    sent = fake.requests_to("/chat/completions")[-1].json["messages"][-1]["content"]
    assert sent == [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "auto"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]


def test_a_function_call_output_must_be_text(post, fake):
    fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    asked = post({"model": "gpt-4", "input": "look it up", "tools": tools}).json
    call_id = asked["output"][0]["call_id"]
    image = post({"model": "gpt-4", "previous_response_id": asked["id"], "tools": tools, "input": [
        {"type": "function_call_output", "call_id": call_id,
         "output": [{"type": "input_image", "image_url": "https://example.com/a.png"}]}]})
    assert_invalid(image, "input", "output must be text")
    parts = post({"model": "gpt-4", "previous_response_id": asked["id"], "tools": tools, "input": [
        {"type": "function_call_output", "call_id": call_id,
         "output": [{"type": "input_text", "text": "42"}]}]})
    assert parts.status_code == 200, parts.json
    assert fake.requests_to("/chat/completions")[-1].json["messages"][-1] == {
        "role": "tool", "content": "42", "tool_call_id": call_id}


def test_item_references_resolve_from_the_chain_and_the_conversation(post, client, auth, fake):
    first = post({"model": "gpt-4", "input": "remember the tulips"}).json
    said = first["output"][0]["id"]
    again = post({"model": "gpt-4", "previous_response_id": first["id"], "input": [
        {"type": "item_reference", "id": said}, ITEM]})
    assert again.status_code == 200, again.json
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["content"] for m in sent][-2:] == ["Echo: remember the tulips", "hi"]
    conversation = post({"items": [ITEM]}, "/v1/conversations").json
    in_it = client.get(f"/v1/conversations/{conversation['id']}/items", headers=auth).json["data"][0]["id"]
    referenced = post({"model": "gpt-4", "conversation": conversation["id"], "input": [
        {"type": "item_reference", "id": in_it}]})
    assert referenced.status_code == 200, referenced.json
    assert_invalid(post({"model": "gpt-4", "conversation": conversation["id"], "input": [
        {"type": "item_reference", "id": "msg_nowhere"}]}), "input", "No item with id 'msg_nowhere'")
    assert post({"model": "gpt-4", "input": "x", "previous_response_id": "not an id!"}).status_code == 404


def test_a_prompts_instructions_may_be_replaced_and_options_reach_the_provider(app, post, client, auth, fake):
    made = make_assistant(client, auth, instructions="You are {{role}}.", tools=[
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}])
    fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
    answer = post({"input": "hi", "prompt": {"id": made["details"]["id"], "variables": {"role": "a pirate"}},
                   "instructions": "Be terse.", "tool_choice": {"type": "function", "name": "lookup"},
                   "text": {"format": {"type": "json_object"}}, "include": ["message.output_text.logprobs"]})
    assert answer.status_code == 200, answer.json
    assert answer.json["instructions"] == "Be terse." and answer.json["tools"][0]["name"] == "lookup"
    assert answer.json["tool_choice"] == {"type": "function", "name": "lookup"}
    sent = fake.requests_to("/chat/completions")[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "Be terse."}
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert sent["response_format"] == {"type": "json_object"} and sent["logprobs"] is True
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["lookup"]


def test_input_items_are_paged_both_ways_with_a_cursor(post, client, auth):
    given = [{"type": "message", "role": "user", "content": f"part {n}"} for n in range(3)]
    response = post({"model": "gpt-4", "input": given}).json
    url = f"/v1/responses/{response['id']}/input_items"
    forward = client.get(url, query_string={"order": "asc", "limit": 2}, headers=auth).json
    assert [item["content"][0]["text"] for item in forward["data"]] == ["part 0", "part 1"]
    assert forward["has_more"]
    rest = client.get(url, query_string={"order": "asc", "after": forward["last_id"]}, headers=auth).json
    assert [item["content"][0]["text"] for item in rest["data"]] == ["part 2"] and not rest["has_more"]
    backward = client.get(url, headers=auth).json
    assert [item["content"][0]["text"] for item in backward["data"]] == ["part 2", "part 1", "part 0"]
    unknown = client.get(url, query_string={"after": "msg_unknown"}, headers=auth)
    assert unknown.status_code == 400 and "msg_unknown" in unknown.json["error"]["message"]


def test_input_tokens_count_a_conversations_items(post, client, auth):
    conversation = post({"items": [{"type": "message", "role": "user", "content": "a" * 400}]},
                        "/v1/conversations").json
    counted = post({"model": "gpt-4", "conversation": conversation["id"]}, "/v1/responses/input_tokens")
    assert counted.status_code == 200, counted.json
    assert counted.json == {"object": "response.input_tokens", "input_tokens": 100}
    more = post({"model": "gpt-4", "conversation": conversation["id"], "input": "b" * 40},
                "/v1/responses/input_tokens").json
    assert more["input_tokens"] == 110


def test_another_tenants_prompt_is_not_found(app, post, client, auth):
    made = make_assistant(client, auth)
    other = auth_for(app, tenant="other", name="other")
    answer = client.post("/v1/responses", headers=other,
                         json={"input": "hi", "prompt": {"id": made["details"]["id"]}})
    assert answer.status_code == 404 and "No prompt (assistant)" in answer.json["error"]["message"]
