"""A streamed v2 run whose client leaves while the provider is answering (services/v2/runner.py): the
run fails saying the stream was closed, no reply is stored, and the thread takes a new run at once."""
from .helpers import make_v2_thread, sdk, wait_for_runs


def test_a_client_leaving_mid_reply_fails_the_run_and_stores_no_reply(app, client, auth, api_key):
    assistant = client.post("/v1/assistants", headers=auth, json={"model": "gpt-4"}).json
    thread = make_v2_thread(client, auth, "tell me a rather long story please")
    response = client.post(f"/v1/threads/{thread['id']}/runs", headers=auth, buffered=False,
                           json={"assistant_id": assistant["id"], "stream": True})
    seen = b""
    for chunk in response.response:
        seen += chunk
        if b"thread.message.delta" in seen:
            break
    response.close()  # the client went away with the reply half sent
    beta = sdk(app, api_key).beta
    run = beta.threads.runs.list(thread_id=thread["id"]).data[0]
    assert run.status == "failed" and run.last_error.code == "server_error"
    assert run.last_error.message == "The stream was closed before the run finished."
    assert [m.role for m in beta.threads.messages.list(thread_id=thread["id"]).data] == ["user"]
    again = beta.threads.runs.create_and_poll(thread_id=thread["id"], assistant_id=assistant["id"],
                                              poll_interval_ms=20)
    assert again.status == "completed"
    wait_for_runs(app)
