"""/v1/conversations/{id}/items beyond the common case: what may not be added (an item_reference), parts
that are not text, paging with a cursor, ids that cannot be an item's, and deleting one of the function
calls a reply made together (the other stays)."""
import pytest

from .helpers import make_conversation

CALLS = [{"name": "weather", "arguments": '{"city": "Oslo"}'},
         {"name": "weather", "arguments": '{"city": "Rome"}'}]
WEATHER = {"type": "function", "name": "weather", "parameters": {"type": "object"}}


@pytest.fixture
def conversation(client, auth):
    return make_conversation(client, auth)["id"]


def items_url(conversation_id: str, item_id: str = "") -> str:
    return f"/v1/conversations/{conversation_id}/items" + (f"/{item_id}" if item_id else "")


def test_an_item_reference_cannot_be_added_and_parts_are_kept(client, auth, conversation):
    refused = client.post(items_url(conversation), headers=auth, json={"items": [
        {"type": "item_reference", "id": "msg_1"}]})
    assert refused.status_code == 400
    assert refused.json["error"]["message"] == "item_reference items are for responses; add the item itself."
    # the refused add took no lock with it: the next add is not a 409
    picture = [{"type": "input_text", "text": "What is "}, {"type": "input_text", "text": "this?"},
               {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"}]
    added = client.post(items_url(conversation), headers=auth, json={"items": [
        {"type": "message", "role": "user", "content": picture}]})
    assert added.status_code == 200, added.json
    [item] = added.json["data"]
    assert item["content"] == picture  # shown as given
    assert client.get(items_url(conversation, item["id"]), headers=auth).json["content"] == picture


def test_items_page_with_a_cursor_and_unknown_ids_are_404(client, auth, conversation):
    given = [{"type": "message", "role": "user", "content": f"note {n}"} for n in range(3)]
    added = client.post(items_url(conversation), headers=auth, json={"items": given}).json["data"]
    first = client.get(items_url(conversation), headers=auth, query_string={"limit": 2, "order": "asc"}).json
    assert [item["id"] for item in first["data"]] == [added[0]["id"], added[1]["id"]] and first["has_more"]
    rest = client.get(items_url(conversation), headers=auth, query_string={
        "order": "asc", "after": first["last_id"]}).json
    assert [item["content"][0]["text"] for item in rest["data"]] == ["note 2"] and not rest["has_more"]
    for bad in ("msg_unknown", "not an id!"):
        missing = client.get(items_url(conversation, bad), headers=auth)
        assert missing.status_code == 404
        assert missing.json["error"]["message"] == f"Item with id '{bad}' not found."
        assert client.delete(items_url(conversation, bad), headers=auth).status_code == 404


def test_deleting_one_of_a_replys_function_calls_leaves_the_other(client, auth, conversation, fake):
    fake.queue_tool_calls(CALLS)
    asked = client.post("/v1/responses", headers=auth, json={
        "model": "gpt-4", "conversation": conversation, "input": "Weather in Oslo and Rome?",
        "tools": [WEATHER]})
    assert asked.status_code == 200, asked.json
    oslo, rome = asked.json["output"]
    assert (oslo["type"], rome["type"]) == ("function_call", "function_call")
    deleted = client.delete(items_url(conversation, oslo["id"]), headers=auth)
    assert deleted.status_code == 200, deleted.json
    listed = client.get(items_url(conversation), headers=auth, query_string={"order": "asc"}).json["data"]
    assert [(item["type"], item.get("call_id")) for item in listed] == [
        ("message", None), ("function_call", rome["call_id"])]
    assert listed[1]["id"] == rome["id"]
    assert client.get(items_url(conversation, oslo["id"]), headers=auth).status_code == 404
    answered = client.post("/v1/responses", headers=auth, json={
        "model": "gpt-4", "conversation": conversation, "tools": [WEATHER],
        "input": [{"type": "function_call_output", "call_id": rome["call_id"], "output": "sunny"}]})
    assert answered.status_code == 200, answered.json
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [call["id"] for call in sent[1]["tool_calls"]] == [rome["call_id"]]
    assert sent[-1] == {"role": "tool", "content": "sunny", "tool_call_id": rome["call_id"]}
