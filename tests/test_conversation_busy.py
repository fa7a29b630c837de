"""A conversation a streamed response is answering on holds its turn lock: items added meanwhile are a
409 saying so, and once the response has ended they are added after its reply."""
from .fake_openai import Fault
from .helpers import make_conversation


def test_items_added_while_a_response_streams_on_the_conversation_are_a_409(client, auth, fake):
    conversation = make_conversation(client, auth)
    fake.add_fault(Fault("delay", seconds=0.3, path="/chat/completions"))
    streamed = client.post("/v1/responses", headers=auth, buffered=False, json={
        "model": "gpt-4", "input": "hello", "conversation": conversation["id"], "stream": True})
    assert streamed.status_code == 200
    chunks = iter(streamed.response)
    assert b"response.created" in next(chunks)  # the turn has begun: the lock is held
    added = client.post(f"/v1/conversations/{conversation['id']}/items", headers=auth,
                        json={"items": [{"role": "user", "content": "meanwhile"}]})
    assert added.status_code == 409, added.json
    assert added.json["error"]["message"] == ("A response is in progress on this conversation; "
                                              "add items when it has finished.")
    rest = b"".join(chunks)
    streamed.close()
    assert b"response.completed" in rest
    added = client.post(f"/v1/conversations/{conversation['id']}/items", headers=auth,
                        json={"items": [{"role": "user", "content": "afterwards"}]})
    assert added.status_code == 200, added.json
    listed = client.get(f"/v1/conversations/{conversation['id']}/items?order=asc", headers=auth).json["data"]
    assert [item["content"][0]["text"] for item in listed] == ["hello", "Echo: hello", "afterwards"]
