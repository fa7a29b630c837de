"""One streamed run with the official openai Node client (most Assistants v2 apps were JavaScript)
against a real gunicorn. Its package: tests/node (package.json, package-lock.json), installed by
.ci/run with `npm ci`; without it this test skips, in CI it fails."""
import json
import os
import shutil
import subprocess

import pytest

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openai")):
        if os.environ.get("CI"):
            pytest.fail("the Node client is not installed: npm ci --prefix tests/node")
        pytest.skip("no node, or tests/node not installed (npm ci --prefix tests/node)")
    return node


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
