"""A client that stops reading a stream holds no database connection (streaming.py, database.assert_released):
on a real gunicorn (two gevent workers, their default pools of 15 connections), 36 streamed v2 runs whose
clients stop reading once the reply's message events come (a small receive buffer, a reply larger than the
kernel's buffers, so the worker's writes block there) hang, and meanwhile another tenant's requests and
/health are answered at once. On SQLite, and on PostgreSQL when the suite runs there.

The clients read the text as it streams and stop at thread.message.completed, which carries the whole reply
again: that is where a worker used to block holding a transaction (it read the run again to present it)."""
import json
import socket
import time

import pytest

STALLED = 36
# ~6 MB of text in 60 pieces: more than the kernel buffers between a worker and a client that stops reading.
PIECE = "z" * 100_000 + " "
STOP_AT = b"event: thread.message.completed"


def stalled_run(port: int, key: str, assistant_id: str) -> tuple[socket.socket, str]:
    """A streamed POST /v1/threads/runs read until its message is completed, then never read again; and the
    id of its thread."""
    body = json.dumps({"assistant_id": assistant_id, "stream": True,
                       "thread": {"messages": [{"role": "user", "content": "talk at length"}]}}).encode()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(30)
    client.connect(("127.0.0.1", port))
    client.sendall(b"POST /v1/threads/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    seen = first = b""
    while STOP_AT not in seen:
        chunk = client.recv(65536)
        assert chunk, seen[-500:]
        seen = seen[-len(STOP_AT):] + chunk
        if len(first) < 16384:
            first += chunk
    created = first.split(b"event: thread.created\ndata: ", 1)[1].split(b"\n", 1)[0]
    return client, json.loads(created)["id"]


@pytest.mark.slow
def test_stalled_stream_readers_do_not_take_the_database_from_other_tenants(live_server, fake):
    # All 36 in progress at once (the default TENANT_MAX_ACTIVE_RUNS, 32, would queue four of them).
    server = live_server(workers=2, MAX_REPLY_CHARS=str(20_000_000), TENANT_MAX_ACTIVE_RUNS="64")
    other = server._flask("api-keys", "create", "--name", "other", "--tenant",
                          "other").strip().splitlines()[-1]
    made = server.request("POST", "/v1/assistants", {"model": "gpt-4"},
                          headers={"Authorization": f"Bearer {server.api_key}"})
    assert made.status == 200, made.body
    fake.reply = lambda messages: PIECE * 60
    clients, threads = [], []
    try:
        for _ in range(STALLED):
            client, thread_id = stalled_run(server.port, server.api_key, made.body["id"])
            clients.append(client)
            threads.append(thread_id)
        time.sleep(1.0)  # every worker is blocked writing to its stalled clients by now
        for path, key in (("/v1/assistants", other), ("/health", None), ("/v1/assistants", server.api_key)):
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            reply = server.request("GET", path, headers=headers, timeout=10)
            assert reply.status == 200, (path, reply.status, reply.body, server.log_tail())
            assert reply.seconds < 1.0, (path, reply.seconds)
    finally:
        for client in clients:
            client.close()
    # Each run was recorded before its client stopped reading; their threads are free again.
    auth = {"Authorization": f"Bearer {server.api_key}"}
    for thread_id in threads:
        run, = server.request("GET", f"/v1/threads/{thread_id}/runs", headers=auth).body["data"]
        assert run["status"] == "completed" and run["usage"]["completion_tokens"] == 60, run["status"]
