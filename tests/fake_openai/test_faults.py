"""The fake's real-world fault kinds, each checked on the wire (http.client, sockets) or with the
official openai client: what a provider, or a proxy in front of it, really sends when it fails."""
from __future__ import annotations

import email.utils
import http.client
import json
import socket
import time

import openai
import pytest

from . import FakeOpenAI, Fault

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Assistants API is deprecated

AUTH = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}
CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "one two three"}]}


def connect(fake, timeout=5) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(fake.url.rsplit(":", 1)[1]), timeout=timeout)


def exchange(fake, method, path, body=None):
    """(status, headers, raw body bytes) of one request."""
    conn = connect(fake)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=AUTH)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def peer_port(sock: socket.socket) -> int | None:
    try:
        return sock.getpeername()[1]
    except OSError:  # shut down already
        return None


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of every SSE frame."""
    events = []
    for block in raw.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event"), fields["data"]))
    return events


def assistant_and_thread(client):
    asst = client.beta.assistants.create(model="gpt-4", instructions="be nice")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello there"}])
    return asst, thread


# ---------------------------------------------------------------- answers in place of the reply

@pytest.mark.parametrize("status", [502, 503])
def test_html_error_is_a_proxy_page(fake, client, status):
    fake.add_fault(Fault("html_error", status=status, path="/chat/completions", times=2))
    code, headers, body = exchange(fake, "POST", "/v1/chat/completions", CHAT)
    assert code == status and headers["content-type"] == "text/html"
    assert body.startswith(b"<html>") and f"<h1>{status} ".encode() in body and b"nginx" in body
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(**CHAT)
    assert caught.value.status_code == status and "<html>" in caught.value.response.text


def test_retry_after_date_is_an_http_date(fake, client):
    fake.add_fault(Fault("retry_after_date", retry_after=30, path="/chat/completions"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**CHAT)
    header = caught.value.response.headers["retry-after"]
    with pytest.raises(ValueError):
        float(header)
    seconds = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
    assert 27 <= seconds <= 31
    assert caught.value.body["type"] == "rate_limit_exceeded"


def test_error_shapes_of_other_servers(fake, client):
    path = "/chat/completions"
    fake.add_fault(Fault("string_error", status=404, message="model 'llama9' not found", path=path))
    assert exchange(fake, "POST", f"/v1{path}", CHAT)[2] == b'{"error": "model \'llama9\' not found"}'
    fake.add_fault(Fault("flat_error", status=400, message="max_tokens is too large", path=path))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**CHAT)
    assert caught.value.body == {"object": "error", "message": "max_tokens is too large",
                                 "type": "BadRequestError", "param": None, "code": 400}


def test_empty_200_and_extra_headers(fake, client):
    fake.add_fault(Fault("empty_200", path="/models", headers={"X-Proxy": "yes"}))
    status, headers, body = exchange(fake, "GET", "/v1/models")
    assert (status, headers["content-length"], body, headers["x-proxy"]) == (200, "0", b"", "yes")
    fake.add_fault(Fault("status", status=429, path="/models", headers={"retry-after-ms": "250"}))
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert caught.value.response.headers["retry-after-ms"] == "250"


# ---------------------------------------------------------------- replies changed

def test_no_usage_in_chat_blocking_and_streamed(fake, client):
    fake.add_fault(Fault("no_usage", path="/chat/completions", times=2))
    done = client.chat.completions.create(**CHAT)
    assert done.choices[0].message.content == "Echo: one two three" and done.usage is None
    _, _, raw = exchange(fake, "POST", "/v1/chat/completions",
                         {**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    chunks = [json.loads(data) for _, data in sse_events(raw) if data != "[DONE]"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)
    assert client.chat.completions.create(**CHAT).usage.total_tokens == 7  # used up


def test_no_usage_in_responses_and_runs(fake, client):
    fake.add_fault(Fault("no_usage", path="/responses", times=2))
    assert client.responses.create(model="gpt-4", input="hi").usage is None
    events = list(client.responses.create(model="gpt-4", input="hi", stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.usage is None
    asst, thread = assistant_and_thread(client)
    fake.add_fault(Fault("no_usage", path="/runs"))
    events = list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True))
    assert events[-1].event == "thread.run.completed" and events[-1].data.usage is None


@pytest.mark.parametrize("stream", [False, True])
def test_incomplete_response(fake, client, stream):
    conv = client.conversations.create()
    fake.add_fault(Fault("incomplete", path="/responses"))
    reply = client.responses.create(model="gpt-4", input="hi", conversation=conv.id, stream=stream)
    if stream:
        events = list(reply)
        assert events[-1].type == "response.incomplete"
        assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Echo: hi"
        reply = events[-1].response
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "content_filter"
    fake.add_fault(Fault("incomplete", reason="max_output_tokens", path="/responses"))
    assert client.responses.create(model="gpt-4", input="x").incomplete_details.reason == "max_output_tokens"


def test_incomplete_run_streamed_and_polled(fake, client):
    asst, thread = assistant_and_thread(client)
    fake.add_fault(Fault("incomplete", path="/runs"))
    events = list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True))
    assert [e.event for e in events[-2:]] == ["thread.message.incomplete", "thread.run.incomplete"]
    assert events[-1].data.status == "incomplete"
    assert events[-1].data.incomplete_details.reason == "max_prompt_tokens"
    fake.add_fault(Fault("incomplete", reason="max_completion_tokens", path="/runs"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert (run.status, run.incomplete_details.reason) == ("incomplete", "max_completion_tokens")


def test_incomplete_chat_completion(fake, client):
    fake.add_fault(Fault("incomplete", path="/chat/completions"))
    assert client.chat.completions.create(**CHAT).choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("stream", [False, True])
def test_failed_response_stores_nothing(fake, client, stream):
    conv = client.conversations.create()
    fake.add_fault(Fault("failed", message="The server is overloaded.", path="/responses"))
    reply = client.responses.create(model="gpt-4", input="hi", conversation=conv.id, stream=stream)
    if stream:
        events = list(reply)
        assert events[-1].type == "response.failed"
        assert not [e for e in events if e.type == "response.output_text.delta"]
        reply = events[-1].response
    assert reply.status == "failed" and reply.output == []
    assert (reply.error.code, reply.error.message) == ("server_error", "The server is overloaded.")
    assert fake.conversations[conv.id] == []


def test_failed_run_streamed_and_polled(fake, client):
    asst, thread = assistant_and_thread(client)
    fake.add_fault(Fault("failed", reason="rate_limit_exceeded", message="Rate limit reached.", path="/runs"))
    events = list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True))
    assert events[-1].event == "thread.run.failed"
    assert (events[-1].data.last_error.code, events[-1].data.last_error.message) == (
        "rate_limit_exceeded", "Rate limit reached.")
    assert "thread.message.delta" not in [e.event for e in events]
    fake.add_fault(Fault("failed", path="/runs"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "failed" and run.last_error.code == "server_error"
    assert [m["role"] for m in fake.threads[thread.id]] == ["user"]  # no reply was written


def test_huge_models(fake, client):
    fake.add_fault(Fault("huge_models", size=2_000_000, path="/models"))
    status, _, body = exchange(fake, "GET", "/v1/models")
    assert status == 200 and 2_000_000 <= len(body) < 2_001_000
    assert len(json.loads(body)["data"]) > 20_000
    assert [m.id for m in client.models.list()] == ["gpt-4", "gpt-4o-mini", "gpt-4o"]  # used up


def test_malformed_200_leaves_out_what_a_client_needs(fake, client):
    fake.add_fault(Fault("malformed_200", path="/chat/completions"))
    status, headers, body = exchange(fake, "POST", "/v1/chat/completions", CHAT)
    reply = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert reply["object"] == "chat.completion" and "choices" not in reply
    # A streamed request gets the same JSON, not events: the client's stream has nothing in it.
    fake.add_fault(Fault("malformed_200", path="/chat/completions"))
    assert list(client.chat.completions.create(**CHAT, stream=True)) == []
    fake.add_fault(Fault("malformed_200", path="/models"))
    assert json.loads(exchange(fake, "GET", "/v1/models")[2]) == {"object": "list"}
    fake.add_fault(Fault("malformed_200", path="/responses"))
    reply = json.loads(exchange(fake, "POST", "/v1/responses", {"model": "gpt-4", "input": "x"})[2])
    assert reply["object"] == "response" and not {"output", "status"} & set(reply)


# ---------------------------------------------------------------- written slowly

def test_slow_headers_sends_the_status_line_first(fake):
    fake.add_fault(Fault("slow_headers", seconds=0.6, path="/models"))
    with socket.create_connection(("127.0.0.1", int(fake.url.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n\r\n")
        started = time.monotonic()
        first = sock.recv(65536)
        assert first == b"HTTP/1.1 200 OK\r\n" and time.monotonic() - started < 0.5
        rest = b""
        while b'"data"' not in rest:
            rest += sock.recv(65536)
        assert time.monotonic() - started >= 0.55
    assert b"\r\n\r\n" in rest and b'"gpt-4"' in rest


def test_slow_headers_on_a_stream_then_a_normal_reply(fake, client):
    fake.add_fault(Fault("slow_headers", seconds=0.3, path="/chat/completions"))
    started = time.monotonic()
    chunks = list(client.chat.completions.create(**CHAT, stream=True))
    assert time.monotonic() - started >= 0.3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: one two three"


@pytest.mark.parametrize("stream", [False, True])
def test_drip_never_finishes(fake, stream):
    fake.add_fault(Fault("drip", seconds=0.02, path="/chat/completions"))
    conn = connect(fake, timeout=1)  # every byte comes well within a read timeout...
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps({**CHAT, "stream": stream}), AUTH)
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("transfer-encoding") == "chunked"
        received, started = b"", time.monotonic()
        while time.monotonic() - started < 1.0:
            received += response.read1(1)
    finally:
        conn.close()
    # ...one at a time, for as long as anyone reads: ~1 s brings ~50 bytes of the reply, and no end.
    assert 10 <= len(received) <= 60
    assert received.startswith(b"data: {" if stream else b'{"id": "chatcmpl-')


def test_drip_stops_when_the_client_leaves(fake):
    fake.add_fault(Fault("drip", seconds=0.02, path="/models"))
    conn = connect(fake)
    conn.request("GET", "/v1/models", headers=AUTH)
    conn.getresponse().read1(1)
    port = conn.sock.getsockname()[1]
    conn.close()

    def dripping():
        return [c for c in list(fake._connections) if peer_port(c) == port]

    deadline = time.monotonic() + 5
    while dripping() and time.monotonic() < deadline:  # its next byte fails: the fake lets go
        time.sleep(0.02)
    assert dripping() == []


# ---------------------------------------------------------------- connections

def test_reset_is_a_tcp_rst(fake, client):
    fake.add_fault(Fault("reset", path="/chat/completions"))
    with pytest.raises(openai.APIConnectionError) as caught:
        client.chat.completions.create(**CHAT)
    assert not isinstance(caught.value, openai.APITimeoutError)
    fake.add_fault(Fault("reset", after_chunks=2, path="/chat/completions"))
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(**CHAT, stream=True):
            got.append(chunk)
    assert len(got) == 2
    # An RST, not a FIN: reading fails with ECONNRESET rather than seeing the end of the stream.
    fake.add_fault(Fault("reset", path="/models"))
    with socket.create_connection(("127.0.0.1", int(fake.url.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            assert sock.recv(65536) != b""


def test_stop_ends_a_drip():
    server = FakeOpenAI().start()
    server.add_fault(Fault("drip", seconds=0.02))
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=5)
    conn.request("GET", "/v1/models", headers=AUTH)
    response = conn.getresponse()
    response.read1(1)
    server.stop()
    started = time.monotonic()
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        response.read()
    assert time.monotonic() - started < 3
    conn.close()
