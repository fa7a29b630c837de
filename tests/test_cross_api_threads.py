"""A thread of one API used through another: the conversations API's threads and the agents API's
sessions are one kind (a session is a thread there, README says so), the Assistants API's (/v1)
another. Each pair answers a 404 in the asking API's shape, never a 500, and changes nothing."""
import pytest

from .helpers import chat, make_assistant, make_thread, make_v2_thread, parse_stream, user


@pytest.fixture
def threads(client, auth):
    """An assistant, and one thread of each kind: conversations API, agents-API session, v2."""
    assistant = make_assistant(client, auth)
    conversation = make_thread(client, auth, assistant["id"])
    turn = client.post("/openai/chat", headers=auth, json={
        "agent_id": assistant["id"], "thread_id": conversation, "user_input": "hello"})
    assert turn.status_code == 200, turn.json
    session = chat(client, auth, assistant["id"], [user("hi")], create_session=True).json["session_id"]
    v2 = make_v2_thread(client, auth, "v2 hi")
    return {"assistant": assistant["id"], "conversation": conversation, "session": session,
            "v2": v2["id"]}


def messages(client, auth, thread_id):
    return client.get(f"/openai/threads/{thread_id}/messages", headers=auth).json


def v2_messages(client, auth, thread_id):
    return client.get(f"/v1/threads/{thread_id}/messages", headers=auth).json["data"]


def v2_thread_unknown_here(thread_id):
    return f"No thread {thread_id!r} for this API: it is an Assistants API thread, used at /v1/threads."


def test_a_v2_thread_is_no_thread_of_the_conversations_api(client, auth, fake, threads):
    v2 = threads["v2"]
    before = v2_messages(client, auth, v2)
    expected = {"code": 404, "status": "Not Found", "message": v2_thread_unknown_here(v2)}
    for stream in (False, True):
        turn = client.post("/openai/chat", headers=auth, json={
            "agent_id": threads["assistant"], "thread_id": v2, "user_input": "hi", "stream": stream})
        assert (turn.status_code, turn.json) == (404, expected)  # was a 500: thread.assistant is None
    listed = client.get(f"/openai/threads/{v2}/messages", headers=auth)
    assert (listed.status_code, listed.json) == (404, expected)  # was its messages
    deleted = client.delete(f"/openai/threads/{v2}", headers=auth)
    assert (deleted.status_code, deleted.json) == (404, expected)  # was deleted
    assert v2_messages(client, auth, v2) == before
    assert not fake.requests_to("/chat/completions")[2:]  # the fixture's two turns only


def test_a_v2_thread_is_no_session_of_the_agents_api(client, auth, fake, threads):
    v2 = threads["v2"]
    before = v2_messages(client, auth, v2)
    expected = {"detail": f"No session {v2!r} for this API: it is an Assistants API thread, "
                          "used at /v1/threads."}
    refused = chat(client, auth, threads["assistant"], [user("hi")], store_in_session=v2)
    assert (refused.status_code, refused.json) == (404, expected)
    refused = chat(client, auth, threads["assistant"], [user("hi")], store_in_session=v2, stream=True)
    assert (refused.status_code, refused.json) == (404, expected)
    assert v2_messages(client, auth, v2) == before
    assert not fake.requests_to("/chat/completions")[2:]


@pytest.mark.parametrize("kind", ["conversation", "session"])
def test_a_conversations_thread_or_session_is_no_v2_thread(client, auth, fake, threads, kind):
    thread_id = threads[kind]
    before = messages(client, auth, thread_id)
    expected = {"error": {"message": f"No thread found with id '{thread_id}': it is a thread of the "
                                     "conversations API (/openai/*) or a session of the agents API, not an "
                                     "Assistants API thread.",
                          "type": "invalid_request_error", "param": None, "code": "not_found"}}
    asst = client.get("/v1/assistants", headers=auth).json["first_id"]
    base = f"/v1/threads/{thread_id}"
    for method, path, body in [
            ("GET", base, None), ("POST", base, {"metadata": {"a": "b"}}), ("DELETE", base, None),
            ("GET", f"{base}/messages", None), ("POST", f"{base}/messages", {"role": "user", "content": "x"}),
            ("GET", f"{base}/messages/msg_x", None), ("GET", f"{base}/runs", None),
            ("POST", f"{base}/runs", {"assistant_id": asst}),
            ("POST", f"{base}/runs", {"assistant_id": asst, "stream": True}),
            ("GET", f"{base}/runs/run_x", None), ("POST", f"{base}/runs/run_x/cancel", None),
            ("GET", f"{base}/runs/run_x/steps", None)]:
        response = client.open(path, method=method, headers=auth, json=body)
        assert (response.status_code, response.json) == (404, expected), (method, path)
    assert messages(client, auth, thread_id) == before
    assert not fake.requests_to("/chat/completions")[2:]


def test_a_session_is_a_thread_of_the_conversations_api_as_documented(client, auth, threads):
    """README: a session is a thread (GET /openai/threads/<session_id>/messages shows it)."""
    listed = messages(client, auth, threads["session"])
    assert [m["role"] for m in listed["data"]] == ["user", "assistant"]
    assert listed["data"][0]["content"] == "hi"
    again = parse_stream(chat(client, auth, threads["assistant"], [user("more")], stream=True,
                              store_in_session=threads["conversation"]))
    # And a conversations thread continues as a session.
    assert again[0]["session_id"] == threads["conversation"]
