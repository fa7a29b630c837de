"""The conversations API (/openai/chat) refuses tool_outputs on a thread that waits for none: 400, nothing
sent to the provider, nothing stored; the thread goes on."""
from .helpers import created, make_assistant, make_thread


def test_tool_outputs_for_a_thread_that_waits_for_none_are_refused(client, auth, fake):
    agent = make_assistant(client, auth)["details"]
    thread_id = make_thread(client, auth, agent["id"])
    refused = client.post("/openai/chat", headers=auth, json={
        "agent_id": agent["id"], "thread_id": thread_id,
        "tool_outputs": [{"tool_call_id": "call_1", "output": "sunny"}]})
    assert refused.status_code == 400
    assert refused.json["message"] == "This thread has no pending tool calls to answer."
    assert fake.requests_to("/chat/completions") == []
    answered = created(client.post("/openai/chat", headers=auth, json={
        "agent_id": agent["id"], "thread_id": thread_id, "user_input": "hello"}))
    assert answered["response"] == "Echo: hello" and answered["status"] == "completed"
    assert [m["content"] for m in fake.requests_to("/chat/completions")[-1].json["messages"]] == ["hello"]
