"""The Responses API with clients no one here wrote, against a real gunicorn: the Open Responses compliance
suite (tests/openresponses: vendored, pinned, run with Node through tsx) and the official openai Node client
(tests/node/responses.mjs). Both packages are installed by .ci/run with `npm ci`; without them these tests
skip, in CI they fail."""
import json
import os
import shutil
import subprocess

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(TESTS, "openresponses")
NODE_DIR = os.path.join(TESTS, "node")


def installed_or_skip(directory: str, package: str) -> str:
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(directory, "node_modules", package)):
        if os.environ.get("CI"):
            pytest.fail(f"{package} is not installed: npm ci --prefix {os.path.relpath(directory)}")
        pytest.skip(f"no node, or {os.path.relpath(directory)} not installed")
    return node


SUITE_TESTS = ["basic-response", "assistant-phase", "response-output-phase-schema", "streaming-response",
               "websocket-response", "websocket-sequential-responses", "websocket-continuation",
               "websocket-reconnect-store-false-recovery", "websocket-previous-response-not-found",
               "websocket-failed-continuation-evicts-cache", "websocket-compact-new-chain", "system-prompt",
               "tool-calling", "image-input", "multi-turn", "compact-response", "compact-missing-model"]


def compliance(server) -> list[dict]:
    """The suite's results (its --json output): all its tests, run at once (a skipped one is listed too).
    WebSocket mode through ws, the global WebSocket websocket-global.mjs sets (Node 20 has none)."""
    done = subprocess.run([os.path.join(SUITE, "node_modules", ".bin", "tsx"),
                           "--import", "./websocket-global.mjs", "bin/compliance-test.ts",
                           "--base-url", f"{server.url}/v1", "--api-key", server.api_key, "--model", "gpt-4",
                           "--json"],
                          cwd=SUITE, capture_output=True, text=True, timeout=120)
    assert "{" in done.stdout, f"no results (npm ci --prefix tests/openresponses?):\n{done.stderr}"
    results = json.loads(done.stdout[done.stdout.index("{"):])
    return results["results"] if isinstance(results, dict) else results


@pytest.mark.slow
def test_the_open_responses_compliance_suite_and_the_node_client(live_server, fake):
    installed_or_skip(SUITE, "tsx")
    installed_or_skip(SUITE, "ws")  # the WebSocket client the suite's WebSocket tests use
    node = installed_or_skip(NODE_DIR, "openai")
    server = live_server()
    fake.call_offered_tools = True  # the suite's tool-calling test offers get_weather and expects a call
    results = compliance(server)
    assert sorted(result["id"] for result in results) == sorted(SUITE_TESTS)
    not_passed = {result["id"]: (result["status"], result.get("errors")) for result in results
                  if result["status"] != "passed"}
    assert not_passed == {}  # none failed, none skipped
    image = fake.requests_to("/chat/completions")
    assert any(isinstance(m["content"], list) and m["content"][1]["type"] == "image_url"
               for r in image for m in r.json["messages"])  # the image went to the provider as an image part

    done = subprocess.run([node, "responses.mjs"], cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BASE_URL": f"{server.url}/v1", "API_KEY": server.api_key})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "first": "Echo: Who am I?", "streamed": "Echo: Go on.", "deltas": "Echo: Go on.",
        "polled": "completed",
        "backgroundText": "Echo: Later.", "items": ["I am Bob.", "Who am I?", "Echo: Who am I?"],
        "notFound": "NotFoundError"}
