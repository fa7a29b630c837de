"""The official openai Node client (most Assistants v2 apps were JavaScript) against a real gunicorn:
one streamed run, the model list and the errors of a path or method the API lacks. Its package:
tests/node (package.json, package-lock.json), installed by .ci/run with `npm ci`; without it this
test skips, in CI it fails."""
import json
import os
import subprocess

from .helpers import NODE_DIR, node_or_skip


def test_a_streamed_run_with_the_node_client(shared_live_server, fake):
    node = node_or_skip()
    server = shared_live_server
    assistant = server.request("POST", "/v1/assistants", {"model": "gpt-4"}).body
    done = subprocess.run([node, "stream_run.mjs"], cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BASE_URL": f"{server.url}/v1", "API_KEY": server.api_key,
                               "ASSISTANT_ID": assistant["id"]})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed"
    assert result["text"] == "Echo: hello from node"
    assert result["events"][0] == "thread.run.created" and result["events"][-1] == "thread.run.completed"
    assert "thread.message.delta" in result["events"]
    assert result["stored"] == ["Echo: hello from node", "hello from node"]
    assert result["notFound"] == "NotFoundError"


def test_models_and_errors_with_the_node_client(live_server):
    """/v1/models, and a path or method the API lacks: the Node client gets OpenAI's error body."""
    node = node_or_skip()
    server = live_server(workers=1)
    env = {**os.environ, "BASE_URL": f"{server.url}/v1", "API_KEY": server.api_key}
    done = subprocess.run([node, "models_and_errors.mjs"], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["models"] == ["gpt-4", "gpt-4o", "gpt-4o-mini"] and result["retrieved"] == "gpt-4"
    assert result["unknownModel"] == {
        "name": "NotFoundError", "status": 404,
        "message": "404 The model 'no-such-model' does not exist or you do not have access to it."}
    assert result["unknownPath"] == {"name": "NotFoundError", "status": 404,
                                     "message": "404 Invalid URL (GET /v1/nope)."}
    assert result["wrongMethod"] == {"name": "APIError", "status": 405,
                                     "message": "405 Invalid method for URL (PUT /v1/threads): use POST."}
