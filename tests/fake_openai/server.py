"""The server: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with the control API, request
recording, fault injection and response writing (JSON with Content-Length, SSE chunked)."""
from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .embeddings import EmbeddingsEndpoints
from .endpoints import AssistantsEndpoints, ChatEndpoints, ResponsesEndpoints
from .wire import (ANSWER_FAULTS, MALFORMED_DROPS, STREAM_FAULTS, WRITE_FAULTS, Fault, HTTPError,
                   RecordedRequest, Reply, default_reply, new_id)
from .writing import Writing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeOpenAI

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # client hang-ups are normal here
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    server: _Server

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._connections.add(self.connection)

    def finish(self):
        self.server.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):  # noqa: A002 - silence per-request logging
        pass

    def _serve(self):
        try:
            self.server.fake._serve(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


class FakeOpenAI(ChatEndpoints, ResponsesEndpoints, AssistantsEndpoints, EmbeddingsEndpoints, Writing):
    """The fake server (see the package docstring). Beyond the agreed control API it offers:
    ``conversation_meta`` / ``thread_meta`` / ``runs`` / ``responses`` (stored objects by id),
    ``Fault.message`` / ``Fault.flat``, use as a context manager, and ``reset()`` also restores
    the constructor's ``models``. Stream-fault state changes are not committed: a Responses turn
    that did not reach ``response.completed`` is not added to its conversation."""

    def __init__(self, models=("gpt-4", "gpt-4o-mini", "gpt-4o")):
        self._initial_models = list(models)
        self.models: list[str] = list(models)
        self.requests: list[RecordedRequest] = []
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.reply: Callable[[list[dict]], str] | None = None
        # A model that calls the first function it is offered (a conversation's first turn), as models do
        # when asked what a tool answers: for clients that offer tools without forcing one.
        self.call_offered_tools = False
        # The text a model writes before its tool calls in the same reply ("Let me look that up."), as
        # models often do; None: a reply with tool calls has no text.
        self.text_before_calls: str | None = None
        # Each streamed chunk also carries a choice of index 1 (text of its own), as some proxies and
        # servers send when they fan a request out: a client that asked for one choice reads index 0.
        self.stray_choices = False
        # The characters a model's context holds (None: no limit); past it chat completions answer 400
        # context_length_exceeded, as models do.
        self.context_window: int | None = None
        self.conversations: dict[str, list[dict]] = {}
        self.conversation_meta: dict[str, dict] = {}  # conv_id -> conversation object
        self.assistants: dict[str, dict] = {}
        self.threads: dict[str, list[dict]] = {}
        self.thread_meta: dict[str, dict] = {}  # thread_id -> thread object
        self.runs: dict[str, dict] = {}  # run_id -> run object
        self.responses: dict[str, dict] = {}  # resp_id -> response object (GET /responses/{id})
        self.embedding_inputs = 0  # texts embedded (POST /embeddings) since the last reset
        self._faults: list[list] = []  # [[Fault, remaining]]
        self._tool_calls: list[list[dict]] = []
        self._run_tool_outputs: dict[str, list[dict]] = {}
        self._run_faults: dict[str, Fault] = {}  # run_id -> the reply fault its creation took
        self._shaping: Fault | None = None  # the reply fault of the request being handled (under _lock)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = self.base_url = ""
        self._routes = [
            ("GET", r"/models", self._list_models),
            ("GET", r"/models/(.+)", self._get_model),
            ("POST", r"/chat/completions", self._chat),
            ("POST", r"/embeddings", self._embeddings),
            ("POST", r"/responses", self._responses),
            ("GET", r"/responses/([^/]+)", self._get_response),
            ("POST", r"/conversations", self._create_conversation),
            ("GET", r"/conversations/([^/]+)", self._get_conversation),
            ("DELETE", r"/conversations/([^/]+)", self._delete_conversation),
            ("GET", r"/conversations/([^/]+)/items", self._list_items),
            ("POST", r"/conversations/([^/]+)/items", self._add_items),
            ("POST", r"/assistants", self._create_assistant),
            ("GET", r"/assistants", self._list_assistants),
            ("GET", r"/assistants/([^/]+)", self._get_assistant),
            ("POST", r"/assistants/([^/]+)", self._update_assistant),
            ("DELETE", r"/assistants/([^/]+)", self._delete_assistant),
            ("POST", r"/threads", self._create_thread),
            ("GET", r"/threads/([^/]+)", self._get_thread),
            ("DELETE", r"/threads/([^/]+)", self._delete_thread),
            ("POST", r"/threads/([^/]+)/messages", self._create_message),
            ("GET", r"/threads/([^/]+)/messages", self._list_messages),
            ("POST", r"/threads/([^/]+)/runs", self._create_run),
            ("GET", r"/threads/([^/]+)/runs", self._list_runs),
            ("GET", r"/threads/([^/]+)/runs/([^/]+)", self._get_run),
            ("POST", r"/threads/([^/]+)/runs/([^/]+)/submit_tool_outputs", self._submit_tool_outputs),
            ("POST", r"/threads/([^/]+)/runs/([^/]+)/cancel", self._cancel_run),
        ]

    # ------------------------------------------------------------------ control API
    def start(self) -> FakeOpenAI:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = self.url + "/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for conn in list(self._connections):  # unblock keep-alive readers and stalled writers
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._tool_calls.clear()
            for store in (self.conversations, self.conversation_meta, self.assistants, self.threads,
                          self.thread_meta, self.runs, self.responses, self._run_tool_outputs,
                          self._run_faults):
                store.clear()
            self.models[:] = self._initial_models
            self.delay = self.chunk_delay = 0.0
            self.reply = None
            self.call_offered_tools = False
            self.text_before_calls = None
            self.stray_choices = False
            self.context_window = None
            self.embedding_inputs = 0

    def clear_faults(self) -> None:
        """Drop queued faults, keeping stored state (conversations, threads, assistants)."""
        with self._lock:
            self._faults.clear()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append([fault, fault.times])

    def queue_tool_calls(self, calls: list[dict]) -> None:
        with self._lock:
            self._tool_calls.append([{"id": new_id("call_"), "name": c["name"],
                                      "arguments": c.get("arguments", "{}")} for c in calls])

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    @staticmethod
    def refused_base_url() -> str:
        """A base_url on 127.0.0.1 where nothing listens (fault kind "refuse")."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    # ------------------------------------------------------------------ plumbing
    def _take_fault(self, path: str, raw_body: bytes = b"") -> Fault | None:
        with self._lock:
            for entry in self._faults:
                if entry[0].matches(path, raw_body):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._faults.remove(entry)
                    return entry[0]
        return None

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping.is_set() and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))

    def _model_text(self, conversation: list[dict]) -> str:
        return (self.reply or default_reply)(conversation)

    def _next_tool_calls(self) -> list[dict] | None:
        return self._tool_calls.pop(0) if self._tool_calls else None

    def _serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path, query = split.path, dict(parse_qsl(split.query))
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            body, bad_json = (json.loads(raw) if raw else None), False
        except ValueError:
            body, bad_json = None, True
        with self._lock:
            self.requests.append(RecordedRequest(h.command, path, query,
                                                 {k.lower(): v for k, v in h.headers.items()}, body,
                                                 h.client_address[1]))
        fault = self._take_fault(path, raw)
        if self.delay:
            self._sleep(self.delay)
        if fault and fault.kind == "delay":
            self._sleep(fault.seconds)
        if fault and fault.kind in ANSWER_FAULTS:
            return self._answer_fault(h, fault)
        streaming = isinstance(body, dict) and body.get("stream") is True
        if fault and fault.kind in STREAM_FAULTS and not streaming:
            return self._blocking_fault(h, fault)
        if fault and fault.kind == "malformed_200" and streaming:
            body = {**body, "stream": False}  # the JSON reply, where the client waits for events
        try:
            if bad_json:
                raise HTTPError(400, "We could not parse the JSON body of your request.")
            reply = self._dispatch(h, path, query, body, fault)
        except HTTPError as e:
            reply = Reply(e.body, e.status)
        if fault and fault.kind == "malformed_200" and reply.status == 200 and isinstance(reply.body, dict):
            reply.body = {k: v for k, v in reply.body.items() if k not in MALFORMED_DROPS}
        writer = fault if fault and fault.kind in WRITE_FAULTS else None
        if reply.events is None:
            if fault and fault.kind in STREAM_FAULTS:
                return self._blocking_fault(h, fault)
            return self._send_json(h, reply.status, reply.body, reply.headers, writer)
        stream_fault = fault if fault and fault.kind in STREAM_FAULTS else None
        self._send_stream(h, reply, stream_fault, writer)

    def _dispatch(self, h: _Handler, path: str, query: dict, body: Any,
                  fault: Fault | None = None) -> Reply:
        if not path.startswith("/v1/"):
            raise HTTPError(404, f"Invalid URL ({h.command} {path})")
        auth = h.headers.get("Authorization")
        if not auth or auth.strip() == "Bearer sk-bad":
            shown = (auth or "").split(" ")[-1]
            raise HTTPError(401, f"Incorrect API key provided: {shown[:3]}****. You can find your API key "
                            "at https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        sub = path[3:]
        for method, pattern, func in self._routes:
            m = re.fullmatch(pattern, sub)
            if m and method == h.command:
                with self._lock:
                    self._shaping = fault
                    try:
                        out = func(body if isinstance(body, dict) else {}, query, *m.groups())
                    finally:
                        self._shaping = None
                return out if isinstance(out, Reply) else Reply(out)
        raise HTTPError(404, f"Invalid URL ({h.command} {path})")
