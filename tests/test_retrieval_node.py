"""Files and vector stores with the official openai Node client against a real gunicorn (tests/node, as
tests/test_v2_node.py): upload, upload-and-poll, a batch, search, and a deletion the search sees."""
import json
import os
import subprocess

from .helpers import NODE_DIR, node_or_skip


def test_files_and_vector_stores_with_the_node_client(live_server, fake):
    node = node_or_skip()
    server = live_server()
    done = subprocess.run([node, "file_search.mjs"], cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BASE_URL": f"{server.url}/v1", "API_KEY": server.api_key})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "content": "Refunds are paid back within 14 days. Parcels ship every Monday.",
        "indexed": "completed", "batch": "completed", "listed": ["completed", "completed"],
        "found": [["policy.txt", "Refunds are paid back within 14 days. Parcels ship every Monday."]],
        "deleted": True, "after": ["gifts.md"]}
