"""POST /v1/responses/compact and what it makes: a compaction item (the model's summary, sealed), which a
later response takes as input in place of the context it summarises; and assistant messages' phase."""
from tests.fake_openai.wire import Fault

from .helpers import headers_for, make_conversation, make_key, sdk

CHAT = "/chat/completions"


def post(client, key, path, body):
    return client.post(f"/v1{path}", json=body, headers=headers_for(key))


def test_a_context_is_compacted_into_an_item_a_later_response_reads(app, client, fake):
    key = make_key(app)
    first = post(client, key, "/responses", {"model": "gpt-4", "input": "Remember: slate.",
                                             "instructions": "Be brief."}).json
    answer = post(client, key, "/responses/compact", {"model": "gpt-4", "previous_response_id": first["id"],
                                                      "input": "And the launch is Tuesday.",
                                                      "prompt_cache_key": "k1"})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["object"] == "response.compaction" and body["id"].startswith("resp_")
    [item] = body["output"]
    assert item["type"] == "compaction" and item["id"].startswith("cmp_") and set(item) == {
        "type", "id", "encrypted_content"}
    assert "slate" not in item["encrypted_content"]  # sealed, not readable
    assert body["usage"]["total_tokens"] > 0
    asked = fake.requests_to(CHAT)[-1].json
    # the first response's instructions are not carried over (as in a response continuing it)
    assert [m["role"] for m in asked["messages"]] == ["user", "assistant", "user", "user"]
    assert asked["messages"][0]["content"] == "Remember: slate." and asked["prompt_cache_key"] == "k1"
    summary = fake.requests_to(CHAT)[-1].json["messages"][-1]["content"]  # the fake echoes the last message

    later = post(client, key, "/responses", {"model": "gpt-4", "input": [
        item, {"type": "message", "role": "user", "content": "Go on."}]})
    assert later.status_code == 200, later.json
    sent = fake.requests_to(CHAT)[-1].json["messages"]
    assert sent[0]["role"] == "system" and sent[0]["content"].endswith("Echo: " + summary)
    assert sent[1] == {"role": "user", "content": "Go on."}
    listed = client.get(f"/v1/responses/{later.json['id']}/input_items?order=asc",
                        headers=headers_for(key)).json
    assert listed["data"][0] == item  # kept as it came

    conversation = make_conversation(client, headers_for(key), item)
    items = client.get(f"/v1/conversations/{conversation['id']}/items", headers=headers_for(key)).json["data"]
    assert items == [item]
    post(client, key, "/responses", {"model": "gpt-4", "input": "Next.", "conversation": conversation["id"]})
    assert fake.requests_to(CHAT)[-1].json["messages"][0]["content"].endswith("Echo: " + summary)

    compacted = sdk(app, key).responses.compact(model="gpt-4", input="Hi.",  # the official client's call
                                                prompt_cache_retention="24h", service_tier="default")
    assert compacted.object == "response.compaction" and compacted.output[0].type == "compaction"


def test_compact_errors_are_openais(app, client, fake):
    key, other = make_key(app), make_key(app, tenant="other")
    assert post(client, key, "/responses/compact", {"model": "gpt-4"}).json["error"]["param"] == "input"
    missing = post(client, key, "/responses/compact", {"input": "x"})
    assert missing.status_code == 400
    assert missing.json["error"]["param"] == "model" and set(missing.json["error"]) == {
        "message", "type", "param", "code"}
    gone = post(client, key, "/responses/compact", {"model": "gpt-4", "previous_response_id": "resp_nope"})
    assert gone.status_code == 404 and gone.json["error"]["code"] == "previous_response_not_found"
    item = post(client, key, "/responses/compact", {"model": "gpt-4", "input": "x"}).json["output"][0]
    for bad in ({**item, "encrypted_content": "forged"}, item):  # not sealed here; another tenant's
        refused = post(client, other if bad is item else key, "/responses",
                       {"model": "gpt-4", "input": [bad]})
        assert refused.status_code == 400 and refused.json["error"]["param"] == "input"
    fake.add_fault(Fault("status", status=401))  # the credential refused: not retried
    failed = post(client, key, "/responses/compact", {"model": "gpt-4", "input": "x"})
    assert failed.status_code == 502 and failed.json["error"]["type"] == "server_error"


def test_assistant_phase_is_kept_and_checked(app, client, fake):
    key = make_key(app)
    given = [{"type": "message", "role": "assistant", "phase": "commentary", "content": "Thinking."},
             {"type": "message", "role": "assistant", "phase": "final_answer", "content": "Four."},
             {"type": "message", "role": "user", "content": "Again?"}]
    conversation = make_conversation(client, headers_for(key), *given[:2])
    answer = post(client, key, "/responses", {"model": "gpt-4", "input": given})
    assert answer.status_code == 200, answer.json
    assert fake.requests_to(CHAT)[-1].json["messages"][:2] == [
        {"role": "assistant", "content": "Thinking."}, {"role": "assistant", "content": "Four."}]
    listed = client.get(f"/v1/responses/{answer.json['id']}/input_items?order=asc",
                        headers=headers_for(key)).json
    assert [item.get("phase") for item in listed["data"]] == ["commentary", "final_answer", None]
    items = client.get(f"/v1/conversations/{conversation['id']}/items?order=asc",
                       headers=headers_for(key)).json
    assert [item["phase"] for item in items["data"]] == ["commentary", "final_answer"]
    for wrong in ({"role": "user", "phase": "commentary"}, {"role": "assistant", "phase": "thinking"}):
        refused = post(client, key, "/responses", {"model": "gpt-4", "input": [
            {"type": "message", "content": "x", **wrong}]})
        assert refused.status_code == 400 and "phase" in refused.json["error"]["message"]


def test_a_function_call_output_answers_a_call(app, client):
    key = make_key(app)
    refused = post(client, key, "/responses", {"model": "gpt-4", "input": [
        {"type": "function_call_output", "call_id": "call_none", "output": "x"}]})
    assert refused.status_code == 400 and "call_none" in refused.json["error"]["message"]
