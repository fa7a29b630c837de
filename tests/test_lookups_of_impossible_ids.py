"""Ids no object can have (over 128 characters) are a 404 in the API's own shape, naming the id cut
short, without a query: a conversation's item, a thread's run."""
from .helpers import make_conversation, make_v2_thread

LONG = "x" * 300


def test_an_item_id_no_item_can_have_is_a_404(client, auth):
    conversation = make_conversation(client, auth, {"role": "user", "content": "hi"})
    for method in (client.get, client.delete):
        answer = method(f"/v1/conversations/{conversation['id']}/items/{LONG}", headers=auth)
        assert answer.status_code == 404, answer.json
        assert answer.json["error"]["message"] == f"Item with id '{'x' * 128}' not found."


def test_a_run_id_no_run_can_have_is_a_404(client, auth):
    thread = make_v2_thread(client, auth, "hi")
    answer = client.get(f"/v1/threads/{thread['id']}/runs/{LONG}", headers=auth)
    assert answer.status_code == 404, answer.json
    assert answer.json["error"]["message"] == f"No run found with id '{'x' * 128}'."
